namespace Cinnabar.Server;

/// <summary>
/// Redis's software watchdog (debug.c, watchdog-period): every cron re-arms a one-shot timer
/// period ms ahead; when the cron does not come back in time (the server is stuck, or in a
/// blocking load, during which Redis's timers do not run) the timer logs
/// "--- WATCHDOG TIMER EXPIRED ---". Period 0 disarms it. Only logs: it never stops anything.
/// </summary>
internal sealed class SoftwareWatchdog(Log log) : IDisposable
{
    private Timer? _timer;

    /// <summary>Arms (or re-arms) the timer; 0 disarms it.</summary>
    public void Schedule(int periodMs)
    {
        if (periodMs <= 0)
        {
            _timer?.Change(Timeout.Infinite, Timeout.Infinite);
            return;
        }
        _timer ??= new Timer(_ => Expired(), null, Timeout.Infinite, Timeout.Infinite);
        _timer.Change(periodMs, Timeout.Infinite);
    }

    private void Expired()
    {
        // A managed thread cannot print another thread's stack, as Redis does from the signal.
        log.Warning("\n--- WATCHDOG TIMER EXPIRED ---");
        log.Warning("Sorry: no support for backtrace().");
        log.Warning("--------\n");
    }

    public void Dispose() => _timer?.Dispose();
}
