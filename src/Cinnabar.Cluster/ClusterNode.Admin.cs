using System.Net;

namespace Cinnabar.Cluster;

// State changes requested through CLUSTER subcommands (the server parses arguments and writes
// replies; the rules and error texts of clusterCommand live here). A method returns null on
// success or the error text (without the leading "-ERR "/"-" that the server adds).
public sealed partial class ClusterNode
{
    /// <summary>clusterStartHandshake. False when the address is invalid (EINVAL); an existing
    /// handshake with the same address is success without a new node.</summary>
    public bool StartHandshake(string ip, long port, long cport, long nowMs)
    {
        if (!IPAddress.TryParse(ip, out var addr) || ip.Contains('%')) return false;
        if (port <= 0 || port > 65535 || cport <= 0 || cport > 65535) return false;
        string norm = addr.ToString();
        foreach (var n in _nodes.Values)
            if (n.InHandshake && string.Equals(n.Ip, norm, StringComparison.OrdinalIgnoreCase) && n.Port == port && n.CPort == cport)
                return true;
        var node = new Peer(RandomName(_rng), NodeFlags.Handshake | NodeFlags.Meet, nowMs)
        {
            Ip = norm,
            Port = (int)port,
            CPort = (int)cport,
        };
        AddNode(node);
        return true;
    }

    /// <summary>checkSlotAssignmentsOrReply + clusterUpdateSlots for ADDSLOTS[RANGE] / DELSLOTS[RANGE].</summary>
    public string? UpdateSlots(IReadOnlyList<(int Start, int End)> ranges, bool delete)
    {
        var seen = new byte[SlotCount];
        foreach (var (start, end) in ranges)
        {
            for (int slot = start; slot <= end; slot++)
            {
                if (delete && _slots[slot] == null) return $"Slot {slot} is already unassigned";
                if (!delete && _slots[slot] != null) return $"Slot {slot} is already busy";
                if (seen[slot]++ == 1) return $"Slot {slot} specified multiple times";
            }
        }
        for (int j = 0; j < SlotCount; j++)
        {
            if (seen[j] == 0) continue;
            if (_importingFrom[j] != null) { _importingFrom[j] = null; SlotMapVersion++; }
            if (delete) DelSlot(j);
            else AddSlot(Myself, j);
        }
        _todo |= Todo.UpdateState | Todo.SaveConfig;
        return null;
    }

    public void FlushSlots()
    {
        DelNodeSlots(Myself);
        _todo |= Todo.UpdateState | Todo.SaveConfig;
    }

    public string? SetSlotMigrating(int slot, string nodeName)
    {
        if (Myself.IsReplica) return "Please use SETSLOT only with masters.";
        if (_slots[slot] != Myself) return $"I'm not the owner of hash slot {slot}";
        var n = Lookup(nodeName);
        if (n == null) return $"I don't know about node {nodeName}";
        if (n.IsReplica) return "Target node is not a master";
        _migratingTo[slot] = n;
        SlotMapVersion++;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
        return null;
    }

    public string? SetSlotImporting(int slot, string nodeName)
    {
        if (Myself.IsReplica) return "Please use SETSLOT only with masters.";
        if (_slots[slot] == Myself) return $"I'm already the owner of hash slot {slot}";
        var n = Lookup(nodeName);
        if (n == null) return $"I don't know about node {nodeName}";
        if (n.IsReplica) return "Target node is not a master";
        _importingFrom[slot] = n;
        SlotMapVersion++;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
        return null;
    }

    public string? SetSlotStable(int slot)
    {
        if (Myself.IsReplica) return "Please use SETSLOT only with masters.";
        _importingFrom[slot] = null;
        _migratingTo[slot] = null;
        SlotMapVersion++;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
        return null;
    }

    public string? SetSlotNode(int slot, string nodeName, long nowMs)
    {
        if (Myself.IsReplica) return "Please use SETSLOT only with masters.";
        var n = Lookup(nodeName);
        if (n == null) return $"Unknown node {nodeName}";
        if (n.IsReplica) return "Target node is not a master";
        int keys = _env.CountKeysInSlot(slot);
        if (_slots[slot] == Myself && n != Myself && keys != 0)
            return $"Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot.";
        if (keys == 0 && _migratingTo[slot] != null) _migratingTo[slot] = null;

        bool wasMine = _slots[slot] == Myself;
        DelSlot(slot);
        AddSlot(n, slot);
        if (wasMine && n != Myself && Myself.NumSlots == 0 && Options.AllowReplicaMigration)
        {
            _env.Log(ClusterLogLevel.Warning, $"Configuration change detected. Reconfiguring myself as a replica of {n.Name}");
            SetMyMaster(n);
            _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
        }
        if (n == Myself && _importingFrom[slot] != null)
        {
            if (BumpEpochWithoutConsensus())
                _env.Log(ClusterLogLevel.Warning, $"configEpoch updated after importing slot {slot}");
            _importingFrom[slot] = null;
            BroadcastPong(localReplicasOnly: false, nowMs);
        }
        SlotMapVersion++;
        _todo |= Todo.SaveConfig | Todo.UpdateState;
        return null;
    }

    /// <summary>
    /// Atomic slot migration's takeover: the slots become mine, announced with a configEpoch
    /// bumped without consensus and a PONG to everyone (Redis 7.0 nodes see a plain slot change).
    /// The epoch must end above the source's, so when the usual bump declines (mine is already the
    /// largest) but the source holds the same value, a new epoch is taken anyway.
    /// </summary>
    public void ClaimSlots(IEnumerable<int> slots, string sourceName, long nowMs)
    {
        foreach (int slot in slots)
        {
            _importingFrom[slot] = null;
            _migratingTo[slot] = null;
            DelSlot(slot);
            AddSlot(Myself, slot);
        }
        var source = Lookup(sourceName);
        if (!BumpEpochWithoutConsensus() && source != null && source.ConfigEpoch >= Myself.ConfigEpoch)
        {
            CurrentEpoch++;
            Myself.ConfigEpoch = CurrentEpoch;
        }
        _env.Log(ClusterLogLevel.Warning, $"configEpoch set to {Myself.ConfigEpoch} after importing slots from {sourceName}");
        SlotMapVersion++;
        _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
        BroadcastPong(localReplicasOnly: false, nowMs);
    }

    /// <summary>clusterBumpConfigEpochWithoutConsensus: true when the epoch moved (BUMPED).</summary>
    public bool BumpEpochWithoutConsensus()
    {
        ulong maxEpoch = MaxEpoch();
        if (Myself.ConfigEpoch != 0 && Myself.ConfigEpoch == maxEpoch) return false;
        CurrentEpoch++;
        Myself.ConfigEpoch = CurrentEpoch;
        _todo |= Todo.SaveConfig | Todo.FsyncConfig;
        _env.Log(ClusterLogLevel.Warning, $"New configEpoch set to {Myself.ConfigEpoch}");
        return true;
    }

    public string? Forget(string nodeName, long nowMs)
    {
        var n = Lookup(nodeName);
        if (n == null) return $"Unknown node {nodeName}";
        if (n == Myself) return "I tried hard but I can't forget myself...";
        if (Myself.IsReplica && Myself.Master == n) return "Can't forget my master!";
        CleanupBlacklist(nowMs);
        _blacklist[n.Name] = nowMs + BlacklistTtlMs;
        DeleteNode(n);
        _todo |= Todo.UpdateState | Todo.SaveConfig;
        return null;
    }

    public string? Replicate(string nodeName, bool dbEmpty)
    {
        var n = Lookup(nodeName);
        if (n == null) return $"Unknown node {nodeName}";
        if (n == Myself) return "Can't replicate myself";
        if (n.IsReplica) return "I can only replicate a master, not a replica.";
        if (Myself.IsMaster && (Myself.NumSlots != 0 || !dbEmpty))
            return "To set a master the node must be empty and without assigned slots.";
        SetMyMaster(n);
        _todo |= Todo.UpdateState | Todo.SaveConfig;
        return null;
    }

    public string? SetConfigEpoch(long epoch)
    {
        if (epoch < 0) return $"Invalid config epoch specified: {epoch}";
        if (_nodes.Count > 1) return "The user can assign a config epoch only when the node does not know any other node.";
        if (Myself.ConfigEpoch != 0) return "Node config epoch is already non-zero";
        Myself.ConfigEpoch = (ulong)epoch;
        _env.Log(ClusterLogLevel.Warning, $"configEpoch set to {Myself.ConfigEpoch} via CLUSTER SET-CONFIG-EPOCH");
        if (CurrentEpoch < (ulong)epoch) CurrentEpoch = (ulong)epoch;
        _todo |= Todo.UpdateState | Todo.SaveConfig;
        return null;
    }

    /// <summary>clusterReset: the caller checked that a master holds no keys.</summary>
    public void Reset(bool hard)
    {
        if (Myself.IsReplica)
        {
            SetNodeAsMaster(Myself);
            _env.StopReplicating();
            _env.FlushAll();
        }
        CloseAllSlots();
        ResetManualFailover();
        for (int j = 0; j < SlotCount; j++) DelSlot(j);
        foreach (var n in PeerSnapshot())
            if (n != Myself) DeleteNode(n);
        if (hard)
        {
            CurrentEpoch = 0;
            LastVoteEpoch = 0;
            Myself.ConfigEpoch = 0;
            _env.Log(ClusterLogLevel.Warning, "configEpoch set to 0 via CLUSTER RESET HARD");
            RenameNode(Myself, RandomName(_rng));
            _env.Log(ClusterLogLevel.Notice, $"Node hard reset, now I'm {Myself.Name}");
        }
        _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
    }

    /// <summary>CLUSTER INFO's slot counters.</summary>
    public (int Assigned, int Ok, int PFail, int Fail) SlotStats()
    {
        int assigned = 0, ok = 0, pfail = 0, fail = 0;
        foreach (var n in _slots)
        {
            if (n == null) continue;
            assigned++;
            if (n.Failed) fail++;
            else if (n.TimedOut) pfail++;
            else ok++;
        }
        return (assigned, ok, pfail, fail);
    }

    public ulong MyEpoch => Myself.IsReplica && Myself.Master != null ? Myself.Master.ConfigEpoch : Myself.ConfigEpoch;

    /// <summary>Announced ports / ip / hostname changed (CONFIG SET): update myself and tell the cluster soon.</summary>
    public void AnnounceChanged()
    {
        ApplyMyselfAddress();
        _todo |= Todo.SaveConfig;
    }
}

public sealed partial class ClusterNode
{
    /// <summary>verifyClusterConfigWithData, after the dataset loaded: a master claims unassigned
    /// slots it holds keys for and marks slots owned elsewhere as importing.</summary>
    public void VerifyConfigWithData()
    {
        if (Myself.IsReplica) return;
        bool changed = false;
        for (int j = 0; j < SlotCount; j++)
        {
            if (_env.CountKeysInSlot(j) == 0) continue;
            if (_slots[j] == Myself || _importingFrom[j] != null) continue;
            changed = true;
            if (_slots[j] == null)
            {
                _env.Log(ClusterLogLevel.Warning, $"I have keys for unassigned slot {j}. Taking responsibility for it.");
                AddSlot(Myself, j);
            }
            else
            {
                _env.Log(ClusterLogLevel.Warning, $"I have keys for slot {j}, but the slot is assigned to another node. Setting it to importing state.");
                _importingFrom[j] = _slots[j];
                SlotMapVersion++;
            }
        }
        if (changed) SaveConfig(fsync: true);
    }
}
