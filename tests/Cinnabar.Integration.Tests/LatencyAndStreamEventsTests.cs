using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// LATENCY HISTOGRAM and INFO latencystats as clients see them, and the keyspace notifications
/// of stream commands (class 't'), each compared with redis-server where the reply is deterministic.
/// </summary>
public sealed class LatencyAndStreamEventsTests(SideBySideFixture f) : IClassFixture<SideBySideFixture>
{
    private static string Raw(RespConnection c) => Encoding.UTF8.GetString(c.ReadRawReply());

    [Fact]
    public void Latency_histogram_counts_calls_per_command_and_subcommand()
    {
        using var c = f.Cinnabar.Connect();
        c.Call("CONFIG", "RESETSTAT");
        c.Call("SET", "lat:a", "1");
        c.Call("SET", "lat:a", "2");
        c.Call("CLIENT", "ID");
        var all = c.Call("LATENCY", "HISTOGRAM", "set", "client", "nosuch").ToString();
        Assert.Matches(@"^\[set,\[calls,2,histogram_usec,\[\d+,\d+.*\]\],client\|id,\[calls,1,histogram_usec,\[", all);
        // Only commands called since CONFIG RESETSTAT appear.
        Assert.Equal("[]", c.Call("LATENCY", "HISTOGRAM", "get").ToString());
    }

    [Fact]
    public void Latency_histogram_is_a_map_in_resp3()
    {
        using var c = f.Cinnabar.Connect();
        c.Call("HELLO", "3");
        c.Call("CONFIG", "RESETSTAT");
        c.Call("PING");
        string raw = Encoding.UTF8.GetString(c.CallRaw("LATENCY", "HISTOGRAM", "ping"));
        Assert.Matches(@"^%1\r\n\$4\r\nping\r\n%2\r\n\$5\r\ncalls\r\n:1\r\n\$14\r\nhistogram_usec\r\n%1\r\n:\d+\r\n:1\r\n$", raw);
    }

    [Fact]
    public void Info_latencystats_follows_the_configured_percentiles_and_resets()
    {
        using var c = f.Cinnabar.Connect();
        try
        {
            c.Call("CONFIG", "RESETSTAT");
            c.Call("SET", "lat:b", "1");
            Assert.Matches(@"latency_percentiles_usec_set:p50=\d+\.\d{3},p99=\d+\.\d{3},p99\.9=\d+\.\d{3}\r\n", c.Call("INFO", "latencystats").ToString());
            c.Call("CONFIG", "SET", "latency-tracking-info-percentiles", "0 12.5 100");
            Assert.Matches(@"latency_percentiles_usec_set:p0=\d+\.\d{3},p12\.5=\d+\.\d{3},p100=\d+\.\d{3}\r\n", c.Call("INFO", "latencystats").ToString());
            c.Call("CONFIG", "SET", "latency-tracking", "no");
            Assert.DoesNotContain("latency_percentiles_usec_", c.Call("INFO", "latencystats").ToString(), StringComparison.Ordinal);
            c.Call("CONFIG", "SET", "latency-tracking", "yes");
            c.Call("CONFIG", "RESETSTAT");
            Assert.DoesNotContain("latency_percentiles_usec_set:", c.Call("INFO", "latencystats").ToString(), StringComparison.Ordinal);
        }
        finally
        {
            c.Call("CONFIG", "SET", "latency-tracking", "yes");
            c.Call("CONFIG", "SET", "latency-tracking-info-percentiles", "50 99 99.9");
        }
    }

    [Fact]
    public void Latency_latest_and_history_record_commands_over_the_threshold()
    {
        using var c = f.Cinnabar.Connect();
        try
        {
            c.Call("CONFIG", "SET", "latency-monitor-threshold", "5");
            c.Call("LATENCY", "RESET");
            c.Call("DEBUG", "SLEEP", "0.02");
            var latest = c.Call("LATENCY", "LATEST");
            Assert.Matches(@"^\[\[command,\d+,\d+,\d+\]", latest.ToString());
            Assert.Single(c.Call("LATENCY", "HISTORY", "command").Items!);
            Assert.StartsWith("command - high ", c.Call("LATENCY", "GRAPH", "command").ToString(), StringComparison.Ordinal);
            Assert.StartsWith("Dave, I have observed latency spikes", c.Call("LATENCY", "DOCTOR").ToString(), StringComparison.Ordinal);
            Assert.Equal(1, c.Call("LATENCY", "RESET", "COMMAND").Integer);
        }
        finally
        {
            c.Call("CONFIG", "SET", "latency-monitor-threshold", "0");
        }
    }

    /// <summary>Runs the same stream commands on both servers and returns every notification received.</summary>
    private static List<string> StreamEvents(ServerProcess server, string key)
    {
        using var sub = server.Connect();
        using var c = server.Connect();
        c.Call("CONFIG", "SET", "notify-keyspace-events", "Et");
        sub.Call("PSUBSCRIBE", "__keyevent@0__:*");
        c.Call("DEL", key);
        c.Call("XGROUP", "CREATE", key, "g", "$", "MKSTREAM");
        c.Call("XGROUP", "CREATECONSUMER", key, "g", "alice");
        c.Call("XADD", key, "1-1", "f", "v");
        c.Call("XREADGROUP", "GROUP", "g", "bob", "STREAMS", key, ">");
        c.Call("XCLAIM", key, "g", "carol", "0", "1-1");
        c.Call("XAUTOCLAIM", key, "g", "dave", "0", "0");
        c.Call("XGROUP", "DELCONSUMER", key, "g", "alice");
        c.Call("XGROUP", "SETID", key, "g", "0");
        c.Call("XADD", key, "2-1", "f", "v");
        c.Call("XDEL", key, "1-1");
        c.Call("XTRIM", key, "MAXLEN", "0");
        c.Call("XSETID", key, "5-0");
        c.Call("XGROUP", "DESTROY", key, "g");
        c.Call("CONFIG", "SET", "notify-keyspace-events", "");
        var events = new List<string>();
        // PING marks the end: every notification was queued before its reply.
        sub.Send("PING");
        while (true)
        {
            var r = sub.Read();
            if (r.Items is { Count: 2 } && r.Items[0].ToString() == "pong") break;
            events.Add(r.Items![2].ToString().Replace("__keyevent@0__:", "", StringComparison.Ordinal));
        }
        return events;
    }

    [Fact]
    public void Stream_commands_notify_the_same_events_as_redis()
    {
        var expected = new[]
        {
            "xgroup-create", "xgroup-createconsumer", "xadd", "xgroup-createconsumer", "xgroup-createconsumer",
            "xgroup-createconsumer", "xgroup-delconsumer", "xgroup-setid", "xadd", "xdel", "xtrim", "xsetid", "xgroup-destroy",
        };
        if (ServerProcess.RedisAvailable) Assert.Equal(expected, StreamEvents(f.Redis, "ev:stream"));
        Assert.Equal(expected, StreamEvents(f.Cinnabar, "ev:stream"));
    }

    [Fact]
    public void Consumer_group_changes_do_not_abort_a_transaction_watching_the_stream()
    {
        foreach (var server in ServerProcess.RedisAvailable ? new[] { f.Redis, f.Cinnabar } : new[] { f.Cinnabar })
        {
            using var a = server.Connect();
            using var b = server.Connect();
            a.Call("DEL", "ev:watched");
            a.Call("XADD", "ev:watched", "1-1", "f", "v");
            a.Call("XGROUP", "CREATE", "ev:watched", "g", "0");
            a.Call("WATCH", "ev:watched");
            b.Call("XGROUP", "SETID", "ev:watched", "g", "$");
            b.Call("XGROUP", "CREATECONSUMER", "ev:watched", "g", "c");
            a.Call("MULTI");
            a.Call("PING");
            Assert.Equal("[PONG]", a.Call("EXEC").ToString());
        }
    }

    [Fact]
    public void New_key_events_fire_once_per_created_key()
    {
        using var sub = f.Cinnabar.Connect();
        using var c = f.Cinnabar.Connect();
        try
        {
            c.Call("CONFIG", "SET", "notify-keyspace-events", "En");
            sub.Call("SUBSCRIBE", "__keyevent@0__:new");
            c.Call("DEL", "ev:new1", "ev:new2");
            c.Call("SET", "ev:new1", "a");
            c.Call("SET", "ev:new1", "b");
            c.Call("RPUSH", "ev:new2", "x");
            Assert.Equal("[message,__keyevent@0__:new,ev:new1]", sub.Read().ToString());
            Assert.Equal("[message,__keyevent@0__:new,ev:new2]", sub.Read().ToString());
        }
        finally
        {
            c.Call("CONFIG", "SET", "notify-keyspace-events", "");
        }
    }

    [Fact]
    public void Tracking_replies_match_redis_byte_for_byte()
    {
        string Run(ServerProcess s)
        {
            using var c = s.Connect();
            using var w = s.Connect();
            var sb = new StringBuilder();
            c.Call("HELLO", "3");
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "cmp:a", "PREFIX", "cmp:b")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKINGINFO")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "cmp:a1")));
            w.Call("MSET", "cmp:b2", "1", "cmp:b1", "2", "cmp:c", "3");
            sb.Append(Raw(c));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKING", "off")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKING", "on", "OPTOUT", "NOLOOP")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "CACHING", "no")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "TRACKINGINFO")));
            sb.Append(Encoding.UTF8.GetString(c.CallRaw("CLIENT", "GETREDIR")));
            c.Call("CLIENT", "TRACKING", "off");
            return sb.ToString();
        }
        if (!ServerProcess.RedisAvailable) return;
        Assert.Equal(Run(f.Redis), Run(f.Cinnabar));
        Assert.Contains("Prefix 'cmp:a1' overlaps with an existing prefix 'cmp:a'", Run(f.Cinnabar), StringComparison.Ordinal);
    }

    [Fact]
    public void Latency_help_takes_no_arguments()
    {
        using var c = f.Cinnabar.Connect();
        Assert.Equal("ERR wrong number of arguments for 'latency|help' command", c.Call("LATENCY", "HELP", "x").ToString());
        Assert.Contains("HISTOGRAM", c.Call("LATENCY", "HELP").ToString(), StringComparison.Ordinal);
    }
}
