namespace Cinnabar.Server;

/// <summary>
/// What the replication stream holds in memory, as Redis 7.0 reports and excludes it
/// (object.c getMemoryOverheadData, evict.c freeMemoryGetNotCountedMemory).
/// <para>
/// Redis keeps one shared buffer: the backlog's history plus whatever the slowest replica has not
/// taken beyond it. Here the backlog's blocks hold the history and each online replica's output
/// buffer holds the part it has not taken yet (<see cref="TotalBuffers"/> reports the shared view).
/// </para>
/// </summary>
public readonly record struct ReplicationMemory(long TotalBuffers, long Backlog, long ClientsSlaves, long AofBuffer, long NotCountedForEvict)
{
    public static ReplicationMemory Of(RedisServer s)
    {
        var backlog = s.Repl.Backlog;
        long blocks = backlog?.MemoryBytes ?? 0;
        long history = backlog?.HistLen ?? 0;
        long maxPending = 0, replicaBuffers = 0;
        foreach (var r in s.Repl.Replicas)
        {
            maxPending = Math.Max(maxPending, r.Client.PendingOutputBytes);
            replicaBuffers += r.Client.OutputBufferCapacity;
        }
        long total = blocks + Math.Max(0, maxPending - history);
        long size = s.Config.ReplBacklogSize;
        // Only what exceeds the configured backlog size is the replicas' (Redis: repl_buffer_mem
        // - repl_backlog_size, and none without replicas).
        bool excess = s.Repl.Replicas.Count > 0 && total > size;
        long clientsSlaves = excess ? total - size : 0;
        long backlogMem = excess ? size : total;
        long aof = s.AofBufferBytes;
        // maxmemory leaves out what replicas hold, so a slow replica never makes keys evicted:
        // the heap holds each replica's own output buffers (their capacity) and any backlog
        // blocks kept beyond its size for a replica that lags (Redis also leaves out the AOF buffer).
        long notCounted = replicaBuffers + Math.Max(0, blocks - size) + aof;
        return new ReplicationMemory(total, backlogMem, clientsSlaves, aof, notCounted);
    }
}
