namespace Cinnabar.Server;

/// <summary>
/// SIGTERM/SIGINT as Redis handles them (sigShutdownHandler, serverCron): the signal only asks
/// for a shutdown (shutdown_asap); the cron carries it out under the lock, unless paused (DEBUG
/// PAUSE-CRON). A failed shutdown (the final save failed) leaves the server running, and SHUTDOWN
/// ABORT cancels a pending one (see ShutdownCoordinator, which may also wait for replicas). A second SIGINT while one is pending exits at once ("You
/// insist"), removing the temp RDB file a shutdown save may be writing.
/// </summary>
public sealed class SignalShutdown
{
    private readonly RedisServer _server;
    private int _pending;
    private bool? _save;
    private string _signal = "SIGTERM";

    public SignalShutdown(RedisServer server) => _server = server;

    public bool Pending => Volatile.Read(ref _pending) != 0;

    /// <summary>Called from the signal registration (any thread, no lock).</summary>
    public void OnSignal(string name, bool? save)
    {
        if (name == "SIGINT" && Interlocked.Exchange(ref _pending, 1) != 0)
        {
            _server.Log.Warning("You insist... exiting now.");
            try { File.Delete(Path.Combine(_server.Config.Dir, $"temp-{Environment.ProcessId}.rdb")); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            Environment.Exit(1);
        }
        _save = save;
        _signal = name;
        Volatile.Write(ref _pending, 1);
        _server.Log.Warning(_server.Rdb.Loading
            ? "Received shutdown signal during loading, scheduling shutdown."
            : $"Received {name} scheduling shutdown...");
        _server.LdbInterrupt = true;
        // While loading the cron may not get the lock for long: shut down from the pool as before.
        if (_server.Rdb.Loading)
            ThreadPool.QueueUserWorkItem(_ =>
            {
                lock (_server.ExecLock) _server.Shutdown(_save, now: true, force: true);
            });
    }

    /// <summary>SHUTDOWN ABORT: true when a signalled shutdown was pending (lock held).</summary>
    public bool Abort() => Interlocked.Exchange(ref _pending, 0) != 0;

    /// <summary>Cron part (lock held): carry out a pending signalled shutdown.</summary>
    public void CronCheck()
    {
        if (!Pending || _server.Rdb.Loading || _server.ShutdownCoordinator.Initiated) return;
        string? err = _server.Shutdown(_save);
        // null: exiting; empty: waiting for replicas (the coordinator finishes or cancels it).
        if (string.IsNullOrEmpty(err)) return;
        Volatile.Write(ref _pending, 0);
        _server.Log.Warning($"{_signal} received but errors trying to shut down the server, check the logs for more information");
    }
}
