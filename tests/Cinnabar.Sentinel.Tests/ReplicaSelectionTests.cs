using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>Which replica a failover promotes (sentinelSelectSlave / compareSlavesForPromotion).</summary>
public sealed class ReplicaSelectionTests
{
    /// <summary>One sentinel (quorum 1), three replicas set up by <paramref name="setup"/>; kills the
    /// master and returns the replica that got SLAVEOF NO ONE (or null).</summary>
    private static (SimNetwork Net, FakeRedis? Promoted) KillMaster(int seed, Action<List<FakeRedis>> setup, Action<List<FakeRedis>>? beforeKill = null)
    {
        var net = SimNetwork.Standard(seed, sentinels: 1, replicas: 3, quorum: 1);
        var replicas = net.Redis.Skip(1).ToList();
        setup(replicas);
        net.WaitDiscovery(3);
        net.RunFor(12_000); // a fresh INFO with the settings
        beforeKill?.Invoke(replicas);
        net.Redis[0].Kill();
        net.RunUntil(() => replicas.Any(r => r.SlaveOfLog.Any(e => e.Target == "NO ONE")) || net.Count("-failover-abort-no-good-slave") > 0, 30_000);
        return (net, replicas.SingleOrDefault(r => r.SlaveOfLog.Any(e => e.Target == "NO ONE")));
    }

    [Fact]
    public void The_lowest_priority_wins()
    {
        var (net, promoted) = KillMaster(401, rs =>
        {
            rs[0].Priority = 10;
            rs[1].Priority = 5;
            rs[2].Priority = 20;
            rs[2].OffsetOverride = 1_000_000_000; // offset only breaks priority ties
        });
        Assert.True(promoted == net.Redis[2], net.Dump());
        Assert.Contains(net.Events, e => e.Channel == "+selected-slave" && e.Message.StartsWith($"slave {promoted!.Addr} ", StringComparison.Ordinal));
    }

    [Fact]
    public void With_equal_priority_the_highest_offset_wins()
    {
        var (net, promoted) = KillMaster(402, rs =>
        {
            rs[0].OffsetOverride = 100;
            rs[1].OffsetOverride = 300;
            rs[2].OffsetOverride = 200;
            rs[1].RunId = new string('f', 40); // the runid only breaks offset ties
        });
        Assert.True(promoted == net.Redis[2], net.Dump());
    }

    [Fact]
    public void With_equal_priority_and_offset_the_smallest_runid_wins()
    {
        var (net, promoted) = KillMaster(403, rs =>
        {
            foreach (var r in rs) r.OffsetOverride = 500;
            rs[0].RunId = "b" + new string('0', 39);
            rs[1].RunId = "c" + new string('0', 39);
            rs[2].RunId = "A" + new string('9', 39); // compared case-insensitively
        });
        Assert.True(promoted == net.Redis[3], net.Dump());
    }

    [Fact]
    public void Priority_zero_is_never_promoted()
    {
        var (net, promoted) = KillMaster(404, rs =>
        {
            rs[0].Priority = 0;
            rs[0].OffsetOverride = 1_000_000_000;
            rs[1].Priority = 0;
            rs[2].OffsetOverride = 1;
        });
        Assert.True(promoted == net.Redis[3], net.Dump());
    }

    [Fact]
    public void No_good_replica_aborts_the_failover()
    {
        var (net, promoted) = KillMaster(405, rs =>
        {
            foreach (var r in rs) r.Priority = 0;
        });
        Assert.Null(promoted);
        Assert.Equal(1, net.Count("+elected-leader"));
        Assert.Equal(1, net.Count("-failover-abort-no-good-slave"));
        var m = net.Sentinels[0].MasterInfo();
        Assert.DoesNotContain("failover_in_progress", m["flags"]);
        Assert.Equal(net.Redis[0].Addr, net.Sentinels[0].MasterAddr());
        // The next attempt waits 2 x failover-timeout.
        net.RunFor(15_000);
        Assert.Equal(1, net.Count("+try-failover"));
        net.RunFor(10_000);
        Assert.Equal(2, net.Count("+try-failover"));
    }

    [Fact]
    public void A_dead_replica_is_not_promoted_even_with_the_best_offset()
    {
        var (net, promoted) = KillMaster(406, rs =>
        {
            rs[0].OffsetOverride = 1_000_000_000;
            rs[1].OffsetOverride = 10;
            rs[2].OffsetOverride = 5;
        }, rs => rs[0].Kill());
        Assert.True(promoted == net.Redis[2], net.Dump());
        Assert.Empty(net.Redis[1].SlaveOfLog);
    }
}
