using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>SENTINEL subcommand replies and errors, as Redis writes them.</summary>
public sealed class CommandTests
{
    private static SimNetwork Discovered(int seed = 801)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        return net;
    }

    private static string Raw(SentinelNode node, long now, params string[] argv)
    {
        var w = new RespWriter();
        node.Command(["sentinel", .. argv], w, now);
        return Encoding.UTF8.GetString(w.Written.Span);
    }

    [Fact]
    public void Set_applies_options_and_reports_redis_errors()
    {
        var net = Discovered();
        var s = net.Sentinels[0];
        var m = net.Redis[0];
        int saves = s.Saves;
        Assert.Equal("OK", s.Command("set", "mymaster", "quorum", "3", "down-after-milliseconds", "4000").Text);
        Assert.True(s.Saves > saves);
        Assert.Equal("3", s.MasterInfo()["quorum"]);
        Assert.Equal("4000", s.MasterInfo()["down-after-milliseconds"]);
        Assert.All(SentinelsOf(s), p => Assert.Equal("4000", p["down-after-milliseconds"]));
        Assert.Contains(net.Events, e => e.Sentinel == 0 && e.Channel == "+set" && e.Message == $"master mymaster {m.Ip} {m.Port} quorum 3");
        Assert.Contains("sentinel down-after-milliseconds mymaster 4000", s.SavedConfig);

        Assert.Equal("ERR Invalid argument 'x' for SENTINEL SET 'quorum'", s.Command("set", "mymaster", "quorum", "x").Text);
        Assert.Equal("ERR Invalid argument '0' for SENTINEL SET 'failover-timeout'", s.Command("set", "mymaster", "failover-timeout", "0").Text);
        Assert.Equal("ERR Unknown option or number of arguments for SENTINEL SET 'foo'", s.Command("set", "mymaster", "foo", "1").Text);
        Assert.Equal("ERR No such master with that name", s.Command("set", "nosuch", "quorum", "1").Text);
        Assert.Equal("ERR wrong number of arguments for 'sentinel|set' command", s.Command("set", "mymaster", "quorum").Text);
        // Pairs before the failing one stay applied.
        Assert.Equal("ERR Invalid argument '-1' for SENTINEL SET 'parallel-syncs'", s.Command("set", "mymaster", "quorum", "1", "parallel-syncs", "-1").Text);
        Assert.Equal("1", s.MasterInfo()["quorum"]);
        Assert.StartsWith("ERR Reconfiguration of scripts path is denied for security reasons.", s.Command("set", "mymaster", "notification-script", "/bin/x").Text);
        Assert.Equal("OK", s.Command("set", "mymaster", "auth-pass", "secret").Text);
        Assert.Contains(net.Events, e => e.Channel == "+set" && e.Message.EndsWith(" auth-pass ******", StringComparison.Ordinal));
        Assert.Equal("OK", s.Command("set", "mymaster", "rename-command", "CONFIG", "XCONFIG").Text);
        Assert.Contains("sentinel rename-command mymaster CONFIG XCONFIG", s.SavedConfig);
    }

    private static List<Dictionary<string, string>> SentinelsOf(SimSentinel s) =>
        s.Command("sentinels", "mymaster").Elements.Select(SimSentinel.ToMap).ToList();

    [Fact]
    public void Ckquorum_reports_usable_sentinels_quorum_and_majority()
    {
        var net = Discovered(802);
        var s = net.Sentinels[0];
        Assert.Equal(RespType.Status, s.Command("ckquorum", "mymaster").Type);
        Assert.Equal("OK 3 usable Sentinels. Quorum and failover authorization can be reached", s.Command("ckquorum", "mymaster").Text);
        net.Sentinels[1].Kill();
        net.Sentinels[2].Kill();
        Assert.True(net.RunUntil(() => SentinelsOf(s).All(p => p["flags"].Contains("s_down")), 10_000), net.Dump());
        var r = s.Command("ckquorum", "mymaster");
        Assert.Equal(RespType.Error, r.Type);
        Assert.Equal("NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the specified quorum for this master. Not enough available Sentinels to reach the majority and authorize a failover", r.Text);
        s.Command("set", "mymaster", "quorum", "1");
        Assert.Equal("NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority and authorize a failover", s.Command("ckquorum", "mymaster").Text);
        Assert.Equal("ERR No such master with that name", s.Command("ckquorum", "nosuch").Text);
    }

    [Fact]
    public void Debug_lists_and_sets_the_timing_parameters()
    {
        var net = Discovered(803);
        var s = net.Sentinels[0];
        var map = s.Command("debug");
        Assert.Equal(26, map.Elements.Count);
        Assert.All(map.Elements, e => Assert.Equal(RespType.Bulk, e.Type));
        var pairs = SimSentinel.ToMap(map);
        Assert.Equal(
            ["INFO-PERIOD", "PING-PERIOD", "ASK-PERIOD", "PUBLISH-PERIOD", "DEFAULT-DOWN-AFTER", "DEFAULT-FAILOVER-TIMEOUT", "TILT-TRIGGER", "TILT-PERIOD",
             "SLAVE-RECONF-TIMEOUT", "MIN-LINK-RECONNECT-PERIOD", "ELECTION-TIMEOUT", "SCRIPT-MAX-RUNTIME", "SCRIPT-RETRY-DELAY"],
            pairs.Keys);
        Assert.Equal(["10000", "1000", "1000", "2000", "30000", "180000", "2000", "30000", "10000", "15000", "10000", "60000", "30000"], pairs.Values);
        Assert.Equal("OK", s.Command("debug", "info-period", "500", "tilt-period", "5000").Text);
        Assert.Equal("500", SimSentinel.ToMap(s.Command("debug"))["INFO-PERIOD"]);
        Assert.Equal(5000, s.Node.TiltPeriodMs);
        Assert.Equal("ERR Unknown option or number of arguments for SENTINEL DEBUG 'foo'", s.Command("debug", "foo", "1").Text);
        Assert.Equal("ERR Invalid argument '0' for SENTINEL DEBUG 'ping-period'", s.Command("debug", "ping-period", "0").Text);
    }

    [Fact]
    public void Config_get_matches_a_glob_and_config_set_validates()
    {
        var net = Discovered(804);
        var s = net.Sentinels[0];
        var r = s.Command("config", "get", "announce-*");
        Assert.Equal(["announce-hostnames", "no", "announce-ip", "", "announce-port", "0"], r.Elements.Select(e => e.Text));
        Assert.Equal(12, s.Command("config", "get", "*").Elements.Count);
        Assert.Empty(s.Command("config", "get", "nothing").Elements);
        Assert.Equal("OK", s.Command("config", "set", "announce-port", "7000").Text);
        Assert.Equal(["announce-port", "7000"], s.Command("config", "get", "ANNOUNCE-PORT").Elements.Select(e => e.Text));
        Assert.Contains("sentinel announce-port 7000", s.SavedConfig);
        Assert.Equal("ERR Invalid value '70000' to SENTINEL CONFIG SET 'announce-port'", s.Command("config", "set", "announce-port", "70000").Text);
        Assert.Equal("ERR Invalid value 'maybe' to SENTINEL CONFIG SET 'resolve-hostnames'", s.Command("config", "set", "resolve-hostnames", "maybe").Text);
        Assert.Equal("ERR Invalid argument 'foo' to SENTINEL CONFIG SET", s.Command("config", "set", "foo", "1").Text);
        Assert.Equal("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.", s.Command("config", "del", "x").Text);
    }

    [Fact]
    public void Reply_shapes_of_lookups()
    {
        var net = Discovered(805);
        var s = net.Sentinels[0];
        var m = net.Redis[0];
        Assert.Equal("*-1\r\n", Raw(s.Node, net.Now, "get-master-addr-by-name", "nosuch"));
        Assert.Equal($"*2\r\n$8\r\n{m.Ip}\r\n$4\r\n{m.Port}\r\n", Raw(s.Node, net.Now, "get-master-addr-by-name", "mymaster"));
        Assert.Equal("ERR No such master with that name", s.Command("master", "nosuch").Text);
        Assert.Equal("ERR unknown subcommand 'bogus'. Try SENTINEL HELP.", s.Command("bogus").Text);
        Assert.Equal("ERR wrong number of arguments for 'sentinel|masters' command", s.Command("masters", "x").Text);
        var myid = s.Command("myid");
        Assert.Equal(RespType.Bulk, myid.Type);
        Assert.Equal(s.Node.MyId, myid.Text);
        Assert.StartsWith("SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", s.Command("help").Elements[0].Text);

        // Instance maps: every value a bulk string, keys in Redis's order.
        var master = s.Command("master", "mymaster");
        Assert.All(master.Elements, e => Assert.Equal(RespType.Bulk, e.Type));
        var keys = master.Elements.Where((_, i) => i % 2 == 0).Select(e => e.Text).ToList();
        Assert.Equal(
            ["name", "ip", "port", "runid", "flags", "link-pending-commands", "link-refcount", "last-ping-sent", "last-ok-ping-reply", "last-ping-reply",
             "down-after-milliseconds", "info-refresh", "role-reported", "role-reported-time", "config-epoch", "num-slaves", "num-other-sentinels", "quorum",
             "failover-timeout", "parallel-syncs"],
            keys);
        var replica = SimSentinel.ToMap(s.Command("replicas", "mymaster").Elements[0]);
        Assert.Equal("slave", replica["flags"]);
        Assert.Equal("ok", replica["master-link-status"]);
        Assert.Equal(m.Ip, replica["master-host"]);
        Assert.Equal(m.Port.ToString(), replica["master-port"]);
        Assert.Equal("100", replica["slave-priority"]);
        var peer = SentinelsOf(s)[0];
        Assert.Equal("sentinel", peer["flags"]);
        Assert.Equal("?", peer["voted-leader"]);
        Assert.Equal("0", peer["voted-leader-epoch"]);
        Assert.Equal(peer["name"], peer["runid"]);

        // INFO-CACHE: the master's INFO and each replica's.
        var cache = s.Command("info-cache", "mymaster");
        Assert.Equal("mymaster", cache.Elements[0].Text);
        Assert.Equal(3, cache.Elements[1].Elements.Count);
        Assert.Contains("role:master", cache.Elements[1].Elements[0].Elements[1].Text);
    }

    [Fact]
    public void Monitor_remove_and_reset()
    {
        var net = Discovered(806);
        var s = net.Sentinels[0];
        Assert.Equal("ERR Invalid quorum", s.Command("monitor", "other", "10.0.0.9", "6379", "x").Text);
        Assert.Equal("ERR Invalid port", s.Command("monitor", "other", "10.0.0.9", "x", "2").Text);
        Assert.Equal("ERR Quorum must be 1 or greater.", s.Command("monitor", "other", "10.0.0.9", "6379", "0").Text);
        Assert.Equal("ERR Invalid IP address or hostname specified", s.Command("monitor", "other", "no.such.host", "6379", "2").Text);
        Assert.Equal("ERR Duplicate master name.", s.Command("monitor", "mymaster", "10.0.0.9", "6379", "2").Text);
        Assert.Equal("OK", s.Command("monitor", "other", "10.0.0.9", "6379", "2").Text);
        Assert.Contains(net.Events, e => e.Channel == "+monitor" && e.Message == "master other 10.0.0.9 6379 quorum 2");
        Assert.Contains("sentinel monitor other 10.0.0.9 6379 2", s.SavedConfig);
        Assert.Equal(2, s.Command("masters").Elements.Count);
        Assert.Equal("OK", s.Command("remove", "other").Text);
        Assert.Contains(net.Events, e => e.Channel == "-monitor");
        Assert.DoesNotContain(s.SavedConfig, l => l.Contains("other", StringComparison.Ordinal));

        int saves = s.Saves;
        var reset = s.Command("reset", "my*");
        Assert.Equal(RespType.Integer, reset.Type);
        Assert.Equal(1, reset.Integer);
        Assert.Equal(saves, s.Saves); // RESET does not save
        Assert.Contains(net.Events, e => e.Channel == "+reset-master");
        Assert.Equal("0", s.MasterInfo()["num-slaves"]);
        Assert.Equal("0", s.MasterInfo()["num-other-sentinels"]);
        Assert.Equal(0, s.Command("reset", "nomatch*").Integer);
        // It rediscovers everything.
        Assert.True(net.RunUntil(() => net.Discovered(2), 30_000), net.Dump());
    }

    [Fact]
    public void Flushconfig_reports_a_failed_save_and_publish_accepts_only_hellos()
    {
        var net = Discovered(807);
        var s = net.Sentinels[0];
        Assert.Equal("OK", s.Command("flushconfig").Text);
        s.FailSaves = true;
        Assert.Equal("ERR Failed to save config file. Check server logs.", s.Command("flushconfig").Text);
        var w = new RespWriter();
        s.Node.Publish("other", "x", w, net.Now);
        Assert.Equal("-ERR Only HELLO messages are accepted by Sentinel instances.\r\n", Encoding.UTF8.GetString(w.Written.Span));
        w = new RespWriter();
        s.Node.Role(w);
        Assert.Equal("*2\r\n$8\r\nsentinel\r\n*1\r\n$8\r\nmymaster\r\n", Encoding.UTF8.GetString(w.Written.Span));
        Assert.Equal("ERR Unknown failure simulation specified", s.Command("simulate-failure", "bogus").Text);
    }

    [Fact]
    public void Simulate_failure_crash_after_election_kills_the_leader_and_another_sentinel_completes()
    {
        var net = Discovered(808);
        foreach (var s in net.Sentinels) Assert.Equal("OK", s.Command("simulate-failure", "crash-after-election").Text);
        // Only the first leader crashes: give the others their flag back off.
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Sentinels.Any(s => s.CrashedWith == 99), 60_000), net.Dump());
        foreach (var s in net.Live()) s.Node.SimFailureFlags = 0;
        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.Converged(), 90_000), net.Dump());
        Assert.Null(net.ElectionViolation());
    }
}
