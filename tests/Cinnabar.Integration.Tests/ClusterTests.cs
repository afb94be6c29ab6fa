using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Real multi-process clusters on 127.0.0.1: built by Debian's `redis-cli --cluster create`,
/// checked by `redis-cli --cluster check`, used through `redis-cli -c` and StackExchange.Redis,
/// mixed with real redis-server 7.0 nodes, and restarted from nodes.conf.
/// </summary>
[Collection("cluster")]
public sealed class ClusterTests : IDisposable
{
    private readonly List<ServerProcess> _nodes = new();

    public void Dispose()
    {
        foreach (var n in _nodes) n.Dispose();
    }

    private ServerProcess StartNode(bool redis, string? dir = null, int? port = null)
    {
        var n = ServerProcess.Start(redis, ["--cluster-enabled", "yes", "--cluster-node-timeout", "5000", "--appendonly", "no"], dir: dir, port: port);
        _nodes.Add(n);
        return n;
    }

    private static string ClusterInfo(ServerProcess n)
    {
        using var c = n.Connect();
        return c.Call("CLUSTER", "INFO").ToString();
    }

    private static void CreateCluster(IReadOnlyList<ServerProcess> nodes, int replicas)
    {
        var args = new List<string> { "--cluster", "create" };
        args.AddRange(nodes.Select(n => $"127.0.0.1:{n.Port}"));
        args.AddRange(["--cluster-replicas", replicas.ToString(), "--cluster-yes"]);
        var (code, stdout, stderr) = Tools.Run("redis-cli", args, timeoutMs: 120_000);
        Assert.True(code == 0, $"redis-cli --cluster create failed ({code}):\n{stdout}\n{stderr}");
        Assert.Contains("[OK] All 16384 slots covered.", stdout);
    }

    private static void WaitAllOk(IEnumerable<ServerProcess> nodes) =>
        Tools.WaitUntil(() => nodes.All(n => ClusterInfo(n).Contains("cluster_state:ok", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "cluster_state:ok on every node");

    private static void CheckCluster(ServerProcess any)
    {
        // redis-cli --cluster check insists that every node agrees about the configuration.
        (int Code, string Out) last = (-1, "");
        Tools.WaitUntil(() =>
        {
            var (code, stdout, _) = Tools.Run("redis-cli", ["--cluster", "check", $"127.0.0.1:{any.Port}"], timeoutMs: 60_000);
            last = (code, stdout);
            return code == 0 && stdout.Contains("[OK] All nodes agree about slots configuration.", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(60), "redis-cli --cluster check to pass");
        Assert.Contains("[OK] All 16384 slots covered.", last.Out);
    }

    private static void ReadWriteThroughRedisCli(ServerProcess entry, string prefix)
    {
        for (int i = 0; i < 30; i++)
        {
            var set = Tools.Run("redis-cli", ["-c", "-p", entry.Port.ToString(), "SET", $"{prefix}:{i}", $"v{i}"]);
            Assert.Equal("OK", set.Stdout.Trim());
        }
        for (int i = 0; i < 30; i++)
        {
            var get = Tools.Run("redis-cli", ["-c", "-p", entry.Port.ToString(), "GET", $"{prefix}:{i}"]);
            Assert.Equal($"v{i}", get.Stdout.Trim());
        }
    }

    private static void ReadWriteThroughStackExchange(IEnumerable<ServerProcess> nodes, string prefix)
    {
        var options = new ConfigurationOptions { AbortOnConnectFail = false, ConnectTimeout = 10000, SyncTimeout = 10000 };
        foreach (var n in nodes) options.EndPoints.Add("127.0.0.1", n.Port);
        using var mux = ConnectionMultiplexer.Connect(options);
        var db = mux.GetDatabase();
        for (int i = 0; i < 200; i++) Assert.True(db.StringSet($"{prefix}:{i}", i));
        for (int i = 0; i < 200; i++) Assert.Equal(i, (int)db.StringGet($"{prefix}:{i}"));
        // Keys with one hash tag live together: a multi-key command works on them.
        db.StringSet([new($"{{{prefix}}}:a", "1"), new($"{{{prefix}}}:b", "2")]);
        Assert.Equal(["1", "2"], db.StringGet([$"{{{prefix}}}:a", $"{{{prefix}}}:b"]).Select(v => (string)v!).ToArray());
    }

    [Fact]
    public void Redis_cli_creates_a_cluster_of_six_cinnabar_nodes_that_clients_use()
    {
        for (int i = 0; i < 6; i++) StartNode(redis: false);
        CreateCluster(_nodes, replicas: 1);
        WaitAllOk(_nodes);
        CheckCluster(_nodes[0]);
        int replicaCount = _nodes.Count(n => ClusterInfo(n).Contains("cluster_size:3", StringComparison.Ordinal));
        Assert.Equal(6, replicaCount);
        using (var c = _nodes[0].Connect())
        {
            string nodes = c.Call("CLUSTER", "NODES").ToString();
            Assert.Equal(3, nodes.Split('\n').Count(l => l.Contains(" slave ", StringComparison.Ordinal) || l.Contains(",slave ", StringComparison.Ordinal)));
        }
        ReadWriteThroughRedisCli(_nodes[0], "cli");
        ReadWriteThroughStackExchange(_nodes, "se");
    }

    [Fact]
    public void A_cluster_of_three_redis_and_three_cinnabar_nodes_forms_and_serves_clients()
    {
        var mixed = new List<ServerProcess>();
        for (int i = 0; i < 3; i++)
        {
            mixed.Add(StartNode(redis: true));
            mixed.Add(StartNode(redis: false));
        }
        // redis-cli assigns slots to the first three (redis, cinnabar, redis) and replicas to the rest,
        // so both kinds replicate from both kinds.
        CreateCluster(mixed, replicas: 1);
        WaitAllOk(mixed);
        CheckCluster(mixed[1]);
        ReadWriteThroughRedisCli(mixed[1], "mixcli");
        ReadWriteThroughStackExchange(mixed, "mixse");
        // Every node (either kind) sees every slot owned by the same node.
        string SlotsOf(ServerProcess n)
        {
            using var c = n.Connect();
            var lines = c.Call("CLUSTER", "NODES").ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
            return string.Join("|", lines.Select(l => l.Split(' ')).Where(f => f.Length > 8)
                .Select(f => f[0] + ":" + string.Join(",", f.Skip(8))).OrderBy(s => s, StringComparer.Ordinal));
        }
        string reference = SlotsOf(mixed[0]);
        foreach (var n in mixed) Assert.Equal(reference, SlotsOf(n));
    }

    [Fact]
    public void A_whole_cluster_stopped_and_restarted_comes_back_from_nodes_conf()
    {
        for (int i = 0; i < 6; i++) StartNode(redis: false);
        CreateCluster(_nodes, replicas: 1);
        WaitAllOk(_nodes);
        ReadWriteThroughRedisCli(_nodes[0], "before");
        var homes = _nodes.Select(n => (n.Dir, n.Port)).ToList();
        // Stop them all, keep their directories (nodes.conf and dump.rdb), start them again.
        foreach (var n in _nodes.ToList())
        {
            using (var c = n.Connect()) c.Call("SAVE");
            n.Kill();
        }
        var dirsToDelete = _nodes.ToList();
        _nodes.Clear();
        foreach (var (dir, port) in homes) StartNode(redis: false, dir, port);
        WaitAllOk(_nodes);
        CheckCluster(_nodes[0]);
        for (int i = 0; i < 30; i++)
        {
            var get = Tools.Run("redis-cli", ["-c", "-p", _nodes[0].Port.ToString(), "GET", $"before:{i}"]);
            Assert.Equal($"v{i}", get.Stdout.Trim());
        }
        foreach (var n in dirsToDelete) ServerProcess.DeleteDir(n.Dir);
    }
}

/// <summary>One cluster-enabled node of each kind, side by side: replies and errors compared.</summary>
[Collection("cluster")]
public sealed class ClusterNodeDifferentialTests : IDisposable
{
    private readonly ServerProcess _ours = ServerProcess.StartCinnabar("--cluster-enabled", "yes");
    private readonly ServerProcess _redis = ServerProcess.StartRedis("--cluster-enabled", "yes");

    public void Dispose()
    {
        _ours.Dispose();
        _redis.Dispose();
    }

    private static readonly string[][] Commands =
    [
        ["CLUSTER", "KEYSLOT", "{user1000}.following"],
        ["CLUSTER", "COUNTKEYSINSLOT", "16384"],
        ["CLUSTER", "COUNTKEYSINSLOT", "abc"],
        ["CLUSTER", "COUNTKEYSINSLOT", "5"],
        ["CLUSTER", "GETKEYSINSLOT", "5", "-1"],
        ["CLUSTER", "GETKEYSINSLOT", "5", "10"],
        ["CLUSTER", "ADDSLOTS", "16384"],
        ["CLUSTER", "ADDSLOTS", "1", "1"],
        ["CLUSTER", "ADDSLOTSRANGE", "10", "5"],
        ["CLUSTER", "ADDSLOTSRANGE", "10", "5", "7"],
        ["CLUSTER", "DELSLOTS", "100"],
        ["CLUSTER", "ADDSLOTSRANGE", "0", "99"],
        ["CLUSTER", "ADDSLOTS", "50"],
        ["CLUSTER", "SETSLOT", "200", "MIGRATING", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "SETSLOT", "50", "MIGRATING", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "SETSLOT", "50", "IMPORTING", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "SETSLOT", "50", "NODE", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "SETSLOT", "50", "BOGUS"],
        ["CLUSTER", "SETSLOT", "x", "STABLE"],
        ["CLUSTER", "FORGET", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "REPLICATE", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "REPLICAS", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "COUNT-FAILURE-REPORTS", "0000000000000000000000000000000000000000"],
        ["CLUSTER", "FAILOVER"],
        ["CLUSTER", "FAILOVER", "SOMETIMES"],
        ["CLUSTER", "SET-CONFIG-EPOCH", "-1"],
        ["CLUSTER", "SET-CONFIG-EPOCH", "5"],
        ["CLUSTER", "SET-CONFIG-EPOCH", "6"],
        ["CLUSTER", "BUMPEPOCH"],
        ["CLUSTER", "MEET", "not-an-ip", "7000"],
        ["CLUSTER", "MEET", "127.0.0.1", "abc"],
        ["CLUSTER", "RESET", "MEDIUM"],
        ["CLUSTER", "NOSUCH"],
        ["CLUSTER", "INFO", "extra"],
        ["SELECT", "1"],
        ["SELECT", "0"],
        ["SET", "foo", "bar"],
        ["GET", "foo"],
        ["MSET", "a", "1", "b", "2"],
        ["ASKING"],
        ["READONLY"],
        ["READWRITE"],
        ["CLUSTER", "FLUSHSLOTS"],
        ["REPLICAOF", "127.0.0.1", "1"],
    ];

    [Fact]
    public void Cluster_commands_and_errors_match_redis_on_a_fresh_node()
    {
        using var ours = _ours.Connect();
        using var theirs = _redis.Connect();
        foreach (var cmd in Commands)
        {
            string a = ours.Call(cmd).ToString(), b = theirs.Call(cmd).ToString();
            // MOVED/CLUSTERDOWN texts carry the node's own port: compare without it.
            a = a.Replace(_ours.Port.ToString(), "PORT");
            b = b.Replace(_redis.Port.ToString(), "PORT");
            Assert.True(a == b, $"{string.Join(' ', cmd)}: ours '{a}' vs redis '{b}'");
        }
    }

    [Fact]
    public void Info_reports_cluster_mode()
    {
        using var c = _ours.Connect();
        string info = c.Call("INFO").ToString();
        Assert.Contains("redis_mode:cluster", info);
        Assert.Contains("cluster_enabled:1", info);
        string ci = c.Call("CLUSTER", "INFO").ToString();
        Assert.StartsWith("cluster_state:fail\r\ncluster_slots_assigned:0\r\n", ci);
        Assert.Matches("^[0-9a-f]{40} :" + _ours.Port + "@" + (_ours.Port + 10000) + " myself,master - 0 0 0 connected\n$",
            c.Call("CLUSTER", "NODES").ToString());
    }

    [Fact]
    public void A_second_process_cannot_use_the_same_nodes_conf()
    {
        var r = Tools.Run(Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-server"),
            ["--port", ServerProcess.FreePort().ToString(), "--cluster-enabled", "yes", "--dir", _ours.Dir, "--bind", "127.0.0.1"], timeoutMs: 300_000);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Sorry, the cluster configuration file nodes.conf is already used by a different Redis Cluster node.", r.Stdout + r.Stderr);
    }

    [Fact]
    public void A_corrupt_nodes_conf_stops_startup_with_redis_message()
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-corrupt-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "nodes.conf"), "this is not a nodes.conf\n");
            var r = Tools.Run(Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-server"),
                ["--port", ServerProcess.FreePort().ToString(), "--cluster-enabled", "yes", "--dir", dir, "--bind", "127.0.0.1"], timeoutMs: 300_000);
            Assert.Equal(1, r.ExitCode);
            Assert.Contains("Unrecoverable error: corrupted cluster config file.", r.Stdout + r.Stderr);
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
