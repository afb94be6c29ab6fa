using Cinnabar.Storage;

namespace Cinnabar.Server;

// maxmemory enforcement (Redis evict.c): before a denyoom command, if used memory is above
// maxmemory, evict keys chosen by the policy by sampling maxmemory-samples keys, until the
// estimated freed memory covers the excess. The GC frees memory lazily, so progress is
// measured by the evicted objects' estimated sizes, not by re-reading the heap size.
public sealed partial class RedisServer
{
    private static long _freedSinceFullGc;
    private static int _fullGcCount;

    /// <summary>
    /// used_memory: the managed heap's allocated bytes, minus what evictions released since the
    /// last full collection (evicted values usually live in gen2 and stay counted until it runs).
    /// </summary>
    public static long UsedMemory()
    {
        long total = GC.GetTotalMemory(false);
        SyncFullGcCount();
        // Dropped buffers that only a full collection reclaims (large ones, and old ones: client
        // query/reply buffers, old table arrays) are no longer used memory.
        return Math.Max(0, total - _freedSinceFullGc - Cinnabar.Protocol.RespWriter.ReleasedBytes);
    }

    private static void SyncFullGcCount()
    {
        int gen2 = GC.CollectionCount(2);
        if (gen2 != _fullGcCount)
        {
            _fullGcCount = gen2;
            _freedSinceFullGc = 0;
        }
    }

    /// <summary>
    /// Records that <paramref name="obj"/> (about <paramref name="bytes"/> with what it owns) was
    /// dropped. An old-generation object stays in the heap's count until a full collection, so
    /// used_memory leaves it out from now on (Redis frees it at once); a young one goes with the
    /// next young collection and needs nothing.
    /// </summary>
    public static void NoteDropped(object obj, long bytes)
    {
        if (GC.GetGeneration(obj) < GC.MaxGeneration) return;
        SyncFullGcCount();
        _freedSinceFullGc += bytes;
    }

    /// <summary>used_memory without the garbage of the young generations (INFO, maxmemory decisions).</summary>
    public static long UsedMemoryAfterYoungCollection()
    {
        GC.Collect(1, GCCollectionMode.Forced, blocking: true, compacting: false);
        return UsedMemory();
    }

    /// <summary>After evictions: forces a full GC once the dropped old objects are a large share of maxmemory.</summary>
    private void NoteFreed()
    {
        if (_freedSinceFullGc > Math.Max(Config.MaxMemory / 4, 4L * 1024 * 1024))
        {
            // UsedMemory sees the new full-collection count and drops the evictions' tally.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
        }
    }

    /// <summary>Below this heap size a blocking full collection takes a few milliseconds at most.</summary>
    private const long SmallHeapBytes = 128L << 20;

    /// <summary>
    /// After an operation that dropped much at once: a synchronous FLUSHDB/FLUSHALL (Redis frees
    /// the keys at once) or a full sync's RDB transfer (Redis's fork child takes its buffers with
    /// it). What it dropped is old-generation garbage until a full collection, which used_memory
    /// would go on counting. A full collection costs what is left alive; when that is little (the
    /// heap, garbage included, is under 128 MB) it runs at once, otherwise it is started in the
    /// background so that a server holding gigabytes never stalls for it.
    /// </summary>
    public static void ReclaimDroppedMemory()
    {
        if (GC.GetTotalMemory(false) < SmallHeapBytes)
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        else
            GC.Collect(2, GCCollectionMode.Forced, blocking: false);
    }

    private bool _evictionDeferred;

    /// <summary>
    /// CONFIG SET maxmemory (Redis's updateMaxmemory): warns when below the current usage and
    /// evicts as soon as the command is done (Redis starts its eviction timer). Inside MULTI/EXEC
    /// or a script the transaction's keys stay until it ends: eviction runs after it.
    /// </summary>
    private void OnMaxMemoryChanged()
    {
        if (Config.MaxMemory <= 0) return;
        long used = UsedMemoryAfterYoungCollection() - ReplicationMemory.Of(this).NotCountedForEvict;
        if (Config.MaxMemory < used)
            Log.Warning($"WARNING: the new maxmemory value set via CONFIG SET ({Config.MaxMemory}) is smaller than the current memory usage ({used}). This will result in key eviction and/or the inability to accept new write commands depending on the maxmemory-policy.");
        if (InAtomicUnit) _evictionDeferred = true;
        else PerformEvictions();
    }

    /// <summary>Called when an EXEC or script ends: the eviction a CONFIG SET maxmemory inside it asked for.</summary>
    private void RunDeferredEviction()
    {
        if (!_evictionDeferred) return;
        _evictionDeferred = false;
        if (Config.MaxMemory > 0) PerformEvictions();
    }

    /// <summary>Returns false when memory is still above maxmemory (the OOM case).</summary>
    public bool PerformEvictions()
    {
        // Redis's isSafeToPerformEvictions: not while loading, and while clients are paused the
        // dataset stays constant.
        if (IsPaused || Rdb.Loading) return true;
        long used = UsedMemory();
        if (used <= Config.MaxMemory) return true;
        // Over the limit by the heap's count, which includes young garbage not collected yet:
        // a young-generation collection (cheap, the old generations stay untouched) separates
        // live data from litter before anything is evicted or refused.
        used = UsedMemoryAfterYoungCollection();
        if (used <= Config.MaxMemory) return true;
        // What replicas and the AOF buffer hold does not count (Redis's getMaxmemoryState): a
        // slow replica must not make the dataset shrink.
        used -= ReplicationMemory.Of(this).NotCountedForEvict;
        if (used <= Config.MaxMemory) return true;
        string policy = Config.MaxMemoryPolicy;
        if (policy == "noeviction") return ConfirmedUnderLimit();
        // Keys are not evicted for garbage: the old generation may hold objects dropped since
        // the last full collection. While the heap is small a full collection is cheap (bounded
        // in rate and share of time, see MeasureAfterFullCollection) and first measures what is
        // really in use; a large heap relies on the accounting of dropped objects.
        if (GC.GetTotalMemory(false) < SmallHeapBytes && MeasureAfterFullCollection() is long measured)
        {
            if (measured <= Config.MaxMemory) return true;
            used = measured;
        }
        long toFree = used - Config.MaxMemory;
        long freed = 0;
        int guard = 0;
        while (freed < toFree && guard++ < 100000)
        {
            if (!EvictOne(policy, out long bytes))
            {
                NoteFreed();
                return ConfirmedUnderLimit();
            }
            freed += bytes;
        }
        NoteFreed();
        return true;
    }

    private static long _confirmGcAt;
    private static long _confirmGcCostMs;

    /// <summary>
    /// Before a command is refused with -OOM: the heap's count still holds old-generation garbage
    /// (buffers and values dropped since the last full collection), so a full collection measures
    /// what is really in use. It runs at most once per 100 ms and never takes more than a tenth of
    /// the time, so a server refusing writes under memory pressure does not spend itself on GC.
    /// </summary>
    private bool ConfirmedUnderLimit() => MeasureAfterFullCollection() is long m && m <= Config.MaxMemory;

    /// <summary>Memory in use as maxmemory counts it, after a full collection; null when one ran too recently.</summary>
    private long? MeasureAfterFullCollection()
    {
        long now = Environment.TickCount64;
        if (now - _confirmGcAt < Math.Max(100, 10 * _confirmGcCostMs)) return null;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: false);
        long after = Environment.TickCount64;
        _confirmGcAt = after;
        _confirmGcCostMs = after - now;
        return UsedMemory() - ReplicationMemory.Of(this).NotCountedForEvict;
    }

    private bool EvictOne(string policy, out long bytes)
    {
        bytes = 0;
        bool volatileOnly = policy.StartsWith("volatile", StringComparison.Ordinal);
        Db? bestDb = null;
        byte[]? bestKey = null;
        double bestScore = double.MinValue;
        for (int d = 0; d < Keyspace.Count; d++)
        {
            var db = Keyspace[d];
            int count = volatileOnly ? db.Expires.Count : db.Count;
            if (count == 0) continue;
            for (int s = 0; s < Config.MaxMemorySamples; s++)
            {
                byte[] key;
                if (volatileOnly)
                {
                    int i = db.Expires.RandomIndex(Random);
                    if (i < 0) break;
                    key = db.Expires.KeyAt(i);
                }
                else
                {
                    int i = db.Dict.RandomIndex(Random);
                    if (i < 0) break;
                    key = db.Dict.KeyAt(i);
                }
                double score = policy switch
                {
                    "allkeys-random" or "volatile-random" => Random.NextDouble(),
                    "volatile-ttl" => -(double)db.GetExpire(key),
                    "allkeys-lfu" or "volatile-lfu" => 255 - Lfu.Decayed(db.Dict.TryGetValue(key, out var o1) ? o1.Lru : 0, Keyspace.NowMs, Config.LfuDecayTime),
                    _ => LruIdle(db.Dict.TryGetValue(key, out var o2) ? o2.Lru : 0),
                };
                if (score > bestScore)
                {
                    bestScore = score;
                    bestDb = db;
                    bestKey = key;
                }
            }
        }
        if (bestDb == null || bestKey == null) return false;
        if (bestDb.Delete(bestKey, out var removed))
        {
            bytes = removed!.MemoryUsage(5) + bestKey.Length + 64;
            NoteDropped(removed, bytes);
            Keyspace.EvictedKeys++;
            KeyEvicted(bestDb, bestKey);
        }
        return true;
    }

    private double LruIdle(uint lru)
    {
        uint now = Keyspace.LruClock;
        return now >= lru ? now - lru : (0xFFFFFF - lru) + now;
    }
}
