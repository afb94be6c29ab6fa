using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>An environment that does nothing (config and command tests without a network).</summary>
internal sealed class NullEnvironment : ISentinelEnvironment
{
    private readonly Random _rng = new(1);
    public int Saves;
    public bool FailSaves { get; set; }
    public List<(string Channel, string Message)> Published { get; } = new();
    public int Connect(string ip, int port) => 1;
    public void Send(int conn, IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent = false) { }
    public void Close(int conn) { }
    public string? LocalIp(int conn) => null;
    public string? Resolve(string host, bool allowDns) => System.Net.IPAddress.TryParse(host, out _) ? host : allowDns && host == "localhost" ? "127.0.0.1" : null;
    public void Publish(string channel, string message) => Published.Add((channel, message));
    public void Log(SentinelLogLevel level, string message) { }
    public bool SaveConfig()
    {
        Saves++;
        return !FailSaves;
    }
    public void ScheduleScript(string path, IReadOnlyList<string> args) { }
    public int Random(int max) => _rng.Next(max);
    public void Crash(int exitCode) { }
}

/// <summary>sentinel.conf loading (any order, Redis's error texts) and the rewrite order.</summary>
public sealed class ConfigTests
{
    private static readonly string Id1 = "1111111111111111111111111111111111111111";
    private static readonly string Id2 = "2222222222222222222222222222222222222222";

    private static (SentinelNode Node, (SentinelNode.ConfigLine Line, string Error)? Error) Load(params string[] lines)
    {
        var node = new SentinelNode(new NullEnvironment());
        var parsed = lines.Select((l, i) => SimSentinel.ParseLine(l, i + 1)!).ToList();
        return (node, node.LoadConfig(parsed, SimNetwork.Epoch));
    }

    private static string? ErrorOf(params string[] lines) => Load(lines).Error?.Error;

    [Fact]
    public void Directives_load_in_any_order_and_rewrite_in_the_reference_order()
    {
        var (node, err) = Load(
            "sentinel known-replica m 10.0.0.2 6380",
            "sentinel rename-command m CONFIG XCONFIG",
            "sentinel down-after-milliseconds m 5000",
            "sentinel leader-epoch m 7",
            "sentinel config-epoch m 3",
            "sentinel auth-user m u",
            "sentinel auth-pass m p",
            "sentinel master-reboot-down-after-period m 1000",
            "sentinel client-reconfig-script m /bin/rc",
            "sentinel notification-script m /bin/notify",
            "sentinel parallel-syncs m 3",
            "sentinel failover-timeout m 60000",
            $"sentinel known-sentinel m 10.0.1.2 26380 {Id2}",
            "sentinel known-sentinel m 10.0.1.3 26381",
            "sentinel monitor m 10.0.0.1 6379 2",
            "sentinel current-epoch 9",
            "sentinel announce-port 1234",
            "sentinel announce-ip 1.2.3.4",
            "sentinel sentinel-pass sp",
            "sentinel sentinel-user su",
            "sentinel deny-scripts-reconfig no",
            "sentinel resolve-hostnames no",
            $"sentinel myid {Id1}");
        Assert.Null(err);
        var m = node.Masters["m"];
        Assert.Equal(5000, m.DownAfterMs);
        Assert.Equal(60000, m.FailoverTimeoutMs);
        Assert.Single(m.Replicas);
        Assert.Single(m.Sentinels);
        Assert.Equal(5000, m.Replicas.Values.Single().DownAfterMs);
        Assert.Equal(9, node.CurrentEpoch);
        Assert.Equal(Id1, node.MyId);

        var rewrite = node.RewriteLines();
        string[] expected =
        [
            $"sentinel myid {Id1}",
            "sentinel deny-scripts-reconfig no",
            "sentinel resolve-hostnames no",
            "sentinel announce-hostnames no",
            "sentinel monitor m 10.0.0.1 6379 2",
            "sentinel down-after-milliseconds m 5000",
            "sentinel failover-timeout m 60000",
            "sentinel parallel-syncs m 3",
            "sentinel notification-script m /bin/notify",
            "sentinel client-reconfig-script m /bin/rc",
            "sentinel auth-pass m p",
            "sentinel auth-user m u",
            "sentinel master-reboot-down-after-period m 1000",
            "sentinel config-epoch m 3",
            "sentinel leader-epoch m 7",
            "sentinel known-replica m 10.0.0.2 6380",
            $"sentinel known-sentinel m 10.0.1.2 26380 {Id2}",
            "sentinel rename-command m CONFIG XCONFIG",
            "sentinel current-epoch 9",
            "sentinel announce-ip \"1.2.3.4\"",
            "sentinel announce-port 1234",
            "sentinel sentinel-user su",
            "sentinel sentinel-pass sp",
        ];
        Assert.Equal(expected, rewrite.Select(l => l.Line));
        // Defaults are only rewritten when already in the file; the rest always.
        Assert.Equal([true, true, false, false], rewrite.Take(4).Select(l => l.Force));
        Assert.All(rewrite, l => Assert.StartsWith(l.Key + " ", l.Line, StringComparison.Ordinal));
        Assert.All(rewrite, l => Assert.Contains(l.Key, SentinelNode.RewriteKeys));

        // What was written loads back to the same rewrite.
        var (again, err2) = Load([.. rewrite.Select(l => l.Line)]);
        Assert.Null(err2);
        Assert.Equal(expected, again.RewriteLines().Select(l => l.Line));
    }

    [Fact]
    public void A_minimal_config_rewrites_only_the_always_written_lines()
    {
        var (node, err) = Load($"sentinel myid {Id1}", "sentinel monitor mymaster 10.0.0.1 6379 2");
        Assert.Null(err);
        Assert.Equal(
            [
                $"sentinel myid {Id1}", "sentinel deny-scripts-reconfig yes", "sentinel resolve-hostnames no", "sentinel announce-hostnames no",
                "sentinel monitor mymaster 10.0.0.1 6379 2", "sentinel config-epoch mymaster 0", "sentinel leader-epoch mymaster 0", "sentinel current-epoch 0",
            ],
            node.RewriteLines().Select(l => l.Line));
        Assert.Equal([true, false, false, false, true, true, true, true], node.RewriteLines().Select(l => l.Force));
    }

    [Theory]
    [InlineData("Quorum must be 1 or greater.", "sentinel monitor m 10.0.0.1 6379 0")]
    [InlineData("No such master with specified name.", "sentinel down-after-milliseconds nosuch 1000")]
    [InlineData("No such master with specified name.", "sentinel known-replica nosuch 10.0.0.2 6380")]
    [InlineData("Duplicate master name.", "sentinel monitor m 10.0.0.1 6379 2", "sentinel monitor m 10.0.0.2 6379 2")]
    [InlineData("Malformed Sentinel id in myid option.", "sentinel myid abc")]
    [InlineData("Unrecognized sentinel configuration statement.", "sentinel foo bar")]
    [InlineData("Unrecognized sentinel configuration statement.", "sentinel monitor m 10.0.0.1 6379")]
    [InlineData("negative or zero time parameter.", "sentinel monitor m 10.0.0.1 6379 2", "sentinel down-after-milliseconds m 0")]
    [InlineData("Can't resolve instance hostname.", "sentinel monitor m redis.example 6379 2")]
    [InlineData("Invalid port number.", "sentinel monitor m 10.0.0.1 70000 2")]
    [InlineData("Duplicate hostname and port for replica.", "sentinel monitor m 10.0.0.1 6379 2", "sentinel known-replica m 10.0.0.2 6380", "sentinel known-replica m 10.0.0.2 6380")]
    [InlineData("Please specify yes or no for the deny-scripts-reconfig options.", "sentinel deny-scripts-reconfig maybe")]
    public void Config_errors_use_the_redis_texts(string error, params string[] lines)
    {
        Assert.Equal(error, ErrorOf(lines));
    }

    [Fact]
    public void The_error_names_the_failing_line()
    {
        var (_, err) = Load("sentinel monitor m 10.0.0.1 6379 2", "sentinel parallel-syncs m 2", "sentinel bogus");
        Assert.NotNull(err);
        Assert.Equal(3, err.Value.Line.LineNumber);
        Assert.Equal("sentinel bogus", err.Value.Line.Text);
    }

    [Fact]
    public void Start_without_myid_generates_one_and_saves()
    {
        var env = new NullEnvironment();
        var node = new SentinelNode(env);
        Assert.Null(node.LoadConfig([SimSentinel.ParseLine("sentinel monitor m 10.0.0.1 6379 2", 1)!], SimNetwork.Epoch));
        node.Start(SimNetwork.Epoch);
        Assert.Matches("^[0-9a-f]{40}$", node.MyId);
        Assert.Equal(1, env.Saves);
        Assert.Contains(("+monitor", "master m 10.0.0.1 6379 quorum 2"), env.Published);
    }

    [Fact]
    public void A_simulated_sentinel_restarts_from_its_saved_config()
    {
        var net = SimNetwork.Standard(701, sentinels: 3, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        var s = net.Sentinels[1];
        string id = s.Node.MyId;
        s.Restart();
        Assert.Equal(id, s.Node.MyId);
        var m = s.MasterInfo();
        Assert.Equal("2", m["num-other-sentinels"]);
        Assert.Equal("2", m["num-slaves"]);
        Assert.True(net.RunUntil(() => net.Discovered(2), 10_000), net.Dump());
    }
}
