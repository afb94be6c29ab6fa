using Cinnabar.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cinnabar.Cli.Tests;

/// <summary>
/// What an operator does to a live cluster, driven by cinnabar-cli alone, on Cinnabar nodes and on
/// redis-server nodes: create 3 masters + 3 replicas, load keys, add an empty master, reshard 4096
/// slots to it, give it a replica, move another replica to it, check, drain it again and del-node
/// it. No key may be lost on the way.
/// </summary>
public sealed class OperatorScenarioTests
{
    private const int Keys = 1500;
    private readonly ITestOutputHelper _log;

    public OperatorScenarioTests(ITestOutputHelper log) => _log = log;

    private (int Code, string Out) Cli(params string[] args)
    {
        var (code, stdout, stderr) = ClusterCli.Ours(args);
        _log.WriteLine($"cinnabar-cli {string.Join(' ', args)} -> {code}");
        return (code, stdout + stderr);
    }

    private void Ok(params string[] args)
    {
        var (code, output) = Cli(args);
        Assert.True(code == 0, $"cinnabar-cli {string.Join(' ', args)} exited {code}:\n{output}");
    }

    /// <summary>Master ids and their slot counts, from one node's CLUSTER NODES.</summary>
    private static Dictionary<string, int> SlotsByMaster(ServerProcess n)
    {
        var result = new Dictionary<string, int>();
        foreach (var line in ClusterCli.Call(n, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            if (!f[2].Contains("master", StringComparison.Ordinal)) continue;
            int slots = 0;
            foreach (var r in f.Skip(8))
            {
                if (r.StartsWith('[')) continue;
                int dash = r.IndexOf('-');
                slots += dash < 0 ? 1 : int.Parse(r[(dash + 1)..]) - int.Parse(r[..dash]) + 1;
            }
            result[f[0]] = slots;
        }
        return result;
    }

    private static string MasterOf(ServerProcess n, string id)
    {
        foreach (var line in ClusterCli.Call(n, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var f = line.Split(' ');
            if (f[0] == id) return f[3];
        }
        return "";
    }

    /// <summary>Every key is readable through the cluster with its value (a cluster client
    /// follows MOVED; a fresh connection sees the current slot map).</summary>
    private static void AllKeysThere(ServerProcess entry)
    {
        using var mux = StackExchange.Redis.ConnectionMultiplexer.Connect($"127.0.0.1:{entry.Port},connectTimeout=10000,syncTimeout=20000");
        var db = mux.GetDatabase();
        var missing = new List<string>();
        for (int i = 0; i < Keys; i++)
            if (db.StringGet("op:" + i) != "v" + i) missing.Add("op:" + i);
        Assert.True(missing.Count == 0, $"{missing.Count} keys lost or wrong: {string.Join(' ', missing.Take(20))}");
    }

    private static void LoadKeys(ServerProcess entry)
    {
        using var mux = StackExchange.Redis.ConnectionMultiplexer.Connect($"127.0.0.1:{entry.Port},connectTimeout=10000,syncTimeout=20000");
        var db = mux.GetDatabase();
        for (int i = 0; i < Keys; i++) Assert.True(db.StringSet("op:" + i, "v" + i));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Grow_reshard_move_replicas_shrink(bool redis)
    {
        if (redis && !ServerProcess.RedisAvailable) throw new InvalidOperationException("redis-server is required (.ci/run installs it)");
        ClusterCli.BuildBoth();
        var nodes = ClusterCli.StartMany(redis, 8);
        try
        {
            var first = nodes[..6];
            Ok(["--cluster", "create", .. first.Select(ClusterCli.Addr), "--cluster-replicas", "1", "--cluster-yes"]);
            ClusterCli.WaitClusterOk(first);
            string entry = ClusterCli.Addr(nodes[0]);

            LoadKeys(nodes[0]);
            AllKeysThere(nodes[0]);

            // A new, empty master joins and takes 4096 slots from all the others.
            Ok("--cluster", "add-node", ClusterCli.Addr(nodes[6]), entry);
            string newId = ClusterCli.MyId(nodes[6]);
            ClusterCli.WaitKnown(first, newId, known: true);
            Tools.WaitUntil(() => !ClusterCli.Call(nodes[6], "CLUSTER", "NODES").Contains("handshake", StringComparison.Ordinal)
                && ClusterCli.Call(nodes[6], "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length == 7,
                TimeSpan.FromSeconds(30), "the new master to know the cluster");
            // A node that just joined answers CLUSTERDOWN until its own state is ok (Redis does the
            // same; redis-cli would fail the first MIGRATE): wait as an operator would.
            ClusterCli.WaitClusterOk([nodes[6]]);
            Ok("--cluster", "reshard", entry, "--cluster-from", "all", "--cluster-to", newId, "--cluster-slots", "4096", "--cluster-yes");
            Tools.WaitUntil(() => SlotsByMaster(nodes[0]).GetValueOrDefault(newId) == 4096, TimeSpan.FromSeconds(30), "4096 slots on the new master");
            Assert.Equal(16384, SlotsByMaster(nodes[0]).Values.Sum());
            AllKeysThere(nodes[6]);

            // It gets a replica of its own, then another replica moves to it.
            Ok("--cluster", "add-node", ClusterCli.Addr(nodes[7]), entry, "--cluster-slave", "--cluster-master-id", newId);
            string addedReplica = ClusterCli.MyId(nodes[7]);
            Tools.WaitUntil(() => MasterOf(nodes[0], addedReplica) == newId, TimeSpan.FromSeconds(30), "the added replica to replicate the new master");
            var mover = first.First(n => ClusterCli.Call(n, "INFO", "replication").Contains("role:slave", StringComparison.Ordinal));
            string moverId = ClusterCli.MyId(mover);
            var (code, output) = Cli("-p", mover.Port.ToString(), "CLUSTER", "REPLICATE", newId);
            Assert.True(code == 0 && output.Trim() == "OK", output);
            Tools.WaitUntil(() => MasterOf(nodes[0], moverId) == newId, TimeSpan.FromSeconds(30), "the moved replica to follow the new master");
            Tools.WaitUntil(() => Cli("--cluster", "check", entry).Code == 0, TimeSpan.FromSeconds(30), "--cluster check to pass");
            var check = Cli("--cluster", "check", entry).Out;
            Assert.Contains("2 additional replica(s)", check, StringComparison.Ordinal);
            Assert.Contains("[OK] All 16384 slots covered.", check, StringComparison.Ordinal);

            // Drain the new master again and remove it from the cluster.
            string id0 = ClusterCli.MyId(nodes[0]);
            Ok("--cluster", "reshard", entry, "--cluster-from", newId, "--cluster-to", id0, "--cluster-slots", "4096", "--cluster-yes");
            Tools.WaitUntil(() => SlotsByMaster(nodes[0]).GetValueOrDefault(newId) == 0, TimeSpan.FromSeconds(30), "the new master drained");
            AllKeysThere(nodes[0]);
            Ok("--cluster", "del-node", entry, newId);
            var rest = nodes.Where(n => n != nodes[6]).ToArray();
            ClusterCli.WaitKnown(rest, newId, known: false);
            Tools.WaitUntil(() => Cli("--cluster", "check", entry).Code == 0, TimeSpan.FromSeconds(30), "--cluster check to pass after del-node");
            AllKeysThere(nodes[0]);
        }
        finally
        {
            foreach (var n in nodes) n.Dispose();
        }
    }
}
