using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// Redis 7.0's shutdown sequence (prepareForShutdown, isReadyToShutdown, finishShutdown,
/// abortShutdown): a master with replicas and shutdown-timeout &gt; 0 first pauses writes, asks
/// its replicas for an ACK and waits (the SHUTDOWN callers blocked) until every replica has
/// acknowledged the current offset or the timeout passes; the cron then finishes. A failed
/// finish or SHUTDOWN ABORT answers the waiting callers with an error and resumes writes.
/// All members run under the server's execution lock.
/// </summary>
public sealed class ShutdownCoordinator
{
    public const string ErrorReply = "ERR Errors trying to SHUTDOWN. Check logs.";

    private readonly RedisServer _server;
    private readonly List<(Client Client, BlockedState State)> _waiting = new();
    private long _deadlineMs;           // Environment.TickCount64; 0 = no shutdown initiated
    private bool? _save;
    private bool _force;

    public ShutdownCoordinator(RedisServer server) => _server = server;

    /// <summary>isShutdownInitiated: waiting for replicas.</summary>
    public bool Initiated => _deadlineMs != 0;

    /// <summary>INFO server's shutdown_in_milliseconds (only shown while <see cref="Initiated"/>).</summary>
    public long MillisecondsLeft => Initiated ? Math.Max(0, _deadlineMs - Environment.TickCount64) : 0;

    /// <summary>
    /// prepareForShutdown. Returns null when the server is exiting, <see cref="Waiting"/> when the
    /// shutdown waits for replicas (the caller, if any, is then blocked), else the error text.
    /// </summary>
    public string? Prepare(bool? save, bool now, bool force, CommandContext? caller)
    {
        if (Initiated)
        {
            // A further SHUTDOWN joins the pending one.
            if (caller != null) BlockCaller(caller);
            return Waiting;
        }
        if (_server.Rdb.Loading) save = false;
        _save = save;
        _force = force;
        _server.Log.Warning("User requested shutdown...");
        if (!now && _server.Config.ShutdownTimeoutSeconds != 0 && !ReadyToShutdown())
        {
            _deadlineMs = Environment.TickCount64 + _server.Config.ShutdownTimeoutSeconds * 1000L;
            if (!_server.IsPaused) _server.RequestAcks();
            _server.SetShutdownPause(true);
            _server.Log.Notice("Waiting for replicas before shutting down.");
            if (caller != null) BlockCaller(caller);
            return Waiting;
        }
        return Finish();
    }

    /// <summary>Marker result of <see cref="Prepare"/>: the shutdown is waiting for replicas.</summary>
    public const string Waiting = "";

    /// <summary>serverCron: finish once every replica caught up or the timeout passed.</summary>
    public void CronCheck()
    {
        if (!Initiated) return;
        if (Environment.TickCount64 >= _deadlineMs || ReadyToShutdown()) Finish();
    }

    /// <summary>abortShutdown: true when a shutdown was waiting or a signalled one was pending.</summary>
    public bool Abort()
    {
        if (Initiated) Cancel();
        else if (!_server.SignalShutdown.Abort()) return false;
        _server.Log.Notice("Shutdown manually aborted.");
        return true;
    }

    private bool ReadyToShutdown()
    {
        long offset = _server.Repl.MasterReplOffset;
        foreach (var r in _server.Repl.Replicas)
            if (r.AckOffset != offset) return false;
        return true;
    }

    private void BlockCaller(CommandContext ctx)
    {
        _server.Block(ctx, [], 0, static _ => { });
        if (ctx.Client.BlockState is { } state) _waiting.Add((ctx.Client, state));
    }

    /// <summary>finishShutdown: report the replicas' sync, then the persistence and exit steps.</summary>
    private string? Finish()
    {
        long offset = _server.Repl.MasterReplOffset;
        int total = 0, lagging = 0;
        foreach (var r in _server.Repl.Replicas)
        {
            total++;
            if (r.AckOffset == offset) continue;
            lagging++;
            long lag = r.State == ReplicaState.Online ? (Environment.TickCount64 - r.AckTimeMs) / 1000 : 0;
            string state = r.State switch { ReplicaState.Online => "online", ReplicaState.WaitBgsave => "wait_bgsave", _ => "send_bulk" };
            string name = r.ListeningPort != 0 ? $"{r.Ip}:{r.ListeningPort}" : r.Client.Address;
            _server.Log.Warning($"Lagging replica {name} reported offset {offset - r.AckOffset} behind master, lag={lag}, state={state}.");
        }
        if (total > 0) _server.Log.Notice($"{total - lagging} of {total} replicas are in sync when shutting down.");
        var err = _server.FinishShutdown(_save, _force);
        if (err == null) return null;
        _server.Log.Warning("Errors trying to shut down the server. Check the logs for more information.");
        Cancel();
        return err.Length == 0 ? ErrorReply : err;
    }

    /// <summary>cancelShutdown: forget the request, answer the waiting callers, resume writes.</summary>
    private void Cancel()
    {
        _deadlineMs = 0;
        _save = null;
        _force = false;
        _server.SignalShutdown.Abort();
        var waiting = _waiting.ToArray();
        _waiting.Clear();
        foreach (var (c, state) in waiting)
            if (c.BlockState == state) _server.Unblock(c, timedOut: false, write: true, error: ErrorReply);
        _server.SetShutdownPause(false);
    }
}
