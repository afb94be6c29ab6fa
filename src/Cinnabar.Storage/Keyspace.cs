namespace Cinnabar.Storage;

/// <summary>Callbacks from the keyspace to the server (propagation, notifications, stats).</summary>
public interface IKeyspaceEvents
{
    /// <summary>A key was found logically expired and removed on access or by the active cycle.</summary>
    void KeyExpired(Db db, byte[] key);

    /// <summary>A key was evicted by the maxmemory policy.</summary>
    void KeyEvicted(Db db, byte[] key);
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

    /// <summary>The current command's time in unix milliseconds.</summary>
    public long NowMs;

    /// <summary>False on replicas: logically expired keys are hidden from reads but not deleted.</summary>
    public bool ExpireOnAccess = true;

    public long Hits;
    public long Misses;
    public long ExpiredKeys;
    public long EvictedKeys;
    public long ExpiredStalePercLast;

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
        }
        return old;
    }

    public Db NewDetachedDb(int index) => new(this, index);
}
