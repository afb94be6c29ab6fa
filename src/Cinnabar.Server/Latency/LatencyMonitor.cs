using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// The latency monitor (Redis latency.c): per event ("command", "fast-command", "expire-cycle",
/// "aof-fsync-always" ...) a ring of the last 160 samples, one per second at most (a second
/// sample in the same second keeps the higher latency), plus the all-time maximum. Events are
/// recorded only when they reach latency-monitor-threshold (callers check). LATENCY LATEST,
/// HISTORY, RESET, GRAPH and DOCTOR read it; their texts follow Redis's word for word.
/// </summary>
public sealed class LatencyMonitor
{
    public const int SeriesLength = 160;
    private const int GraphColumns = 80;

    private sealed class Series
    {
        public readonly long[] Times = new long[SeriesLength];
        public readonly long[] Latencies = new long[SeriesLength];
        public int Next;
        public long Max;
    }

    private readonly Dictionary<string, Series> _events = new(StringComparer.Ordinal);

    public int EventCount => _events.Count;

    /// <summary>latencyAddSample: <paramref name="nowSeconds"/> is the unix time of the sample.</summary>
    public void Add(string ev, long latencyMs, long nowSeconds)
    {
        if (!_events.TryGetValue(ev, out var s)) _events[ev] = s = new Series();
        if (latencyMs > s.Max) s.Max = latencyMs;
        int prev = (s.Next + SeriesLength - 1) % SeriesLength;
        if (s.Times[prev] == nowSeconds)
        {
            if (latencyMs > s.Latencies[prev]) s.Latencies[prev] = latencyMs;
            return;
        }
        s.Times[s.Next] = nowSeconds;
        s.Latencies[s.Next] = latencyMs;
        s.Next = (s.Next + 1) % SeriesLength;
    }

    /// <summary>latencyResetEvent: every event, or those named (compared without case); returns how many.</summary>
    public int Reset(string? ev)
    {
        if (ev == null)
        {
            int n = _events.Count;
            _events.Clear();
            return n;
        }
        int resets = 0;
        foreach (var name in _events.Keys.ToArray())
        {
            if (!string.Equals(name, ev, StringComparison.OrdinalIgnoreCase)) continue;
            _events.Remove(name);
            resets++;
        }
        return resets;
    }

    /// <summary>LATENCY LATEST: [event, time of latest sample, its latency, all-time max] per event.</summary>
    public void WriteLatest(RespWriter w)
    {
        w.WriteArrayHeader(_events.Count);
        foreach (var (name, s) in _events)
        {
            int last = (s.Next + SeriesLength - 1) % SeriesLength;
            w.WriteArrayHeader(4);
            w.WriteBulk(name);
            w.WriteInteger(s.Times[last]);
            w.WriteInteger(s.Latencies[last]);
            w.WriteInteger(s.Max);
        }
    }

    /// <summary>LATENCY HISTORY event: [time, latency] oldest first (empty for an unknown event).</summary>
    public void WriteHistory(RespWriter w, string ev)
    {
        if (!_events.TryGetValue(ev, out var s))
        {
            w.WriteArrayHeader(0);
            return;
        }
        var samples = Samples(s);
        w.WriteArrayHeader(samples.Count);
        foreach (var (time, latency) in samples)
        {
            w.WriteArrayHeader(2);
            w.WriteInteger(time);
            w.WriteInteger(latency);
        }
    }

    private static List<(long Time, long Latency)> Samples(Series s)
    {
        var list = new List<(long, long)>();
        for (int j = 0; j < SeriesLength; j++)
        {
            int i = (s.Next + j) % SeriesLength;
            if (s.Times[i] == 0) continue;
            list.Add((s.Times[i], s.Latencies[i]));
        }
        return list;
    }

    // ------------------------------------------------------------------ GRAPH

    /// <summary>LATENCY GRAPH: the event's samples as a 4-row sparkline labelled with their age; null if unknown.</summary>
    public string? Graph(string ev, long nowSeconds)
    {
        if (!_events.TryGetValue(ev, out var s)) return null;
        var samples = Samples(s);
        var values = new List<double>(samples.Count);
        var labels = new List<string>(samples.Count);
        long min = 0, max = 0;
        foreach (var (time, latency) in samples)
        {
            if (values.Count == 0) min = max = latency;
            else
            {
                if (latency > max) max = latency;
                if (latency < min) min = latency;
            }
            long elapsed = nowSeconds - time;
            labels.Add(elapsed < 60 ? $"{elapsed}s"
                : elapsed < 3600 ? $"{elapsed / 60}m"
                : elapsed < 3600 * 24 ? $"{elapsed / 3600}h"
                : $"{elapsed / (3600 * 24)}d");
            values.Add(latency);
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"{ev} - high {max} ms, low {min} ms (all time high {s.Max} ms)\n");
        sb.Append('-', GraphColumns).Append('\n');
        Sparkline.Render(sb, values, labels, GraphColumns, rows: 4);
        return sb.ToString();
    }

    // ------------------------------------------------------------------ DOCTOR

    private readonly record struct Stats(int Samples, long Avg, long Mad, long Period);

    /// <summary>analyzeLatencyForEvent: average, mean absolute deviation and seconds since the oldest sample.</summary>
    private static Stats Analyze(Series s, long nowSeconds)
    {
        int n = 0;
        long sum = 0, oldest = 0;
        for (int j = 0; j < SeriesLength; j++)
        {
            if (s.Times[j] == 0) continue;
            n++;
            sum += s.Latencies[j];
            if (oldest == 0 || s.Times[j] < oldest) oldest = s.Times[j];
        }
        if (n == 0) return default;
        long avg = sum / n;
        long period = nowSeconds - oldest;
        if (period == 0) period = 1;
        long deviations = 0;
        for (int j = 0; j < SeriesLength; j++)
        {
            if (s.Times[j] == 0) continue;
            deviations += Math.Abs(avg - s.Latencies[j]);
        }
        return new Stats(n, avg, deviations / n, period);
    }

    /// <summary>What the report's advice depends on besides the events themselves.</summary>
    public readonly record struct DoctorContext(long ThresholdMs, long SlowlogSlowerThanUs, int Hz, bool AppendFsyncAlways, bool TransparentHugePages);

    /// <summary>createLatencyReport: LATENCY DOCTOR's text.</summary>
    public string Doctor(DoctorContext cfg, long nowSeconds)
    {
        if (_events.Count == 0 && cfg.ThresholdMs == 0)
            return "I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" in order to enable it. If we weren't in a deep space mission I'd suggest to take a look at https://redis.io/topics/latency-monitor.\n";
        var a = new Advice();
        var sb = new StringBuilder();
        int eventNum = 0;
        foreach (var (name, s) in _events)
        {
            eventNum++;
            if (eventNum == 1) sb.Append("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n");
            var st = Analyze(s, nowSeconds);
            double period = st.Samples == 0 ? double.NaN : (double)st.Period / st.Samples;
            sb.Append(CultureInfo.InvariantCulture,
                $"{eventNum}. {name}: {st.Samples} latency spikes (average {st.Avg}ms, mean deviation {st.Mad}ms, period {period:F2} sec). Worst all time event {s.Max}ms.");
            a.Consider(name, cfg);
            sb.Append('\n');
        }
        if (cfg.TransparentHugePages)
        {
            a.DisableThp = true;
            a.Count++;
        }
        if (eventNum == 0 && a.Count == 0)
            sb.Append("Dave, no latency spike was observed during the lifetime of this Redis instance, not in the slightest bit. I honestly think you ought to sit down calmly, take a stress pill, and think things over.\n");
        else if (eventNum > 0 && a.Count == 0)
            sb.Append("\nWhile there are latency events logged, I'm not able to suggest any easy fix. Please use the Redis community to get some help, providing this report in your help request.\n");
        else a.Write(sb, cfg);
        return sb.ToString();
    }

    /// <summary>The advice flags createLatencyReport collects while it walks the events.</summary>
    private sealed class Advice
    {
        public int Count;
        public bool SlowlogEnabled, SlowlogTuning, SlowlogInspect, DiskContention, Scheduler, DataWriteback,
            NoAppendFsync, LocalDisk, Ssd, WriteLoadInfo, Hz, LargeObjects, MassEviction, RelaxFsync, DisableThp;

        public void Consider(string ev, DoctorContext cfg)
        {
            bool Is(string name) => string.Equals(ev, name, StringComparison.OrdinalIgnoreCase);
            if (Is("command"))
            {
                if (cfg.SlowlogSlowerThanUs < 0) { SlowlogEnabled = true; Count++; }
                else if (cfg.SlowlogSlowerThanUs / 1000 > cfg.ThresholdMs) { SlowlogTuning = true; Count++; }
                SlowlogInspect = LargeObjects = true;
                Count += 2;
            }
            if (Is("fast-command")) { Scheduler = true; Count++; }
            if (Is("aof-write-pending-fsync")) { LocalDisk = DiskContention = Ssd = DataWriteback = true; Count += 4; }
            if (Is("aof-write-active-child")) { NoAppendFsync = DataWriteback = Ssd = true; Count += 3; }
            if (Is("aof-write-alone")) { LocalDisk = DataWriteback = Ssd = true; Count += 3; }
            if (Is("aof-fsync-always")) { RelaxFsync = true; Count++; }
            if (Is("aof-fstat") || Is("rdb-unlink-temp-file")) { DiskContention = LocalDisk = true; Count += 2; }
            if (Is("aof-rewrite-diff-write") || Is("aof-rename")) { WriteLoadInfo = DataWriteback = Ssd = LocalDisk = true; Count += 4; }
            if (Is("expire-cycle")) { Hz = LargeObjects = true; Count += 2; }
            if (Is("eviction-del")) { LargeObjects = true; Count++; }
            if (Is("eviction-cycle")) { MassEviction = true; Count++; }
        }

        public void Write(StringBuilder sb, DoctorContext cfg)
        {
            sb.Append("\nI have a few advices for you:\n\n");
            if (SlowlogEnabled)
                sb.Append(CultureInfo.InvariantCulture, $"- There are latency issues with potentially slow commands you are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET slowlog-log-slower-than {cfg.ThresholdMs * 1000}'. If the Slow log is disabled Redis is not able to log slow commands execution for you.\n");
            if (SlowlogTuning)
                sb.Append(CultureInfo.InvariantCulture, $"- Your current Slow Log configuration only logs events that are slower than your configured latency monitor threshold. Please use 'CONFIG SET slowlog-log-slower-than {cfg.ThresholdMs * 1000}'.\n");
            if (SlowlogInspect)
                sb.Append("- Check your Slow Log to understand what are the commands you are running which are too slow to execute. Please check https://redis.io/commands/slowlog for more information.\n");
            if (Scheduler)
                sb.Append("- The system is slow to execute Redis code paths not containing system calls. This usually means the system does not provide Redis CPU time to run for long periods. You should try to:\n"
                    + "  1) Lower the system load.\n"
                    + "  2) Use a computer / VM just for Redis if you are running other software in the same system.\n"
                    + "  3) Check if you have a \"noisy neighbour\" problem.\n"
                    + "  4) Check with 'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your system.\n"
                    + "  5) Check if the problem is allocator-related by recompiling Redis with MALLOC=libc, if you are using Jemalloc. However this may create fragmentation problems.\n");
            if (LocalDisk)
                sb.Append("- It is strongly advised to use local disks for persistence, especially if you are using AOF. Remote disks provided by platform-as-a-service providers are known to be slow.\n");
            if (Ssd)
                sb.Append("- SSD disks are able to reduce fsync latency, and total time needed for snapshotting and AOF log rewriting (resulting in smaller memory usage). With extremely high write load SSD disks can be a good option. However Redis should perform reasonably with high load using normal disks. Use this advice as a last resort.\n");
            if (DataWriteback)
                sb.Append("- Mounting ext3/4 filesystems with data=writeback can provide a performance boost compared to data=ordered, however this mode of operation provides less guarantees, and sometimes it can happen that after a hard crash the AOF file will have a half-written command at the end and will require to be repaired before Redis restarts.\n");
            if (DiskContention)
                sb.Append("- Try to lower the disk contention. This is often caused by other disk intensive processes running in the same computer (including other Redis instances).\n");
            if (NoAppendFsync)
                sb.Append("- Assuming from the point of view of data safety this is viable in your environment, you could try to enable the 'no-appendfsync-on-rewrite' option, so that fsync will not be performed while there is a child rewriting the AOF file or producing an RDB file (the moment where there is high disk contention).\n");
            if (RelaxFsync && cfg.AppendFsyncAlways)
                sb.Append("- Your fsync policy is set to 'always'. It is very hard to get good performances with such a setup, if possible try to relax the fsync policy to 'onesec'.\n");
            if (WriteLoadInfo)
                sb.Append("- Latency during the AOF atomic rename operation or when the final difference is flushed to the AOF file at the end of the rewrite, sometimes is caused by very high write load, causing the AOF buffer to get very large. If possible try to send less commands to accomplish the same work, or use Lua scripts to group multiple operations into a single EVALSHA call.\n");
            if (Hz && cfg.Hz < 100)
                sb.Append("- In order to make the Redis keys expiring process more incremental, try to set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n");
            if (LargeObjects)
                sb.Append("- Deleting, expiring or evicting (because of maxmemory policy) large objects is a blocking operation. If you have very large objects that are often deleted, expired, or evicted, try to fragment those objects into multiple smaller objects.\n");
            if (MassEviction)
                sb.Append("- Sudden changes to the 'maxmemory' setting via 'CONFIG SET', or allocation of large objects via sets or sorted sets intersections, STORE option of SORT, Redis Cluster large keys migrations (RESTORE command), may create sudden memory pressure forcing the server to block trying to evict keys. \n");
            if (DisableThp)
                sb.Append("- I detected a non zero amount of anonymous huge pages used by your process. This creates very serious latency events in different conditions, especially when Redis is persisting on disk. To disable THP support use the command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to also add it into /etc/rc.local so that the command will be executed again after a reboot. Note that even if you have already disabled THP, you still need to restart the Redis process to get rid of the huge pages already created.\n");
        }
    }

    /// <summary>THPGetAnonHugePagesSize &gt; 0: the process has anonymous huge pages (Linux /proc/self/smaps_rollup).</summary>
    public static bool HasAnonHugePages()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/smaps_rollup"))
            {
                if (!line.StartsWith("AnonHugePages:", StringComparison.Ordinal)) continue;
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return parts.Length > 1 && long.TryParse(parts[1], CultureInfo.InvariantCulture, out long kb) && kb > 0;
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return false;
    }
}

/// <summary>Redis's sparkline.c rendering in fill mode: rows of "_o#" and '|' over the samples, labels below.</summary>
internal static class Sparkline
{
    private const string Fill = "_o#";
    private const int LabelMarginTop = 1;

    public static void Render(StringBuilder output, List<double> values, List<string> labels, int columns, int rows)
    {
        if (values.Count == 0) return;
        double min = values[0], max = values[0];
        // sparklineSequenceAddSample updates min, or else max, per sample.
        for (int i = 1; i < values.Count; i++)
        {
            if (values[i] < min) min = values[i];
            else if (values[i] > max) max = values[i];
        }
        for (int j = 0; j < values.Count; j += columns)
        {
            int len = Math.Min(values.Count - j, columns);
            if (j != 0) output.Append('\n');
            RenderRange(output, values, labels, min, max, rows, j, len);
        }
    }

    private static void RenderRange(StringBuilder output, List<double> values, List<string> labels, double min, double max, int rows, int offset, int len)
    {
        double relmax = max - min;
        if (relmax == 0) relmax = 1;
        int steps = Fill.Length * rows;
        var chars = new char[len];
        int row = 0;
        bool loop = true;
        while (loop)
        {
            loop = false;
            Array.Fill(chars, ' ');
            for (int j = 0; j < len; j++)
            {
                double relval = values[j + offset] - min;
                // C: step = (int)(relval*steps)/relmax, truncated again on assignment.
                int step = (int)((int)(relval * steps) / relmax);
                if (step < 0) step = 0;
                if (step >= steps) step = steps - 1;
                if (row < rows)
                {
                    int charIdx = step - (rows - row - 1) * Fill.Length;
                    loop = true;
                    if (charIdx >= 0 && charIdx < Fill.Length) chars[j] = Fill[charIdx];
                    else if (charIdx >= Fill.Length) chars[j] = '|';
                }
                else
                {
                    if (row - rows < LabelMarginTop)
                    {
                        loop = true;
                        break;
                    }
                    string label = labels[j + offset];
                    int labelChar = row - rows - LabelMarginTop;
                    if (label.Length > labelChar)
                    {
                        loop = true;
                        chars[j] = label[labelChar];
                    }
                }
            }
            if (loop)
            {
                row++;
                output.Append(chars).Append('\n');
            }
        }
    }
}
