namespace Cinnabar.Storage;

/// <summary>
/// A point-in-time view of one Db while writes continue (.NET has no fork()). The snapshot
/// walks the Db's entry array by index; a write to a key not yet walked first preserves a clone
/// of its old value and TTL (copy-on-write at key granularity), and keys created after the start
/// are remembered so the walker skips them. FLUSHDB/FLUSHALL detach the snapshot: the Db gets
/// new tables and the snapshot keeps the old ones, frozen.
/// Invariant: every key present at the start is emitted exactly once, with its value as of the start.
/// All members are used under the server's execution lock.
/// </summary>
public sealed class DbSnapshot
{
    internal DbSnapshot(Db db)
    {
        Db = db;
        DbIndex = db.Index;
        Dict = db.Dict;
        Expires = db.Expires;
        KeyCount = db.Dict.Count;
        ExpiresCount = db.Expires.Count;
    }

    public Db Db { get; }
    public int DbIndex { get; }
    public long KeyCount { get; }
    public long ExpiresCount { get; }
    internal ByteTable<RedisObject> Dict { get; }
    internal ByteTable<long> Expires { get; }
    internal readonly ByteTable<bool> Skip = new();
    internal readonly List<(byte[] Key, RedisObject Value, long ExpireMs)> Preserved = new();
    internal int Cursor;
    internal bool Detached;
    private long _preservedBytes;

    /// <summary>
    /// Memory the snapshot holds as copies of values written since it began (the key and an
    /// estimate of the cloned value, as MEMORY USAGE counts it): what a fork child would have
    /// had copied for it. Only grows; the copies live until the save ends. Written under the
    /// execution lock, readable from the saving thread.
    /// </summary>
    public long PreservedBytes => Volatile.Read(ref _preservedBytes);

    /// <summary>Per preserved entry: the saved (key, value, expire) tuple and the list slot.</summary>
    private const int PreservedEntryOverheadBytes = 40;

    /// <summary>Samples MEMORY USAGE takes of a collection by default.</summary>
    private const int MemoryUsageSamples = 5;
    public bool TableDone { get; private set; }

    /// <summary>
    /// Keys taken out of the walk (<see cref="TakeOut"/>) whose value the caller reads in steps
    /// after releasing the lock (a slot migration's big collections): a write to one calls
    /// <see cref="OnPinnedWrite"/> first, while the value is still as it was.
    /// </summary>
    public readonly ByteTable<bool> Pinned = new();

    /// <summary>
    /// Takes out of the walk, right after <see cref="Db.BeginSnapshot"/> (lock held), the keys
    /// <paramref name="take"/> picks, handing each to <paramref name="taken"/> with its expiry
    /// and pinning it: the caller writes them itself. One pass over the table's slots.
    /// </summary>
    public void TakeOut(Func<byte[], RedisObject, bool> take, Action<byte[], RedisObject, long> taken)
    {
        for (int i = 0; i < Dict.Capacity; i++)
        {
            if (!Dict.IsUsed(i)) continue;
            var value = Dict.ValueAt(i);
            byte[] key = Dict.KeyAt(i);
            if (!take(key, value)) continue;
            long expire = Expires.Count > 0 && Expires.TryGetValue(key, out long e) ? e : -1;
            Skip.Set(key, true);
            Pinned.Set(key, true);
            taken(key, value, expire);
        }
    }

    /// <summary>See <see cref="Pinned"/>; it runs under the caller's lock, before the write.</summary>
    public Action<byte[]>? OnPinnedWrite;

    /// <summary>Called before key is modified, added or deleted.</summary>
    internal void BeforeWrite(ReadOnlySpan<byte> key)
    {
        if (Detached) return;
        if (Pinned.Count > 0 && OnPinnedWrite != null)
        {
            int p = Pinned.FindIndex(key);
            if (p >= 0) OnPinnedWrite(Pinned.KeyAt(p));
        }
        int i = Dict.FindIndex(key);
        if (i < 0)
        {
            if (!Skip.ContainsKey(key)) Skip.Set(key.ToArray(), true);
            return;
        }
        if (i < Cursor || Skip.ContainsKey(key)) return;
        byte[] stored = Dict.KeyAt(i);
        long expire = Expires.Count > 0 && Expires.TryGetValue(key, out long e) ? e : -1;
        var copy = Dict.ValueAt(i).Clone();
        Preserved.Add((stored, copy, expire));
        Skip.Set(stored, true);
        Volatile.Write(ref _preservedBytes, _preservedBytes + stored.Length + copy.MemoryUsage(MemoryUsageSamples) + PreservedEntryOverheadBytes);
    }

    /// <summary>
    /// Emits up to <paramref name="maxKeys"/> keys from the walk (lock held). Once the table is
    /// done, call <see cref="TakePreserved"/> and <see cref="Db.EndSnapshot"/>.
    /// </summary>
    public int Step(int maxKeys, Action<byte[], RedisObject, long> emit)
    {
        int emitted = 0;
        int i = Cursor;
        for (; i < Dict.Capacity && emitted < maxKeys; i++)
        {
            if (!Dict.IsUsed(i)) continue;
            byte[] key = Dict.KeyAt(i);
            if (Skip.Count > 0 && Skip.ContainsKey(key)) continue;
            long expire = Expires.Count > 0 && Expires.TryGetValue(key, out long e) ? e : -1;
            emit(key, Dict.ValueAt(i), expire);
            emitted++;
        }
        Cursor = i;
        if (i >= Dict.Capacity) TableDone = true;
        return emitted;
    }

    /// <summary>The preserved (pre-write) entries; valid once the table walk is done and the snapshot ended.</summary>
    public IReadOnlyList<(byte[] Key, RedisObject Value, long ExpireMs)> TakePreserved() => Preserved;
}
