using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Failover across implementations with real processes: Redis 7.0 masters vote for a Cinnabar
/// replica, and Cinnabar masters vote for a Redis replica (the election rules are Redis's on both
/// sides, only the start delay differs).
/// </summary>
[Collection("cluster")]
public sealed class ClusterFailoverTests : IDisposable
{
    private readonly List<ServerProcess> _nodes = new();

    public void Dispose()
    {
        foreach (var n in _nodes) n.Dispose();
    }

    private ServerProcess Start(bool redis)
    {
        if (redis && !ServerProcess.RedisAvailable) throw new InvalidOperationException("redis-server is required (.ci/run installs it)");
        var n = ServerProcess.Start(redis, ["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--appendonly", "no"]);
        _nodes.Add(n);
        return n;
    }

    private static string Call(ServerProcess n, params string[] args)
    {
        using var c = n.Connect();
        return c.Call(args).ToString();
    }

    private static string Nodes(ServerProcess n) => Call(n, "CLUSTER", "NODES");

    private static string? NodeLine(ServerProcess viewer, string id) =>
        Nodes(viewer).Split('\n').FirstOrDefault(l => l.StartsWith(id, StringComparison.Ordinal));

    private static readonly string[] Ranges = ["0", "5460", "5461", "10922", "10923", "16383"];

    /// <summary>Three masters owning a third of the slots each, then one replica per master
    /// (extra ones for master 0 when asked), every node ok and every replica in sync.</summary>
    private (List<ServerProcess> Masters, List<ServerProcess> Replicas) Build(
        Func<int, bool> masterIsRedis, Func<int, bool> replicaIsRedis, int extraReplicasOfFirst = 0)
    {
        var masters = new List<ServerProcess>();
        var replicas = new List<ServerProcess>();
        for (int i = 0; i < 3; i++) masters.Add(Start(masterIsRedis(i)));
        for (int i = 0; i < 3 + extraReplicasOfFirst; i++) replicas.Add(Start(replicaIsRedis(i)));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("OK", Call(masters[i], "CLUSTER", "SET-CONFIG-EPOCH", (i + 1).ToString()));
            Assert.Equal("OK", Call(masters[i], "CLUSTER", "ADDSLOTSRANGE", Ranges[2 * i], Ranges[2 * i + 1]));
        }
        foreach (var n in _nodes.Skip(1)) Assert.Equal("OK", Call(n, "CLUSTER", "MEET", "127.0.0.1", _nodes[0].Port.ToString()));
        Tools.WaitUntil(() => _nodes.All(n => Nodes(n).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Count(l => !l.Contains("handshake", StringComparison.Ordinal)) == _nodes.Count), TimeSpan.FromSeconds(60), "every node to know the others");
        for (int i = 0; i < replicas.Count; i++)
            Assert.Equal("OK", Call(replicas[i], "CLUSTER", "REPLICATE", Call(masters[i < 3 ? i : 0], "CLUSTER", "MYID")));
        Tools.WaitUntil(() => _nodes.All(n => Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal))
            && replicas.All(r => Call(r, "INFO", "replication").Contains("master_link_status:up", StringComparison.Ordinal))
            && _nodes.All(n => Nodes(n).Split('\n').Count(l => l.Contains("slave", StringComparison.Ordinal)) == replicas.Count),
            TimeSpan.FromSeconds(60), "cluster ok with replicas in sync");
        return (masters, replicas);
    }

    /// <summary>Every listed node sees `id` as the master of 5461-10922 and the cluster ok.</summary>
    private static void WaitPromotedEverywhere(IEnumerable<ServerProcess> viewers, string id, string what) =>
        Tools.WaitUntil(() => viewers.All(n =>
        {
            var line = NodeLine(n, id);
            return line != null && line.Contains("master", StringComparison.Ordinal) && line.EndsWith("5461-10922", StringComparison.Ordinal)
                && Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal);
        }), TimeSpan.FromSeconds(60), what);

    /// <summary>Masters of one kind own the slots, each with a replica of the other kind; then the
    /// second master is killed and its replica must take over, as every surviving node sees it.</summary>
    private void KillMasterAndExpectReplicaPromoted(bool redisMasters)
    {
        var (masters, replicas) = Build(_ => redisMasters, _ => !redisMasters);
        string heirId = Call(replicas[1], "CLUSTER", "MYID");
        masters[1].Kill();
        WaitPromotedEverywhere(_nodes.Where(n => n != masters[1]), heirId, "the replica to be promoted everywhere");
        Assert.Contains("role:master", Call(replicas[1], "INFO", "replication"));
        // The promoted node serves writes for its slots.
        Assert.Equal("OK", Call(replicas[1], "SET", "{x1}.x", "after"));
    }

    [Fact]
    public void A_killed_cinnabar_master_is_replaced_by_its_replica()
    {
        var (masters, replicas) = Build(_ => false, _ => false);
        Assert.Equal("OK", Call(masters[1], "SET", "{x1}.before", "1"));
        Assert.Equal("1", Call(masters[1], "WAIT", "1", "5000"));
        string heirId = Call(replicas[1], "CLUSTER", "MYID");
        masters[1].Kill();
        WaitPromotedEverywhere(_nodes.Where(n => n != masters[1]), heirId, "the replica to be promoted everywhere");
        Assert.Equal("1", Call(replicas[1], "GET", "{x1}.before"));
        Assert.Equal("OK", Call(replicas[1], "SET", "{x1}.after", "2"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_stopped_master_is_replaced_and_comes_back_as_a_replica_of_its_successor(bool redisMasters, bool redisReplicas)
    {
        var (masters, replicas) = Build(_ => redisMasters, _ => redisReplicas);
        string oldId = Call(masters[1], "CLUSTER", "MYID");
        string heirId = Call(replicas[1], "CLUSTER", "MYID");
        Assert.Equal(0, Tools.Run("kill", ["-STOP", masters[1].Pid.ToString()]).ExitCode);
        try
        {
            WaitPromotedEverywhere(_nodes.Where(n => n != masters[1]), heirId, "the replica to be promoted while its master is stopped");
        }
        finally
        {
            Tools.Run("kill", ["-CONT", masters[1].Pid.ToString()]);
        }
        // Woken up, the old master learns of the newer configEpoch and follows its successor.
        Tools.WaitUntil(() =>
        {
            var line = NodeLine(masters[1], oldId);
            return line != null && line.Contains($"myself,slave {heirId}", StringComparison.Ordinal)
                && Call(masters[1], "INFO", "replication").Contains("master_link_status:up", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(60), "the old master to replicate its successor");
        WaitPromotedEverywhere(_nodes, heirId, "everyone, the old master included, to agree");
    }

    /// <summary>CLUSTER FAILOVER [FORCE|TAKEOVER] on the replica of master 1: roles swap, the old
    /// master follows, and writes acknowledged before the failover are on the new master.</summary>
    [Theory]
    [InlineData("", false, false)]
    [InlineData("FORCE", false, false)]
    [InlineData("TAKEOVER", false, false)]
    [InlineData("", true, false)]
    [InlineData("TAKEOVER", true, false)]
    [InlineData("", false, true)]
    public void Manual_failover_swaps_roles(string option, bool redisMasters, bool redisReplicas)
    {
        var (masters, replicas) = Build(_ => redisMasters, _ => redisReplicas);
        for (int i = 0; i < 50; i++) Assert.Equal("OK", Call(masters[1], "SET", $"{{x1}}.{i}", i.ToString()));
        Assert.Equal("1", Call(masters[1], "WAIT", "1", "5000"));
        string oldId = Call(masters[1], "CLUSTER", "MYID");
        string heirId = Call(replicas[1], "CLUSTER", "MYID");
        var args = option.Length == 0 ? new[] { "CLUSTER", "FAILOVER" } : new[] { "CLUSTER", "FAILOVER", option };
        Assert.Equal("OK", Call(replicas[1], args));
        WaitPromotedEverywhere(_nodes, heirId, $"CLUSTER FAILOVER {option} to promote the replica everywhere");
        Tools.WaitUntil(() => NodeLine(masters[1], oldId)?.Contains($"myself,slave {heirId}", StringComparison.Ordinal) == true,
            TimeSpan.FromSeconds(30), "the old master to become a replica of its successor");
        for (int i = 0; i < 50; i++) Assert.Equal(i.ToString(), Call(replicas[1], "GET", $"{{x1}}.{i}"));
        Assert.Equal("OK", Call(replicas[1], "SET", "{x1}.after", "1"));
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public void A_replica_migrates_to_a_master_left_without_replicas(bool redisMasters, bool redisReplicas)
    {
        // Master 0 has two replicas (replicas 0 and 3); master 2's only replica dies.
        var (masters, replicas) = Build(_ => redisMasters, _ => redisReplicas, extraReplicasOfFirst: 1);
        string m2 = Call(masters[2], "CLUSTER", "MYID");
        var donors = new[] { replicas[0], replicas[3] };
        replicas[2].Kill();
        bool Follows(ServerProcess d) => NodeLine(d, Call(d, "CLUSTER", "MYID"))!.Contains($"slave {m2}", StringComparison.Ordinal);
        Tools.WaitUntil(() => donors.Any(Follows), TimeSpan.FromSeconds(60), "a replica of the master with two to migrate to the orphaned master");
        var migrated = donors.First(Follows);
        Tools.WaitUntil(() => Call(migrated, "INFO", "replication").Contains($"master_port:{masters[2].Port}", StringComparison.Ordinal)
            && Call(migrated, "INFO", "replication").Contains("master_link_status:up", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the migrated replica to sync from its new master");
        Assert.Contains($"Migrating to orphaned master {m2}", migrated.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Redis_masters_elect_a_cinnabar_replica()
    {
        KillMasterAndExpectReplicaPromoted(redisMasters: true);
    }

    [Fact]
    public void Cinnabar_masters_elect_a_redis_replica()
    {
        KillMasterAndExpectReplicaPromoted(redisMasters: false);
    }
}
