namespace Cinnabar.Cluster;

// Voting for replicas' elections (clusterSendFailoverAuthIfNeeded) and the master side of a
// manual failover (MFSTART). The replica side of elections is the failover issue's work; the
// vote counter and manual-failover fields it needs live here already.
public sealed partial class ClusterNode
{
    private const int ManualFailoverTimeoutMs = 5000;
    private const int ManualFailoverPauseMult = 2;

    private long _mfEndMs;
    private Peer? _mfReplica;
    private long _mfMasterOffset = -1;
    public int FailoverAuthCount { get; private set; }
    // Set by the replica election (failover issue); ACKs count only for this epoch or later.
    public ulong FailoverAuthEpoch { get; private set; }

    private void ResetManualFailover()
    {
        if (_mfReplica != null) _env.UnpauseWrites();
        _mfEndMs = 0;
        _mfCanStart = false;
        _mfReplica = null;
        _mfMasterOffset = -1;
    }

    private void NoteMasterPausedOffset(Peer sender, BusMessage hdr)
    {
        if (_mfEndMs != 0 && Myself.IsReplica && Myself.Master == sender &&
            (hdr.MFlags & MessageFlags.Paused) != 0 && _mfMasterOffset == -1)
        {
            _mfMasterOffset = sender.ReplOffset;
            _todo |= Todo.HandleManualFailover;
            _env.Log(ClusterLogLevel.Warning, $"Received replication offset for paused master manual failover: {_mfMasterOffset}");
        }
    }

    private void HandleMfStart(BusLink link, Peer sender, long nowMs)
    {
        ResetManualFailover();
        _mfEndMs = nowMs + ManualFailoverTimeoutMs;
        _mfReplica = sender;
        _env.PauseWrites(nowMs + ManualFailoverTimeoutMs * ManualFailoverPauseMult);
        _env.Log(ClusterLogLevel.Warning, $"Manual failover requested by replica {sender.Name}.");
        SendPing(link, BusMessageType.Ping, nowMs);
    }

    private void ManualFailoverCheckTimeout(long nowMs)
    {
        if (_mfEndMs != 0 && _mfEndMs < nowMs)
        {
            _env.Log(ClusterLogLevel.Warning, "Manual failover timed out.");
            ResetManualFailover();
        }
    }

    private void HandleAuthAck(Peer sender, ulong senderCurrentEpoch)
    {
        if (sender.IsMaster && sender.NumSlots > 0 && senderCurrentEpoch >= FailoverAuthEpoch)
        {
            FailoverAuthCount++;
            _todo |= Todo.HandleFailover;
        }
    }

    private void HandleAuthRequest(Peer node, BusMessage request, long nowMs)
    {
        var master = node.Master;
        bool forceAck = (request.MFlags & MessageFlags.ForceAck) != 0;
        if (Myself.IsReplica || Myself.NumSlots == 0) return;
        if (request.CurrentEpoch < CurrentEpoch)
        {
            _env.Log(ClusterLogLevel.Warning, $"Failover auth denied to {node.Name}: reqEpoch ({request.CurrentEpoch}) < curEpoch({CurrentEpoch})");
            return;
        }
        if (LastVoteEpoch == CurrentEpoch)
        {
            _env.Log(ClusterLogLevel.Warning, $"Failover auth denied to {node.Name}: already voted for epoch {CurrentEpoch}");
            return;
        }
        if (node.IsMaster || master == null || (!master.Failed && !forceAck))
        {
            string why = node.IsMaster ? "it is a master node" : master == null ? "I don't know its master" : "its master is up";
            _env.Log(ClusterLogLevel.Warning, $"Failover auth denied to {node.Name}: {why}");
            return;
        }
        long sinceVote = nowMs - master.VotedTimeMs;
        if (sinceVote < Options.NodeTimeoutMs * 2)
        {
            _env.Log(ClusterLogLevel.Warning,
                $"Failover auth denied to {node.Name}: can't vote about this master before {Options.NodeTimeoutMs * 2 - sinceVote} milliseconds");
            return;
        }
        for (int j = 0; j < SlotCount; j++)
        {
            if (!request.MySlots.Get(j)) continue;
            if (IsSlotUnclaimed(j) || _slots[j]!.ConfigEpoch <= request.ConfigEpoch) continue;
            _env.Log(ClusterLogLevel.Warning,
                $"Failover auth denied to {node.Name}: slot {j} epoch ({_slots[j]!.ConfigEpoch}) > reqEpoch ({request.ConfigEpoch})");
            // Beyond Redis 7.0 (Valkey does the same): tell the replica the newer config. A
            // replica that missed its master's last configEpoch bump before the master died
            // would otherwise ask with the stale epoch forever and never be elected.
            SendUpdate(node.LinkId, _slots[j]!);
            return;
        }
        LastVoteEpoch = CurrentEpoch;
        master.VotedTimeMs = nowMs;
        _todo |= Todo.SaveConfig | Todo.FsyncConfig;
        Send(node.LinkId, BuildHeader(BusMessageType.FailoverAuthAck));
        _env.Log(ClusterLogLevel.Warning, $"Failover auth granted to {node.Name} for epoch {CurrentEpoch}");
    }
}

// The replica side: elections (clusterHandleSlaveFailover) and CLUSTER FAILOVER.
public sealed partial class ClusterNode
{
    private long _failoverAuthTimeMs;
    private bool _failoverAuthSent;
    private int _failoverAuthRank;
    private bool _mfCanStart;
    private string _lastCantFailoverLog = "";
    private long _lastCantFailoverLogMs;

    /// <summary>
    /// clusterGetSlaveRank: siblings (able to fail over, not known to have failed) ahead of us.
    /// A sibling is ahead with a higher offset, or with the same offset and a smaller node ID:
    /// Redis 7.0 gives equal offsets the same rank and relies on its random delay to separate
    /// them; since rank #0 starts at once here, ties must be broken or two replicas with the same
    /// offset start together, split the votes and do so again on every retry.
    /// </summary>
    private int ReplicaRank()
    {
        var master = Myself.Master;
        if (master == null) return 0;
        long myOffset = _env.ReplicationOffset;
        int rank = 0;
        foreach (var r in master.Replicas)
        {
            if (r == Myself || (r.Flags & NodeFlags.NoFailover) != 0 || r.Failed) continue;
            if (r.ReplOffset > myOffset ||
                (r.ReplOffset == myOffset && string.CompareOrdinal(r.Name, Myself.Name) < 0)) rank++;
        }
        return rank;
    }

    /// <summary>
    /// Election start delay. Redis 7.0 waits 500 ms + random(0..499) + rank x 1000 ms. We follow
    /// what Valkey learned: the best-ranked replica starts at once, others wait a fixed part of at
    /// most min(500 ms, node-timeout/30), a random part of the same size, and a rank spacing of
    /// min(1000 ms, node-timeout/15). Voting rules are unchanged, so Redis 7.0 masters still vote.
    /// </summary>
    private long ElectionDelayMs(int rank, bool retry = false)
    {
        long fixedMs = Math.Min(500, Options.NodeTimeoutMs / 30);
        long spacing = Math.Min(1000, Math.Max(50, Options.NodeTimeoutMs / 15));
        // A retry (the last attempt for this failure expired without a majority) always waits a
        // random part: ranks computed from gossiped offsets can still collide, and without it the
        // same replicas would split the vote the same way every time.
        // Ranks above #0 already wait a random part. The jitter stays under the fixed part, so
        // the delay stays within min(500 ms, node-timeout/30) plus rank spacing.
        if (rank == 0) return retry ? _rng.NextInt64(Math.Max(fixedMs, 2)) : 0;
        return fixedMs + (fixedMs > 0 ? _rng.NextInt64(fixedMs) : 0) + rank * spacing;
    }

    private void LogCantFailover(string reason, long nowMs)
    {
        // clusterLogCantFailover: the same reason is logged at most every 10 s.
        if (reason == _lastCantFailoverLog && nowMs - _lastCantFailoverLogMs < 10_000) return;
        _lastCantFailoverLog = reason;
        _lastCantFailoverLogMs = nowMs;
        _env.Log(ClusterLogLevel.Notice, "Currently unable to failover: " + reason);
    }

    private void HandleReplicaFailover(long nowMs)
    {
        long authAge = nowMs - _failoverAuthTimeMs;
        int neededQuorum = Size / 2 + 1;
        bool manual = _mfEndMs != 0 && _mfCanStart;
        long authTimeout = Math.Max(Options.NodeTimeoutMs * 2, 2000);
        long authRetry = authTimeout * 2;
        _todo &= ~Todo.HandleFailover;

        var master = Myself.Master;
        if (Myself.IsMaster || master == null || (!master.Failed && !manual) ||
            (Options.ReplicaNoFailover && !manual) || master.NumSlots == 0)
        {
            _lastCantFailoverLog = "";
            return;
        }

        long dataAge = _env.MasterDataAgeMs;
        if (dataAge > Options.NodeTimeoutMs) dataAge -= Options.NodeTimeoutMs;
        if (Options.ReplicaValidityFactor != 0 && !manual &&
            dataAge > Options.ReplPingReplicaPeriodSeconds * 1000L + Options.NodeTimeoutMs * Options.ReplicaValidityFactor)
        {
            LogCantFailover("Disconnected from master for longer than allowed. Please check the 'cluster-replica-validity-factor' configuration option.", nowMs);
            return;
        }

        if (authAge > authRetry)
        {
            bool retry = _failoverAuthSent;
            FailoverAuthCount = 0;
            _failoverAuthSent = false;
            _failoverAuthRank = ReplicaRank();
            _failoverAuthTimeMs = nowMs + ElectionDelayMs(_failoverAuthRank, retry);
            if (_mfEndMs != 0)
            {
                _failoverAuthTimeMs = nowMs;
                _failoverAuthRank = 0;
                _todo |= Todo.HandleFailover;
            }
            _env.Log(ClusterLogLevel.Warning,
                $"Start of election delayed for {_failoverAuthTimeMs - nowMs} milliseconds (rank #{_failoverAuthRank}, offset {_env.ReplicationOffset}).");
            BroadcastPong(localReplicasOnly: true, nowMs);
            if (_failoverAuthTimeMs > nowMs) return;
            authAge = nowMs - _failoverAuthTimeMs;
        }

        if (!_failoverAuthSent && _mfEndMs == 0)
        {
            int newRank = ReplicaRank();
            if (newRank > _failoverAuthRank)
            {
                long added = ElectionDelayMs(newRank) - ElectionDelayMs(_failoverAuthRank);
                if (added < 0) added = 0;
                _failoverAuthTimeMs += added;
                _failoverAuthRank = newRank;
                _env.Log(ClusterLogLevel.Warning, $"Replica rank updated to #{newRank}, added {added} milliseconds of delay.");
            }
        }

        if (nowMs < _failoverAuthTimeMs)
        {
            LogCantFailover("Waiting the delay before I can start a new failover.", nowMs);
            return;
        }
        if (authAge > authTimeout)
        {
            LogCantFailover("Failover attempt expired.", nowMs);
            return;
        }

        if (!_failoverAuthSent)
        {
            CurrentEpoch++;
            FailoverAuthEpoch = CurrentEpoch;
            // A candidate spends its own vote for this epoch (Redis 7.0 does not): once promoted
            // it must not vote for another candidate of the same epoch, or two replicas could
            // both win epoch N (each with a majority that counts the other winner's vote).
            LastVoteEpoch = CurrentEpoch;
            _env.Log(ClusterLogLevel.Warning, $"Starting a failover election for epoch {CurrentEpoch}.");
            var req = BuildHeader(BusMessageType.FailoverAuthRequest);
            if (_mfEndMs != 0) req.MFlags |= MessageFlags.ForceAck;
            Broadcast(req);
            _failoverAuthSent = true;
            _todo |= Todo.SaveConfig | Todo.UpdateState | Todo.FsyncConfig;
            return;
        }

        if (FailoverAuthCount >= neededQuorum)
        {
            _env.Log(ClusterLogLevel.Warning, "Failover election won: I'm the new master.");
            if (Myself.ConfigEpoch < FailoverAuthEpoch)
            {
                Myself.ConfigEpoch = FailoverAuthEpoch;
                _env.Log(ClusterLogLevel.Warning, $"configEpoch set to {Myself.ConfigEpoch} after successful failover");
            }
            ReplaceMyMaster(nowMs);
        }
        else
        {
            LogCantFailover("Waiting for votes, but majority still not reached.", nowMs);
        }
    }

    /// <summary>clusterFailoverReplaceYourMaster.</summary>
    private void ReplaceMyMaster(long nowMs)
    {
        var oldMaster = Myself.Master;
        if (Myself.IsMaster || oldMaster == null) return;
        // The election is over: should this node be a replica again soon, its next election
        // starts from scratch (Redis 7.0 keeps the count, and a demoted winner whose new master
        // fails within the retry time "wins" again on the old votes, with the old epoch).
        FailoverAuthCount = 0;
        _failoverAuthSent = false;
        _failoverAuthTimeMs = 0;
        SetNodeAsMaster(Myself);
        _env.StopReplicating();
        for (int j = 0; j < SlotCount; j++)
        {
            if (!oldMaster.Slots.Get(j)) continue;
            DelSlot(j);
            AddSlot(Myself, j);
        }
        UpdateState(nowMs);
        SaveConfig(fsync: true);
        BroadcastPong(localReplicasOnly: false, nowMs);
        ResetManualFailover();
    }

    /// <summary>clusterHandleManualFailover: start once we processed the paused master's offset.</summary>
    private void HandleManualFailover()
    {
        if (_mfEndMs == 0 || _mfCanStart || _mfMasterOffset == -1) return;
        if (_mfMasterOffset == _env.ReplicationOffset)
        {
            _mfCanStart = true;
            _env.Log(ClusterLogLevel.Warning, "All master replication stream processed, manual failover can start.");
            _todo |= Todo.HandleFailover;
            return;
        }
        _todo |= Todo.HandleManualFailover;
    }

    /// <summary>CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica.</summary>
    public string? ManualFailover(bool force, bool takeover, long nowMs)
    {
        if (Myself.IsMaster) return "You should send CLUSTER FAILOVER to a replica";
        var master = Myself.Master;
        if (master == null) return "I'm a replica but my master is unknown to me";
        if (!force && (master.Failed || master.LinkId < 0)) return "Master is down or failed, please use CLUSTER FAILOVER FORCE";
        ResetManualFailover();
        _mfEndMs = nowMs + ManualFailoverTimeoutMs;
        if (takeover)
        {
            _env.Log(ClusterLogLevel.Warning, "Taking over the master (user request).");
            BumpEpochWithoutConsensus();
            ReplaceMyMaster(nowMs);
        }
        else if (force)
        {
            _env.Log(ClusterLogLevel.Warning, "Forced failover user request accepted.");
            _mfCanStart = true;
        }
        else
        {
            _env.Log(ClusterLogLevel.Warning, "Manual failover user request accepted.");
            Send(master.LinkId, BuildHeader(BusMessageType.MfStart));
        }
        return null;
    }
}

// Replica migration to orphaned masters (clusterHandleSlaveMigration).
public sealed partial class ClusterNode
{
    private const int ReplicaMigrationDelayMs = 5000;
    private int _orphanedMasters;
    private int _maxReplicas;
    private int _myMasterReplicas;

    /// <summary>The cron's census: orphaned masters, the largest replica count, my master's.</summary>
    private void CountReplicasForMigration(Peer node)
    {
        if (!Myself.IsReplica || !node.IsMaster || node.Failed) return;
        int ok = node.NonFailingReplicas;
        if (ok == 0 && node.NumSlots > 0 && (node.Flags & NodeFlags.MigrateTo) != 0) _orphanedMasters++;
        if (ok > _maxReplicas) _maxReplicas = ok;
        if (Myself.Master == node) _myMasterReplicas = ok;
    }

    private void HandleReplicaMigration(long nowMs)
    {
        if (_orphanedMasters == 0 || _maxReplicas < 2 || _myMasterReplicas != _maxReplicas || !Options.AllowReplicaMigration) return;
        if (!StateOk) return;
        var myMaster = Myself.Master;
        if (myMaster == null) return;
        int okReplicas = 0;
        foreach (var r in myMaster.Replicas) if (!r.Failed && !r.TimedOut) okReplicas++;
        if (okReplicas <= Options.MigrationBarrier) return;

        Peer candidate = Myself;
        Peer? target = null;
        foreach (var node in _nodes.Values)
        {
            int ok = 0;
            bool orphaned = !(node.IsReplica || node.Failed) && (node.Flags & NodeFlags.MigrateTo) != 0;
            if (node.IsMaster) ok = node.NonFailingReplicas;
            if (ok > 0) orphaned = false;
            if (orphaned)
            {
                if (target == null && node.NumSlots > 0) target = node;
                if (node.OrphanedTimeMs == 0) node.OrphanedTimeMs = nowMs;
            }
            else
            {
                node.OrphanedTimeMs = 0;
            }
            if (ok == _maxReplicas)
                foreach (var r in node.Replicas)
                    if (string.CompareOrdinal(r.Name, candidate.Name) < 0) candidate = r;
        }
        if (target != null && candidate == Myself && nowMs - target.OrphanedTimeMs > ReplicaMigrationDelayMs)
        {
            _env.Log(ClusterLogLevel.Warning, $"Migrating to orphaned master {target.Name}");
            SetMyMaster(target);
        }
    }
}
