using Cinnabar.Sentinel.Tests.Simulation;
using Xunit.Abstractions;

namespace Cinnabar.Sentinel.Tests;

/// <summary>Automatic failover after the master dies, end to end over the simulated network.</summary>
public sealed class FailoverTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    [InlineData(14)]
    public void Killing_the_master_promotes_one_replica_and_everyone_follows(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        try
        {
            net.WaitDiscovery(2);
            var old = net.Redis[0];
            net.RunFor(3000); // offsets replicate
            old.Kill();
            long killedAt = net.Now;

            var replicas = net.Redis.Skip(1).ToList();
            Assert.True(net.RunUntil(() => replicas.Any(r => r.IsMaster) && net.Converged(), 60_000), "no failover");
            Assert.Null(net.ElectionViolation());
            Assert.NotEmpty(net.Elections);

            var promoted = replicas.Single(r => r.IsMaster);
            var other = replicas.Single(r => r != promoted);
            Assert.Single(promoted.SlaveOfLog, e => e.Target == "NO ONE");
            Assert.Contains(other.SlaveOfLog, e => e.Target == $"{promoted.Ip} {promoted.Port}");
            Assert.Equal(promoted.Ip, other.MasterHost);
            Assert.True(net.AllPointAt(promoted));

            // The +switch-master of every sentinel names the old and new address.
            foreach (var s in net.Sentinels)
                Assert.Contains(net.Events, e => e.Sentinel == s.Index && e.Channel == "+switch-master"
                    && e.Message == $"mymaster {old.Ip} {old.Port} {promoted.Ip} {promoted.Port}");
            // SDOWN is not detected before down-after-milliseconds.
            Assert.All(net.EventsOf("+sdown").Where(e => e.Message.StartsWith("master", StringComparison.Ordinal)),
                e => Assert.True(e.Time - killedAt >= 2000, $"early sdown at {e.Time - killedAt}"));

            // Every sentinel ends with the same config-epoch, the failover epoch of the winner.
            Assert.True(net.RunUntil(() => net.Sentinels.Select(s => s.MasterInfo()["config-epoch"]).Distinct().Count() == 1, 10_000));
            var epochs = net.Sentinels.Select(s => long.Parse(s.MasterInfo()["config-epoch"])).Distinct().ToList();
            Assert.Single(epochs);
            Assert.Contains(epochs[0], net.LeadersByEpoch().Keys);
            foreach (var s in net.Sentinels)
                Assert.Contains($"sentinel monitor mymaster {promoted.Ip} {promoted.Port} 2", s.SavedConfig);

            // The old master comes back as a master and is turned into a replica of the new one.
            old.Restart();
            Assert.True(net.RunUntil(() => !old.IsMaster && old.LinkUp, 60_000), "old master not converted");
            Assert.Equal(promoted.Ip, old.MasterHost);
            Assert.Equal(promoted.Port, old.MasterPort);
            Assert.Contains(net.Events, e => e.Channel == "+convert-to-slave" && e.Message.StartsWith($"slave {old.Ip}:{old.Port} ", StringComparison.Ordinal));
            Assert.Contains(old.SlaveOfLog, e => e.Target == $"{promoted.Ip} {promoted.Port}");
            Assert.True(net.RunUntil(() => net.Converged() && net.Sentinels.All(s => s.MasterInfo()["num-slaves"] == "2"), 30_000));
            Assert.Null(net.ElectionViolation());
            output.WriteLine($"seed {seed}: promoted {promoted.Addr} at epoch {epochs[0]}, {net.Elections.Count} elections");
        }
        catch
        {
            output.WriteLine(net.Dump(200));
            throw;
        }
    }

    [Theory]
    [InlineData(21)]
    [InlineData(22)]
    public void Without_a_majority_alive_no_leader_is_elected(int seed)
    {
        // 5 sentinels, quorum 2: two alive see ODOWN, but 2 of 5 votes is no majority.
        var net = SimNetwork.Standard(seed, sentinels: 5, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        foreach (var s in net.Sentinels.Skip(2)) s.Kill();
        net.Redis[0].Kill();
        net.RunFor(60_000);
        Assert.True(net.Count("+odown") >= 1, net.Dump());
        Assert.Empty(net.Elections);
        Assert.Equal(0, net.Count("+elected-leader"));
        Assert.True(net.Count("-failover-abort-not-elected") >= 1, net.Dump());
        Assert.All(net.Redis.Skip(1), r => Assert.Empty(r.SlaveOfLog));
        Assert.True(net.Live().All(s => s.MasterAddr() == net.Redis[0].Addr));
        // Bringing back one sentinel makes a majority (3 of 5): the failover happens.
        net.Sentinels[2].Restart();
        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.Converged(), 120_000), net.Dump());
        Assert.Null(net.ElectionViolation());
    }

    [Theory]
    [InlineData(31)]
    [InlineData(32)]
    public void A_failover_with_quorum_equal_to_all_sentinels_works(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 5, replicas: 2, quorum: 5);
        net.WaitDiscovery(2);
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.Converged(), 60_000), net.Dump());
        Assert.Null(net.ElectionViolation());
    }

    [Theory]
    [InlineData(41)]
    [InlineData(42)]
    public void A_sentinel_down_during_the_failover_learns_the_new_master_when_back(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        var late = net.Sentinels[2];
        late.Kill();
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.Converged(), 60_000), net.Dump());
        var promoted = net.Redis.Single(r => r.Alive && r.IsMaster);
        late.Restart();
        Assert.Equal(net.Redis[0].Addr, late.MasterAddr()); // its config still has the old master
        Assert.True(net.RunUntil(() => late.MasterAddr() == promoted.Addr, 30_000), net.Dump());
        Assert.Contains(net.Events, e => e.Sentinel == late.Index && e.Channel == "+config-update-from");
        Assert.True(net.RunUntil(() => late.MasterInfo()["config-epoch"] == net.Sentinels[0].MasterInfo()["config-epoch"], 10_000));
    }

    [Theory]
    [InlineData(51)]
    [InlineData(52)]
    public void A_master_in_a_minority_partition_is_replaced_and_demoted_after_the_heal(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        var old = net.Redis[0];
        net.Partition([old]);
        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.AgreedMaster() is { } m && m != old, 60_000), net.Dump());
        net.Heal();
        Assert.True(net.RunUntil(() => net.Converged() && !old.IsMaster, 60_000), net.Dump());
        Assert.Null(net.ElectionViolation());
    }
}
