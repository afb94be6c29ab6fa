using System.Buffers.Binary;

namespace Cinnabar.Storage;

/// <summary>
/// A list value.
///
/// Design: a chunked deque of packed byte buffers, in the spirit of Redis's quicklist of
/// listpacks. Each chunk packs its elements into one byte array as [len][bytes][len] entries
/// (len is one byte below 255, else 0xFF + 4-byte length, mirrored at the end so entries can be
/// walked backwards), with the live bytes in [Head, Tail) and free room on both sides. The
/// chunks sit in a circular buffer, so pushing or popping at either end is O(1) amortized: a
/// new chunk is opened when the end chunk reaches its byte budget, an emptied chunk is dropped.
/// Positional access skips whole chunks by their counts from the nearer end, then walks inside
/// one chunk, so LINDEX/LRANGE cost O(n / entries-per-chunk + chunk). Middle edits (LINSERT,
/// LSET, LREM) rewrite only the chunk they touch, splitting it when it outgrows the budget.
/// Small elements cost 2 bytes of overhead each instead of a managed array per element.
///
/// Budget: list-max-listpack-size as Redis reads it: negative -1..-5 = 4..64 KiB per chunk,
/// positive = at most that many entries per chunk (within 8 KiB, Redis's safety limit).
/// Invariants: no chunk is empty; Count is the sum of chunk counts.
///
/// Encoding: Redis 7.0 stores every list as a quicklist (7.0.15 answers OBJECT ENCODING
/// "quicklist" even for a one-element list; the listpack list encoding came in 7.2), so that
/// is the only name this type reports.
/// </summary>
public sealed class ListObject : RedisObject
{
    private const int FirstChunkBytes = 32;
    private const int SafetyBytes = 8192;

    private sealed class Chunk
    {
        public byte[] Buf;
        public int Head;
        public int Tail;
        public int Count;

        public Chunk(int capacity, int head)
        {
            Buf = new byte[capacity];
            Head = Tail = head;
        }

        public int Bytes => Tail - Head;
    }

    private Chunk[] _chunks = new Chunk[4];
    private int _head;
    private int _chunkCount;
    private int _count;

    public override RedisType Type => RedisType.List;
    public override string Encoding => "quicklist";
    public int Count => _count;

    private Chunk ChunkAt(int i) => _chunks[(_head + i) & (_chunks.Length - 1)];

    // ---------------------------------------------------------------- entry format

    private static int EntrySize(int len) => len < 255 ? len + 2 : len + 10;

    private static int WriteEntry(byte[] buf, int at, ReadOnlySpan<byte> v)
    {
        int len = v.Length;
        if (len < 255)
        {
            buf[at++] = (byte)len;
            v.CopyTo(buf.AsSpan(at));
            at += len;
            buf[at++] = (byte)len;
            return at;
        }
        buf[at++] = 255;
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(at), len);
        at += 4;
        v.CopyTo(buf.AsSpan(at));
        at += len;
        BinaryPrimitives.WriteInt32LittleEndian(buf.AsSpan(at), len);
        at += 4;
        buf[at++] = 255;
        return at;
    }

    private static ReadOnlySpan<byte> EntryAt(byte[] buf, int at)
    {
        byte b = buf[at];
        if (b < 255) return new ReadOnlySpan<byte>(buf, at + 1, b);
        return new ReadOnlySpan<byte>(buf, at + 5, BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(at + 1)));
    }

    private static int NextEntry(byte[] buf, int at)
    {
        byte b = buf[at];
        if (b < 255) return at + b + 2;
        return at + BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(at + 1)) + 10;
    }

    /// <summary>Start of the entry that ends at <paramref name="end"/>.</summary>
    private static int PrevEntry(byte[] buf, int end)
    {
        byte b = buf[end - 1];
        if (b < 255) return end - b - 2;
        return end - BinaryPrimitives.ReadInt32LittleEndian(buf.AsSpan(end - 5)) - 10;
    }

    private static int MaxChunkBytes
    {
        get
        {
            int v = EncodingLimits.ListMaxListpackSize;
            return v < 0 ? 4096 << Math.Min(4, -v - 1) : SafetyBytes;
        }
    }

    private static int MaxChunkEntries
    {
        get
        {
            int v = EncodingLimits.ListMaxListpackSize;
            return v > 0 ? v : int.MaxValue;
        }
    }

    private static bool Fits(Chunk c, int need) =>
        c.Count == 0 || (c.Bytes + need <= MaxChunkBytes && c.Count < MaxChunkEntries);

    /// <summary>
    /// Makes at least need free bytes on one side of the chunk, growing or re-centring its buffer.
    /// False when the chunk has reached its budget (the caller opens a new chunk).
    /// </summary>
    private static bool MakeRoom(Chunk c, int need, bool front)
    {
        if ((front ? c.Head : c.Buf.Length - c.Tail) >= need && (c.Count == 0 || c.Count < MaxChunkEntries)) return true;
        if (!Fits(c, need)) return false;
        int bytes = c.Bytes;
        int cap = c.Buf.Length;
        if (bytes + need > cap) cap = Math.Max(Math.Min(MaxChunkBytes, cap * 2), bytes + need);
        int spare = cap - bytes - need;
        int newHead = front ? need + spare / 2 : spare / 2;
        var buf = cap == c.Buf.Length ? c.Buf : new byte[cap];
        c.Buf.AsSpan(c.Head, bytes).CopyTo(buf.AsSpan(newHead));
        c.Buf = buf;
        c.Head = newHead;
        c.Tail = newHead + bytes;
        return true;
    }

    // ---------------------------------------------------------------- ends

    public void PushHead(ReadOnlySpan<byte> value)
    {
        int need = EntrySize(value.Length);
        Chunk c;
        if (_chunkCount == 0 || !MakeRoom(c = ChunkAt(0), need, front: true))
        {
            c = new Chunk(Math.Max(need, FirstChunkBytes), 0);
            c.Head = c.Tail = c.Buf.Length;
            InsertChunk(0, c);
        }
        c.Head -= need;
        WriteEntry(c.Buf, c.Head, value);
        c.Count++;
        _count++;
    }

    public void PushTail(ReadOnlySpan<byte> value)
    {
        int need = EntrySize(value.Length);
        Chunk c;
        if (_chunkCount == 0 || !MakeRoom(c = ChunkAt(_chunkCount - 1), need, front: false))
        {
            c = new Chunk(Math.Max(need, FirstChunkBytes), 0);
            InsertChunk(_chunkCount, c);
        }
        c.Tail = WriteEntry(c.Buf, c.Tail, value);
        c.Count++;
        _count++;
    }

    public byte[]? PopHead()
    {
        if (_count == 0) return null;
        var c = ChunkAt(0);
        var v = EntryAt(c.Buf, c.Head).ToArray();
        c.Head = NextEntry(c.Buf, c.Head);
        c.Count--;
        _count--;
        if (c.Count == 0) RemoveChunk(0);
        return v;
    }

    public byte[]? PopTail()
    {
        if (_count == 0) return null;
        var c = ChunkAt(_chunkCount - 1);
        int start = PrevEntry(c.Buf, c.Tail);
        var v = EntryAt(c.Buf, start).ToArray();
        c.Tail = start;
        c.Count--;
        _count--;
        if (c.Count == 0) RemoveChunk(_chunkCount - 1);
        return v;
    }

    public byte[]? Pop(bool head) => head ? PopHead() : PopTail();

    public void Push(ReadOnlySpan<byte> value, bool head)
    {
        if (head) PushHead(value);
        else PushTail(value);
    }

    // ---------------------------------------------------------------- positions

    /// <summary>Finds the chunk and byte offset of element index (0-based, in range), walking from the nearer end.</summary>
    private (int Chunk, int Offset) Locate(int index)
    {
        if (index < _count / 2)
        {
            for (int i = 0; ; i++)
            {
                var c = ChunkAt(i);
                if (index < c.Count) return (i, OffsetInChunk(c, index));
                index -= c.Count;
            }
        }
        int fromEnd = _count - 1 - index;
        for (int i = _chunkCount - 1; ; i--)
        {
            var c = ChunkAt(i);
            if (fromEnd < c.Count) return (i, OffsetInChunk(c, c.Count - 1 - fromEnd));
            fromEnd -= c.Count;
        }
    }

    private static int OffsetInChunk(Chunk c, int i)
    {
        if (i < c.Count / 2)
        {
            int at = c.Head;
            for (int k = 0; k < i; k++) at = NextEntry(c.Buf, at);
            return at;
        }
        int end = c.Tail;
        for (int k = c.Count; k > i; k--) end = PrevEntry(c.Buf, end);
        return end;
    }

    /// <summary>Converts a Redis index (negative counts from the tail) into 0-based, or -1 if out of range.</summary>
    public int Normalize(long index)
    {
        if (index < 0) index += _count;
        return index < 0 || index >= _count ? -1 : (int)index;
    }

    /// <summary>The element at a 0-based index; valid until the list is next modified.</summary>
    public ReadOnlySpan<byte> Get(int index)
    {
        var (ci, off) = Locate(index);
        return EntryAt(ChunkAt(ci).Buf, off);
    }

    public void Set(int index, ReadOnlySpan<byte> value)
    {
        var (ci, off) = Locate(index);
        var c = ChunkAt(ci);
        int oldSize = NextEntry(c.Buf, off) - off;
        if (oldSize == EntrySize(value.Length))
        {
            WriteEntry(c.Buf, off, value);
            return;
        }
        Rebuild(ci, off, off + oldSize, value, split: false);
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

        /// <summary>The current element; valid until the list is modified.</summary>
        public readonly ReadOnlySpan<byte> Current => EntryAt(_list.ChunkAt(_chunk).Buf, _offset);

        public bool MoveNext()
        {
            if (_remaining == 0) return false;
            if (!_started)
            {
                _started = true;
                return true;
            }
            if (--_remaining == 0) return false;
            var c = _list.ChunkAt(_chunk);
            if (_forward)
            {
                _offset = NextEntry(c.Buf, _offset);
                if (_offset == c.Tail) _offset = _list.ChunkAt(++_chunk).Head;
            }
            else if (_offset == c.Head)
            {
                var prev = _list.ChunkAt(--_chunk);
                _offset = PrevEntry(prev.Buf, prev.Tail);
            }
            else _offset = PrevEntry(c.Buf, _offset);
            return true;
        }
    }

    // ---------------------------------------------------------------- middle edits

    /// <summary>Inserts value so that it ends up at 0-based position index (0..Count).</summary>
    public void InsertAt(int index, ReadOnlySpan<byte> value)
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
        Rebuild(ci, off, off, value, split: true);
        _count++;
        ChunkAt(ci).Count++;
    }

    /// <summary>
    /// Rewrites chunk ci replacing bytes [from, to) by one entry holding value. When the result
    /// is over budget and split is set, the chunk is cut after the new entry into two chunks.
    /// The caller adjusts counts for an insertion (the chunk's count is not changed here, except
    /// that a split moves the entries after the new one to the new chunk).
    /// </summary>
    private void Rebuild(int ci, int from, int to, ReadOnlySpan<byte> value, bool split)
    {
        var c = ChunkAt(ci);
        int need = EntrySize(value.Length);
        int before = from - c.Head, after = c.Tail - to;
        if (split && !Fits(c, need))
        {
            int movedCount = 0;
            for (int at = to; at < c.Tail; at = NextEntry(c.Buf, at)) movedCount++;
            var right = new Chunk(Math.Max(after, FirstChunkBytes), 0);
            c.Buf.AsSpan(to, after).CopyTo(right.Buf);
            right.Tail = after;
            right.Count = movedCount;
            var left = new byte[Math.Max(before + need, FirstChunkBytes)];
            c.Buf.AsSpan(c.Head, before).CopyTo(left);
            WriteEntry(left, before, value);
            c.Buf = left;
            c.Head = 0;
            c.Tail = before + need;
            c.Count -= movedCount;
            if (movedCount > 0) InsertChunk(ci + 1, right);
            return;
        }
        int bytes = before + need + after;
        int cap = Math.Max(c.Buf.Length, bytes);
        int head = (cap - bytes) / 2;
        var buf = new byte[cap];
        c.Buf.AsSpan(c.Head, before).CopyTo(buf.AsSpan(head));
        int at2 = WriteEntry(buf, head + before, value);
        c.Buf.AsSpan(to, after).CopyTo(buf.AsSpan(at2));
        c.Buf = buf;
        c.Head = head;
        c.Tail = head + bytes;
    }

    /// <summary>LINSERT: inserts before/after the first element equal to pivot; false if none.</summary>
    public bool InsertRelative(ReadOnlySpan<byte> pivot, ReadOnlySpan<byte> value, bool before)
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
            for (int at = c.Head; at < c.Tail; at = NextEntry(c.Buf, at), index++)
                if (value.SequenceEqual(EntryAt(c.Buf, at))) return index;
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
                removed += CompactForward(c, value, limit - removed);
                if (c.Count == 0) RemoveChunk(ci--);
            }
        }
        else
        {
            for (int ci = _chunkCount - 1; ci >= 0 && removed < limit; ci--)
            {
                var c = ChunkAt(ci);
                removed += CompactBackward(c, value, limit - removed);
                if (c.Count == 0) RemoveChunk(ci);
            }
        }
        _count -= (int)removed;
        return removed;
    }

    /// <summary>Removes up to max matches in one chunk, sliding kept entries towards the head.</summary>
    private static int CompactForward(Chunk c, ReadOnlySpan<byte> value, long max)
    {
        int removed = 0, w = c.Head;
        for (int r = c.Head; r < c.Tail;)
        {
            int next = NextEntry(c.Buf, r);
            if (removed < max && value.SequenceEqual(EntryAt(c.Buf, r))) removed++;
            else
            {
                if (w != r) c.Buf.AsSpan(r, next - r).CopyTo(c.Buf.AsSpan(w));
                w += next - r;
            }
            r = next;
        }
        c.Tail = w;
        c.Count -= removed;
        return removed;
    }

    /// <summary>Removes up to max matches in one chunk scanning from the tail, sliding kept entries towards the tail.</summary>
    private static int CompactBackward(Chunk c, ReadOnlySpan<byte> value, long max)
    {
        int removed = 0, w = c.Tail;
        for (int r = c.Tail; r > c.Head;)
        {
            int start = PrevEntry(c.Buf, r);
            if (removed < max && value.SequenceEqual(EntryAt(c.Buf, start))) removed++;
            else
            {
                int size = r - start;
                w -= size;
                if (w != start) c.Buf.AsSpan(start, size).CopyTo(c.Buf.AsSpan(w));
            }
            r = start;
        }
        c.Head = w;
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
            int take = Math.Min(n, c.Count);
            n -= take;
            _count -= take;
            if (take == c.Count)
            {
                RemoveChunk(0);
                continue;
            }
            for (int k = 0; k < take; k++) c.Head = NextEntry(c.Buf, c.Head);
            c.Count -= take;
        }
    }

    public void RemoveTail(int n)
    {
        n = Math.Min(n, _count);
        while (n > 0)
        {
            var c = ChunkAt(_chunkCount - 1);
            int take = Math.Min(n, c.Count);
            n -= take;
            _count -= take;
            if (take == c.Count)
            {
                RemoveChunk(_chunkCount - 1);
                continue;
            }
            for (int k = 0; k < take; k++) c.Tail = PrevEntry(c.Buf, c.Tail);
            c.Count -= take;
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

    /// <summary>Every element, head to tail, as fresh arrays (RDB, SORT, COPY).</summary>
    public IEnumerable<byte[]> Enumerate()
    {
        for (int ci = 0; ci < _chunkCount; ci++)
        {
            var c = ChunkAt(ci);
            for (int at = c.Head; at < c.Tail; at = NextEntry(c.Buf, at)) yield return EntryAt(c.Buf, at).ToArray();
        }
    }

    public override RedisObject Clone()
    {
        var copy = new ListObject { Lru = Lru, _head = 0, _chunkCount = _chunkCount, _count = _count, _chunks = new Chunk[_chunks.Length] };
        for (int i = 0; i < _chunkCount; i++)
        {
            var c = ChunkAt(i);
            copy._chunks[i] = new Chunk(0, 0) { Buf = (byte[])c.Buf.Clone(), Head = c.Head, Tail = c.Tail, Count = c.Count };
        }
        return copy;
    }

    public override long MemoryUsage(int samples)
    {
        long size = 48 + _chunks.Length * 8L;
        for (int ci = 0; ci < _chunkCount; ci++) size += 56 + ChunkAt(ci).Buf.Length;
        return size;
    }
}
