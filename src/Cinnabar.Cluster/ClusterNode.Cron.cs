namespace Cinnabar.Cluster;

// clusterCron (every 100 ms), clusterBeforeSleep and clusterUpdateState.
public sealed partial class ClusterNode
{
    public const int CronPeriodMs = 100;

    public void Tick(long nowMs)
    {
        _iteration++;
        long handshakeTimeout = Math.Max(Options.NodeTimeoutMs, 1000);
        _statsPfailNodes = 0;

        foreach (var node in PeerSnapshot())
        {
            if ((node.Flags & (NodeFlags.Myself | NodeFlags.NoAddr)) != 0) continue;
            if (node.TimedOut) _statsPfailNodes++;
            if (node.InHandshake && nowMs - node.CreatedMs > handshakeTimeout)
            {
                DeleteNode(node);
                continue;
            }
            if (node.LinkId < 0) Connect(node, nowMs);
        }

        if (_iteration % 10 == 0) PingOldestOfFiveRandom(nowMs);

        bool updateState = false;
        _orphanedMasters = _maxReplicas = _myMasterReplicas = 0;
        foreach (var node in PeerSnapshot())
        {
            if ((node.Flags & (NodeFlags.Myself | NodeFlags.NoAddr | NodeFlags.Handshake)) != 0) continue;
            CountReplicasForMigration(node);
            long pingDelay = nowMs - node.PingSentMs;
            long dataDelay = nowMs - node.DataReceivedMs;
            long halfTimeout = Options.NodeTimeoutMs / 2;
            if (node.LinkId >= 0 && nowMs - node.LinkCreatedMs > Options.NodeTimeoutMs && node.PingSentMs != 0 &&
                pingDelay > halfTimeout && dataDelay > halfTimeout)
            {
                FreeLink(node.LinkId); // reconnected by the next tick
            }
            // Keep-alive pings go out after a quarter of the node timeout without a PONG (Redis:
            // half). The PING whose age decides PFAIL then leaves at most timeout/4 after a node
            // dies instead of timeout/2: failure detection ends sooner, for twice the keep-alive
            // traffic (see docs/design/cluster.md).
            if (node.LinkId >= 0 && node.PingSentMs == 0 && nowMs - node.PongReceivedMs > Math.Max(1, Options.NodeTimeoutMs / 4))
            {
                SendPingTo(node, BusMessageType.Ping, nowMs);
                continue;
            }
            if (_mfEndMs != 0 && Myself.IsMaster && _mfReplica == node && node.LinkId >= 0)
            {
                SendPingTo(node, BusMessageType.Ping, nowMs);
                continue;
            }
            if (node.PingSentMs == 0) continue;
            long nodeDelay = Math.Min(pingDelay, dataDelay);
            if (nodeDelay > Options.NodeTimeoutMs && (node.Flags & (NodeFlags.PFail | NodeFlags.Fail)) == 0)
            {
                _env.Log(ClusterLogLevel.Debug, $"*** NODE {node.Name} possibly failing");
                node.Flags |= NodeFlags.PFail;
                updateState = true;
            }
        }

        // A replica whose replication was turned off re-enables it once its master's address is known.
        if (Myself.IsReplica && !_env.IsReplicating && Myself.Master != null && Myself.Master.HasAddress)
            _env.ReplicateFrom(Myself.Master.Ip, Myself.Master.Port);

        ManualFailoverCheckTimeout(nowMs);
        if (Myself.IsReplica)
        {
            HandleManualFailover();
            HandleReplicaFailover(nowMs);
            HandleReplicaMigration(nowMs);
        }

        if (updateState || !StateOk) UpdateState(nowMs);
    }

    private void Connect(Peer node, long nowMs)
    {
        int id = _env.Connect(node.Ip, node.CPort);
        var link = new BusLink { Id = id, Inbound = false, Node = node, CreatedMs = nowMs };
        _links[id] = link;
        node.LinkId = id;
        node.LinkCreatedMs = nowMs;
    }

    /// <summary>
    /// An outbound connection completed (clusterLinkConnectHandler): send a PING at once so failure
    /// detection starts, or the MEET for a node we were told to meet. MEET is cleared only once it
    /// went out on an established link, so a failed first attempt is retried as a MEET.
    /// </summary>
    public void LinkEstablished(int linkId, long nowMs)
    {
        if (!_links.TryGetValue(linkId, out var link) || link.Inbound || link.Node == null) return;
        var node = link.Node;
        long oldPingSent = node.PingSentMs;
        SendPing(link, (node.Flags & NodeFlags.Meet) != 0 ? BusMessageType.Meet : BusMessageType.Ping, nowMs);
        if (oldPingSent != 0) node.PingSentMs = oldPingSent;
        node.Flags &= ~NodeFlags.Meet;
    }

    private void PingOldestOfFiveRandom(long nowMs)
    {
        if (_nodes.Count == 0) return;
        var all = PeerSnapshot();
        Peer? minNode = null;
        for (int j = 0; j < 5; j++)
        {
            var p = all[_rng.Next(all.Length)];
            if (p.LinkId < 0 || p.PingSentMs != 0) continue;
            if ((p.Flags & (NodeFlags.Myself | NodeFlags.Handshake)) != 0) continue;
            if (minNode == null || minNode.PongReceivedMs > p.PongReceivedMs) minNode = p;
        }
        if (minNode != null) SendPingTo(minNode, BusMessageType.Ping, nowMs);
    }

    /// <summary>Runs what packet handlers deferred (state update, config save) before the server
    /// flushes replies and bus messages.</summary>
    public void BeforeSleep(long nowMs)
    {
        var todo = _todo;
        _todo = Todo.None;
        if ((todo & Todo.HandleManualFailover) != 0 && Myself.IsReplica)
        {
            HandleManualFailover();
            HandleReplicaFailover(nowMs);
        }
        else if ((todo & Todo.HandleFailover) != 0)
        {
            HandleReplicaFailover(nowMs);
        }
        todo |= _todo & (Todo.UpdateState | Todo.SaveConfig | Todo.FsyncConfig);
        _todo &= ~(Todo.UpdateState | Todo.SaveConfig | Todo.FsyncConfig);
        if ((todo & Todo.UpdateState) != 0) UpdateState(nowMs);
        if ((todo & Todo.SaveConfig) != 0) SaveConfig((todo & Todo.FsyncConfig) != 0);
    }

    /// <summary>clusterUpdateState: ok needs full coverage (if required) and a reachable majority of
    /// slot-owning masters; a master waits after start and after rejoining from a minority.</summary>
    public void UpdateState(long nowMs)
    {
        _todo &= ~Todo.UpdateState;
        if (_firstUpdateStateMs == 0) _firstUpdateStateMs = nowMs;
        if (Myself.IsMaster && !StateOk && nowMs - _firstUpdateStateMs < WritableDelayMs) return;

        bool ok = true;
        if (Options.RequireFullCoverage)
        {
            for (int j = 0; j < SlotCount; j++)
            {
                var owner = _slots[j];
                if (owner == null || owner.Failed) { ok = false; break; }
            }
        }

        int size = 0, reachable = 0;
        foreach (var n in _nodes.Values)
        {
            if (!n.IsMaster || n.NumSlots == 0) continue;
            size++;
            if ((n.Flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0) reachable++;
        }
        Size = size;
        if (reachable < size / 2 + 1)
        {
            ok = false;
            _amongMinorityMs = nowMs;
        }

        if (ok == StateOk) return;
        long rejoinDelay = Math.Clamp(Options.NodeTimeoutMs, MinRejoinDelayMs, MaxRejoinDelayMs);
        if (ok && Myself.IsMaster && nowMs - _amongMinorityMs < rejoinDelay) return;
        _env.Log(ClusterLogLevel.Warning, $"Cluster state changed: {(ok ? "ok" : "fail")}");
        StateOk = ok;
    }
}
