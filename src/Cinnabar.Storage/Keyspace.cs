namespace Cinnabar.Storage;

/// <summary>Callbacks from the keyspace to the server (propagation, notifications, stats).</summary>
public interface IKeyspaceEvents
{
    /// <summary>A key was found logically expired and removed on access or by the active cycle.</summary>
    void KeyExpired(Db db, byte[] key);

    /// <summary>A key was evicted by the maxmemory policy.</summary>
    void KeyEvicted(Db db, byte[] key);

    /// <summary>A key was created (dbAdd); raised only while <see cref="Keyspace.ReportNewKeys"/> is set.</summary>
    void KeyAdded(Db db, ReadOnlySpan<byte> key) { }
}

/// <summary>
/// All logical databases plus the state lookups need: the cached command time (Redis takes one
/// timestamp per command so a command sees a consistent clock), whether this node may expire
/// keys itself (replicas must not: the master's DELs drive expiry), and hit/miss counters.
/// Single-writer: callers hold the server's execution lock.
/// </summary>
public sealed class Keyspace
{
    private Db[] _dbs;

    public Keyspace(int databases)
    {
        _dbs = new Db[databases];
        for (int i = 0; i < databases; i++) _dbs[i] = new Db(this, i);
    }

    public IKeyspaceEvents? Events { get; set; }

    /// <summary>Raise <see cref="IKeyspaceEvents.KeyAdded"/> (keyspace notifications of class 'n').</summary>
    public bool ReportNewKeys;

    /// <summary>The current command's time in unix milliseconds.</summary>
    public long NowMs;

    /// <summary>False on replicas: logically expired keys are hidden from reads but not deleted.</summary>
    public bool ExpireOnAccess = true;

    /// <summary>True while a replica applies its master's stream: no key counts as expired then.</summary>
    public bool MasterStreamRunning;

    /// <summary>
    /// Slots whose keys are being imported by an atomic slot migration (null when none): their keys
    /// exist but KEYS, SCAN, RANDOMKEY, DBSIZE and the per-slot counts do not show them, and the
    /// active expire cycle leaves them alone (the source expires them and sends the DEL), as in
    /// Redis 8.4. INFO keyspace still counts them.
    /// </summary>
    public bool[]? HiddenSlots { get; set; }

    public bool IsHidden(ReadOnlySpan<byte> key) => HiddenSlots is { } h && h[HashSlot.Of(key)];

    /// <summary>True under an LFU maxmemory-policy: the Lru field then holds the LFU counter.</summary>
    public bool UseLfu;
    public int LfuLogFactor = 10;
    public int LfuDecayTime = 1;

    /// <summary>Redis's 24-bit LRU clock (seconds).</summary>
    public uint LruClock => (uint)(NowMs / 1000) & Lfu.LruClockMax;

    /// <summary>Records an access to <paramref name="o"/> (Redis's updateLFU / LRU clock update in lookupKey).</summary>
    public void TouchAccess(RedisObject o)
    {
        if (UseLfu) o.Lru = Lfu.Access(o.Lru, NowMs, LfuLogFactor, LfuDecayTime);
        else o.Lru = LruClock;
    }

    /// <summary>The initial Lru value for a new object.</summary>
    public uint NewLru() => UseLfu ? Lfu.Pack(NowMs / 60000, Lfu.InitVal) : LruClock;

    public long Hits;
    public long Misses;
    public long ExpiredKeys;
    public long EvictedKeys;
    public long ExpiredStalePercLast;

    /// <summary>Keys indexed by hash slot (cluster mode), see <see cref="EnableSlotIndex"/>.</summary>
    public bool SlotIndexEnabled { get; private set; }

    /// <summary>
    /// Indexes every db's keys by hash slot from now on (cluster-enabled yes). Meant to be called
    /// once at startup before keys exist; keys already present are indexed in one pass. There is
    /// no way back: standalone mode never pays for the index.
    /// </summary>
    public void EnableSlotIndex()
    {
        SlotIndexEnabled = true;
        foreach (var db in _dbs) db.EnableSlotIndex();
    }

    public int Count => _dbs.Length;
    public Db this[int index] => _dbs[index];

    public long TotalKeys()
    {
        long n = 0;
        foreach (var db in _dbs) n += db.Count;
        return n;
    }

    public void SwapDb(int a, int b)
    {
        (_dbs[a], _dbs[b]) = (_dbs[b], _dbs[a]);
        _dbs[a].Index = a;
        _dbs[b].Index = b;
    }

    public void FlushAll()
    {
        foreach (var db in _dbs) db.Clear();
    }

    /// <summary>Replaces the databases wholesale (loading a snapshot, swapdb diskless load).</summary>
    public Db[] ReplaceAll(Db[] dbs)
    {
        var old = _dbs;
        _dbs = dbs;
        for (int i = 0; i < dbs.Length; i++)
        {
            dbs[i].Index = i;
            dbs[i].Owner = this;
            // A db loaded into a keyspace made without the index gets it here (one pass over its keys).
            if (SlotIndexEnabled) dbs[i].EnableSlotIndex();
        }
        return old;
    }

    public Db NewDetachedDb(int index)
    {
        var db = new Db(this, index);
        if (SlotIndexEnabled) db.EnableSlotIndex();
        return db;
    }
}
