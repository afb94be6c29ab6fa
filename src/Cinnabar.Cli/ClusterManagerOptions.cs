namespace Cinnabar.Cli;

/// <summary>`--cluster &lt;verb&gt; args...` and the --cluster-* options, with redis-cli 7.0's defaults.</summary>
public sealed class ClusterManagerOptions
{
    /// <summary>The verb after --cluster; null when not in cluster-manager mode.</summary>
    public string? Name { get; set; }
    public List<string> Args { get; } = [];
    public int Replicas { get; set; }
    public string? MasterId { get; set; }
    public string? From { get; set; }
    public string? To { get; set; }
    public string? FromUser { get; set; }
    public string? FromPass { get; set; }
    public bool FromAskPass { get; set; }
    /// <summary>--cluster-weight node=weight ... (node is an id prefix).</summary>
    public List<string> Weights { get; } = [];
    public int Slots { get; set; }
    /// <summary>MIGRATE timeout in milliseconds (CLUSTER_MANAGER_MIGRATE_TIMEOUT).</summary>
    public int Timeout { get; set; } = 60000;
    /// <summary>Keys per MIGRATE (CLUSTER_MANAGER_MIGRATE_PIPELINE).</summary>
    public int Pipeline { get; set; } = 10;
    /// <summary>Rebalance threshold in percent (CLUSTER_MANAGER_REBALANCE_THRESHOLD).</summary>
    public double Threshold { get; set; } = 2;
    public bool Yes { get; set; }
    public bool Simulate { get; set; }
    public bool Replace { get; set; }
    public bool Copy { get; set; }
    public bool Slave { get; set; }
    public bool UseEmptyMasters { get; set; }
    public bool SearchMultipleOwners { get; set; }
    public bool FixWithUnreachableMasters { get; set; }
    public bool OnlyMasters { get; set; }
    public bool OnlyReplicas { get; set; }

    // Beyond redis-cli 7.0.
    /// <summary>--cluster-throttle: at most this many keys per second while moving slots (0 = unlimited).</summary>
    public long Throttle { get; set; }
    /// <summary>--cluster-atomic: reshard/rebalance with CLUSTER MIGRATION when every node supports it.</summary>
    public bool Atomic { get; set; }
    /// <summary>--cluster-no-progress: no live progress line even on a terminal.</summary>
    public bool NoProgress { get; set; }
}
