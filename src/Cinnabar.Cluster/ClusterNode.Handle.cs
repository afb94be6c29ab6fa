namespace Cinnabar.Cluster;

// clusterProcessPacket and the gossip / slot-config rules it applies.
public sealed partial class ClusterNode
{
    /// <summary>
    /// Processes one decoded packet that arrived on a link. peerIp is the socket's remote address,
    /// localIp the address the peer reached us on. Returns false when the link was freed.
    /// </summary>
    /// <summary>DEBUG DROP-CLUSTER-PACKET-FILTER: packets of this type are ignored (-1: none).</summary>
    public int DropPacketFilter { get; set; } = -1;

    public bool Handle(int linkId, BusMessage hdr, string peerIp, string localIp, long nowMs)
    {
        if (!_links.TryGetValue(linkId, out var link)) return false;
        var type = hdr.Type;
        if ((int)type < MessagesReceived.Length) MessagesReceived[(int)type]++;
        if (hdr.Version != 1) return true;
        if ((int)type == DropPacketFilter)
        {
            _env.Log(ClusterLogLevel.Warning, "Dropping packet that matches debug drop filter");
            return true;
        }

        var sender = NodeFromLinkAndMessage(link, hdr);
        if (sender != null) sender.DataReceivedMs = nowMs;

        ulong senderConfigEpoch = 0, senderCurrentEpoch = 0;
        if (sender != null && !sender.InHandshake)
        {
            senderCurrentEpoch = hdr.CurrentEpoch;
            senderConfigEpoch = hdr.ConfigEpoch;
            if (senderCurrentEpoch > CurrentEpoch)
            {
                // Saved (Redis 7.0 leaves it to the next save): currentEpoch never goes back
                // across a restart.
                CurrentEpoch = senderCurrentEpoch;
                _todo |= Todo.SaveConfig;
            }
            // A sender's configEpoch moves only with its slot claims: from a PING/PONG/MEET
            // header that speaks as a master (a replica's header carries its master's epoch).
            // Redis 7.0 takes it from any header; then a FAIL or an auth ack from a freshly
            // promoted master raises its epoch here without moving its slots, its UPDATE looks
            // like "nothing new", and we keep serving its slots until its next PING. Likewise a
            // demoted master would get its successor's epoch and win ties it should lose.
            if (senderConfigEpoch > sender.ConfigEpoch && (hdr.Flags & NodeFlags.Master) != 0 &&
                type is BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet)
            {
                sender.ConfigEpoch = senderConfigEpoch;
                _todo |= Todo.SaveConfig | Todo.FsyncConfig;
            }
            sender.ReplOffset = (long)hdr.Offset;
            sender.ReplOffsetTimeMs = nowMs;
            NoteMasterPausedOffset(sender, hdr);
        }

        if (type is BusMessageType.Ping or BusMessageType.Meet)
        {
            if ((type == BusMessageType.Meet || Myself.Ip.Length == 0) && Options.AnnounceIp.Length == 0 &&
                localIp.Length > 0 && localIp != Myself.Ip)
            {
                Myself.Ip = localIp;
                _env.Log(ClusterLogLevel.Warning, $"IP address for this node updated to {Myself.Ip}");
                _todo |= Todo.SaveConfig;
            }
            if (sender == null && type == BusMessageType.Meet)
            {
                var node = new Peer(RandomName(_rng), NodeFlags.Handshake, nowMs)
                {
                    Ip = hdr.MyIp.Length > 0 ? hdr.MyIp : peerIp,
                    Port = hdr.Port,
                    PPort = hdr.PPort,
                    CPort = hdr.CPort,
                };
                AddNode(node);
                _todo |= Todo.SaveConfig;
                ProcessGossip(hdr, link, nowMs);
            }
            SendPing(link, BusMessageType.Pong, nowMs);
        }

        switch (type)
        {
            case BusMessageType.Ping:
            case BusMessageType.Pong:
            case BusMessageType.Meet:
                return HandlePingFamily(link, hdr, sender, senderConfigEpoch, peerIp, nowMs);
            case BusMessageType.Fail:
                HandleFail(hdr, sender, nowMs);
                break;
            case BusMessageType.Publish:
            case BusMessageType.PublishShard:
                if (sender == null) break;
                bool shard = type == BusMessageType.PublishShard;
                if (_env.HasSubscribers(shard)) _env.Publish(hdr.Channel, hdr.Payload, shard);
                break;
            case BusMessageType.FailoverAuthRequest:
                if (sender != null) HandleAuthRequest(sender, hdr, nowMs);
                break;
            case BusMessageType.FailoverAuthAck:
                if (sender != null) HandleAuthAck(sender, senderCurrentEpoch);
                break;
            case BusMessageType.MfStart:
                if (sender != null && sender.Master == Myself) HandleMfStart(link, sender, nowMs);
                break;
            case BusMessageType.Update:
                HandleUpdate(hdr, sender);
                break;
            case BusMessageType.Module:
                break; // no modules: ignored, as a node without the receiving module does
            default:
                _env.Log(ClusterLogLevel.Warning, $"Received unknown packet type: {(int)type}");
                break;
        }
        return true;
    }

    private Peer? NodeFromLinkAndMessage(BusLink link, BusMessage hdr)
    {
        if (link.Node != null && !link.Node.InHandshake) return link.Node;
        var sender = Lookup(hdr.Sender);
        if (sender != null && link.Node == null && link.Inbound) SetInboundLink(sender, link);
        return sender;
    }

    private bool HandlePingFamily(BusLink link, BusMessage hdr, Peer? sender, ulong senderConfigEpoch, string peerIp, long nowMs)
    {
        var type = hdr.Type;
        if (!link.Inbound && link.Node != null)
        {
            if (link.Node.InHandshake)
            {
                if (sender != null)
                {
                    // We met a node we already know (by another address): keep the known one.
                    if (UpdateAddressIfNeeded(sender, link, hdr, peerIp)) _todo |= Todo.SaveConfig | Todo.UpdateState;
                    DeleteNode(link.Node);
                    return false;
                }
                if (!IsValidName(hdr.Sender)) return true;
                RenameNode(link.Node, hdr.Sender);
                link.Node.Flags &= ~NodeFlags.Handshake;
                link.Node.Flags |= hdr.Flags & (NodeFlags.Master | NodeFlags.Slave);
                _todo |= Todo.SaveConfig;
            }
            else if (link.Node.Name != hdr.Sender)
            {
                // Someone else answers at that address now: forget the address.
                var n = link.Node;
                n.Flags |= NodeFlags.NoAddr;
                n.Ip = "";
                n.Port = n.PPort = n.CPort = 0;
                FreeLink(link.Id);
                _todo |= Todo.SaveConfig;
                return false;
            }
        }

        if (sender != null)
        {
            sender.Flags = (sender.Flags & ~NodeFlags.NoFailover) | (hdr.Flags & NodeFlags.NoFailover);
            if (type == BusMessageType.Ping && !sender.InHandshake && UpdateAddressIfNeeded(sender, link, hdr, peerIp))
                _todo |= Todo.SaveConfig | Todo.UpdateState;
        }

        if (!link.Inbound && type == BusMessageType.Pong && link.Node != null)
        {
            var n = link.Node;
            n.PongReceivedMs = nowMs;
            n.PingSentMs = 0;
            if (n.TimedOut)
            {
                n.Flags &= ~NodeFlags.PFail;
                _todo |= Todo.SaveConfig | Todo.UpdateState;
            }
            else if (n.Failed)
            {
                ClearFailureIfNeeded(n, nowMs);
            }
        }

        if (sender != null) UpdateRole(sender, hdr);

        Peer? senderMaster = null;
        bool dirtySlots = false;
        if (sender != null)
        {
            senderMaster = sender.IsMaster ? sender : sender.Master;
            if (senderMaster != null) dirtySlots = !senderMaster.Slots.SameAs(hdr.MySlots);
        }

        if (sender != null && sender.IsMaster && dirtySlots)
            UpdateSlotsConfigWith(sender, senderConfigEpoch, hdr.MySlots);

        if (sender != null && dirtySlots)
        {
            for (int j = 0; j < SlotCount; j++)
            {
                if (!hdr.MySlots.Get(j)) continue;
                if (_slots[j] == sender || IsSlotUnclaimed(j)) continue;
                if (_slots[j]!.ConfigEpoch > senderConfigEpoch)
                {
                    _env.Log(ClusterLogLevel.Verbose,
                        $"Node {sender.Name} has old slots configuration, sending an UPDATE message about {_slots[j]!.Name}");
                    SendUpdate(sender.LinkId, _slots[j]!);
                    break;
                }
            }
        }

        if (sender != null && Myself.IsMaster && sender.IsMaster && senderConfigEpoch == Myself.ConfigEpoch)
            HandleConfigEpochCollision(sender);

        if (sender != null)
        {
            ProcessGossip(hdr, link, nowMs);
            if (sender.Hostname != (hdr.Hostname ?? ""))
            {
                sender.Hostname = hdr.Hostname ?? "";
                _todo |= Todo.SaveConfig;
            }
        }
        return true;
    }

    private void UpdateRole(Peer sender, BusMessage hdr)
    {
        if (hdr.SlaveOf == null)
        {
            SetNodeAsMaster(sender);
            return;
        }
        var master = Lookup(hdr.SlaveOf);
        if (sender.IsMaster)
        {
            DelNodeSlots(sender);
            sender.Flags &= ~(NodeFlags.Master | NodeFlags.MigrateTo);
            sender.Flags |= NodeFlags.Slave;
            _todo |= Todo.SaveConfig | Todo.UpdateState;
        }
        if (master != null && sender.Master != master)
        {
            if (sender.Master != null) RemoveReplica(sender.Master, sender);
            AddReplica(master, sender);
            sender.Master = master;
            _todo |= Todo.SaveConfig;
        }
    }

    private void SetNodeAsMaster(Peer n)
    {
        if (n.IsMaster) return;
        if (n.Master != null)
        {
            RemoveReplica(n.Master, n);
            if (n != Myself) n.Flags |= NodeFlags.MigrateTo;
        }
        n.Flags &= ~NodeFlags.Slave;
        n.Flags |= NodeFlags.Master;
        n.Master = null;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
    }

    /// <summary>nodeUpdateAddressIfNeeded: the address a node talks to us from (or announces) wins.</summary>
    private bool UpdateAddressIfNeeded(Peer node, BusLink link, BusMessage hdr, string peerIp)
    {
        if (link.Id == node.LinkId) return false;
        string ip = hdr.MyIp.Length > 0 ? hdr.MyIp : peerIp;
        if (ip.Length == 0) return false;
        if (node.Port == hdr.Port && node.CPort == hdr.CPort && node.PPort == hdr.PPort && node.Ip == ip) return false;
        node.Ip = ip;
        node.Port = hdr.Port;
        node.PPort = hdr.PPort;
        node.CPort = hdr.CPort;
        if (node.LinkId >= 0) FreeLink(node.LinkId);
        node.Flags &= ~NodeFlags.NoAddr;
        _env.Log(ClusterLogLevel.Warning, $"Address updated for node {node.Name}, now {node.Ip}:{node.Port}");
        if (Myself.IsReplica && Myself.Master == node) _env.ReplicateFrom(node.Ip, node.Port);
        return true;
    }

    private void ProcessGossip(BusMessage hdr, BusLink link, long nowMs)
    {
        var sender = link.Node ?? Lookup(hdr.Sender);
        foreach (var g in hdr.Gossip)
        {
            var flags = g.Flags;
            var node = Lookup(g.NodeName);
            if (node != null)
            {
                if (sender != null && sender.IsMaster && node != Myself)
                {
                    if ((flags & (NodeFlags.Fail | NodeFlags.PFail)) != 0)
                    {
                        if (AddFailureReport(node, sender, nowMs))
                            _env.Log(ClusterLogLevel.Verbose, $"Node {sender.Name} reported node {node.Name} as not reachable.");
                        MarkNodeAsFailingIfNeeded(node, nowMs);
                    }
                    else if (node.FailReports.Remove(sender.Name))
                    {
                        _env.Log(ClusterLogLevel.Verbose, $"Node {sender.Name} reported node {node.Name} is back online.");
                    }
                }
                if ((flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0 && node.PingSentMs == 0 &&
                    FailureReportCount(node, nowMs) == 0)
                {
                    long pongMs = g.PongReceivedSeconds * 1000L;
                    if (pongMs <= nowMs + 500 && pongMs > node.PongReceivedMs) node.PongReceivedMs = pongMs;
                }
                if ((node.Flags & (NodeFlags.Fail | NodeFlags.PFail)) != 0 &&
                    (flags & NodeFlags.NoAddr) == 0 && (flags & (NodeFlags.Fail | NodeFlags.PFail)) == 0 &&
                    (!string.Equals(node.Ip, g.Ip, StringComparison.OrdinalIgnoreCase) || node.Port != g.Port || node.CPort != g.CPort))
                {
                    if (node.LinkId >= 0) FreeLink(node.LinkId);
                    node.Ip = g.Ip;
                    node.Port = g.Port;
                    node.PPort = g.PPort;
                    node.CPort = g.CPort;
                    node.Flags &= ~NodeFlags.NoAddr;
                }
            }
            else if (sender != null && (flags & NodeFlags.NoAddr) == 0 && !IsBlacklisted(g.NodeName, nowMs) && IsValidName(g.NodeName))
            {
                var fresh = new Peer(g.NodeName, flags & ~NodeFlags.Myself, nowMs)
                {
                    Ip = g.Ip,
                    Port = g.Port,
                    PPort = g.PPort,
                    CPort = g.CPort,
                };
                AddNode(fresh);
            }
        }
    }

    private void HandleFail(BusMessage hdr, Peer? sender, long nowMs)
    {
        if (sender == null)
        {
            _env.Log(ClusterLogLevel.Notice, $"Ignoring FAIL message from unknown node {hdr.Sender} about {hdr.FailNodeName}");
            return;
        }
        var failing = Lookup(hdr.FailNodeName);
        if (failing == null || (failing.Flags & (NodeFlags.Fail | NodeFlags.Myself)) != 0) return;
        _env.Log(ClusterLogLevel.Notice, $"FAIL message received from {hdr.Sender} about {hdr.FailNodeName}");
        failing.Flags |= NodeFlags.Fail;
        failing.FailTimeMs = nowMs;
        failing.Flags &= ~NodeFlags.PFail;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
        // My master failed: consider the election in this event loop turn, not at the next cron.
        if (Myself.IsReplica && failing == Myself.Master) _todo |= Todo.HandleFailover;
    }

    private void HandleUpdate(BusMessage hdr, Peer? sender)
    {
        if (sender == null) return;
        var n = Lookup(hdr.UpdateNodeName);
        if (n == null || n.ConfigEpoch >= hdr.UpdateConfigEpoch) return;
        if (n.IsReplica) SetNodeAsMaster(n);
        n.ConfigEpoch = hdr.UpdateConfigEpoch;
        _todo |= Todo.SaveConfig | Todo.FsyncConfig;
        UpdateSlotsConfigWith(n, hdr.UpdateConfigEpoch, hdr.UpdateSlots);
    }

    /// <summary>clusterUpdateSlotsConfigWith: rebind slots claimed with a newer configEpoch; follow
    /// our slots if they all moved to the sender; drop keys of slots we lost but still serve others.</summary>
    private void UpdateSlotsConfigWith(Peer sender, ulong senderConfigEpoch, SlotBitmap slots)
    {
        if (sender == Myself)
        {
            _env.Log(ClusterLogLevel.Warning, "Discarding UPDATE message about myself.");
            return;
        }
        var curMaster = Myself.IsMaster ? Myself : Myself.Master;
        Peer? newMaster = null;
        var dirty = new List<int>();
        int senderSlots = 0, migratedOurSlots = 0;

        for (int j = 0; j < SlotCount; j++)
        {
            if (slots.Get(j))
            {
                senderSlots++;
                if (_slots[j] == sender)
                {
                    _ownerNotClaimingSlot.Clear(j);
                    continue;
                }
                if (_importingFrom[j] != null) continue;
                if (IsSlotUnclaimed(j) || _slots[j]!.ConfigEpoch < senderConfigEpoch)
                {
                    if (_slots[j] == Myself && _env.CountKeysInSlot(j) > 0) dirty.Add(j);
                    if (_slots[j] != null && _slots[j] == curMaster)
                    {
                        newMaster = sender;
                        migratedOurSlots++;
                    }
                    DelSlot(j);
                    AddSlot(sender, j);
                    _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
                }
            }
            else if (_slots[j] == sender)
            {
                _ownerNotClaimingSlot.Set(j);
            }
        }

        if (newMaster != null && curMaster != null && curMaster.NumSlots == 0 &&
            (Options.AllowReplicaMigration || senderSlots == migratedOurSlots))
        {
            _env.Log(ClusterLogLevel.Warning, $"Configuration change detected. Reconfiguring myself as a replica of {sender.Name}");
            SetMyMaster(sender);
            _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
        }
        else if (Myself.Master?.Master != null && Myself.Master.Master != Myself)
        {
            _env.Log(ClusterLogLevel.Warning, $"I'm a sub-replica! Reconfiguring myself as a replica of grandmaster {Myself.Master.Master.Name}");
            SetMyMaster(Myself.Master.Master);
            _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
        }
        else
        {
            foreach (int slot in dirty) _env.DeleteKeysInSlot(slot);
        }
    }

    /// <summary>clusterSetMaster: become a replica of n (myself must own no slots).</summary>
    private void SetMyMaster(Peer n)
    {
        if (Myself.IsMaster)
        {
            Myself.Flags &= ~(NodeFlags.Master | NodeFlags.MigrateTo);
            Myself.Flags |= NodeFlags.Slave;
            CloseAllSlots();
        }
        else if (Myself.Master != null)
        {
            RemoveReplica(Myself.Master, Myself);
        }
        Myself.Master = n;
        AddReplica(n, Myself);
        _env.ReplicateFrom(n.Ip, n.Port);
        ResetManualFailover();
    }

    private void HandleConfigEpochCollision(Peer sender)
    {
        if (sender.ConfigEpoch != Myself.ConfigEpoch || !sender.IsMaster || !Myself.IsMaster) return;
        if (string.CompareOrdinal(sender.Name, Myself.Name) <= 0) return;
        CurrentEpoch++;
        Myself.ConfigEpoch = CurrentEpoch;
        SaveConfig(fsync: true);
        _env.Log(ClusterLogLevel.Verbose,
            $"WARNING: configEpoch collision with node {sender.Name}. configEpoch set to {Myself.ConfigEpoch}");
    }

    // ---- failure detection -----------------------------------------------------------------------

    private static bool AddFailureReport(Peer failing, Peer sender, long nowMs)
    {
        bool fresh = !failing.FailReports.ContainsKey(sender.Name);
        failing.FailReports[sender.Name] = nowMs;
        return fresh;
    }

    public int FailureReportCount(Peer node, long nowMs)
    {
        long maxAge = Options.NodeTimeoutMs * FailReportValidityMult;
        List<string>? stale = null;
        foreach (var (name, time) in node.FailReports)
            if (nowMs - time > maxAge) (stale ??= new()).Add(name);
        if (stale != null) foreach (var s in stale) node.FailReports.Remove(s);
        return node.FailReports.Count;
    }

    private void MarkNodeAsFailingIfNeeded(Peer node, long nowMs)
    {
        int neededQuorum = Size / 2 + 1;
        if (!node.TimedOut || node.Failed) return;
        int failures = FailureReportCount(node, nowMs);
        if (Myself.IsMaster) failures++;
        if (failures < neededQuorum) return;
        _env.Log(ClusterLogLevel.Notice, $"Marking node {node.Name} as failing (quorum reached).");
        node.Flags &= ~NodeFlags.PFail;
        node.Flags |= NodeFlags.Fail;
        node.FailTimeMs = nowMs;
        SendFail(node.Name);
        _todo |= Todo.UpdateState | Todo.SaveConfig;
        if (Myself.IsReplica && node == Myself.Master) _todo |= Todo.HandleFailover;
    }

    private void ClearFailureIfNeeded(Peer node, long nowMs)
    {
        if (node.IsReplica || node.NumSlots == 0)
        {
            _env.Log(ClusterLogLevel.Notice,
                $"Clear FAIL state for node {node.Name}: {(node.IsReplica ? "replica" : "master without slots")} is reachable again.");
            node.Flags &= ~NodeFlags.Fail;
            _todo |= Todo.UpdateState | Todo.SaveConfig;
        }
        if (node.IsMaster && node.NumSlots > 0 && nowMs - node.FailTimeMs > Options.NodeTimeoutMs * FailUndoTimeMult)
        {
            _env.Log(ClusterLogLevel.Notice,
                $"Clear FAIL state for node {node.Name}: is reachable again and nobody is serving its slots after some time.");
            node.Flags &= ~NodeFlags.Fail;
            _todo |= Todo.UpdateState | Todo.SaveConfig;
        }
    }

    // ---- blacklist (CLUSTER FORGET) -----------------------------------------------------------

    private bool IsBlacklisted(string name, long nowMs)
    {
        CleanupBlacklist(nowMs);
        return _blacklist.ContainsKey(name);
    }

    private void CleanupBlacklist(long nowMs)
    {
        if (_blacklist.Count == 0) return;
        foreach (var (k, expire) in _blacklist.ToArray())
            if (expire < nowMs) _blacklist.Remove(k);
    }
}
