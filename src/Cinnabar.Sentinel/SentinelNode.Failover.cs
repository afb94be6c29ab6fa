using System.Globalization;

namespace Cinnabar.Sentinel;

/// <summary>Leader election and the failover state machine (sentinel.c, "FAILOVER").</summary>
public sealed partial class SentinelNode
{
    /// <summary>sentinelVoteLeader: vote for req_runid in req_epoch unless we already voted in it or later.
    /// Returns our vote (possibly an older one) and its epoch.</summary>
    internal string? VoteLeader(SentinelInstance master, long reqEpoch, string reqRunId, long now, out long leaderEpoch)
    {
        if (reqEpoch > CurrentEpoch)
        {
            CurrentEpoch = reqEpoch;
            Flush();
            Event(SentinelLogLevel.Warning, "+new-epoch", master, CurrentEpoch.ToString(CultureInfo.InvariantCulture));
        }
        if (master.LeaderEpoch < reqEpoch && CurrentEpoch <= reqEpoch)
        {
            master.Leader = reqRunId;
            master.LeaderEpoch = CurrentEpoch;
            Flush();
            Event(SentinelLogLevel.Warning, "+vote-for-leader", master, $"{master.Leader} {master.LeaderEpoch}");
            // Voting for someone else holds our own failover attempt back.
            if (!string.Equals(master.Leader, MyId, StringComparison.OrdinalIgnoreCase))
                master.FailoverStartTime = now + _env.Random(MaxDesyncMs);
        }
        leaderEpoch = master.LeaderEpoch;
        return master.Leader;
    }

    /// <summary>sentinelGetLeader: the runid with an absolute majority of the known voters and at
    /// least quorum votes in this epoch, counting our own vote (cast now if not yet).</summary>
    internal string? GetLeader(SentinelInstance master, long epoch, long now)
    {
        var counters = new Dictionary<string, int>(StringComparer.Ordinal);
        int voters = master.Sentinels.Count + 1;
        // Redis 7.0 counts the peers' votes of the current epoch but our own of the failover epoch;
        // after a restart with a stale epoch the two differ and votes of two epochs could elect us
        // in an epoch someone else already won (redis#11571). Only votes of this epoch count.
        foreach (var ri in master.Sentinels.Values)
            if (ri.Leader != null && ri.LeaderEpoch == epoch)
                counters[ri.Leader] = counters.GetValueOrDefault(ri.Leader) + 1;
        string? winner = null;
        int maxVotes = 0;
        foreach (var (runId, votes) in counters)
        {
            if (votes > maxVotes)
            {
                maxVotes = votes;
                winner = runId;
            }
        }
        string? myVote = VoteLeader(master, epoch, winner ?? MyId, now, out long leaderEpoch);
        if (myVote != null && leaderEpoch == epoch)
        {
            int votes = counters.GetValueOrDefault(myVote) + 1;
            counters[myVote] = votes;
            if (votes > maxVotes)
            {
                maxVotes = votes;
                winner = myVote;
            }
        }
        int votersQuorum = voters / 2 + 1;
        if (winner != null && (maxVotes < votersQuorum || maxVotes < master.Quorum)) winner = null;
        return winner;
    }

    internal void StartFailover(SentinelInstance master, long now)
    {
        master.FailoverState = FailoverState.WaitStart;
        master.Flags |= InstanceFlags.FailoverInProgress;
        master.FailoverEpoch = ++CurrentEpoch;
        Event(SentinelLogLevel.Warning, "+new-epoch", master, CurrentEpoch.ToString(CultureInfo.InvariantCulture));
        Event(SentinelLogLevel.Warning, "+try-failover", master, "%@");
        master.FailoverStartTime = now + _env.Random(MaxDesyncMs);
        master.FailoverStateChangeTime = now;
    }

    private bool StartFailoverIfNeeded(SentinelInstance master, long now)
    {
        if (!master.Has(InstanceFlags.ODown)) return false;
        if (master.Has(InstanceFlags.FailoverInProgress)) return false;
        if (now - master.FailoverStartTime < master.FailoverTimeoutMs * 2)
        {
            if (master.FailoverDelayLogged != master.FailoverStartTime)
            {
                var at = DateTimeOffset.FromUnixTimeMilliseconds(master.FailoverStartTime + master.FailoverTimeoutMs * 2).ToLocalTime();
                master.FailoverDelayLogged = master.FailoverStartTime;
                // ctime(): "Thu Dec  3 02:29:19 2026", the day padded to two characters.
                string when = string.Create(CultureInfo.InvariantCulture, $"{at:ddd MMM} {at.Day,2} {at:HH:mm:ss yyyy}");
                _env.Log(SentinelLogLevel.Warning, "Next failover delay: I will not start a failover before " + when);
            }
            return false;
        }
        StartFailover(master, now);
        return true;
    }

    /// <summary>sentinelSelectSlave: the best promotable replica, or null.</summary>
    internal SentinelInstance? SelectReplica(SentinelInstance master, long now)
    {
        long maxMasterDownTime = master.Has(InstanceFlags.SDown) ? now - master.SDownSinceTime : 0;
        maxMasterDownTime += master.DownAfterMs * 10;
        var candidates = new List<SentinelInstance>();
        foreach (var r in master.Replicas.Values)
        {
            if (r.Has(InstanceFlags.SDown | InstanceFlags.ODown)) continue;
            if (r.Link.Disconnected) continue;
            if (now - r.Link.LastAvailTime > PingPeriodMs * 5) continue;
            if (r.SlavePriority == 0) continue;
            long infoValidity = master.Has(InstanceFlags.SDown) ? PingPeriodMs * 5 : InfoPeriodMs * 3;
            if (now - r.InfoRefresh > infoValidity) continue;
            if (r.MasterLinkDownTime > maxMasterDownTime) continue;
            candidates.Add(r);
        }
        if (candidates.Count == 0) return null;
        candidates.Sort(CompareForPromotion);
        return candidates[0];
    }

    private static int CompareForPromotion(SentinelInstance a, SentinelInstance b)
    {
        if (a.SlavePriority != b.SlavePriority) return a.SlavePriority - b.SlavePriority;
        if (a.SlaveReplOffset != b.SlaveReplOffset) return a.SlaveReplOffset > b.SlaveReplOffset ? -1 : 1;
        if (a.RunId == null && b.RunId == null) return 0;
        if (a.RunId == null) return 1;
        if (b.RunId == null) return -1;
        return string.Compare(a.RunId, b.RunId, StringComparison.OrdinalIgnoreCase);
    }

    private void FailoverStateMachine(SentinelInstance ri, long now)
    {
        if (!ri.Has(InstanceFlags.FailoverInProgress)) return;
        switch (ri.FailoverState)
        {
            case FailoverState.WaitStart: FailoverWaitStart(ri, now); break;
            case FailoverState.SelectSlave: FailoverSelectReplica(ri, now); break;
            case FailoverState.SendSlaveofNoOne: FailoverSendSlaveOfNoOne(ri, now); break;
            case FailoverState.WaitPromotion: FailoverWaitPromotion(ri, now); break;
            case FailoverState.ReconfSlaves: FailoverReconfNextReplica(ri, now); break;
        }
    }

    private void FailoverWaitStart(SentinelInstance ri, long now)
    {
        string? leader = GetLeader(ri, ri.FailoverEpoch, now);
        bool isLeader = leader != null && string.Equals(leader, MyId, StringComparison.OrdinalIgnoreCase);
        if (!isLeader && !ri.Has(InstanceFlags.ForceFailover))
        {
            long electionTimeout = Math.Min(ElectionTimeoutMs, ri.FailoverTimeoutMs);
            if (now - ri.FailoverStartTime > electionTimeout)
            {
                Event(SentinelLogLevel.Warning, "-failover-abort-not-elected", ri, "%@");
                AbortFailover(ri, now);
            }
            return;
        }
        Event(SentinelLogLevel.Warning, "+elected-leader", ri, "%@");
        if ((SimFailureFlags & SimCrashAfterElection) != 0) SimCrash();
        ri.FailoverState = FailoverState.SelectSlave;
        ri.FailoverStateChangeTime = now;
        Event(SentinelLogLevel.Warning, "+failover-state-select-slave", ri, "%@");
    }

    private void FailoverSelectReplica(SentinelInstance ri, long now)
    {
        var replica = SelectReplica(ri, now);
        if (replica == null)
        {
            Event(SentinelLogLevel.Warning, "-failover-abort-no-good-slave", ri, "%@");
            AbortFailover(ri, now);
            return;
        }
        Event(SentinelLogLevel.Warning, "+selected-slave", replica, "%@");
        replica.Flags |= InstanceFlags.Promoted;
        ri.PromotedReplica = replica;
        ri.FailoverState = FailoverState.SendSlaveofNoOne;
        ri.FailoverStateChangeTime = now;
        Event(SentinelLogLevel.Notice, "+failover-state-send-slaveof-noone", replica, "%@");
    }

    private void FailoverSendSlaveOfNoOne(SentinelInstance ri, long now)
    {
        var promoted = ri.PromotedReplica!;
        if (promoted.Link.Disconnected)
        {
            if (now - ri.FailoverStateChangeTime > ri.FailoverTimeoutMs)
            {
                Event(SentinelLogLevel.Warning, "-failover-abort-slave-timeout", ri, "%@");
                AbortFailover(ri, now);
            }
            return;
        }
        if (!SendSlaveOf(promoted, null)) return;
        Event(SentinelLogLevel.Notice, "+failover-state-wait-promotion", promoted, "%@");
        ri.FailoverState = FailoverState.WaitPromotion;
        ri.FailoverStateChangeTime = now;
    }

    private void FailoverWaitPromotion(SentinelInstance ri, long now)
    {
        if (now - ri.FailoverStateChangeTime > ri.FailoverTimeoutMs)
        {
            Event(SentinelLogLevel.Warning, "-failover-abort-slave-timeout", ri, "%@");
            AbortFailover(ri, now);
        }
    }

    private void FailoverDetectEnd(SentinelInstance master, long now)
    {
        long elapsed = now - master.FailoverStateChangeTime;
        if (master.PromotedReplica == null || master.PromotedReplica.Has(InstanceFlags.SDown)) return;
        int notReconfigured = 0;
        foreach (var r in master.Replicas.Values)
        {
            if (r.Has(InstanceFlags.Promoted | InstanceFlags.ReconfDone)) continue;
            if (r.Has(InstanceFlags.SDown)) continue;
            notReconfigured++;
        }
        bool timeout = false;
        if (elapsed > master.FailoverTimeoutMs)
        {
            notReconfigured = 0;
            timeout = true;
            Event(SentinelLogLevel.Warning, "+failover-end-for-timeout", master, "%@");
        }
        if (notReconfigured == 0)
        {
            Event(SentinelLogLevel.Warning, "+failover-end", master, "%@");
            master.FailoverState = FailoverState.UpdateConfig;
            master.FailoverStateChangeTime = now;
        }
        if (!timeout) return;
        foreach (var r in master.Replicas.Values)
        {
            if (r.Has(InstanceFlags.Promoted | InstanceFlags.ReconfDone | InstanceFlags.ReconfSent)) continue;
            if (r.Link.Disconnected) continue;
            if (SendSlaveOf(r, master.PromotedReplica.Addr))
            {
                Event(SentinelLogLevel.Notice, "+slave-reconf-sent-be", r, "%@");
                r.Flags |= InstanceFlags.ReconfSent;
            }
        }
    }

    private void FailoverReconfNextReplica(SentinelInstance master, long now)
    {
        int inProgress = 0;
        foreach (var r in master.Replicas.Values)
            if (r.Has(InstanceFlags.ReconfSent | InstanceFlags.ReconfInProgress)) inProgress++;
        foreach (var r in master.Replicas.Values)
        {
            if (inProgress >= master.ParallelSyncs) break;
            if (r.Has(InstanceFlags.Promoted | InstanceFlags.ReconfDone)) continue;
            if (r.Has(InstanceFlags.ReconfSent) && now - r.SlaveReconfSentTime > SlaveReconfTimeoutMs)
            {
                Event(SentinelLogLevel.Notice, "-slave-reconf-sent-timeout", r, "%@");
                r.Flags = (r.Flags & ~InstanceFlags.ReconfSent) | InstanceFlags.ReconfDone;
            }
            if (r.Has(InstanceFlags.ReconfSent | InstanceFlags.ReconfInProgress)) continue;
            if (r.Link.Disconnected) continue;
            if (SendSlaveOf(r, master.PromotedReplica!.Addr))
            {
                r.Flags |= InstanceFlags.ReconfSent;
                r.SlaveReconfSentTime = now;
                Event(SentinelLogLevel.Notice, "+slave-reconf-sent", r, "%@");
                inProgress++;
            }
        }
        FailoverDetectEnd(master, now);
    }

    private void SwitchToPromotedReplica(SentinelInstance master, long now)
    {
        var target = master.PromotedReplica?.Addr ?? master.Addr;
        Event(SentinelLogLevel.Warning, "+switch-master", master,
            $"{master.Name} {Announce(master.Addr)} {master.Addr.Port} {Announce(target)} {target.Port}");
        ResetMasterAndChangeAddress(master, target.Hostname, target.Port, now);
    }

    internal static void AbortFailover(SentinelInstance ri, long now)
    {
        ri.Flags &= ~(InstanceFlags.FailoverInProgress | InstanceFlags.ForceFailover);
        ri.FailoverState = FailoverState.None;
        ri.FailoverStateChangeTime = now;
        if (ri.PromotedReplica != null)
        {
            ri.PromotedReplica.Flags &= ~InstanceFlags.Promoted;
            ri.PromotedReplica = null;
        }
    }
}
