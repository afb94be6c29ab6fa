namespace Cinnabar.Server;

public enum FailoverState { None, WaitForSync, InProgress }

// Coordinated failover (FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT ms]), Redis 7.0's
// replication.c state machine:
//   no-failover --FAILOVER--> waiting-for-sync: writes are paused (like CLIENT PAUSE WRITE, no
//     deadline) so master_repl_offset stops moving; checked after every batch and on cron.
//   waiting-for-sync --target (or any replica) acked master_repl_offset--> failover-in-progress:
//     we become a replica of the target and our master link sends PSYNC <our replid> <offset+1>
//     FAILOVER; the target, whose replid is ours, promotes itself and answers +CONTINUE.
//   waiting-for-sync --TIMEOUT--> abort, or with FORCE failover-in-progress anyway.
//   failover-in-progress --+CONTINUE/+FULLRESYNC--> no-failover (we stay a replica; paused
//     writers resume and get -READONLY); any other PSYNC reply --> abort: master again.
// FAILOVER ABORT aborts from either state. REPLICAOF is refused while a failover runs.
public sealed partial class RedisServer
{
    public FailoverState Failover { get; private set; }
    private string? _failoverHost;
    private int _failoverPort;
    private long _failoverEndMs;       // Environment.TickCount64 deadline, 0 = no TIMEOUT
    private bool _failoverForce;

    public string FailoverStateName => Failover switch
    {
        FailoverState.WaitForSync => "waiting-for-sync",
        FailoverState.InProgress => "failover-in-progress",
        _ => "no-failover",
    };

    public void FailoverCommand(CommandContext ctx)
    {
        if (Config.ClusterEnabled)
        {
            ctx.Error(Errors.FailoverClusterMode);
            return;
        }
        if (ctx.ArgCount == 2 && ctx.ArgIs(1, "ABORT"))
        {
            if (Failover == FailoverState.None)
            {
                ctx.Error(Errors.NoFailoverInProgress);
                return;
            }
            AbortFailover("Failover manually aborted");
            ctx.Reply.WriteOk();
            return;
        }
        if (!ParseFailoverArgs(ctx, out string? host, out long port, out long timeoutMs, out bool force)) return;
        string? refusal = Failover != FailoverState.None ? Errors.FailoverInProgress
            : IsReplica ? Errors.FailoverOnReplica
            : Repl.Replicas.Count == 0 ? Errors.FailoverNoReplicas
            : force && (timeoutMs == 0 || host == null) ? Errors.FailoverForceNeedsTarget
            : null;
        if (refusal == null && host != null)
        {
            var target = FindReplica(host, port);
            refusal = target == null ? Errors.FailoverTargetNotReplica
                : target.State != ReplicaState.Online ? Errors.FailoverTargetNotOnline
                : null;
        }
        if (refusal != null)
        {
            ctx.Error(refusal);
            return;
        }
        if (host != null)
        {
            _failoverHost = host;
            _failoverPort = (int)port;
            Log.Notice($"FAILOVER requested to {host}:{port}.");
        }
        else Log.Notice("FAILOVER requested to any replica.");
        _failoverEndMs = timeoutMs > 0 ? Environment.TickCount64 + timeoutMs : 0;
        _failoverForce = force;
        Failover = FailoverState.WaitForSync;
        SetFailoverPause(true);
        ctx.Reply.WriteOk();
    }

    /// <summary>Redis's argument loop: each option at most once, anything else is a syntax error.</summary>
    private static bool ParseFailoverArgs(CommandContext ctx, out string? host, out long port, out long timeoutMs, out bool force)
    {
        host = null;
        port = 0;
        timeoutMs = 0;
        force = false;
        for (int j = 1; j < ctx.ArgCount; j++)
        {
            if (ctx.ArgIs(j, "TIMEOUT") && j + 1 < ctx.ArgCount && timeoutMs == 0)
            {
                if (!ctx.TryGetLong(j + 1, out timeoutMs)) return false;
                if (timeoutMs <= 0)
                {
                    ctx.Error(Errors.FailoverTimeoutNotPositive);
                    return false;
                }
                j++;
            }
            else if (ctx.ArgIs(j, "TO") && j + 2 < ctx.ArgCount && host == null)
            {
                if (!ctx.TryGetLong(j + 2, out port)) return false;
                host = ctx.ArgString(j + 1);
                j += 2;
            }
            else if (ctx.ArgIs(j, "FORCE") && !force) force = true;
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>Redis's findReplica: announced (or peer) address compared without case, and the listening port.</summary>
    private ReplicaInfo? FindReplica(string host, long port)
    {
        foreach (var r in Repl.Replicas)
            if (string.Equals(r.Ip, host, StringComparison.OrdinalIgnoreCase) && r.ListeningPort == port) return r;
        return null;
    }

    /// <summary>Redis's updateFailoverStatus (beforeSleep and cron): timeout, or a replica caught up.</summary>
    private void UpdateFailoverStatus()
    {
        if (Failover != FailoverState.WaitForSync) return;
        if (_failoverEndMs != 0 && _failoverEndMs <= Environment.TickCount64)
        {
            if (_failoverForce)
            {
                Log.Notice($"FAILOVER to {_failoverHost}:{_failoverPort} time out exceeded, failing over.");
                StartFailoverHandshake();
            }
            else AbortFailover("Replica never caught up before timeout");
            return;
        }
        long offset = Repl.MasterReplOffset;
        ReplicaInfo? synced = null;
        if (_failoverHost != null)
        {
            var target = FindReplica(_failoverHost, _failoverPort);
            if (target != null && target.AckOffset == offset) synced = target;
        }
        else
        {
            synced = Repl.Replicas.Find(r => r.AckOffset == offset);
            if (synced != null)
            {
                _failoverHost = synced.Ip;
                _failoverPort = synced.ListeningPort;
            }
        }
        if (synced == null) return;
        Log.Notice($"Failover target {_failoverHost}:{_failoverPort} is synced, failing over.");
        StartFailoverHandshake();
    }

    /// <summary>failover-in-progress: replicate from the target; the master link adds FAILOVER to its PSYNC.</summary>
    private void StartFailoverHandshake()
    {
        Failover = FailoverState.InProgress;
        ReplicaOf(_failoverHost!, _failoverPort);
    }

    /// <summary>The PSYNC FAILOVER answer from the target (master link, lock held).</summary>
    internal void OnFailoverPsyncReply(bool accepted)
    {
        if (Failover != FailoverState.InProgress) return;
        if (accepted) ClearFailoverState();
        else AbortFailover("Failover target rejected psync request");
    }

    /// <summary>Redis's abortFailover: logs, turns back into a master when the handshake had started, unpauses.</summary>
    internal void AbortFailover(string reason)
    {
        if (Failover == FailoverState.None) return;
        if (_failoverHost != null) Log.Notice($"FAILOVER to {_failoverHost}:{_failoverPort} aborted: {reason}");
        else Log.Notice($"FAILOVER to any replica aborted: {reason}");
        if (Failover == FailoverState.InProgress) ReplicaOfNoOne();
        ClearFailoverState();
    }

    private void ClearFailoverState()
    {
        _failoverEndMs = 0;
        _failoverForce = false;
        _failoverHost = null;
        _failoverPort = 0;
        Failover = FailoverState.None;
        SetFailoverPause(false);
    }

    /// <summary>
    /// Redis's replicationCron skips its PING to replicas during a manual failover with a
    /// deadline while clients are paused: the PING would move the offset the replica must reach.
    /// </summary>
    private bool FailoverHoldsPings => _failoverEndMs != 0 && IsPaused;
}
