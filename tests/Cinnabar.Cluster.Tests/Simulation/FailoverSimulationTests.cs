using Cinnabar.Cluster;

namespace Cinnabar.Cluster.Tests.Simulation;

// Manual failover (CLUSTER FAILOVER, FORCE, TAKEOVER) and replica migration in simulation.
public sealed class FailoverSimulationTests
{
    private static (SimCluster Sim, List<SimNode> Masters, List<SimNode> Replicas) ThreeByThree(int seed, long timeoutMs = 2000)
    {
        var sim = new SimCluster(seed);
        for (int i = 0; i < 6; i++) sim.AddNode(timeoutMs);
        for (int i = 1; i < 6; i++) sim.Nodes[i].Meet(sim.Nodes[0]);
        var masters = sim.Nodes.Take(3).ToList();
        var replicas = sim.Nodes.Skip(3).ToList();
        int per = ClusterNode.SlotCount / 3;
        for (int i = 0; i < 3; i++)
            Assert.Null(masters[i].Node.UpdateSlots([(i * per, i == 2 ? ClusterNode.SlotCount - 1 : (i + 1) * per - 1)], false));
        Assert.True(sim.RunUntil(sim.AllKnowEachOther, 30_000), $"seed {seed}");
        for (int i = 0; i < 3; i++) Assert.Null(replicas[i].Node.Replicate(masters[i].Node.Myself.Name, true));
        Assert.True(sim.RunUntil(() => sim.AllStateOk() && sim.Nodes.All(n => n.Node.Nodes.Count(p => p.IsReplica) == 3), 30_000), $"seed {seed}");
        return (sim, masters, replicas);
    }

    private static bool RolesSwapped(SimCluster sim, SimNode oldMaster, SimNode newMaster) =>
        sim.Nodes.All(n =>
        {
            var nm = n.Node.Lookup(newMaster.Node.Myself.Name)!;
            var om = n.Node.Lookup(oldMaster.Node.Myself.Name)!;
            return nm.IsMaster && nm.NumSlots > 0 && om.IsReplica && om.Master == nm;
        });

    [Theory]
    [InlineData(61)]
    [InlineData(62)]
    [InlineData(63)]
    public void Default_manual_failover_pauses_the_master_and_swaps_roles(int seed)
    {
        var (sim, masters, replicas) = ThreeByThree(seed);
        Assert.Null(replicas[0].Node.ManualFailover(force: false, takeover: false, sim.Now));
        bool ok = sim.RunUntil(() => RolesSwapped(sim, masters[0], replicas[0]), 15_000);
        Assert.True(ok, $"seed {seed}: roles not swapped");
        Assert.Contains(masters[0].LogLines, l => l.StartsWith("Manual failover requested by replica", StringComparison.Ordinal));
        Assert.Contains(replicas[0].LogLines, l => l == "All master replication stream processed, manual failover can start.");
        Assert.Contains(masters[0].LogLines, l => l.StartsWith("Configuration change detected. Reconfiguring myself as a replica of", StringComparison.Ordinal));
        Assert.Equal(("127.0.0.1", replicas[0].Port), masters[0].ReplicatingFrom);
        Assert.Null(replicas[0].ReplicatingFrom);
    }

    [Theory]
    [InlineData(71)]
    [InlineData(72)]
    public void Takeover_needs_no_votes(int seed)
    {
        var (sim, masters, replicas) = ThreeByThree(seed);
        // Even with every other master unreachable, TAKEOVER promotes at once with a bumped epoch.
        sim.Partition([replicas[1], masters[1], masters[2], replicas[2]]);
        Assert.Null(replicas[1].Node.ManualFailover(force: true, takeover: true, sim.Now));
        Assert.True(replicas[1].Node.Myself.IsMaster);
        Assert.Equal(sim.Nodes[4].Node.MaxEpoch(), replicas[1].Node.Myself.ConfigEpoch);
        sim.Heal();
        Assert.True(sim.RunUntil(() => RolesSwapped(sim, masters[1], replicas[1]), 20_000), $"seed {seed}");
    }

    [Theory]
    [InlineData(81)]
    [InlineData(82)]
    public void Manual_failover_errors_are_redis_texts(int seed)
    {
        var (sim, masters, replicas) = ThreeByThree(seed);
        Assert.Equal("You should send CLUSTER FAILOVER to a replica", masters[0].Node.ManualFailover(false, false, sim.Now));
        sim.Kill(masters[2]);
        Assert.True(sim.RunUntil(() => replicas[2].Node.Lookup(masters[2].Node.Myself.Name)!.LinkId < 0 ||
            replicas[2].Node.Lookup(masters[2].Node.Myself.Name)!.Failed, 10_000));
        Assert.Equal("Master is down or failed, please use CLUSTER FAILOVER FORCE", replicas[2].Node.ManualFailover(false, false, sim.Now));
    }

    [Theory]
    [InlineData(91)]
    [InlineData(92)]
    public void A_replica_migrates_to_an_orphaned_master(int seed)
    {
        var (sim, masters, replicas) = ThreeByThree(seed);
        // A second replica for master 0, then master 1 loses its only replica: one of master 0's
        // replicas (the smallest name) moves to master 1.
        var extra = sim.AddNode(2000);
        extra.Meet(sim.Nodes[0]);
        Assert.True(sim.RunUntil(sim.AllKnowEachOther, 30_000));
        Assert.Null(extra.Node.Replicate(masters[0].Node.Myself.Name, true));
        Assert.True(sim.RunUntil(() => sim.Nodes.All(n => n.Node.Lookup(masters[0].Node.Myself.Name)!.Replicas.Count == 2), 20_000));
        sim.Kill(replicas[1]);
        bool ok = sim.RunUntil(() =>
        {
            var m1 = masters[1].Node.Myself;
            return m1.Replicas.Any(r => r.Name != replicas[1].Node.Myself.Name && !r.Failed);
        }, 60_000);
        Assert.True(ok, $"seed {seed}: no replica migrated to the orphaned master");
        Assert.Contains(sim.Nodes.Where(n => n.Alive).SelectMany(n => n.LogLines), l => l.StartsWith("Migrating to orphaned master", StringComparison.Ordinal));
    }
}
