namespace Cinnabar.Cluster;

/// <summary>The cluster-* directives the state machine reads; the server keeps them current on CONFIG SET.</summary>
public sealed class ClusterOptions
{
    public long NodeTimeoutMs = 15000;
    public string AnnounceIp = "";
    public string AnnounceHostname = "";
    /// <summary>Announced client port (cluster-announce-port, else port; TLS port when tls-cluster).</summary>
    public int AnnouncedPort;
    /// <summary>Announced plaintext port when the main port is TLS, else 0.</summary>
    public int AnnouncedPPort;
    /// <summary>Announced bus port (cluster-announce-bus-port, else cluster-port, else port+10000).</summary>
    public int AnnouncedCPort;
    public bool RequireFullCoverage = true;
    public bool AllowReplicaMigration = true;
    public int MigrationBarrier = 1;
    public bool ReplicaNoFailover;
    public int ReplicaValidityFactor = 10;
    public int ReplPingReplicaPeriodSeconds = 10;
}
