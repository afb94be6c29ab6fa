namespace Cinnabar.Storage;

/// <summary>
/// A list value.
///
/// Design: a chunked deque. Elements (owned byte arrays) live in chunks, each an array with a
/// live window [Start, Start+Count). The chunks themselves sit in a circular buffer, so pushing
/// or popping at either end is O(1) (a new chunk is opened when the end chunk is full, an empty
/// end chunk is dropped). Positional access walks chunk counts from the nearer end, skipping
/// whole chunks, so LINDEX/LRANGE/LSET cost O(n / ChunkCapacity) to find their start.
/// Middle insertions (LINSERT) shift inside one chunk, splitting it when full; removals shift
/// inside one chunk and drop it when it empties. A single small list keeps one chunk sized to
/// its contents (grown like List&lt;T&gt;), so tiny lists stay compact.
///
/// Invariants: no chunk is empty; Count is the sum of chunk counts.
///
/// Encoding: Redis 7.0 stores every list as a quicklist (7.0.15 answers OBJECT ENCODING
/// "quicklist" even for a one-element list; the listpack list encoding came in 7.2), so that
/// is the only name this type reports. list-max-listpack-size only shapes Redis's node sizes.
/// </summary>
public sealed class ListObject : RedisObject
{
    internal const int ChunkCapacity = 128;
    private const int FirstChunkInitialCapacity = 4;

    private sealed class Chunk
    {
        public byte[][] Items;
        public int Start;
        public int Count;

        public Chunk(int capacity, int start)
        {
            Items = new byte[capacity][];
            Start = start;
        }

        public int Capacity => Items.Length;
        public int End => Start + Count;
        public byte[] this[int i]
        {
            get => Items[Start + i];
            set => Items[Start + i] = value;
        }
    }

    private Chunk[] _chunks = new Chunk[4];
    private int _head;
    private int _chunkCount;
    private int _count;

    public override RedisType Type => RedisType.List;
    public override string Encoding => "quicklist";
    public int Count => _count;

    private Chunk ChunkAt(int i) => _chunks[(_head + i) & (_chunks.Length - 1)];

    // ---------------------------------------------------------------- ends

    public void PushHead(byte[] value)
    {
        Chunk? c = _chunkCount == 0 ? null : ChunkAt(0);
        if (c == null || c.Start == 0)
        {
            if (c != null && _chunkCount == 1 && c.Capacity < ChunkCapacity) GrowSingle(c, front: true);
            else
            {
                c = new Chunk(_chunkCount == 0 ? FirstChunkInitialCapacity : ChunkCapacity, 0);
                c.Start = c.Capacity;
                InsertChunk(0, c);
            }
        }
        c.Start--;
        c.Items[c.Start] = value;
        c.Count++;
        _count++;
    }

    public void PushTail(byte[] value)
    {
        Chunk? c = _chunkCount == 0 ? null : ChunkAt(_chunkCount - 1);
        if (c == null || c.End == c.Capacity)
        {
            if (c != null && _chunkCount == 1 && c.Capacity < ChunkCapacity) GrowSingle(c, front: false);
            else
            {
                c = new Chunk(_chunkCount == 0 ? FirstChunkInitialCapacity : ChunkCapacity, 0);
                InsertChunk(_chunkCount, c);
            }
        }
        c.Items[c.End] = value;
        c.Count++;
        _count++;
    }

    /// <summary>Grows the only chunk (a small list) leaving free room on the side being pushed.</summary>
    private static void GrowSingle(Chunk c, bool front)
    {
        int capacity = Math.Min(ChunkCapacity, Math.Max(FirstChunkInitialCapacity, c.Capacity * 2));
        var items = new byte[capacity][];
        // Keep the room on the other side as it was; the new room goes to the pushed side.
        int start = front ? c.Start + (capacity - c.Capacity) : c.Start;
        Array.Copy(c.Items, c.Start, items, start, c.Count);
        c.Items = items;
        c.Start = start;
    }

    public byte[]? PopHead()
    {
        if (_count == 0) return null;
        var c = ChunkAt(0);
        var v = c.Items[c.Start];
        c.Items[c.Start] = null!;
        c.Start++;
        c.Count--;
        _count--;
        if (c.Count == 0) RemoveChunk(0);
        return v;
    }

    public byte[]? PopTail()
    {
        if (_count == 0) return null;
        var c = ChunkAt(_chunkCount - 1);
        int last = c.End - 1;
        var v = c.Items[last];
        c.Items[last] = null!;
        c.Count--;
        _count--;
        if (c.Count == 0) RemoveChunk(_chunkCount - 1);
        return v;
    }

    public byte[]? Pop(bool head) => head ? PopHead() : PopTail();
    public void Push(byte[] value, bool head)
    {
        if (head) PushHead(value);
        else PushTail(value);
    }

    // ---------------------------------------------------------------- positions

    /// <summary>Finds the chunk holding element <paramref name="index"/> (0-based, in range), walking from the nearer end.</summary>
    private (int Chunk, int Offset) Locate(int index)
    {
        if (index < _count / 2)
        {
            for (int i = 0; ; i++)
            {
                var c = ChunkAt(i);
                if (index < c.Count) return (i, index);
                index -= c.Count;
            }
        }
        int fromEnd = _count - 1 - index;
        for (int i = _chunkCount - 1; ; i--)
        {
            var c = ChunkAt(i);
            if (fromEnd < c.Count) return (i, c.Count - 1 - fromEnd);
            fromEnd -= c.Count;
        }
    }

    /// <summary>Converts a Redis index (negative counts from the tail) into 0-based, or -1 if out of range.</summary>
    public int Normalize(long index)
    {
        if (index < 0) index += _count;
        return index < 0 || index >= _count ? -1 : (int)index;
    }

    public byte[] Get(int index)
    {
        var (ci, off) = Locate(index);
        return ChunkAt(ci)[off];
    }

    public void Set(int index, byte[] value)
    {
        var (ci, off) = Locate(index);
        ChunkAt(ci)[off] = value;
    }

    /// <summary>A forward cursor starting at a 0-based index: LRANGE, LPOS, LREM walk with it.</summary>
    public Cursor GetCursor(int index) => new(this, index, forward: true);

    /// <summary>A backward cursor starting at a 0-based index (moving towards the head).</summary>
    public Cursor GetReverseCursor(int index) => new(this, index, forward: false);

    public struct Cursor
    {
        private readonly ListObject _list;
        private readonly bool _forward;
        private int _chunk;
        private int _offset;
        private int _remaining;
        private bool _started;

        internal Cursor(ListObject list, int index, bool forward)
        {
            _list = list;
            _forward = forward;
            _started = false;
            if (index < 0 || index >= list._count)
            {
                _remaining = 0;
                _chunk = _offset = 0;
                return;
            }
            (_chunk, _offset) = list.Locate(index);
            _remaining = forward ? list._count - index : index + 1;
        }

        public byte[] Current => _list.ChunkAt(_chunk)[_offset];

        public bool MoveNext()
        {
            if (_remaining == 0) return false;
            if (!_started)
            {
                _started = true;
                return true;
            }
            _remaining--;
            if (_remaining == 0) return false;
            if (_forward)
            {
                if (++_offset == _list.ChunkAt(_chunk).Count)
                {
                    _chunk++;
                    _offset = 0;
                }
            }
            else if (--_offset < 0)
            {
                _chunk--;
                _offset = _list.ChunkAt(_chunk).Count - 1;
            }
            return true;
        }
    }

    // ---------------------------------------------------------------- middle edits

    /// <summary>Inserts value so that it ends up at 0-based position index (0..Count).</summary>
    public void InsertAt(int index, byte[] value)
    {
        if (index == 0)
        {
            PushHead(value);
            return;
        }
        if (index == _count)
        {
            PushTail(value);
            return;
        }
        var (ci, off) = Locate(index);
        var c = ChunkAt(ci);
        if (c.Count == c.Capacity)
        {
            if (c.Capacity < ChunkCapacity) GrowSingle(c, front: false);
            else
            {
                // Split the full chunk in two halves, then insert into the proper half.
                int half = c.Count / 2;
                var right = new Chunk(ChunkCapacity, 0);
                Array.Copy(c.Items, c.Start + half, right.Items, 0, c.Count - half);
                Array.Clear(c.Items, c.Start + half, c.Count - half);
                right.Count = c.Count - half;
                c.Count = half;
                InsertChunk(ci + 1, right);
                if (off >= half)
                {
                    c = right;
                    off -= half;
                }
            }
        }
        if (c.End < c.Capacity)
        {
            int at = c.Start + off;
            Array.Copy(c.Items, at, c.Items, at + 1, c.End - at);
            c.Items[at] = value;
        }
        else
        {
            int at = c.Start + off;
            Array.Copy(c.Items, c.Start, c.Items, c.Start - 1, off);
            c.Start--;
            c.Items[at - 1] = value;
        }
        c.Count++;
        _count++;
    }

    /// <summary>LINSERT: inserts before/after the first element equal to pivot; false if none.</summary>
    public bool InsertRelative(ReadOnlySpan<byte> pivot, byte[] value, bool before)
    {
        int i = IndexOf(pivot);
        if (i < 0) return false;
        InsertAt(before ? i : i + 1, value);
        return true;
    }

    public int IndexOf(ReadOnlySpan<byte> value)
    {
        int index = 0;
        for (int ci = 0; ci < _chunkCount; ci++)
        {
            var c = ChunkAt(ci);
            for (int k = c.Start; k < c.End; k++, index++)
                if (value.SequenceEqual(c.Items[k])) return index;
        }
        return -1;
    }

    /// <summary>
    /// LREM: removes up to <paramref name="count"/> elements equal to value, from the head when
    /// count &gt; 0, from the tail when &lt; 0, all when 0. Returns the number removed.
    /// </summary>
    public long Remove(ReadOnlySpan<byte> value, long count)
    {
        long limit = count == 0 ? long.MaxValue : Math.Abs(count);
        long removed = 0;
        if (count >= 0)
        {
            for (int ci = 0; ci < _chunkCount && removed < limit; ci++)
            {
                var c = ChunkAt(ci);
                removed += CompactChunk(c, value, limit - removed, fromStart: true);
                if (c.Count == 0) RemoveChunk(ci--);
            }
        }
        else
        {
            for (int ci = _chunkCount - 1; ci >= 0 && removed < limit; ci--)
            {
                var c = ChunkAt(ci);
                removed += CompactChunk(c, value, limit - removed, fromStart: false);
                if (c.Count == 0) RemoveChunk(ci);
            }
        }
        _count -= (int)removed;
        return removed;
    }

    /// <summary>Removes up to max matches inside one chunk by compacting in place.</summary>
    private static int CompactChunk(Chunk c, ReadOnlySpan<byte> value, long max, bool fromStart)
    {
        int removed = 0;
        if (fromStart)
        {
            int w = c.Start;
            for (int r = c.Start; r < c.End; r++)
            {
                if (removed < max && value.SequenceEqual(c.Items[r])) removed++;
                else c.Items[w++] = c.Items[r];
            }
            Array.Clear(c.Items, w, c.End - w);
        }
        else
        {
            int w = c.End - 1;
            for (int r = c.End - 1; r >= c.Start; r--)
            {
                if (removed < max && value.SequenceEqual(c.Items[r])) removed++;
                else c.Items[w--] = c.Items[r];
            }
            Array.Clear(c.Items, c.Start, w + 1 - c.Start);
            c.Start = w + 1;
        }
        c.Count -= removed;
        return removed;
    }

    /// <summary>Removes n elements from the head, dropping whole chunks where possible (LTRIM).</summary>
    public void RemoveHead(int n)
    {
        n = Math.Min(n, _count);
        while (n > 0)
        {
            var c = ChunkAt(0);
            if (c.Count <= n)
            {
                n -= c.Count;
                _count -= c.Count;
                RemoveChunk(0);
                continue;
            }
            Array.Clear(c.Items, c.Start, n);
            c.Start += n;
            c.Count -= n;
            _count -= n;
            n = 0;
        }
    }

    public void RemoveTail(int n)
    {
        n = Math.Min(n, _count);
        while (n > 0)
        {
            var c = ChunkAt(_chunkCount - 1);
            if (c.Count <= n)
            {
                n -= c.Count;
                _count -= c.Count;
                RemoveChunk(_chunkCount - 1);
                continue;
            }
            Array.Clear(c.Items, c.End - n, n);
            c.Count -= n;
            _count -= n;
            n = 0;
        }
    }

    // ---------------------------------------------------------------- chunk ring

    private void InsertChunk(int position, Chunk c)
    {
        if (_chunkCount == _chunks.Length)
        {
            var bigger = new Chunk[_chunks.Length * 2];
            for (int i = 0; i < _chunkCount; i++) bigger[i] = ChunkAt(i);
            _chunks = bigger;
            _head = 0;
        }
        int mask = _chunks.Length - 1;
        if (position == 0)
        {
            _head = (_head - 1) & mask;
            _chunks[_head] = c;
        }
        else
        {
            for (int i = _chunkCount; i > position; i--)
                _chunks[(_head + i) & mask] = _chunks[(_head + i - 1) & mask];
            _chunks[(_head + position) & mask] = c;
        }
        _chunkCount++;
    }

    private void RemoveChunk(int position)
    {
        int mask = _chunks.Length - 1;
        if (position == 0)
        {
            _chunks[_head] = null!;
            _head = (_head + 1) & mask;
        }
        else
        {
            for (int i = position; i < _chunkCount - 1; i++)
                _chunks[(_head + i) & mask] = _chunks[(_head + i + 1) & mask];
            _chunks[(_head + _chunkCount - 1) & mask] = null!;
        }
        _chunkCount--;
        if (_chunkCount == 0) _head = 0;
    }

    // ---------------------------------------------------------------- object

    public IEnumerable<byte[]> Enumerate()
    {
        for (int ci = 0; ci < _chunkCount; ci++)
        {
            var c = ChunkAt(ci);
            for (int k = c.Start; k < c.End; k++) yield return c.Items[k];
        }
    }

    public override RedisObject Clone()
    {
        var copy = new ListObject { Lru = Lru };
        foreach (var v in Enumerate()) copy.PushTail((byte[])v.Clone());
        return copy;
    }

    public override long MemoryUsage(int samples)
    {
        long size = 48 + _chunks.Length * 8L;
        long elementBytes = 0;
        int seen = 0;
        for (int ci = 0; ci < _chunkCount; ci++)
        {
            var c = ChunkAt(ci);
            size += 32 + c.Capacity * 8L;
            for (int k = c.Start; k < c.End && (samples <= 0 || seen < samples); k++, seen++)
                elementBytes += 24 + c.Items[k].Length;
        }
        if (seen > 0) size += elementBytes * _count / seen;
        return size;
    }
}
