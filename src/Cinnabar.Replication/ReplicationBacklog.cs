namespace Cinnabar.Replication;

/// <summary>
/// Redis 7's shared replication buffer (replication.c feedReplicationBuffer): the replication
/// stream held once, in a list of blocks addressed by global stream offsets, serving both the
/// backlog (partial resyncs) and the replicas that still need part of it (a replica waiting for
/// its RDB keeps the stream written since its snapshot). Nothing is copied per replica.
/// <see cref="MasterOffset"/> is the offset of the last byte appended (master_repl_offset);
/// bytes from <see cref="FirstByteOffset"/> to MasterOffset are available for partial resyncs.
/// Invariants:
/// - blocks are contiguous: each starts where the previous ends; only the last has free room;
/// - a head block is dropped only when the history left after it is still at least
///   <see cref="Capacity"/> (repl-backlog-size) and no pin needs a byte in it, so the backlog
///   outgrows its size while a replica holds old data, and shrinks back when it lets go;
/// - the last block is never dropped.
/// Blocks are 16 KiB at least and repl-backlog-size/16 at most (so a trim can free memory
/// gradually). Pure data structure: no I/O, no clock.
/// </summary>
public sealed class ReplicationBacklog
{
    private const int MinBlockBytes = 16 * 1024;
    /// <summary>Per-block bookkeeping Redis counts too (list node and block header).</summary>
    private const int BlockOverheadBytes = 48;

    private sealed class Block(long startOffset, byte[] buf)
    {
        public readonly long StartOffset = startOffset;
        public readonly byte[] Buf = buf;
        public int Used;
    }

    /// <summary>A position some reader still needs: bytes from <see cref="Offset"/> on are kept.</summary>
    public sealed class Pin
    {
        internal Pin(ReplicationBacklog owner, long offset)
        {
            Owner = owner;
            Offset = offset;
        }

        public ReplicationBacklog Owner { get; }
        public long Offset { get; internal set; }
        public bool Released { get; internal set; }
    }

    private readonly List<Block> _blocks = new();
    private int _head;                 // index of the first live block in _blocks
    private readonly List<Pin> _pins = new();
    private byte[]? _spare;            // the last dropped block's buffer, reused by the next block

    public ReplicationBacklog(int capacity, long startOffset)
    {
        Capacity = Math.Max(capacity, MinBlockBytes);
        MasterOffset = startOffset;
    }

    public int Capacity { get; private set; }
    public long MasterOffset { get; private set; }
    public long HistLen { get; private set; }
    /// <summary>Offset of the first byte held (Redis reports master_repl_offset+1 when empty).</summary>
    public long FirstByteOffset => _head < _blocks.Count ? _blocks[_head].StartOffset : MasterOffset + 1;
    /// <summary>Memory held by the blocks (INFO mem_total_replication_buffers).</summary>
    public long MemoryBytes { get; private set; }

    public void Append(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            var tail = _head < _blocks.Count ? _blocks[^1] : null;
            if (tail == null || tail.Used == tail.Buf.Length)
            {
                int maxBlock = Math.Max(Capacity / 16, MinBlockBytes);
                int size = Math.Min(Math.Max(data.Length, MinBlockBytes), maxBlock);
                // A steady stream drops a head block for each block it adds: the dropped one's
                // buffer is reused rather than left to the collector (an old buffer would stay
                // counted in used_memory until a full collection).
                byte[] buf = _spare is { } spare && spare.Length == size ? spare : new byte[size];
                if (buf == _spare) _spare = null;
                tail = new Block(MasterOffset + 1, buf);
                _blocks.Add(tail);
                MemoryBytes += tail.Buf.Length + BlockOverheadBytes;
            }
            int n = Math.Min(data.Length, tail.Buf.Length - tail.Used);
            data[..n].CopyTo(tail.Buf.AsSpan(tail.Used));
            tail.Used += n;
            data = data[n..];
            MasterOffset += n;
            HistLen += n;
        }
        Trim();
    }

    /// <summary>True when a replica that has processed up to <paramref name="offset"/> - 1 can continue from the backlog.</summary>
    public bool CanServe(long offset) => offset >= FirstByteOffset && offset <= MasterOffset + 1;

    /// <summary>The bytes from <paramref name="offset"/> (inclusive) to the end of the stream.</summary>
    public byte[] CopyFrom(long offset)
    {
        if (!CanServe(offset)) throw new ArgumentOutOfRangeException(nameof(offset));
        var result = new byte[MasterOffset - offset + 1];
        int written = 0;
        for (int i = FindBlock(offset); i < _blocks.Count && written < result.Length; i++)
        {
            var b = _blocks[i];
            int from = (int)Math.Max(0, offset - b.StartOffset);
            int n = b.Used - from;
            b.Buf.AsSpan(from, n).CopyTo(result.AsSpan(written));
            written += n;
        }
        return result;
    }

    /// <summary>Bytes a pin holds back: from its offset to the end of the stream (a replica's share of the buffer).</summary>
    public long BytesFrom(Pin pin) => Math.Max(0, MasterOffset + 1 - pin.Offset);

    /// <summary>Keeps every byte from <paramref name="offset"/> on until the pin is released.</summary>
    public Pin PinFrom(long offset)
    {
        var pin = new Pin(this, offset);
        _pins.Add(pin);
        return pin;
    }

    public void Release(Pin pin)
    {
        if (pin.Released || pin.Owner != this) return;
        pin.Released = true;
        _pins.Remove(pin);
        Trim();
    }

    /// <summary>Changes repl-backlog-size; the history shrinks to it at once unless pinned.</summary>
    public void Resize(int capacity)
    {
        Capacity = Math.Max(capacity, MinBlockBytes);
        Trim();
    }

    private void Trim()
    {
        long pinned = long.MaxValue;
        foreach (var p in _pins) pinned = Math.Min(pinned, p.Offset);
        while (_head < _blocks.Count - 1)
        {
            var first = _blocks[_head];
            if (HistLen - first.Used < Capacity) break;
            if (first.StartOffset + first.Used > pinned) break;   // a pin needs a byte in it
            HistLen -= first.Used;
            MemoryBytes -= first.Buf.Length + BlockOverheadBytes;
            _spare ??= first.Buf;
            _blocks[_head] = null!;
            _head++;
        }
        // Compact the list of dropped entries now and then (amortised O(1) per block).
        if (_head > 64 && _head * 2 > _blocks.Count)
        {
            _blocks.RemoveRange(0, _head);
            _head = 0;
        }
    }

    private int FindBlock(long offset)
    {
        int lo = _head, hi = _blocks.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (_blocks[mid].StartOffset <= offset) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }
}
