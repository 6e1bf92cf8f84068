namespace Owl3Native.Engine;

/// <summary>
/// Hands out physical KV blocks. Allocation is all-or-nothing (a failed request changes nothing); freed blocks are
/// reused last-in first-out so a freed-and-reused block is exercised early. Thread-safe.
/// </summary>
public sealed class BlockAllocator
{
    private readonly Stack<int> _free;
    private readonly int[] _refs; // holders of each block (0 = free): sequences sharing a prompt prefix hold it together
    private readonly Lock _gate = new();

    /// <summary>Creates an allocator over blocks 0..numBlocks−1.</summary>
    public BlockAllocator(int numBlocks, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numBlocks, 1);
        NumBlocks = numBlocks;
        BlockSize = blockSize;
        _refs = new int[numBlocks];
        _free = new Stack<int>(Enumerable.Range(0, numBlocks).Reverse());
    }

    /// <summary>Total blocks.</summary>
    public int NumBlocks { get; }

    /// <summary>Tokens per block.</summary>
    public int BlockSize { get; }

    /// <summary>Blocks currently free.</summary>
    public int FreeBlocks { get { lock (_gate) return _free.Count; } }

    /// <summary>Blocks currently in use.</summary>
    public int UsedBlocks => NumBlocks - FreeBlocks;

    /// <summary>Allocates <paramref name="count"/> blocks, or none.</summary>
    /// <exception cref="KvCacheExhaustedException">Fewer than <paramref name="count"/> blocks are free.</exception>
    public BlockId[] Allocate(int count)
    {
        lock (_gate)
        {
            if (count > _free.Count) throw new KvCacheExhaustedException(count, _free.Count, BlockSize);
            var blocks = new BlockId[count];
            for (int i = 0; i < count; i++)
            {
                int b = _free.Pop();
                _refs[b] = 1;
                blocks[i] = new BlockId(b);
            }
            return blocks;
        }
    }

    /// <summary>Lets go of blocks; a block returns to the pool when its last holder lets go.</summary>
    /// <exception cref="InvalidOperationException">A block is not in use (double free).</exception>
    public void Free(IEnumerable<BlockId> blocks)
    {
        lock (_gate)
        {
            foreach (var b in blocks)
            {
                if (_refs[b.Value] == 0) throw new InvalidOperationException($"block {b.Value} freed twice");
                if (--_refs[b.Value] == 0) _free.Push(b.Value);
            }
        }
    }

    /// <summary>Adds a holder to blocks in use (a sequence sharing another's full prefix blocks, which nobody rewrites).</summary>
    /// <exception cref="InvalidOperationException">A block is free.</exception>
    public void Retain(IEnumerable<BlockId> blocks)
    {
        var list = blocks as IReadOnlyCollection<BlockId> ?? blocks.ToArray();
        lock (_gate)
        {
            foreach (var b in list) // all or nothing
                if (_refs[b.Value] == 0) throw new InvalidOperationException($"block {b.Value} is free and cannot be shared");
            foreach (var b in list) _refs[b.Value]++;
        }
    }

    /// <summary>How many sequences hold <paramref name="block"/> (0 = free).</summary>
    public int Holders(BlockId block)
    {
        lock (_gate) return _refs[block.Value];
    }
}
