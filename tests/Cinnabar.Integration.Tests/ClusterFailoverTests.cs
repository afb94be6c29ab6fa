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
        var n = ServerProcess.Start(redis, ["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--appendonly", "no"]);
        _nodes.Add(n);
        return n;
    }

    private static string Call(ServerProcess n, params string[] args)
    {
        using var c = n.Connect();
        return c.Call(args).ToString();
    }

    /// <summary>Masters of one kind own the slots, each with a replica of the other kind; then the
    /// second master is killed and its replica must take over, as every surviving node sees it.</summary>
    private void KillMasterAndExpectReplicaPromoted(bool redisMasters)
    {
        var masters = new List<ServerProcess>();
        var replicas = new List<ServerProcess>();
        for (int i = 0; i < 3; i++) masters.Add(Start(redisMasters));
        for (int i = 0; i < 3; i++) replicas.Add(Start(!redisMasters));
        string[] ranges = ["0", "5460", "5461", "10922", "10923", "16383"];
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal("OK", Call(masters[i], "CLUSTER", "SET-CONFIG-EPOCH", (i + 1).ToString()));
            Assert.Equal("OK", Call(masters[i], "CLUSTER", "ADDSLOTSRANGE", ranges[2 * i], ranges[2 * i + 1]));
        }
        foreach (var n in _nodes.Skip(1)) Assert.Equal("OK", Call(n, "CLUSTER", "MEET", "127.0.0.1", _nodes[0].Port.ToString()));
        Tools.WaitUntil(() => _nodes.All(n => Call(n, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Count(l => !l.Contains("handshake", StringComparison.Ordinal)) == 6), TimeSpan.FromSeconds(60), "every node to know the others");
        for (int i = 0; i < 3; i++)
            Assert.Equal("OK", Call(replicas[i], "CLUSTER", "REPLICATE", Call(masters[i], "CLUSTER", "MYID")));
        Tools.WaitUntil(() => _nodes.All(n => Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal))
            && replicas.All(r => Call(r, "INFO", "replication").Contains("master_link_status:up", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "cluster ok with replicas in sync");

        string heirId = Call(replicas[1], "CLUSTER", "MYID");
        masters[1].Kill();
        var survivors = _nodes.Where(n => n != masters[1]).ToList();
        Tools.WaitUntil(() => survivors.All(n =>
        {
            var line = Call(n, "CLUSTER", "NODES").Split('\n').FirstOrDefault(l => l.StartsWith(heirId, StringComparison.Ordinal));
            return line != null && line.Contains("master", StringComparison.Ordinal) && line.EndsWith("5461-10922", StringComparison.Ordinal)
                && Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal);
        }), TimeSpan.FromSeconds(60), "the replica to be promoted everywhere");
        Assert.Contains("role:master", Call(replicas[1], "INFO", "replication"));
        // The promoted node serves writes for its slots.
        Assert.Equal("OK", Call(replicas[1], "SET", "{x1}.x", "after"));
    }

    [Fact]
    public void Redis_masters_elect_a_cinnabar_replica()
    {
        if (!ServerProcess.RedisAvailable) throw new InvalidOperationException("redis-server is required (.ci/run installs it)");
        KillMasterAndExpectReplicaPromoted(redisMasters: true);
    }

    [Fact]
    public void Cinnabar_masters_elect_a_redis_replica()
    {
        if (!ServerProcess.RedisAvailable) throw new InvalidOperationException("redis-server is required (.ci/run installs it)");
        KillMasterAndExpectReplicaPromoted(redisMasters: false);
    }
}
