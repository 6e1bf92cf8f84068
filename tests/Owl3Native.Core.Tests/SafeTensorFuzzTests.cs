using System.Buffers.Binary;
using Owl3Native.Core.SafeTensors;
using Owl3Native.Core.Tensors;
using Owl3Native.TestKit;

namespace Owl3Native.Core.Tests;

/// <summary>
/// Seeded random mutations of a valid file: Open either succeeds (and then every tensor reads) or refuses with
/// a checkpoint exception. Any other exception type is a reader bug.
/// </summary>
public sealed class SafeTensorFuzzTests : IDisposable
{
    private const int Mutations = 2000;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private byte[] ValidFile()
    {
        var writer = new SafeTensorWriter();
        writer.Metadata["note"] = "fuzz";
        writer.AddBF16("model.embed_tokens.weight", new Shape(3, 4), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        writer.AddF32("model.norm.weight", new Shape(4), [1, 1, 1, 1]);
        writer.Add("ids", DType.I64, new Shape(2), new byte[16]);
        writer.Add("mask", DType.Bool, new Shape(3), new byte[] { 1, 0, 1 });
        writer.Add("empty", DType.F16, new Shape(0, 2), Array.Empty<byte>());
        string path = _dir.File("valid.safetensors");
        writer.WriteTo(path);
        return File.ReadAllBytes(path);
    }

    [Fact]
    public void Open_of_randomly_mutated_files_throws_only_checkpoint_exceptions()
    {
        byte[] valid = ValidFile();
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        var random = new Random(20240728);
        string path = _dir.File("mutant.safetensors");
        var failures = new List<string>();
        int opened = 0, refused = 0;

        for (int i = 0; i < Mutations; i++)
        {
            var (bytes, what) = Mutate(valid, headerEnd, random);
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafeTensorFile.Open(path);
                foreach (var name in file.Names)
                {
                    var view = file.Get(name);
                    Assert.Equal(view.Info.ElementCount * view.DType.SizeOf(), view.Bytes.Length);
                    if (view.DType.IsFloat()) _ = view.ToFloatArray();
                }
                opened++;
            }
            catch (CheckpointException)
            {
                refused++;
            }
            catch (Exception e)
            {
                failures.Add($"mutation {i} ({what}): {e.GetType().Name}: {e.Message.Split('\n')[0]}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count} of {Mutations} mutations escaped as non-checkpoint exceptions:\n" + string.Join("\n", failures.Take(20)));
        Assert.True(opened > 0, "no mutation left a readable file; the mutations are too coarse");
        Assert.True(refused > Mutations / 2, $"only {refused} of {Mutations} mutations were refused");
    }

    private static (byte[] Bytes, string What) Mutate(byte[] valid, int headerEnd, Random random)
    {
        byte[] bytes = (byte[])valid.Clone();
        switch (random.Next(6))
        {
            case 0:
            {
                int flips = random.Next(1, 4);
                for (int k = 0; k < flips; k++) bytes[random.Next(8, headerEnd)] = (byte)random.Next(256);
                return (bytes, $"{flips} random header bytes");
            }
            case 1:
            {
                int at = random.Next(8, headerEnd);
                byte[] interesting = "{}[]\",:0123456789-.eE \\u"u8.ToArray();
                bytes[at] = interesting[random.Next(interesting.Length)];
                return (bytes, $"header byte {at} = '{(char)bytes[at]}'");
            }
            case 2:
            {
                int length = random.Next(0, valid.Length);
                return (bytes[..length], $"truncated to {length}");
            }
            case 3:
            {
                ulong n = random.Next(4) switch
                {
                    0 => (ulong)random.Next(0, valid.Length + 16),
                    1 => (ulong)random.NextInt64(),
                    2 => ulong.MaxValue - (ulong)random.Next(16),
                    _ => (ulong)(headerEnd - 8 + random.Next(-8, 9)),
                };
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, n);
                return (bytes, $"header length {n}");
            }
            case 4:
            {
                int at = random.Next(0, bytes.Length);
                bytes[at] ^= (byte)(1 << random.Next(8));
                return (bytes, $"bit flip at {at}");
            }
            default:
            {
                int extra = random.Next(1, 17);
                return ([.. bytes, .. new byte[extra]], $"{extra} bytes appended");
            }
        }
    }
}
