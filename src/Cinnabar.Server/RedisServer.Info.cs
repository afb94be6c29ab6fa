namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>redis_mode in INFO server (sentinel sets "sentinel").</summary>
    public string ServerMode { get; set; } = "standalone";

    /// <summary>Peak of <see cref="UsedMemory"/> seen by INFO / the cron (used_memory_peak).</summary>
    public long UsedMemoryPeak;

    /// <summary>Managed heap right after start, Redis's used_memory_startup.</summary>
    public long UsedMemoryStartup { get; } = GC.GetTotalMemory(false);

    /// <summary>Extra INFO sections from subsystems (name -> body lines), e.g. "sentinel".</summary>
    public Dictionary<string, Func<IEnumerable<string>>> ExtraInfoSections { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// CONFIG RESETSTAT (Redis resetServerStats + resetCommandTableStats + errorstats): zeroes the
    /// stats counters, per-command statistics and error counts; peak memory restarts from now.
    /// </summary>
    public void ResetStats()
    {
        Stats.Reset();
        Stats.KeyspaceHits = Stats.KeyspaceMisses = 0;
        Stats.TotalReadsProcessed = Stats.TotalWritesProcessed = 0;
        Keyspace.Hits = Keyspace.Misses = Keyspace.ExpiredKeys = Keyspace.EvictedKeys = 0;
        foreach (var c in Commands.All)
        {
            ResetCommandStats(c);
            if (c.Subcommands == null) continue;
            foreach (var sub in c.Subcommands.Values) ResetCommandStats(sub);
        }
        UsedMemoryPeak = UsedMemory();
    }

    private static void ResetCommandStats(CommandDef c)
    {
        c.Calls = 0;
        c.MicrosecondsTotal = 0;
        c.RejectedCalls = 0;
        c.FailedCalls = 0;
        c.LatencyHistogram = null;
    }
}
