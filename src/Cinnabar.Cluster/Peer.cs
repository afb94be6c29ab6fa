namespace Cinnabar.Cluster;

/// <summary>
/// One entry of the node table (Redis's clusterNode), myself included. Mutable and owned by
/// <see cref="ClusterNode"/>; callers outside read it under the same lock that drives the state machine.
/// </summary>
public sealed class Peer
{
    public string Name;
    public NodeFlags Flags;
    public string Ip = "";
    public int Port;
    public int CPort;
    public int PPort;
    /// <summary>Announced hostname (ping extension type 0); empty when none.</summary>
    public string Hostname = "";
    public ulong ConfigEpoch;
    public Peer? Master;
    public readonly List<Peer> Replicas = new();
    public readonly SlotBitmap Slots = new();
    public int NumSlots;

    public long CreatedMs;
    /// <summary>Unix ms of the pending PING, 0 when none (ping_sent).</summary>
    public long PingSentMs;
    public long PongReceivedMs;
    public long DataReceivedMs;
    public long FailTimeMs;
    /// <summary>Last time we voted for a replica of this master.</summary>
    public long VotedTimeMs;
    public long ReplOffsetTimeMs;
    public long OrphanedTimeMs;
    public long ReplOffset;

    /// <summary>Outbound link (we connected to it), -1 when none.</summary>
    public int LinkId = -1;
    public long LinkCreatedMs;
    /// <summary>Inbound link (it connected to us), -1 when none.</summary>
    public int InboundLinkId = -1;

    /// <summary>Failure reports from masters: reporter name -> time of last report.</summary>
    public readonly Dictionary<string, long> FailReports = new(StringComparer.Ordinal);

    internal ulong LastInPingGossip;

    public Peer(string name, NodeFlags flags, long nowMs)
    {
        Name = name;
        Flags = flags;
        CreatedMs = nowMs;
    }

    public bool IsMaster => (Flags & NodeFlags.Master) != 0;
    public bool IsReplica => (Flags & NodeFlags.Slave) != 0;
    public bool IsMyself => (Flags & NodeFlags.Myself) != 0;
    public bool InHandshake => (Flags & NodeFlags.Handshake) != 0;
    public bool HasAddress => (Flags & NodeFlags.NoAddr) == 0;
    public bool TimedOut => (Flags & NodeFlags.PFail) != 0;
    public bool Failed => (Flags & NodeFlags.Fail) != 0;
    public bool IsConnected => IsMyself || LinkId >= 0;

    /// <summary>Replicas of this master that are not failed (clusterCountNonFailingSlaves).</summary>
    public int NonFailingReplicas
    {
        get
        {
            int n = 0;
            foreach (var r in Replicas) if (!r.Failed) n++;
            return n;
        }
    }

    public override string ToString() => Name;
}
