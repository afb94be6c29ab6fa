namespace Cinnabar.Storage;

/// <summary>
/// One logical database: the main table and, as in Redis, a second table holding the expire
/// time (unix ms) of keys that have one. Lazy expiry happens in the lookups; the active cycle
/// samples <see cref="Expires"/>.
/// </summary>
public sealed class Db
{
    public ByteTable<RedisObject> Dict { get; private set; } = new(16);
    public ByteTable<long> Expires { get; private set; } = new(16);

    /// <summary>
    /// Snapshots in progress (BGSAVE, AOF rewrite, full syncs of several replicas may overlap);
    /// null when none, so the write paths pay one null check.
    /// </summary>
    private List<DbSnapshot>? _snapshot;

    public DbSnapshot BeginSnapshot()
    {
        var s = new DbSnapshot(this);
        (_snapshot ??= new List<DbSnapshot>()).Add(s);
        return s;
    }

    public void EndSnapshot(DbSnapshot s)
    {
        if (_snapshot == null) return;
        _snapshot.Remove(s);
        if (_snapshot.Count == 0) _snapshot = null;
    }

    public bool SnapshotInProgress => _snapshot != null;

    /// <summary>Copy-on-write hook: every mutation path calls this first.</summary>
    private void BeforeWrite(ReadOnlySpan<byte> key)
    {
        var list = _snapshot;
        if (list == null) return;
        foreach (var s in list) s.BeforeWrite(key);
    }

    internal Db(Keyspace owner, int index)
    {
        Owner = owner;
        Index = index;
    }

    public Keyspace Owner { get; internal set; }
    public int Index { get; internal set; }
    public int Count => Dict.Count;

    /// <summary>Sum of TTLs sampled by the active cycle, for INFO keyspace avg_ttl.</summary>
    public long AvgTtlMs;

    /// <summary>Lookup for reading: hides and (on masters) deletes expired keys, counts hits/misses.</summary>
    public RedisObject? LookupRead(ReadOnlySpan<byte> key)
    {
        var o = Lookup(key);
        if (o == null) Owner.Misses++;
        else Owner.Hits++;
        return o;
    }

    /// <summary>Lookup for a write: same expiry handling, no hit/miss stats.</summary>
    public RedisObject? LookupWrite(ReadOnlySpan<byte> key)
    {
        if (_snapshot != null) BeforeWrite(key);
        return Lookup(key);
    }

    /// <summary>Lookup without touching statistics.</summary>
    public RedisObject? Lookup(ReadOnlySpan<byte> key)
    {
        int i = Dict.FindIndex(key);
        if (i < 0) return null;
        if (Expires.Count > 0 && IsExpired(key))
        {
            if (!Owner.ExpireOnAccess) return null;
            DeleteExpired(key);
            return null;
        }
        var o = Dict.ValueAt(i);
        Owner.TouchAccess(o);
        return o;
    }

    public bool Exists(ReadOnlySpan<byte> key) => Lookup(key) != null;

    private bool IsExpired(ReadOnlySpan<byte> key)
    {
        // Our master's own commands see every key as live: Redis's expireIfNeeded never expires
        // for the master client, which sends the DEL itself when the key expires there.
        return !Owner.MasterStreamRunning && Expires.TryGetValue(key, out long when) && when <= Owner.NowMs;
    }

    /// <summary>Deletes key if its TTL passed. Returns true if it was expired (deleted or, on replicas, hidden).</summary>
    public bool ExpireIfNeeded(ReadOnlySpan<byte> key)
    {
        if (Expires.Count == 0 || !IsExpired(key)) return false;
        if (Owner.ExpireOnAccess) DeleteExpired(key);
        return true;
    }

    /// <summary>Deletes key if its TTL passed, even on a replica (keys a writable replica's own clients created).</summary>
    public bool DeleteIfExpired(ReadOnlySpan<byte> key)
    {
        if (Expires.Count == 0 || !IsExpired(key)) return false;
        DeleteExpired(key);
        return true;
    }

    internal void DeleteExpired(ReadOnlySpan<byte> key)
    {
        if (_snapshot != null) BeforeWrite(key);
        Expires.Remove(key);
        if (Dict.Remove(key, out byte[] stored, out _))
        {
            Owner.ExpiredKeys++;
            Owner.Events?.KeyExpired(this, stored);
        }
    }

    /// <summary>Adds or overwrites a key. Clears any TTL unless <paramref name="keepTtl"/>.</summary>
    public void Set(ReadOnlySpan<byte> key, RedisObject value, bool keepTtl = false)
    {
        if (_snapshot != null) BeforeWrite(key);
        ref RedisObject slot = ref Dict.GetOrAddRef(key, null, out bool existed);
        value.Lru = existed && slot != null && Owner.UseLfu ? slot.Lru : Owner.NewLru();
        slot = value;
        if (existed && !keepTtl && Expires.Count > 0) Expires.Remove(key);
        if (!existed && Owner.ReportNewKeys) Owner.Events?.KeyAdded(this, key);
    }

    /// <summary>Pre-sizes the tables for a known number of keys (RDB_OPCODE_RESIZEDB), capped against corrupt hints.</summary>
    public void Reserve(long keys, long expires)
    {
        const long cap = 1 << 24;
        Dict.EnsureCapacity((int)Math.Clamp(keys, 0, cap));
        Expires.EnsureCapacity((int)Math.Clamp(expires, 0, cap));
    }

    /// <summary>Adds a key known to be absent, storing the given key array (an existing key's value is replaced).</summary>
    public void Add(byte[] key, RedisObject value)
    {
        if (_snapshot != null) BeforeWrite(key);
        value.Lru = Owner.NewLru();
        Dict.Set(key, value);
        if (Owner.ReportNewKeys) Owner.Events?.KeyAdded(this, key);
    }

    /// <summary>True in cluster mode: keys are indexed by hash slot (<see cref="Keyspace.EnableSlotIndex"/>).</summary>
    public bool SlotIndexEnabled => Dict.Slots != null;

    internal void EnableSlotIndex() => Dict.AttachSlotIndex();

    /// <summary>Keys in <paramref name="slot"/>, logically expired ones included (countKeysInSlot). O(1).</summary>
    public int CountKeysInSlot(int slot) => RequireSlotIndex().CountInSlot(slot);

    /// <summary>DBSIZE: the keys, less those of slots being imported (see Keyspace.HiddenSlots).</summary>
    public int VisibleCount
    {
        get
        {
            if (Owner.HiddenSlots is not { } hidden || !SlotIndexEnabled) return Count;
            int n = Count;
            for (int s = 0; s < hidden.Length; s++)
                if (hidden[s]) n -= CountKeysInSlot(s);
            return n;
        }
    }

    /// <summary>
    /// Appends up to <paramref name="maxCount"/> keys of <paramref name="slot"/> to
    /// <paramref name="into"/> (newest first, expired ones included, as getKeysInSlot) and returns
    /// how many; O(keys returned). The arrays are the stored keys: to drop a slot, collect first
    /// and then delete each key, since deleting unlinks it from the list being walked.
    /// </summary>
    public int GetKeysInSlot(int slot, int maxCount, List<byte[]> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        var slots = RequireSlotIndex();
        int n = 0;
        for (int i = slots.First(slot); i >= 0 && n < maxCount; i = slots.Next(i))
        {
            into.Add(Dict.KeyAt(i));
            n++;
        }
        return n;
    }

    private SlotIndex RequireSlotIndex() =>
        Dict.Slots ?? throw new InvalidOperationException("the keyspace is not indexed by hash slot (cluster mode off)");

    public bool Delete(ReadOnlySpan<byte> key)
    {
        if (_snapshot != null) BeforeWrite(key);
        if (!Dict.Remove(key)) return false;
        if (Expires.Count > 0) Expires.Remove(key);
        return true;
    }

    public bool Delete(ReadOnlySpan<byte> key, out RedisObject? removed)
    {
        if (_snapshot != null) BeforeWrite(key);
        if (!Dict.Remove(key, out _, out var value))
        {
            removed = null;
            return false;
        }
        if (Expires.Count > 0) Expires.Remove(key);
        removed = value;
        return true;
    }

    /// <summary>The key's expire time in unix ms, or -1.</summary>
    public long GetExpire(ReadOnlySpan<byte> key) => Expires.Count > 0 && Expires.TryGetValue(key, out long when) ? when : -1;

    /// <summary>Sets the expire time of an existing key (the stored key array is shared).</summary>
    public void SetExpire(ReadOnlySpan<byte> key, long whenMs)
    {
        if (_snapshot != null) BeforeWrite(key);
        int i = Dict.FindIndex(key);
        if (i < 0) return;
        ref long slot = ref Expires.GetOrAddRef(key, Dict.KeyAt(i), out _);
        slot = whenMs;
    }

    public bool RemoveExpire(ReadOnlySpan<byte> key)
    {
        if (Expires.Count == 0) return false;
        if (_snapshot != null) BeforeWrite(key);
        return Expires.Remove(key);
    }

    public void Clear()
    {
        if (_snapshot != null)
        {
            // The snapshots keep the old tables, frozen; the db continues with new ones.
            foreach (var s in _snapshot) s.Detached = true;
            _snapshot = null;
            bool indexed = SlotIndexEnabled;
            Dict = new ByteTable<RedisObject>(16);
            Expires = new ByteTable<long>(16);
            if (indexed) Dict.AttachSlotIndex();
        }
        else
        {
            Dict.Clear();
            Expires.Clear();
        }
        AvgTtlMs = 0;
    }

    /// <summary>
    /// One pass of active expiry over this db (Redis's activeExpireCycle, fast/slow share this):
    /// sample up to <paramref name="samples"/> keys with a TTL, delete the expired ones. Returns
    /// (sampled, expired) so the caller can repeat while more than 10% were stale.
    /// </summary>
    public (int Sampled, int Expired) ActiveExpireSample(int samples, Random random)
    {
        if (Expires.Count == 0 || !Owner.ExpireOnAccess) return (0, 0);
        int sampled = 0, expired = 0;
        long ttlSum = 0;
        int ttlSamples = 0;
        for (int k = 0; k < samples && Expires.Count > 0; k++)
        {
            int i = Expires.RandomIndex(random);
            if (i < 0) break;
            sampled++;
            long when = Expires.ValueAt(i);
            if (when <= Owner.NowMs && !Owner.IsHidden(Expires.KeyAt(i)))
            {
                byte[] key = Expires.KeyAt(i);
                DeleteExpired(key);
                expired++;
            }
            else
            {
                ttlSum += when - Owner.NowMs;
                ttlSamples++;
            }
        }
        if (ttlSamples > 0)
        {
            long avg = ttlSum / ttlSamples;
            AvgTtlMs = AvgTtlMs == 0 ? avg : (AvgTtlMs / 50 * 49) + (avg / 50);
        }
        return (sampled, expired);
    }
}
