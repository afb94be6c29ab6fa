using System.Diagnostics;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

public sealed record SlowlogEntry(long Id, long TimestampSeconds, long Micros, byte[][] Args, string ClientAddress, string ClientName);

// SLOWLOG and LATENCY state (Redis slowlog.c, latency.c).
public sealed partial class RedisServer
{
    private long _slowlogNextId;
    public LinkedList<SlowlogEntry> Slowlog { get; } = new();
    public Dictionary<string, List<(long Time, long Ms)>> LatencyEvents { get; } = new(StringComparer.Ordinal);

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

    public void LatencyAdd(string ev, long ms)
    {
        if (!LatencyEvents.TryGetValue(ev, out var list)) LatencyEvents[ev] = list = new List<(long, long)>();
        long now = Keyspace.NowMs / 1000;
        if (list.Count > 0 && list[^1].Time == now)
        {
            list[^1] = (now, Math.Max(list[^1].Ms, ms));
            return;
        }
        list.Add((now, ms));
        if (list.Count > 160) list.RemoveAt(0);
    }

    /// <summary>Measures an internal event (fork, aof-fsync ...) for LATENCY.</summary>
    public void LatencyMeasure(string ev, long startTimestamp)
    {
        long ms = (long)Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
        if (Config.LatencyMonitorThresholdMs > 0 && ms >= Config.LatencyMonitorThresholdMs) LatencyAdd(ev, ms);
    }
}
