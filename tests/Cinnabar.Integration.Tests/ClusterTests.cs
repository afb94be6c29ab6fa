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
            // The replicas' new role reaches node 0 by gossip: on a quiet machine the check above
            // can pass before it has.
            static int Slaves(string nodes) => nodes.Split('\n').Count(l => l.Contains(" slave ", StringComparison.Ordinal) || l.Contains(",slave ", StringComparison.Ordinal));
            Tools.WaitUntil(() => Slaves(c.Call("CLUSTER", "NODES").ToString()) == 3, TimeSpan.FromSeconds(30), "node 0 sees 3 replicas");
            Assert.Equal(3, Slaves(c.Call("CLUSTER", "NODES").ToString()));
        }
        ReadWriteThroughRedisCli(_nodes[0], "cli");
        ReadWriteThroughStackExchange(_nodes, "se");
        var ports = _nodes.Select(n => n.Port.ToString()).ToArray();
        var py = Tools.Run("/usr/bin/python3", [Path.Combine(ServerProcess.RepoRoot, "tests", "python", "redispy_cluster.py"), .. ports], timeoutMs: 120_000);
        Assert.True(py.ExitCode == 0, py.Stdout + py.Stderr);
        Assert.Contains("redis-py cluster ok", py.Stdout);
        var js = Tools.Run("node", [Path.Combine(ServerProcess.RepoRoot, "tests", "js", "ioredis-cluster.mjs"), .. ports], timeoutMs: 120_000);
        Assert.True(js.ExitCode == 0, js.Stdout + js.Stderr);
        Assert.Contains("ioredis cluster ok", js.Stdout);
    }

    [Fact]
    public void Slot_stats_count_keys_time_and_bytes_per_slot()
    {
        var n = ServerProcess.Start(false, ["--cluster-enabled", "yes", "--cluster-slot-stats-enabled", "yes"]);
        _nodes.Add(n);
        using var c = n.Connect();
        Assert.Equal("OK", c.Call("CLUSTER", "ADDSLOTSRANGE", "0", "16383").ToString());
        Tools.WaitUntil(() => ClusterInfo(n).Contains("cluster_state:ok", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "ok");
        c.Call("SET", "foo", "bar");    // slot 12182: 31 bytes in, 5 out
        c.Call("GET", "foo");           // 22 bytes in, 9 out
        c.Call("SET", "{foo}2", "x");
        string top = c.Call("CLUSTER", "SLOT-STATS", "ORDERBY", "key-count", "LIMIT", "1").ToString();
        Assert.Contains("12182", top);
        Assert.Contains("key-count", top);
        string range = c.Call("CLUSTER", "SLOT-STATS", "SLOTSRANGE", "12182", "12182").ToString();
        Assert.Contains("network-bytes-in", range);
        var lines = range.Split(['\n', ' ', '[', ']', ',', '{', '}', ':'], StringSplitOptions.RemoveEmptyEntries);
        int Value(string metric) => int.Parse(lines[Array.IndexOf(lines, metric) + 1]);
        Assert.Equal(2, Value("key-count"));
        Assert.Equal(31 + 22 + 32, Value("network-bytes-in"));
        Assert.Equal(5 + 9 + 5, Value("network-bytes-out"));
        Assert.Equal("ERR Unrecognized sort metric for ORDERBY.", c.Call("CLUSTER", "SLOT-STATS", "ORDERBY", "memory-bytes").ToString());
        Assert.Equal("ERR Limit has to lie in between 1 and 16384 (maximum number of slots).", c.Call("CLUSTER", "SLOT-STATS", "ORDERBY", "key-count", "LIMIT", "0").ToString());
        Assert.Equal("ERR Multiple filters of the same type are disallowed.", c.Call("CLUSTER", "SLOT-STATS", "ORDERBY", "key-count", "ASC", "DESC").ToString());
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
