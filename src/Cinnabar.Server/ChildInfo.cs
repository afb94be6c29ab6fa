using Cinnabar.Persistence;

namespace Cinnabar.Server;

/// <summary>
/// INFO persistence's view of the running background save, as server.c keeps it in
/// stat_current_* (childinfo.c's updateChildInfo): the save's progress and copy-on-write memory
/// while it runs, reset when it ends (resetChildState), and the peak of a save that succeeded
/// kept as rdb_last_cow_size / aof_last_cow_size. Used under the execution lock.
/// </summary>
public sealed class ChildInfo
{
    private SaveProgress? _current;

    public long RdbLastCowBytes { get; private set; }
    public long AofLastCowBytes { get; private set; }

    public long CowPeakBytes => _current?.PeakCowBytes ?? 0;
    public long CowBytes => _current?.CowBytes ?? 0;
    public long KeysProcessed => _current?.KeysProcessed ?? 0;
    public long KeysTotal => _current?.KeysTotal ?? 0;

    /// <summary>current_fork_perc: keys saved over keys at the start, in percent.</summary>
    public double ForkPercent => KeysTotal == 0 ? 0 : (double)KeysProcessed / KeysTotal * 100;

    /// <summary>A background save began (Redis forks and zeroes stat_current_*).</summary>
    public void Begin(SaveProgress progress) => _current = progress;

    /// <summary>
    /// The save ended; <paramref name="finalCowBytes"/> is its final peak when it succeeded
    /// (the child's last report), null when it failed or was stopped (no report, figures kept).
    /// </summary>
    public void End(SaveProgress progress, bool aof, long? finalCowBytes)
    {
        if (finalCowBytes is long cow)
        {
            if (aof) AofLastCowBytes = cow;
            else RdbLastCowBytes = cow;
        }
        if (_current == progress) _current = null;
    }
}
