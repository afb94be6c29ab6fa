using Cinnabar.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Lazy freeing (Redis lazyfree.c: UNLINK, FLUSHDB/FLUSHALL ASYNC, the lazyfree-lazy-* options).
/// In .NET dropping the last reference is free; the memory comes back when the GC runs. A value
/// whose freeing would cost Redis real work (more than <see cref="EffortThreshold"/> allocations)
/// is counted as pending, and a background thread runs full collections until the value is reclaimed,
/// then counts it as lazily freed. Small values are simply dropped, as Redis frees them at once.
/// </summary>
public sealed class LazyFree
{
    /// <summary>Redis's LAZYFREE_THRESHOLD: values with more allocations than this are freed in the background.</summary>
    public const int EffortThreshold = 64;
    /// <summary>Collection attempts before a still-referenced value is given up on (10 ms apart).</summary>
    private const int MaxCollectAttempts = 50;
    // The released values, weakly: the background collection can start while the releasing
    // command still holds its reference, and then reclaims nothing; it collects again until
    // they are gone, so lazyfree_pending_objects only drops once the memory really came back.
    private readonly List<WeakReference> _values = new();
    private long _pending;
    private long _freed;
    private int _running;

    /// <summary>lazyfree_pending_objects: values released but not yet reclaimed.</summary>
    public long PendingObjects => Interlocked.Read(ref _pending);
    /// <summary>lazyfreed_objects: values reclaimed in the background since the last CONFIG RESETSTAT.</summary>
    public long FreedObjects => Interlocked.Read(ref _freed);

    public void ResetStats() => Interlocked.Exchange(ref _freed, 0);

    /// <summary>Redis's lazyfreeGetFreeEffort: roughly how many allocations freeing the value takes.</summary>
    public static long Effort(RedisObject o) => o switch
    {
        ListObject l => 1 + l.MemoryUsage(0) / 8192,
        SetObject s when s.Encoding == "hashtable" => s.Count,
        HashObject h when !h.IsListpack => h.Count,
        ZSetObject z when !z.IsListpack => z.Count,
        StreamObject st => StreamEffort(st),
        _ => 1,
    };

    private static long StreamEffort(StreamObject s)
    {
        long effort = s.Nodes.Count;
        // Each group and each of its pending entries is an allocation; the first group's PEL
        // stands for the others.
        foreach (var g in s.Groups.Values)
        {
            effort += s.Groups.Count * (1L + g.Pel.Count);
            break;
        }
        return effort;
    }

    /// <summary>Releases a value removed from the keyspace (UNLINK and the lazy options).</summary>
    public void Release(RedisObject value)
    {
        if (Effort(value) <= EffortThreshold) return;
        lock (_values) _values.Add(new WeakReference(value));
        Schedule(1);
    }

    /// <summary>Releases a whole flushed database of <paramref name="keys"/> keys (FLUSHDB/FLUSHALL ASYNC).</summary>
    public void ReleaseDatabase(long keys)
    {
        if (keys > 0) Schedule(keys);
    }

    private void Schedule(long objects)
    {
        Interlocked.Add(ref _pending, objects);
        if (Interlocked.Exchange(ref _running, 1) == 0) BackgroundJobs.Run("lazyfree", Reclaim);
    }

    private void Reclaim()
    {
        while (true)
        {
            long batch = Interlocked.Read(ref _pending);
            if (batch > 0)
            {
                for (int attempt = 1; ; attempt++)
                {
                    GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                    if (!AnyValueAlive() || attempt == MaxCollectAttempts) break;
                    Thread.Sleep(10);
                }
                // Counted as freed before it stops being pending: a reader that sees no pending
                // objects (unit/lazyfree waits for that, then CONFIG RESETSTAT) must not see this
                // batch reach lazyfreed_objects afterwards.
                Interlocked.Add(ref _freed, batch);
                Interlocked.Add(ref _pending, -batch);
            }
            Volatile.Write(ref _running, 0);
            // A release that came in after the read above found the job still running: go on.
            if (Interlocked.Read(ref _pending) == 0 || Interlocked.Exchange(ref _running, 1) != 0) return;
        }
    }

    private bool AnyValueAlive()
    {
        lock (_values)
        {
            _values.RemoveAll(static w => !w.IsAlive);
            return _values.Count > 0;
        }
    }
}
