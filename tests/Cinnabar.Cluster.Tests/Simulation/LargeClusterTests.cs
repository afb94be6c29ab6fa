using Cinnabar.Cluster;
using Xunit.Abstractions;

namespace Cinnabar.Cluster.Tests.Simulation;

// Scale: the bus cost per node and the absence of pathologies (runaway handshakes, unbounded
// links, nodes never learned) as the cluster grows. Figures are printed for docs/BENCHMARKS.md.
public sealed class LargeClusterTests(ITestOutputHelper output)
{
    private (SimCluster Sim, long ConvergedMs) Grow(int count, int seed, long budgetMs)
    {
        var sim = new SimCluster(seed);
        var rng = new Random(seed);
        for (int i = 0; i < count; i++) sim.AddNode(15000);
        // Each node meets one random earlier node, as operators add nodes one by one.
        for (int i = 1; i < count; i++) sim.Nodes[i].Meet(sim.Nodes[rng.Next(i)]);
        int masters = Math.Min(count, 50);
        int per = ClusterNode.SlotCount / masters;
        for (int i = 0; i < masters; i++)
        {
            int start = i * per, end = i == masters - 1 ? ClusterNode.SlotCount - 1 : start + per - 1;
            Assert.Null(sim.Nodes[i].Node.UpdateSlots([(start, end)], false));
        }
        long t0 = sim.Now;
        bool ok = sim.RunUntil(() => sim.AllKnowEachOther() && sim.AgreeOnSlots(), budgetMs, checkEveryMs: 500);
        Assert.True(ok, $"seed {seed}: {count} nodes did not converge in {budgetMs} ms simulated");
        return (sim, sim.Now - t0);
    }

    private void MeasureSteadyState(SimCluster sim, int count, long convergedMs)
    {
        long bytes0 = sim.BytesSent;
        const long windowMs = 30_000;
        sim.RunFor(windowMs);
        long perNodePerSec = (sim.BytesSent - bytes0) * 1000 / windowMs / count;
        output.WriteLine($"{count} nodes: converged in {convergedMs} ms simulated; steady state {perNodePerSec} bus bytes/node/s sent");
        foreach (var n in sim.Nodes)
        {
            Assert.Equal(count, n.Node.Nodes.Count);
            Assert.All(n.Node.Nodes, p => Assert.False(p.InHandshake));
            // One outbound and at most one inbound link per peer.
            Assert.True(n.Node.Links.Count <= 2 * (count - 1), $"{n}: {n.Node.Links.Count} links");
            Assert.True(n.Node.StateOk, $"{n} not ok");
        }
    }

    [Fact]
    public void Fifty_nodes_steady_state_bus_cost()
    {
        var (sim, ms) = Grow(50, 7, 120_000);
        MeasureSteadyState(sim, 50, ms);
    }

    [Fact]
    public void Hundred_nodes_converge_without_pathologies()
    {
        var (sim, ms) = Grow(100, 8, 300_000);
        MeasureSteadyState(sim, 100, ms);
    }
}
