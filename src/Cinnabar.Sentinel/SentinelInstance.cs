namespace Cinnabar.Sentinel;

/// <summary>SRI_* flags of sentinel.c, in the order SENTINEL MASTER lists them.</summary>
[Flags]
public enum InstanceFlags
{
    None = 0,
    Master = 1 << 0,
    Replica = 1 << 1,
    Sentinel = 1 << 2,
    SDown = 1 << 3,
    ODown = 1 << 4,
    MasterDown = 1 << 5,
    FailoverInProgress = 1 << 6,
    Promoted = 1 << 7,
    ReconfSent = 1 << 8,
    ReconfInProgress = 1 << 9,
    ReconfDone = 1 << 10,
    ForceFailover = 1 << 11,
    ScriptKillSent = 1 << 12,
    MasterReboot = 1 << 13,
}

public enum FailoverState { None, WaitStart, SelectSlave, SendSlaveofNoOne, WaitPromotion, ReconfSlaves, UpdateConfig }

/// <summary>An instance address: the name it was given (hostname or IP) and the IP it resolved to.</summary>
public sealed record SentinelAddr(string Hostname, string Ip, int Port);

/// <summary>
/// The connections to one instance (instanceLink): a command connection, plus a pub/sub one for
/// masters and replicas. Shared by the entries of one physical sentinel across masters.
/// Connection ids are the environment's; -1 means none.
/// </summary>
public sealed class InstanceLink
{
    public int Refcount = 1;
    public bool Disconnected = true;
    public int Cmd = -1;
    public int PubSub = -1;
    public int PendingCommands;
    public long CmdConnTime;
    public long PubSubConnTime;
    public long PubSubLastActivity;
    /// <summary>When the oldest PING still unanswered was sent; 0 when none is pending.</summary>
    public long ActPingTime;
    public long LastPingTime;
    public long LastPongTime;
    /// <summary>Last valid PING reply (PONG, LOADING, MASTERDOWN).</summary>
    public long LastAvailTime;
    public long LastReconnTime;

    public InstanceLink(long now)
    {
        ActPingTime = now;
        LastAvailTime = now;
        LastPongTime = now;
    }
}

/// <summary>A monitored master, one of its replicas, or another sentinel watching it (sentinelRedisInstance).</summary>
public sealed class SentinelInstance
{
    public InstanceFlags Flags;
    public string Name;
    public string? RunId;
    public long ConfigEpoch;
    public SentinelAddr Addr;
    public InstanceLink Link;
    public SentinelInstance? Master;
    public bool Released;

    public long LastPubTime;
    public long LastHelloTime;
    public long LastMasterDownReplyTime;
    public long SDownSinceTime;
    public long ODownSinceTime;
    public long DownAfterMs;
    public long MasterRebootDownAfterMs;
    public long MasterRebootSinceTime;
    public long InfoRefresh;
    public string? Info;

    public InstanceFlags RoleReported;
    public long RoleReportedTime;
    public long SlaveConfChangeTime;

    // Master only.
    public readonly Dictionary<string, SentinelInstance> Sentinels = new(StringComparer.Ordinal);
    public readonly Dictionary<string, SentinelInstance> Replicas = new(StringComparer.Ordinal);
    public int Quorum;
    public int ParallelSyncs = 1;
    public string? AuthPass;
    public string? AuthUser;
    public readonly Dictionary<string, string> RenamedCommands = new(StringComparer.OrdinalIgnoreCase);
    public string? NotificationScript;
    public string? ClientReconfigScript;

    // Replica only.
    public long MasterLinkDownTime;
    public int SlavePriority = 100;
    public int ReplicaAnnounced = 1;
    public long SlaveReconfSentTime;
    public string? SlaveMasterHost;
    public int SlaveMasterPort;
    public bool SlaveMasterLinkUp;
    public long SlaveReplOffset;

    // Failover (masters), and a peer sentinel's vote (sentinels).
    public string? Leader;
    public long LeaderEpoch;
    public long FailoverEpoch;
    public FailoverState FailoverState;
    public long FailoverStateChangeTime;
    public long FailoverStartTime;
    public long FailoverTimeoutMs;
    public long FailoverDelayLogged;
    public SentinelInstance? PromotedReplica;

    public SentinelInstance(string name, InstanceFlags flags, SentinelAddr addr, SentinelInstance? master, long now, long defaultDownAfterMs, long defaultFailoverTimeoutMs)
    {
        Name = name;
        Flags = flags;
        Addr = addr;
        Master = master;
        Link = new InstanceLink(now);
        LastPubTime = now;
        LastHelloTime = now;
        LastMasterDownReplyTime = now;
        DownAfterMs = master?.DownAfterMs ?? defaultDownAfterMs;
        FailoverTimeoutMs = defaultFailoverTimeoutMs;
        RoleReported = flags & (InstanceFlags.Master | InstanceFlags.Replica);
        RoleReportedTime = now;
        SlaveConfChangeTime = now;
    }

    public bool IsMaster => (Flags & InstanceFlags.Master) != 0;
    public bool IsReplica => (Flags & InstanceFlags.Replica) != 0;
    public bool IsSentinel => (Flags & InstanceFlags.Sentinel) != 0;
    public bool Has(InstanceFlags f) => (Flags & f) != 0;

    public string TypeName => IsMaster ? "master" : IsReplica ? "slave" : "sentinel";
}
