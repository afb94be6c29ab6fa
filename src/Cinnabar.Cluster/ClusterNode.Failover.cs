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
        _mfEndMs = 0;
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
            return;
        }
        LastVoteEpoch = CurrentEpoch;
        master.VotedTimeMs = nowMs;
        _todo |= Todo.SaveConfig | Todo.FsyncConfig;
        Send(node.LinkId, BuildHeader(BusMessageType.FailoverAuthAck));
        _env.Log(ClusterLogLevel.Warning, $"Failover auth granted to {node.Name} for epoch {CurrentEpoch}");
    }
}
