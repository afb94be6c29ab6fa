using System.IO.Hashing;
using System.Runtime.CompilerServices;

namespace Cinnabar.Storage;

/// <summary>
/// A hash table keyed by byte strings, built for Redis semantics rather than general use:
/// - lookups by <see cref="ReadOnlySpan{T}"/> allocate nothing;
/// - entries live in one array and never move (growth copies them in place), so an entry index
///   is a stable SCAN cursor: an element present for a whole scan is returned exactly once;
/// - O(1) random sampling (RANDOMKEY, eviction and active-expiry sampling, SRANDMEMBER).
/// Chained buckets over an entry array, like the BCL Dictionary, hashed with seeded XxHash3.
/// The table never shrinks on delete (that would move entries and break cursors); Clear resets it.
/// The keyspace's main table may carry a <see cref="SlotIndex"/> (cluster mode): insert, remove,
/// growth and reset keep it in step here, so no caller can bypass it; null (one branch) otherwise.
/// </summary>
public sealed class ByteTable<TValue>
{
    private struct Entry
    {
        public uint Hash;
        public int Next;      // index of next entry in chain, -1 = end; for free entries: -3 - nextFree
        public byte[]? Key;   // null = free slot
        public TValue Value;
    }

    private static readonly ulong Seed = (ulong)Random.Shared.NextInt64();
    private int[] _buckets;   // 1-based entry index, 0 = empty
    private Entry[] _entries;
    private int _used;        // high-water mark of entries
    private int _freeList = -1;
    private int _freeCount;
    private SlotIndex? _slots;  // keys by hash slot (cluster mode's main dict only), else null

    public ByteTable(int capacity = 4)
    {
        int size = RoundUpPow2(Math.Max(capacity, 4));
        _buckets = new int[size];
        _entries = new Entry[size];
    }

    public int Count => _used - _freeCount;

    /// <summary>The per-slot key index when attached (cluster mode's keyspace), else null.</summary>
    public SlotIndex? Slots => _slots;

    /// <summary>
    /// Starts indexing keys by hash slot; existing keys are indexed now (one pass). From then on
    /// every insert, remove, resize and clear keeps the index exact.
    /// </summary>
    internal void AttachSlotIndex()
    {
        if (_slots != null) return;
        var slots = new SlotIndex(_entries.Length);
        for (int i = 0; i < _used; i++)
            if (_entries[i].Key is { } key) slots.Link(i, key);
        _slots = slots;
    }

    /// <summary>Upper bound (exclusive) of entry indexes, for cursor iteration.</summary>
    public int Capacity => _used;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint HashOf(ReadOnlySpan<byte> key) => (uint)XxHash3.HashToUInt64(key, (long)Seed);

    private static int RoundUpPow2(int v) => (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)v);

    public int FindIndex(ReadOnlySpan<byte> key)
    {
        uint h = HashOf(key);
        int i = _buckets[h & (uint)(_buckets.Length - 1)] - 1;
        var entries = _entries;
        while (i >= 0)
        {
            ref Entry e = ref entries[i];
            if (e.Hash == h && key.SequenceEqual(e.Key)) return i;
            i = e.Next;
        }
        return -1;
    }

    public bool ContainsKey(ReadOnlySpan<byte> key) => FindIndex(key) >= 0;

    public bool TryGetValue(ReadOnlySpan<byte> key, out TValue value)
    {
        int i = FindIndex(key);
        if (i < 0)
        {
            value = default!;
            return false;
        }
        value = _entries[i].Value;
        return true;
    }

    /// <summary>Reference to the value slot of an existing key; Unsafe.NullRef when missing.</summary>
    public ref TValue GetValueRef(ReadOnlySpan<byte> key)
    {
        int i = FindIndex(key);
        if (i < 0) return ref Unsafe.NullRef<TValue>();
        return ref _entries[i].Value;
    }

    public byte[] KeyAt(int index) => _entries[index].Key!;
    public ref TValue ValueAt(int index) => ref _entries[index].Value;
    public bool IsUsed(int index) => (uint)index < (uint)_used && _entries[index].Key != null;

    /// <summary>Sets key to value; returns true if the key was new. <paramref name="key"/> is stored as is when new.</summary>
    public bool Set(byte[] key, TValue value)
    {
        ref TValue slot = ref GetOrAddRef(key, key, out bool existed);
        slot = value;
        return !existed;
    }

    /// <summary>
    /// Returns the value slot for key, inserting a default value when missing. When inserting,
    /// <paramref name="ownedKey"/> is stored if given, otherwise the span is copied.
    /// </summary>
    public ref TValue GetOrAddRef(ReadOnlySpan<byte> key, byte[]? ownedKey, out bool existed)
    {
        uint h = HashOf(key);
        ref int bucket = ref _buckets[h & (uint)(_buckets.Length - 1)];
        int i = bucket - 1;
        while (i >= 0)
        {
            ref Entry e = ref _entries[i];
            if (e.Hash == h && key.SequenceEqual(e.Key))
            {
                existed = true;
                return ref e.Value;
            }
            i = e.Next;
        }
        existed = false;
        int index;
        if (_freeCount > 0)
        {
            index = _freeList;
            _freeList = -3 - _entries[index].Next;
            _freeCount--;
        }
        else
        {
            if (_used == _entries.Length)
            {
                Resize();
                bucket = ref _buckets[h & (uint)(_buckets.Length - 1)];
            }
            index = _used++;
        }
        ref Entry n = ref _entries[index];
        n.Hash = h;
        n.Key = ownedKey ?? key.ToArray();
        n.Value = default!;
        n.Next = bucket - 1;
        bucket = index + 1;
        if (_slots != null) _slots.Link(index, key);
        return ref n.Value;
    }

    /// <summary>
    /// Bucket statistics as Redis's dictGetStats reports them (DEBUG HTSTATS-KEY): table size,
    /// non-empty buckets, longest chain, and how many buckets have each chain length (index = length).
    /// </summary>
    public (int TableSize, int Slots, int MaxChain, long[] Distribution) ChainStats()
    {
        var dist = new long[50];
        int slots = 0, max = 0;
        foreach (int head in _buckets)
        {
            int len = 0;
            for (int i = head - 1; i >= 0; i = _entries[i].Next) len++;
            if (len > 0) slots++;
            max = Math.Max(max, len);
            dist[Math.Min(len, dist.Length - 1)]++;
        }
        return (_buckets.Length, slots, max, dist);
    }

    /// <summary>
    /// Grows the table once to hold at least <paramref name="capacity"/> entries (RDB loading
    /// knows the key count from RESIZEDB). Entry indexes are kept, so cursors stay valid.
    /// </summary>
    public void EnsureCapacity(int capacity)
    {
        if (capacity > _entries.Length) ResizeTo(RoundUpPow2(capacity));
    }

    // The entry array grows by half (fill after growth averages ~80% instead of ~70% when
    // doubling: fewer bytes per key, as Redis's memefficiency expects); the bucket array stays a
    // power of two at least as long as the entry array, so the load factor stays at most 1.
    private void Resize()
    {
        int len = _entries.Length;
        ResizeTo((int)Math.Min(len < 16 ? len * 2L : len + len / 2L, Array.MaxLength));
    }

    private void ResizeTo(int newSize)
    {
        // The old arrays become garbage; large ones stay on the large object heap until a full
        // collection, and used_memory must not count them (RedisServer.UsedMemory).
        Cinnabar.Protocol.RespWriter.NoteReleased(_entries, (long)_entries.Length * Unsafe.SizeOf<Entry>());
        Array.Resize(ref _entries, newSize);
        _slots?.Resize(newSize);
        int bucketCount = RoundUpPow2(newSize);
        // Entries keep their indexes, so chains over an unchanged bucket array stay valid.
        if (bucketCount == _buckets.Length) return;
        Cinnabar.Protocol.RespWriter.NoteReleased(_buckets, (long)_buckets.Length * sizeof(int));
        var buckets = new int[bucketCount];
        for (int i = 0; i < _used; i++)
        {
            ref Entry e = ref _entries[i];
            if (e.Key == null) continue;
            ref int b = ref buckets[e.Hash & (uint)(bucketCount - 1)];
            e.Next = b - 1;
            b = i + 1;
        }
        _buckets = buckets;
    }

    public bool Remove(ReadOnlySpan<byte> key) => Remove(key, out _, out _);

    public bool Remove(ReadOnlySpan<byte> key, out byte[] storedKey, out TValue value)
    {
        uint h = HashOf(key);
        ref int bucket = ref _buckets[h & (uint)(_buckets.Length - 1)];
        int prev = -1;
        int i = bucket - 1;
        while (i >= 0)
        {
            ref Entry e = ref _entries[i];
            if (e.Hash == h && key.SequenceEqual(e.Key))
            {
                if (prev < 0) bucket = e.Next + 1;
                else _entries[prev].Next = e.Next;
                storedKey = e.Key!;
                value = e.Value;
                e.Key = null;
                e.Value = default!;
                e.Next = -3 - _freeList;
                _freeList = i;
                _freeCount++;
                if (_slots != null) _slots.Unlink(i, key);
                if (_freeCount == _used) Reset(_entries.Length);
                return true;
            }
            prev = i;
            i = e.Next;
        }
        storedKey = null!;
        value = default!;
        return false;
    }

    public void Clear() => Reset(4);

    private void Reset(int capacity)
    {
        // Only called when the table is empty (or on Clear), so no live cursor can miss anything.
        int size = RoundUpPow2(Math.Max(4, Math.Min(capacity, 1024)));
        _buckets = new int[size];
        _entries = new Entry[size];
        _used = 0;
        _freeList = -1;
        _freeCount = 0;
        _slots?.Reset(size);
    }

    /// <summary>Index of a random used entry, or -1 when empty.</summary>
    public int RandomIndex(Random random)
    {
        if (Count == 0) return -1;
        // Rejection sampling is uniform; when the table is sparse fall back to a forward walk.
        for (int attempt = 0; attempt < 32; attempt++)
        {
            int i = random.Next(_used);
            if (_entries[i].Key != null) return i;
        }
        int start = random.Next(_used);
        for (int k = 0; k < _used; k++)
        {
            int i = (start + k) % _used;
            if (_entries[i].Key != null) return i;
        }
        return -1;
    }

    /// <summary>Next used index at or after <paramref name="index"/>, or -1.</summary>
    public int NextUsed(int index)
    {
        for (int i = Math.Max(index, 0); i < _used; i++)
            if (_entries[i].Key != null) return i;
        return -1;
    }

    public Enumerator GetEnumerator() => new(this);

    public struct Enumerator
    {
        private readonly ByteTable<TValue> _table;
        private int _index;

        internal Enumerator(ByteTable<TValue> table)
        {
            _table = table;
            _index = -1;
        }

        public bool MoveNext()
        {
            while (++_index < _table._used)
                if (_table._entries[_index].Key != null) return true;
            return false;
        }

        public KeyValuePair<byte[], TValue> Current => new(_table._entries[_index].Key!, _table._entries[_index].Value);
        public int Index => _index;
    }
}
