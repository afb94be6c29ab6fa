using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>Running redis-cli and cinnabar-cli in cluster-manager mode, and polling cluster nodes.</summary>
public static partial class ClusterCli
{
    public static string CinnabarCli => Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-cli");

    public static readonly string[] NodeArgs = ["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--appendonly", "no"];

    /// <summary>Runs a CLI with TERM set (colours on for xterm) and returns (exit, stdout, stderr).</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string exe, IEnumerable<string> args, string stdin = "", string term = "dumb", int timeoutMs = 90_000)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.Environment["TERM"] = term;
        psi.Environment.Remove("REDISCLI_CLUSTER_YES");
        psi.Environment.Remove("REDISCLI_AUTH");
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Write(stdin);
        p.StandardInput.Close();
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{exe} {string.Join(' ', args)} timed out");
        }
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    /// <summary>The launchers rebuild when any source changed: build once, before servers start in parallel.</summary>
    public static void BuildBoth()
    {
        foreach (var tool in new[] { "cinnabar-server", "cinnabar-cli" })
        {
            var v = Tools.Run(Path.Combine(ServerProcess.RepoRoot, "bin", tool), ["--version"], stdin: "", timeoutMs: 600_000);
            if (v.ExitCode != 0) throw new InvalidOperationException(tool + " build failed: " + v.Stderr);
        }
    }

    public static (int, string, string) Redis(params string[] args) => Run("redis-cli", args);

    public static (int, string, string) Ours(params string[] args) => Run(CinnabarCli, args);

    public static string Addr(ServerProcess n) => "127.0.0.1:" + n.Port;

    public static string Call(ServerProcess n, params object[] args)
    {
        using var c = new RespConnection(n.Port);
        return c.Call(args).ToString();
    }

    public static string MyId(ServerProcess n) => Call(n, "CLUSTER", "MYID");

    public static void WaitClusterOk(IEnumerable<ServerProcess> nodes) =>
        Tools.WaitUntil(() => nodes.All(n => Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "cluster_state:ok");

    /// <summary>Every node lists the id in its CLUSTER NODES (or none does, when known is false).</summary>
    public static void WaitKnown(IEnumerable<ServerProcess> nodes, string id, bool known) =>
        Tools.WaitUntil(() => nodes.All(n => Call(n, "CLUSTER", "NODES").Contains(id, StringComparison.Ordinal) == known), TimeSpan.FromSeconds(30), (known ? "every node to know " : "every node to forget ") + id);

    public static ServerProcess[] StartMany(bool redis, int count)
    {
        var tasks = Enumerable.Range(0, count).Select(_ => Task.Run(() => StartWithRetry(redis))).ToArray();
        try
        {
            Task.WaitAll(tasks);
        }
        catch
        {
            foreach (var t in tasks) if (t.IsCompletedSuccessfully) t.Result.Dispose();
            throw;
        }
        return [.. tasks.Select(t => t.Result)];
    }

    /// <summary>A node's bus port (port+10000) can be taken by an outgoing connection between the
    /// free-port check and the bind: then another port is tried.</summary>
    private static ServerProcess StartWithRetry(bool redis)
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return ServerProcess.Start(redis, NodeArgs);
            }
            catch (InvalidOperationException e) when (attempt < 3 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
            }
        }
    }

    [GeneratedRegex("[0-9a-f]{40}")]
    public static partial Regex IdRegex();

    [GeneratedRegex(@"Waiting for the cluster to join\n\.*\n")]
    public static partial Regex DotsRegex();

    /// <summary>
    /// Replaces what is random between two runs on different nodes: node ids, the ports (by
    /// their position in the given lists), the number of dots while waiting for the join, and the
    /// order of the node blocks of the final check (CLUSTER NODES order follows the random ids).
    /// </summary>
    public static string Normalize(string s, IReadOnlyList<ServerProcess> nodes)
    {
        for (int i = 0; i < nodes.Count; i++) s = s.Replace(":" + nodes[i].Port, ":N" + i, StringComparison.Ordinal);
        s = IdRegex().Replace(s, "<id>");
        s = DotsRegex().Replace(s, "Waiting for the cluster to join\n...\n");
        int check = s.IndexOf(">>> Performing Cluster Check", StringComparison.Ordinal);
        if (check < 0) return s;
        int blocksStart = s.IndexOf('\n', check) + 1;
        int blocksEnd = s.IndexOf("[OK] All nodes agree", blocksStart, StringComparison.Ordinal);
        if (blocksEnd < 0) blocksEnd = s.IndexOf("[ERR] Nodes don't agree", blocksStart, StringComparison.Ordinal);
        if (blocksEnd < 0) return s;
        var lines = s[blocksStart..blocksEnd].Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var blocks = new List<string>();
        foreach (var line in lines)
        {
            if (line.StartsWith("M: ", StringComparison.Ordinal) || line.StartsWith("S: ", StringComparison.Ordinal) || blocks.Count == 0) blocks.Add(line);
            else blocks[^1] += "\n" + line;
        }
        blocks.Sort(string.CompareOrdinal);
        return s[..blocksStart] + string.Join("\n", blocks) + "\n" + s[blocksEnd..];
    }
}

/// <summary>Six Cinnabar nodes made into a 3-master/3-replica cluster by cinnabar-cli, plus spares.</summary>
public sealed class CinnabarClusterFixture : IDisposable
{
    public CinnabarClusterFixture()
    {
        ClusterCli.BuildBoth();
        try
        {
            Nodes = ClusterCli.StartMany(redis: false, 6);
            Spares = ClusterCli.StartMany(redis: false, 3);
            Plain = ServerProcess.StartRedis();
            var args = new List<string> { "--cluster", "create" };
            args.AddRange(Nodes.Select(ClusterCli.Addr));
            args.AddRange(["--cluster-replicas", "1", "--cluster-yes"]);
            Create = ClusterCli.Run(ClusterCli.CinnabarCli, args);
            if (Create.ExitCode != 0) throw new InvalidOperationException("create failed: " + Create.Stdout + Create.Stderr);
            ClusterCli.WaitClusterOk(Nodes);
            // A few keys in every master's range, written with -c through the cluster.
            var cmds = string.Join("\n", Enumerable.Range(0, 30).Select(i => $"SET key:{i} v{i}")) + "\n";
            Tools.Run("redis-cli", ["-c", "-p", Nodes[0].Port.ToString()], stdin: cmds);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ServerProcess[] Nodes { get; } = [];
    /// <summary>Empty cluster-enabled nodes for add-node and create errors.</summary>
    public ServerProcess[] Spares { get; } = [];
    /// <summary>A standalone (non-cluster) redis-server.</summary>
    public ServerProcess? Plain { get; }
    public (int ExitCode, string Stdout, string Stderr) Create { get; }

    public void Dispose()
    {
        foreach (var n in Nodes) n.Dispose();
        foreach (var n in Spares) n.Dispose();
        Plain?.Dispose();
    }
}

/// <summary>
/// `--cluster` verbs of cinnabar-cli against a Cinnabar cluster it created, compared with the real
/// redis-cli run against the same nodes (the tests of this class run one after another and leave
/// the cluster as they found it).
/// </summary>
public sealed class ClusterManagerTests : IClassFixture<CinnabarClusterFixture>
{
    private readonly CinnabarClusterFixture _f;

    public ClusterManagerTests(CinnabarClusterFixture f) => _f = f;

    private string Entry => ClusterCli.Addr(_f.Nodes[0]);

    private static void Same(string[] args, string stdin = "", string term = "dumb")
    {
        var expected = ClusterCli.Run("redis-cli", args, stdin, term);
        var actual = ClusterCli.Run(ClusterCli.CinnabarCli, args, stdin, term);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Create_OfCinnabarNodes_ReachesClusterStateOk()
    {
        var (code, stdout, stderr) = _f.Create;
        Assert.Equal(0, code);
        Assert.Equal("", stderr);
        Assert.StartsWith(">>> Performing hash slots allocation on 6 nodes...\nMaster[0] -> Slots 0 - 5460\nMaster[1] -> Slots 5461 - 10922\nMaster[2] -> Slots 10923 - 16383\n", stdout, StringComparison.Ordinal);
        Assert.Contains($"Adding replica {ClusterCli.Addr(_f.Nodes[4])} to {ClusterCli.Addr(_f.Nodes[0])}\n", stdout, StringComparison.Ordinal);
        Assert.Contains("[WARNING] Some slaves are in the same host as their master\n", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Can I set the above configuration?", stdout, StringComparison.Ordinal);
        Assert.Matches(@">>> Sending CLUSTER MEET messages to join the cluster\nWaiting for the cluster to join\n\.*\n>>> Performing Cluster Check", stdout);
        Assert.EndsWith("[OK] All nodes agree about slots configuration.\n>>> Check for open slots...\n>>> Check slots coverage...\n[OK] All 16384 slots covered.\n", stdout, StringComparison.Ordinal);
        Assert.Equal(3, _f.Nodes.Count(IsMaster));
        foreach (var n in _f.Nodes) Assert.Contains("cluster_state:ok", ClusterCli.Call(n, "CLUSTER", "INFO"), StringComparison.Ordinal);
    }

    private static string Call(ServerProcess n, params object[] args) => ClusterCli.Call(n, args);

    private static bool IsMaster(ServerProcess n) => Call(n, "INFO", "replication").Contains("role:master", StringComparison.Ordinal);

    [Fact]
    public void Check_SameAsRedisCli()
    {
        Same(["--cluster", "check", Entry]);
        Same(["--cluster", "check", Entry], term: "xterm-256color");
        Same(["--cluster", "check", "127.0.0.1", _f.Nodes[3].Port.ToString()]);
        Same(["--cluster", "check", Entry, "--cluster-search-multiple-owners"]);
        Same(["--cluster", "fix", Entry]);
    }

    [Fact]
    public void InfoCallSetTimeout_SameAsRedisCli()
    {
        Same(["--cluster", "info", Entry]);
        Same(["--cluster", "info", Entry], term: "xterm");
        Same(["--cluster", "call", Entry, "GET", "key:1"]);
        Same(["--cluster", "call", Entry, "DBSIZE", "--cluster-only-masters"]);
        Same(["--cluster", "call", Entry, "CLUSTER", "MYID", "--cluster-only-replicas"]);
        Same(["--cluster", "call", Entry, "NOSUCHCOMMAND", "x"]);
        Same(["--cluster", "set-timeout", Entry, "3000"]);
        Same(["--cluster", "set-timeout", Entry, "50"]);
        var (code, stdout, _) = ClusterCli.Ours("--cluster", "info", Entry);
        Assert.Equal(0, code);
        Assert.Contains("[OK] 30 keys in 3 masters.\n0.00 keys per slot on average.\n", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Errors_SameAsRedisCli()
    {
        string spare = ClusterCli.Addr(_f.Spares[2]);
        string plain = ClusterCli.Addr(_f.Plain!);
        Same(["--cluster", "nosuchverb", Entry]);
        Same(["--cluster", "check"]);
        Same(["--cluster", "create", spare]);
        Same(["--cluster", "add-node", spare]);
        Same(["--cluster", "del-node", Entry, "a", "b"]);
        Same(["--cluster", "set-timeout", Entry]);
        Same(["--cluster", "check", "nohost"]);
        Same(["--cluster", "info", plain]);
        Same(["--cluster", "check", "127.0.0.1:1"]);
        Same(["--cluster", "create", spare, plain, spare]);
        Same(["--cluster", "create", spare, Entry, spare]);
        Same(["--cluster", "create", spare, spare, spare, "--cluster-replicas", "1"]);
        Same(["--cluster", "create", spare, spare, spare, "--cluster-replicas", "1"], term: "xterm");
        Same(["--cluster", "create", "noport", spare]);
        Same(["--cluster", "help"]);
        Same(["--cluster", "del-node", Entry, "0000000000000000000000000000000000000000"]);
        Same(["--cluster", "del-node", Entry, ClusterCli.MyId(_f.Nodes[0])]);
        Same(["--cluster", "add-node", spare, Entry, "--cluster-slave", "--cluster-master-id", "nosuchid"]);
        Same(["--cluster", "add-node", "127.0.0.1:1", Entry]);
        Same(["--cluster", "add-node", ClusterCli.Addr(_f.Nodes[1]), Entry]);
        Same(["--cluster", "add-node", plain, Entry]);
        Same(["--cluster", "call", "127.0.0.1:1", "PING"]);
        Same(["--cluster", "info", Entry, "extra-ignored"]);
    }

    [Fact]
    public void OpenSlot_CheckFailsAndFixClosesIt_LikeRedisCli()
    {
        var owner = _f.Nodes[0];
        string target = ClusterCli.MyId(_f.Nodes[1]);
        var results = new List<((int, string, string) Check, (int, string, string) Fix)>();
        foreach (var cli in new[] { "redis-cli", ClusterCli.CinnabarCli })
        {
            Assert.Equal("OK", Call(owner, "CLUSTER", "SETSLOT", "100", "MIGRATING", target));
            var check = ClusterCli.Run(cli, ["--cluster", "check", Entry]);
            var fix = ClusterCli.Run(cli, ["--cluster", "fix", Entry]);
            results.Add((check, fix));
        }
        Assert.Equal(results[0].Check, results[1].Check);
        Assert.Equal(results[0].Fix, results[1].Fix);
        Assert.Equal(1, results[1].Check.Item1);
        Assert.Contains($"[WARNING] Node {Entry} has slots in migrating state 100.\n[WARNING] The following slots are open: 100.\n", results[1].Check.Item2, StringComparison.Ordinal);
        Assert.Equal(0, results[1].Fix.Item1);
        Assert.Contains($">>> Case 4: Closing slot 100 on {Entry}\n", results[1].Fix.Item2, StringComparison.Ordinal);
        Assert.Equal(0, ClusterCli.Ours("--cluster", "check", Entry).Item1);

        // Several open slots are listed in redis-cli's (hash table) order.
        int[] slots = [7, 1, 2, 3, 100, 200, 5000, 33, 44];
        foreach (int s in slots) Call(owner, "CLUSTER", "SETSLOT", s.ToString(), "MIGRATING", target);
        try
        {
            Same(["--cluster", "check", Entry]);
        }
        finally
        {
            foreach (int s in slots) Call(owner, "CLUSTER", "SETSLOT", s.ToString(), "STABLE");
        }
    }

    [Fact]
    public void UncoveredSlots_FixCoversThem_LikeRedisCli()
    {
        // Two slots holding keys, unassigned on their owners: fix covers them with those nodes.
        var results = new List<(int, string, string)>();
        foreach (var cli in new[] { "redis-cli", ClusterCli.CinnabarCli })
        {
            var owners = new List<(ServerProcess Node, int Slot)>();
            foreach (var key in new[] { "key:1", "key:2" })
            {
                int slot = int.Parse(Call(_f.Nodes[0], "CLUSTER", "KEYSLOT", key));
                var owner = _f.Nodes.First(n => Call(n, "CLUSTER", "COUNTKEYSINSLOT", slot) != "0" && IsMaster(n));
                owners.Add((owner, slot));
            }
            foreach (var (node, slot) in owners) Assert.Equal("OK", Call(node, "CLUSTER", "DELSLOTS", slot));
            results.Add(ClusterCli.Run(cli, ["--cluster", "fix", Entry], stdin: "yes\n"));
            Assert.Equal(0, ClusterCli.Ours("--cluster", "check", Entry).Item1);
        }
        Assert.Equal(results[0], results[1]);
        Assert.Contains("The following uncovered slots have keys in just one node:\n", results[1].Item2, StringComparison.Ordinal);
        Assert.Contains("Fix these slots by covering with those nodes? (type 'yes' to accept): >>> Covering slot ", results[1].Item2, StringComparison.Ordinal);
    }

    [Fact]
    public void AddNodeAsMasterThenDelNode_LikeRedisCli()
    {
        var runs = new List<string>();
        var spares = new[] { _f.Spares[0], _f.Spares[1] };
        var clis = new[] { "redis-cli", ClusterCli.CinnabarCli };
        for (int i = 0; i < 2; i++)
        {
            var spare = spares[i];
            string id = ClusterCli.MyId(spare);
            var add = ClusterCli.Run(clis[i], ["--cluster", "add-node", ClusterCli.Addr(spare), Entry]);
            Assert.Equal(0, add.ExitCode);
            ClusterCli.WaitKnown(_f.Nodes, id, true);
            var del = ClusterCli.Run(clis[i], ["--cluster", "del-node", Entry, id]);
            Assert.Equal(0, del.ExitCode);
            Assert.Equal(id, ClusterCli.MyId(spare));
            Assert.Single(Call(spare, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries));
            var all = _f.Nodes.Append(spare).ToList();
            runs.Add(ClusterCli.Normalize($"{add.ExitCode}\n{add.Stdout}{add.Stderr}\n{del.ExitCode}\n{del.Stdout}{del.Stderr}", all));
        }
        Assert.Equal(runs[0], runs[1]);
        Assert.Contains(">>> Send CLUSTER MEET to node 127.0.0.1:N6 to make it join the cluster.\n[OK] New node added correctly.\n", runs[1], StringComparison.Ordinal);
        Assert.Contains(">>> Sending CLUSTER RESET SOFT to the deleted node.\n", runs[1], StringComparison.Ordinal);
    }

    [Fact]
    public void CreatePlan_AnsweredNo_SameAsRedisCli()
    {
        // Three empty nodes: the plan and the prompt, then nothing is changed on "no".
        var args = new List<string> { "--cluster", "create" };
        args.AddRange(_f.Spares.Select(ClusterCli.Addr));
        Same([.. args], stdin: "no\n");
        var (code, stdout, _) = ClusterCli.Run(ClusterCli.CinnabarCli, args, stdin: "no\n");
        Assert.Equal(0, code);
        Assert.EndsWith("   slots:[10923-16383] (5461 slots) master\nCan I set the above configuration? (type 'yes' to accept): ", stdout, StringComparison.Ordinal);
        foreach (var n in _f.Spares) Assert.Contains("cluster_known_nodes:1\r\n", Call(n, "CLUSTER", "INFO"), StringComparison.Ordinal);
        foreach (var n in _f.Spares) Assert.Contains("cluster_slots_assigned:0\r\n", Call(n, "CLUSTER", "INFO"), StringComparison.Ordinal);
    }

    [Fact]
    public void Backup_SameAsRedisCli()
    {
        var dirs = new[] { Directory.CreateTempSubdirectory("cm-backup-").FullName, Directory.CreateTempSubdirectory("cm-backup-").FullName };
        try
        {
            var redis = ClusterCli.Redis("--cluster", "backup", Entry, dirs[0]);
            var ours = ClusterCli.Ours("--cluster", "backup", Entry, dirs[1]);
            Assert.Equal(redis.Item1, ours.Item1);
            Assert.Equal(redis.Item2.Replace(dirs[0], "DIR", StringComparison.Ordinal), ours.Item2.Replace(dirs[1], "DIR", StringComparison.Ordinal));
            // stderr: "SYNC sent to master, writing N bytes to '...'" and "Transfer finished with success." per master.
            static string Sizes(string s) => Regex.Replace(s, @"writing \d+ bytes", "writing N bytes");
            Assert.Equal(Sizes(redis.Item3.Replace(dirs[0], "DIR", StringComparison.Ordinal)), Sizes(ours.Item3.Replace(dirs[1], "DIR", StringComparison.Ordinal)));
            Assert.Equal(3, Regex.Matches(ours.Item3, "Transfer finished with success").Count);
            Assert.Equal(File.ReadAllText(Path.Combine(dirs[0], "nodes.json")), File.ReadAllText(Path.Combine(dirs[1], "nodes.json")));
            var files = Directory.GetFiles(dirs[1]).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(Directory.GetFiles(dirs[0]).Select(Path.GetFileName).Order(StringComparer.Ordinal), files);
            Assert.Equal(4, files.Count); // three masters' RDBs and nodes.json
            foreach (var f in Directory.GetFiles(dirs[1], "*.rdb")) Assert.StartsWith("REDIS", File.ReadAllText(f)[..5], StringComparison.Ordinal);
        }
        finally
        {
            foreach (var d in dirs) ServerProcess.DeleteDir(d);
        }
    }

    [Fact]
    public void AddNodeAsReplica_ReplicatesTheMasterWithFewestReplicas()
    {
        var spare = _f.Spares[2];
        string id = ClusterCli.MyId(spare);
        var (code, stdout, stderr) = ClusterCli.Ours("--cluster", "add-node", ClusterCli.Addr(spare), Entry, "--cluster-slave");
        Assert.True(code == 0, stdout + stderr);
        // Every master has one replica: the first one listed (the entry node) is chosen.
        Assert.Contains($"Automatically selected master {Entry}\n", stdout, StringComparison.Ordinal);
        Assert.Matches($@"Waiting for the cluster to join\n\.*\n>>> Configure node as replica of {Regex.Escape(Entry)}\.\n\[OK\] New node added correctly\.\n$", stdout);
        Tools.WaitUntil(() => Call(spare, "INFO", "replication").Contains("role:slave", StringComparison.Ordinal), TimeSpan.FromSeconds(20), "the new replica");
        ClusterCli.WaitKnown(_f.Nodes, id, true);
        var del = ClusterCli.Ours("--cluster", "del-node", Entry, id);
        Assert.True(del.Item1 == 0, del.Item2 + del.Item3);
        Assert.Single(Call(spare, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}

/// <summary>cinnabar-cli creating a cluster (of redis-server or Cinnabar nodes), next to redis-cli doing the same on as many nodes.</summary>
public sealed class ClusterManagerCreateTests
{
    [Theory]
    [InlineData(true, 6, 1)]
    [InlineData(false, 3, 0)]
    public void Create_SameAsRedisCli(bool redisNodes, int count, int replicas)
    {
        ClusterCli.BuildBoth();
        var a = ClusterCli.StartMany(redisNodes, count);
        var b = ClusterCli.StartMany(redisNodes, count);
        try
        {
            var outputs = new List<string>();
            foreach (var (cli, nodes) in new[] { ("redis-cli", a), (ClusterCli.CinnabarCli, b) })
            {
                var args = new List<string> { "--cluster", "create" };
                args.AddRange(nodes.Select(ClusterCli.Addr));
                args.AddRange(["--cluster-replicas", replicas.ToString(), "--cluster-yes"]);
                var r = ClusterCli.Run(cli, args);
                outputs.Add(ClusterCli.Normalize($"{r.ExitCode}\n{r.Stdout}{r.Stderr}", nodes));
            }
            Assert.Equal(outputs[0], outputs[1]);
            ClusterCli.WaitClusterOk(b);
            string entry = ClusterCli.Addr(b[0]);
            Assert.Equal(ClusterCli.Redis("--cluster", "check", entry), ClusterCli.Ours("--cluster", "check", entry));
            Assert.Equal(ClusterCli.Redis("--cluster", "info", entry), ClusterCli.Ours("--cluster", "info", entry));
        }
        finally
        {
            foreach (var n in a.Concat(b)) n.Dispose();
        }
    }
}

/// <summary>The pieces that reproduce redis-cli's C library behaviour.</summary>
public sealed class ClusterManagerUnitTests
{
    [Fact]
    public void GlibcRand_MatchesGlibc()
    {
        // Values of glibc's srand(seed); rand() ...
        var r = new ClusterManager.GlibcRand(1764745000u);
        Assert.Equal([130570766, 932127974, 244628959, 1247599539, 470819794], Enumerable.Range(0, 5).Select(_ => r.Next()));
        var r2 = new ClusterManager.GlibcRand(12345u);
        for (int i = 0; i < 2000; i++) r2.Next();
        Assert.Equal(505739536, r2.Next());
    }

    [Fact]
    public void CmDict_IteratesInRedisCliOrder()
    {
        // The order redis-cli 7.0.15 printed for "The following slots are open" after marking
        // these slots migrating on one node, in this order.
        var d = new ClusterManager.CmDict();
        foreach (var s in new[] { "1", "2", "3", "7", "33", "44", "55", "66", "100", "200", "5000" }) d.Add(s);
        Assert.Equal(["33", "3", "44", "1", "2", "55", "200", "5000", "66", "7", "100"], d.Keys());
        Assert.False(d.Add("7"));
        Assert.Equal(11, d.Count);
    }

    [Theory]
    [InlineData(0, "0.00")]
    [InlineData(30, "0.00")]
    [InlineData(2048, "0.12")]
    [InlineData(6144, "0.38")]
    [InlineData(16384, "1.00")]
    [InlineData(100000, "6.10")]
    public void KeysPerSlot_FormatsLikePrintf(int keys, string expected) =>
        Assert.Equal(expected, ClusterManager.CmOps.FormatFixed2(keys / 16384f));
}
