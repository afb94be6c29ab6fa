using System.Diagnostics;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

public sealed record SlowlogEntry(long Id, long TimestampSeconds, long Micros, byte[][] Args, string ClientAddress, string ClientName);

// SLOWLOG and LATENCY state (Redis slowlog.c, latency.c).
public sealed partial class RedisServer
{
    private long _slowlogNextId;
    public LinkedList<SlowlogEntry> Slowlog { get; } = new();
    /// <summary>LATENCY LATEST/HISTORY/GRAPH/DOCTOR data (latency-monitor-threshold).</summary>
    public LatencyMonitor Latency { get; } = new();

    private void SlowlogAdd(Client c, CommandArgs args, long micros)
    {
        if (Config.SlowlogMaxLen == 0) return;
        // Redis keeps at most 32 arguments and 128 bytes per argument.
        int n = Math.Min(args.Count, 32);
        var argv = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            if (i == 31 && args.Count > 32)
            {
                argv[i] = System.Text.Encoding.ASCII.GetBytes($"... ({args.Count - 31} more arguments)");
                break;
            }
            var a = args[i];
            if (Acl.IsRedacted(c.Context.Command, args, i))
            {
                argv[i] = "(redacted)"u8.ToArray();
                continue;
            }
            argv[i] = a.Length > 128
                ? [.. a[..128], .. System.Text.Encoding.ASCII.GetBytes($"... ({a.Length - 128} more bytes)")]
                : a.ToArray();
        }
        Slowlog.AddFirst(new SlowlogEntry(_slowlogNextId++, Keyspace.NowMs / 1000, micros, argv, c.Address, c.Name ?? ""));
        while (Slowlog.Count > Config.SlowlogMaxLen) Slowlog.RemoveLast();
    }

    public void SlowlogReset() => Slowlog.Clear();

    public void LatencyAdd(string ev, long ms) => Latency.Add(ev, ms, DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    /// <summary>Measures an internal event (fork, aof-fsync ...) for LATENCY.</summary>
    public void LatencyMeasure(string ev, long startTimestamp)
    {
        long ms = (long)Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
        if (Config.LatencyMonitorThresholdMs > 0 && ms >= Config.LatencyMonitorThresholdMs) LatencyAdd(ev, ms);
    }
}
