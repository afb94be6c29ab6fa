using System.Globalization;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

/// <summary>
/// What Redis's fork child tells its parent about a running save (childinfo.c): keys saved so
/// far, keys at the start, and copy-on-write memory. Our save walks snapshots in-process, so the
/// copy-on-write figure is real memory of our own design: the copies the snapshots made of
/// values written before the walk reached them (<see cref="DbSnapshot.PreservedBytes"/>), which
/// is what a fork would have had the kernel copy. Keys and copies are read live (the parent asks
/// the snapshots, no pipe), while the log samples follow rdbSaveDb's cadence: at most once a
/// second, checked every 1024 keys, plus a final sample when the save succeeds.
/// </summary>
public sealed class SaveProgress
{
    private const long SampleIntervalMs = 1000;
    private const int KeysPerSampleCheck = 1024;
    private const int BytesPerMb = 1 << 20;

    private IReadOnlyList<DbSnapshot> _snapshots = [];
    private long _keysProcessed;
    private long _keysAtLastCheck;
    private long _lastSampleMs = long.MinValue;
    private long _peakSampleBytes;
    private long _sumSampleBytes;
    private long _samples;

    /// <param name="processName">"RDB" or "AOF rewrite", as in Redis's "Fork CoW for ..." lines.</param>
    /// <param name="log">Receives a sample's log line and whether it is the final (notice-level) one.</param>
    public SaveProgress(string processName, Action<string, bool>? log = null)
    {
        ProcessName = processName;
        _log = log;
    }

    private readonly Action<string, bool>? _log;

    public string ProcessName { get; }

    /// <summary>Keys in the snapshots when the save began (current_save_keys_total).</summary>
    public long KeysTotal { get; private set; }

    /// <summary>Keys written so far (current_save_keys_processed).</summary>
    public long KeysProcessed => Interlocked.Read(ref _keysProcessed);

    /// <summary>Copy-on-write bytes now held by the snapshots (current_cow_size).</summary>
    public long CowBytes
    {
        get
        {
            long bytes = 0;
            foreach (var s in _snapshots) bytes += s.PreservedBytes;
            return bytes;
        }
    }

    /// <summary>Call when the save's snapshots are begun (lock held), before the save runs.</summary>
    public void Attach(IReadOnlyList<DbSnapshot> snapshots)
    {
        _snapshots = snapshots;
        long total = 0;
        foreach (var s in snapshots) total += s.KeyCount;
        KeysTotal = total;
    }

    /// <summary>Counts saved keys; every 1024 keys, samples copy-on-write if a second has passed.</summary>
    internal void OnKeysSaved(int keys)
    {
        long done = Interlocked.Add(ref _keysProcessed, keys);
        if (done - _keysAtLastCheck < KeysPerSampleCheck) return;
        _keysAtLastCheck = done;
        long nowMs = Environment.TickCount64;
        if (_lastSampleMs != long.MinValue && nowMs - _lastSampleMs < SampleIntervalMs) return;
        _lastSampleMs = nowMs;
        long cow = Sample();
        // sendChildInfoGeneric: a running save logs (verbose) only once something was copied.
        if (cow > 0) _log?.Invoke(CowLine(cow), false);
    }

    /// <summary>The final sample of a save that succeeded; logged at notice level. Returns the peak (rdb_last_cow_size).</summary>
    public long Finish()
    {
        long cow = Sample();
        _log?.Invoke(CowLine(cow), true);
        return PeakCowBytes;
    }

    /// <summary>The largest copy-on-write figure seen so far, live value included (current_cow_peak).</summary>
    public long PeakCowBytes => Math.Max(Interlocked.Read(ref _peakSampleBytes), CowBytes);

    private long Sample()
    {
        long cow = CowBytes;
        if (cow > _peakSampleBytes) Interlocked.Exchange(ref _peakSampleBytes, cow);
        _sumSampleBytes += cow;
        _samples++;
        return cow;
    }

    /// <summary>"Fork CoW for RDB: current 1 MB, peak 1 MB, average 0 MB" (sizes in whole MB, as Redis shifts by 20).</summary>
    private string CowLine(long cow) => string.Create(CultureInfo.InvariantCulture,
        $"Fork CoW for {ProcessName}: current {cow / BytesPerMb} MB, peak {_peakSampleBytes / BytesPerMb} MB, average {_sumSampleBytes / _samples / BytesPerMb} MB");
}
