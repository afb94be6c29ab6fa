namespace Cinnabar.Server;

/// <summary>
/// Runs the server cron every period on a thread of its own, as Redis's serverCron runs from its
/// event loop's timer. A pool timer wakes the runtime's timer thread, which then wakes a pool
/// worker to run the tick: at rest those two wakeups per tick were most of the CPU an idle node
/// used (kernel task switches, perf). This thread sleeps in one wait per tick. Ticks never
/// overlap; a tick that runs long is not followed by a burst of catch-up ticks.
/// </summary>
public sealed class CronThread
{
    private readonly Action _tick;
    private readonly AutoResetEvent _changed = new(false);
    private volatile int _periodMs;

    public CronThread(Action tick, int periodMs)
    {
        _tick = tick;
        _periodMs = Math.Max(1, periodMs);
        new Thread(Run) { IsBackground = true, Name = "cinnabar-cron" }.Start();
    }

    /// <summary>Changes the period (CONFIG SET hz); the next tick comes one new period from now.</summary>
    public void Change(int periodMs)
    {
        _periodMs = Math.Max(1, periodMs);
        _changed.Set();
    }

    private void Run()
    {
        long next = Environment.TickCount64 + _periodMs;
        while (true)
        {
            long wait = next - Environment.TickCount64;
            if (wait > 0 && _changed.WaitOne((int)Math.Min(wait, int.MaxValue)))
            {
                next = Environment.TickCount64 + _periodMs;
                continue;
            }
            _tick();
            long now = Environment.TickCount64;
            next += _periodMs;
            if (next <= now) next = now + _periodMs;
        }
    }
}
