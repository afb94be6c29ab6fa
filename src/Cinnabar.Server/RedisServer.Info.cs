namespace Cinnabar.Server;

/// <summary>
/// INFO persistence fields. The persistence subsystem updates these; INFO and LASTSAVE read them.
/// Defaults are what a Redis 7.0 with no saving configured reports.
/// </summary>
public sealed class PersistenceInfo
{
    public bool Loading;
    public bool AsyncLoading;
    /// <summary>RedisServer.Dirty at the last successful save (rdb_changes_since_last_save = Dirty - this).</summary>
    public long DirtyAtLastSave;
    public bool BgsaveInProgress;
    public long LastSaveUnixSeconds = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    public string LastBgsaveStatus = "ok";
    public long LastBgsaveTimeSeconds = -1;
    public long CurrentBgsaveStartUnixSeconds = -1;
    public long RdbSaves;
    public long CurrentSaveKeysProcessed;
    public long CurrentSaveKeysTotal;
    public long LastLoadKeysExpired;
    public long LastLoadKeysLoaded;
    public bool AofEnabled;
    public bool AofRewriteInProgress;
    public bool AofRewriteScheduled;
    public long AofLastRewriteTimeSeconds = -1;
    public long AofCurrentRewriteStartUnixSeconds = -1;
    public string AofLastBgrewriteStatus = "ok";
    public long AofRewrites;
    public long AofRewritesConsecutiveFailures;
    public string AofLastWriteStatus = "ok";
    /// <summary>Extra "name:value" lines appended when the AOF is on (aof_current_size ...).</summary>
    public Func<IEnumerable<string>>? AofExtraLines;
}

/// <summary>
/// INFO replication fields. The replication subsystem fills them (and may replace the per-role
/// detail lines through <see cref="RoleLines"/>, e.g. master_host... or slave0:ip=...).
/// </summary>
public sealed class ReplicationInfo
{
    public string MasterReplId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
    public string MasterReplId2 = new('0', 40);
    public long MasterReplOffset;
    public long SecondReplOffset = -1;
    public bool BacklogActive;
    public long BacklogSize = 1024 * 1024;
    public long BacklogFirstByteOffset;
    public long BacklogHistlen;
    public int ConnectedSlaves;
    public string FailoverState = "no-failover";
    /// <summary>Lines between role and master_failover_state (replica's master_host..., master's slaveN:...).</summary>
    public Func<IEnumerable<string>>? RoleLines;
}

public sealed partial class RedisServer
{
    public PersistenceInfo Persistence { get; } = new();
    /// <summary>redis_mode in INFO server (sentinel sets "sentinel").</summary>
    public string ServerMode { get; set; } = "standalone";
    public ReplicationInfo Replication { get; } = new();

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
    }
}
