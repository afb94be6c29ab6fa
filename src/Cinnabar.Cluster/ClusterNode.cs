namespace Cinnabar.Cluster;

// Redis Cluster's node-local state machine (Redis 7.0 src/cluster.c, rewritten).
//
// The node table, slot map, epochs, link bookkeeping, gossip and failure detection live here;
// nothing here touches a socket, a file or the clock. The server (or the simulation) feeds it:
//   Handle(linkId, message, ...)   a decoded bus packet that arrived on a link
//   Tick(now)                      clusterCron, every 100 ms
//   BeforeSleep(now)               clusterBeforeSleep: deferred state update and config save
//   admin operations               CLUSTER MEET / ADDSLOTS / SETSLOT / REPLICATE / FORGET / RESET...
// and it acts only through IClusterEnvironment (connect, send, close, save nodes.conf, log,
// publish, replication role changes, slot key deletion).
//
// Invariants: Slots[s] is the owner of slot s (or null) and the owner's bitmap has bit s set;
// NumSlots matches the bitmap; a replica's Master lists it in Replicas; every link id in a Peer
// is present in _links and points back to the peer.
public sealed partial class ClusterNode
{
    public const int SlotCount = BusMessage.SlotCount;
    public const int BlacklistTtlMs = 60_000;
    private const int WritableDelayMs = 2000;
    private const int MinRejoinDelayMs = 500;
    private const int MaxRejoinDelayMs = 5000;
    private const int FailReportValidityMult = 2;
    private const int FailUndoTimeMult = 2;

    [Flags]
    private enum Todo
    {
        None = 0,
        HandleFailover = 1,
        UpdateState = 2,
        SaveConfig = 4,
        FsyncConfig = 8,
        HandleManualFailover = 16,
    }

    public sealed class BusLink
    {
        public int Id;
        public bool Inbound;
        public Peer? Node;
        public long CreatedMs;
    }

    private readonly IClusterEnvironment _env;
    private readonly Random _rng;
    private readonly Dictionary<string, Peer> _nodes = new(StringComparer.Ordinal);
    private readonly Dictionary<int, BusLink> _links = new();
    private readonly Dictionary<string, long> _blacklist = new(StringComparer.Ordinal);
    private readonly Peer?[] _slots = new Peer?[SlotCount];
    private readonly Peer?[] _migratingTo = new Peer?[SlotCount];
    private readonly Peer?[] _importingFrom = new Peer?[SlotCount];
    private readonly SlotBitmap _ownerNotClaimingSlot = new();
    private Todo _todo;
    private ulong _pingsSent;
    private ulong _iteration;
    private long _firstUpdateStateMs;
    private long _amongMinorityMs;
    private int _statsPfailNodes;

    public ClusterOptions Options { get; }
    public Peer Myself { get; private set; }
    public ulong CurrentEpoch { get; private set; }
    public ulong LastVoteEpoch { get; private set; }
    public bool StateOk { get; private set; }
    /// <summary>Masters serving at least one slot (cluster->size).</summary>
    public int Size { get; private set; }
    public long[] MessagesSent { get; } = new long[11];
    public long[] MessagesReceived { get; } = new long[11];
    public long LinksBufferLimitExceeded { get; set; }

    /// <summary>Bumped on every change of slot ownership, importing or migrating state, so the
    /// server can cache routing decisions.</summary>
    public long SlotMapVersion { get; private set; }

    private ClusterNode(IClusterEnvironment env, ClusterOptions options, Random rng, Peer myself)
    {
        _env = env;
        Options = options;
        _rng = rng;
        Myself = myself;
    }

    /// <summary>A brand new node (no nodes.conf): random name, myself+master, config saved.</summary>
    public static ClusterNode CreateNew(IClusterEnvironment env, ClusterOptions options, Random rng, long nowMs)
    {
        var myself = new Peer(RandomName(rng), NodeFlags.Myself | NodeFlags.Master, nowMs);
        var node = new ClusterNode(env, options, rng, myself);
        node.AddNode(myself);
        node.ApplyMyselfAddress();
        env.Log(ClusterLogLevel.Notice, $"No cluster configuration found, I'm {myself.Name}");
        node.SaveConfig(fsync: true);
        return node;
    }

    public static string RandomName(Random rng)
    {
        Span<byte> bytes = stackalloc byte[20];
        rng.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public IReadOnlyCollection<Peer> Nodes => _nodes.Values;
    public IReadOnlyCollection<BusLink> Links => _links.Values;
    public Peer? SlotOwner(int slot) => _slots[slot];
    public Peer? MigratingTo(int slot) => _migratingTo[slot];
    public Peer? ImportingFrom(int slot) => _importingFrom[slot];
    public bool IsReplica => Myself.IsReplica;

    // Only valid names enter the table, so a lookup needs no name check of its own (this runs for
    // every gossip entry of every message).
    public Peer? Lookup(string name) => _nodes.TryGetValue(name, out var p) ? p : null;

    /// <summary>verifyClusterNodeId: 40 characters of a-z / 0-9.</summary>
    public static bool IsValidName(string name)
    {
        if (name.Length != BusMessage.NameLength) return false;
        foreach (char c in name)
            if (!(c is >= 'a' and <= 'z' or >= '0' and <= '9')) return false;
        return true;
    }

    // ---- node table -------------------------------------------------------------------------

    private void AddNode(Peer p)
    {
        _nodes[p.Name] = p;
        _peerSnapshot = null;
    }

    private Peer[]? _peerSnapshot;

    /// <summary>
    /// The node table as an array, for loops that may add or delete nodes as they go and for
    /// random picks (gossip, the cron's ping). Made again only after the table changed (the cron
    /// and every PING used to copy it, which dominated a large cluster's CPU); never written to,
    /// so a loop keeps the array it started with.
    /// </summary>
    private Peer[] PeerSnapshot() => _peerSnapshot ??= _nodes.Values.ToArray();

    private void DeleteNode(Peer node)
    {
        for (int j = 0; j < SlotCount; j++)
        {
            if (_importingFrom[j] == node) { _importingFrom[j] = null; SlotMapVersion++; }
            if (_migratingTo[j] == node) { _migratingTo[j] = null; SlotMapVersion++; }
            if (_slots[j] == node) DelSlot(j);
        }
        foreach (var other in _nodes.Values)
            if (other != node) other.FailReports.Remove(node.Name);
        FreeNode(node);
    }

    private void FreeNode(Peer node)
    {
        // A master that goes away leaves its replicas without a master pointer (freeClusterNode).
        foreach (var r in node.Replicas) r.Master = null;
        node.Replicas.Clear();
        if (node.IsReplica && node.Master != null) RemoveReplica(node.Master, node);
        _nodes.Remove(node.Name);
        _peerSnapshot = null;
        if (node.LinkId >= 0) FreeLink(node.LinkId);
        if (node.InboundLinkId >= 0) FreeLink(node.InboundLinkId);
    }

    private void RenameNode(Peer node, string newName)
    {
        _nodes.Remove(node.Name);
        _peerSnapshot = null;
        node.Name = newName;
        AddNode(node);
    }

    private static void RemoveReplica(Peer master, Peer replica)
    {
        master.Replicas.Remove(replica);
        if (master.Replicas.Count == 0) master.Flags &= ~NodeFlags.MigrateTo;
    }

    private static void AddReplica(Peer master, Peer replica)
    {
        if (master.Replicas.Contains(replica)) return;
        master.Replicas.Add(replica);
        master.Flags |= NodeFlags.MigrateTo;
    }

    // ---- slots ------------------------------------------------------------------------------

    private bool AddSlot(Peer n, int slot)
    {
        if (_slots[slot] != null) return false;
        if (!n.Slots.Get(slot)) { n.Slots.Set(slot); n.NumSlots++; }
        _slots[slot] = n;
        _ownerNotClaimingSlot.Clear(slot);
        SlotMapVersion++;
        return true;
    }

    private bool DelSlot(int slot)
    {
        var n = _slots[slot];
        if (n == null) return false;
        // clusterDelSlot: the owner's shard (it, or its master, and the replicas) loses the slot.
        var shardMaster = n.IsReplica && n.Master != null ? n.Master : n;
        if (shardMaster == Myself || (Myself.IsReplica && Myself.Master == shardMaster)) _env.SlotLeftMyShard(slot);
        if (n.Slots.Get(slot)) { n.Slots.Clear(slot); n.NumSlots--; }
        _slots[slot] = null;
        _ownerNotClaimingSlot.Clear(slot);
        SlotMapVersion++;
        return true;
    }

    private int DelNodeSlots(Peer n)
    {
        int deleted = 0;
        for (int j = 0; j < SlotCount; j++)
            if (n.Slots.Get(j)) { DelSlot(j); deleted++; }
        return deleted;
    }

    private bool IsSlotUnclaimed(int slot) => _slots[slot] == null || _ownerNotClaimingSlot.Get(slot);

    private void CloseAllSlots()
    {
        Array.Clear(_migratingTo);
        Array.Clear(_importingFrom);
        SlotMapVersion++;
    }

    // ---- links ------------------------------------------------------------------------------

    /// <summary>A peer connected to our bus port.</summary>
    public void InboundLinkAccepted(int linkId, long nowMs) =>
        _links[linkId] = new BusLink { Id = linkId, Inbound = true, CreatedMs = nowMs };

    /// <summary>A link failed or was closed by the peer (also reports a failed connect).</summary>
    public void LinkClosed(int linkId)
    {
        if (!_links.TryGetValue(linkId, out var link)) return;
        _links.Remove(linkId);
        if (link.Node == null) return;
        if (link.Inbound) { if (link.Node.InboundLinkId == linkId) link.Node.InboundLinkId = -1; }
        else if (link.Node.LinkId == linkId) link.Node.LinkId = -1;
    }

    private void FreeLink(int linkId)
    {
        LinkClosed(linkId);
        _env.CloseLink(linkId);
    }

    private void SetInboundLink(Peer node, BusLink link)
    {
        if (node.InboundLinkId == link.Id) return;
        // A peer reconnected: drop the older inbound link, as setClusterNodeToInboundClusterLink does.
        if (node.InboundLinkId >= 0) FreeLink(node.InboundLinkId);
        node.InboundLinkId = link.Id;
        link.Node = node;
    }

    private void Send(int linkId, BusMessage m)
    {
        if (linkId < 0 || !_links.ContainsKey(linkId)) return;
        if ((int)m.Type < MessagesSent.Length) MessagesSent[(int)m.Type]++;
        _env.Send(linkId, m);
    }

    private void Broadcast(BusMessage m)
    {
        foreach (var n in _nodes.Values)
        {
            if ((n.Flags & (NodeFlags.Myself | NodeFlags.Handshake)) != 0) continue;
            Send(n.LinkId, m);
        }
    }

    // ---- messages we build -------------------------------------------------------------------

    private BusMessage BuildHeader(BusMessageType type)
    {
        var master = Myself.IsReplica && Myself.Master != null ? Myself.Master : Myself;
        return new BusMessage
        {
            Type = type,
            Sender = Myself.Name,
            MyIp = Options.AnnounceIp,
            MySlots = master.Slots.Clone(),
            SlaveOf = Myself.Master?.Name,
            Port = (ushort)Options.AnnouncedPort,
            PPort = (ushort)Options.AnnouncedPPort,
            CPort = (ushort)Options.AnnouncedCPort,
            Flags = Myself.Flags,
            State = StateOk ? (byte)0 : (byte)1,
            CurrentEpoch = CurrentEpoch,
            ConfigEpoch = master.ConfigEpoch,
            Offset = (ulong)Math.Max(0, _env.ReplicationOffset),
            MFlags = Myself.IsMaster && _mfEndMs != 0 ? MessageFlags.Paused : MessageFlags.None,
        };
    }

    private static GossipEntry GossipFor(Peer n) => new()
    {
        NodeName = n.Name,
        PingSentSeconds = (uint)(n.PingSentMs / 1000),
        PongReceivedSeconds = (uint)(n.PongReceivedMs / 1000),
        Ip = n.Ip,
        Port = (ushort)n.Port,
        CPort = (ushort)n.CPort,
        Flags = n.Flags,
        PPort = (ushort)n.PPort,
    };

    /// <summary>clusterSendPing: PING, PONG or MEET with gossip about max(3, N/10) random nodes plus every PFAIL node.</summary>
    private void SendPing(BusLink link, BusMessageType type, long nowMs)
    {
        _pingsSent++;
        int freshNodes = _nodes.Count - 2;
        int wanted = Math.Max(3, _nodes.Count / 10);
        if (wanted > freshNodes) wanted = freshNodes;

        if (!link.Inbound && type == BusMessageType.Ping && link.Node != null) link.Node.PingSentMs = nowMs;
        var m = BuildHeader(type);

        if (freshNodes > 0 && wanted > 0)
        {
            var all = PeerSnapshot();
            int maxIterations = wanted * 3;
            while (freshNodes > 0 && m.Gossip.Count < wanted && maxIterations-- > 0)
            {
                var p = all[_rng.Next(all.Length)];
                if (p == Myself || (p.Flags & NodeFlags.PFail) != 0) continue;
                if ((p.Flags & (NodeFlags.Handshake | NodeFlags.NoAddr)) != 0 || (p.LinkId < 0 && p.NumSlots == 0))
                {
                    freshNodes--;
                    continue;
                }
                if (p.LastInPingGossip == _pingsSent) continue;
                m.Gossip.Add(GossipFor(p));
                p.LastInPingGossip = _pingsSent;
                freshNodes--;
            }
        }
        if (_statsPfailNodes > 0)
        {
            int pfailWanted = _statsPfailNodes;
            foreach (var p in _nodes.Values)
            {
                if (pfailWanted == 0) break;
                if ((p.Flags & (NodeFlags.Handshake | NodeFlags.NoAddr)) != 0 || (p.Flags & NodeFlags.PFail) == 0) continue;
                m.Gossip.Add(GossipFor(p));
                pfailWanted--;
            }
        }
        if (Options.AnnounceHostname.Length > 0) m.Hostname = Options.AnnounceHostname;
        Send(link.Id, m);
    }

    private void SendPingTo(Peer p, BusMessageType type, long nowMs)
    {
        if (p.LinkId >= 0 && _links.TryGetValue(p.LinkId, out var link)) SendPing(link, type, nowMs);
    }

    /// <summary>clusterBroadcastPong: to every connected node, or only to my master's other replicas.</summary>
    private void BroadcastPong(bool localReplicasOnly, long nowMs)
    {
        foreach (var n in PeerSnapshot())
        {
            if (n.LinkId < 0 || n == Myself || n.InHandshake) continue;
            if (localReplicasOnly)
            {
                bool local = n.IsReplica && n.Master != null && (n.Master == Myself || n.Master == Myself.Master);
                if (!local) continue;
            }
            SendPingTo(n, BusMessageType.Pong, nowMs);
        }
    }

    private void SendFail(string nodeName)
    {
        var m = BuildHeader(BusMessageType.Fail);
        m.FailNodeName = nodeName;
        Broadcast(m);
    }

    private void SendUpdate(int linkId, Peer node)
    {
        if (linkId < 0) return;
        var m = BuildHeader(BusMessageType.Update);
        m.UpdateNodeName = node.Name;
        m.UpdateConfigEpoch = node.ConfigEpoch;
        m.UpdateSlots = node.Slots.Clone();
        Send(linkId, m);
    }

    /// <summary>PUBLISH / SPUBLISH fan-out (clusterPropagatePublish): every node for classic
    /// pub/sub, only my shard (master and its replicas) for sharded.</summary>
    public void PropagatePublish(byte[] channel, byte[] message, bool shard)
    {
        var m = BuildHeader(shard ? BusMessageType.PublishShard : BusMessageType.Publish);
        m.Channel = channel;
        m.Payload = message;
        if (!shard)
        {
            Broadcast(m);
            return;
        }
        var master = Myself.IsReplica ? Myself.Master : Myself;
        if (master == null) return;
        foreach (var n in _nodes.Values)
        {
            if (n == Myself || n.InHandshake) continue;
            if (n == master || (n.IsReplica && n.Master == master)) Send(n.LinkId, m);
        }
    }
}
