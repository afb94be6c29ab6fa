namespace Cinnabar.Server;

// Idle-time heap compaction. The .NET GC collects gen2 lazily, so after a burst of writes the
// heap holds overwritten values until a full collection, and RSS stays high (Redis frees at
// once). When the server is nearly idle and the heap has grown well beyond its size after the
// last full collection, the cron runs one compacting collection. Bounded: at most every 10 s,
// only below 1000 ops/s, so it never adds latency under load.
public sealed partial class RedisServer
{
    private long _heapAfterLastCompaction;
    private long _lastCompactionMs;

    private void IdleHeapCompaction()
    {
        long now = Environment.TickCount64;
        if (now - _lastCompactionMs < 10_000 || Stats.InstantaneousOps > 1000) return;
        long heap = GC.GetTotalMemory(false);
        if (heap < 32L << 20 || heap < _heapAfterLastCompaction * 5 / 4) return;
        _lastCompactionMs = now;
        System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
        // Aggressive also decommits the freed regions, so RSS follows the heap down.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        _heapAfterLastCompaction = GC.GetTotalMemory(false);
    }
}
