using System.Runtime.InteropServices;
using System.Text;
using Owl3Native.Cuda.Interop;

namespace Owl3Native.Cuda.Runtime;

/// <summary>Own layer: an `nvrtcProgram`, destroyed with the handle.</summary>
internal sealed unsafe class NvrtcProgramHandle : SafeHandle
{
    private NvrtcProgramHandle() : base(nint.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == nint.Zero;

    /// <summary>Creates a program from source with in-memory headers (NVRTC never searches the file system here).</summary>
    public static NvrtcProgramHandle Create(string source, string name, IReadOnlyList<(string Name, string Source)> headers)
    {
        var pinned = new List<GCHandle>();
        try
        {
            byte* Utf8(string s)
            {
                var bytes = Encoding.UTF8.GetBytes(s + "\0");
                var h = GCHandle.Alloc(bytes, GCHandleType.Pinned);
                pinned.Add(h);
                return (byte*)h.AddrOfPinnedObject();
            }
            var headerPtrs = new nint[headers.Count];
            var namePtrs = new nint[headers.Count];
            for (int i = 0; i < headers.Count; i++)
            {
                headerPtrs[i] = (nint)Utf8(headers[i].Source);
                namePtrs[i] = (nint)Utf8(headers[i].Name);
            }
            nint prog;
            fixed (nint* hp = headerPtrs, np = namePtrs)
                NvrtcCheck.Check(Nvrtc.nvrtcCreateProgram(&prog, Utf8(source), Utf8(name), headers.Count, (byte**)hp, (byte**)np));
            var handle = new NvrtcProgramHandle();
            handle.SetHandle(prog);
            return handle;
        }
        finally
        {
            foreach (var h in pinned) h.Free();
        }
    }

    /// <summary>Compiles; returns false (and the log) on a compile error, throws on an API error.</summary>
    public bool Compile(IReadOnlyList<string> options, out string log)
    {
        var bytes = options.Select(o => Encoding.UTF8.GetBytes(o + "\0")).ToArray();
        var handles = bytes.Select(b => GCHandle.Alloc(b, GCHandleType.Pinned)).ToArray();
        try
        {
            var ptrs = handles.Select(h => h.AddrOfPinnedObject()).ToArray();
            NvrtcResult result;
            fixed (nint* p = ptrs) result = Nvrtc.nvrtcCompileProgram(handle, ptrs.Length, (byte**)p);
            log = Log();
            if (result == NvrtcResult.NVRTC_ERROR_COMPILATION) return false;
            NvrtcCheck.Check(result, "nvrtcCompileProgram");
            return true;
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
    }

    private string Log()
    {
        nuint size;
        NvrtcCheck.Check(Nvrtc.nvrtcGetProgramLogSize(handle, &size));
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) NvrtcCheck.Check(Nvrtc.nvrtcGetProgramLog(handle, p));
        return Encoding.UTF8.GetString(buffer).TrimEnd('\0');
    }

    public byte[] Cubin()
    {
        nuint size;
        NvrtcCheck.Check(Nvrtc.nvrtcGetCUBINSize(handle, &size));
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) NvrtcCheck.Check(Nvrtc.nvrtcGetCUBIN(handle, p));
        return buffer;
    }

    public string Ptx()
    {
        nuint size;
        NvrtcCheck.Check(Nvrtc.nvrtcGetPTXSize(handle, &size));
        var buffer = new byte[(int)size];
        fixed (byte* p = buffer) NvrtcCheck.Check(Nvrtc.nvrtcGetPTX(handle, p));
        return Encoding.UTF8.GetString(buffer).TrimEnd('\0');
    }

    protected override bool ReleaseHandle()
    {
        nint p = handle;
        return Nvrtc.nvrtcDestroyProgram(&p) == NvrtcResult.NVRTC_SUCCESS;
    }
}
