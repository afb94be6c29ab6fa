using Cinnabar.Cluster;
using Xunit.Abstractions;

namespace Cinnabar.Cluster.Tests.Simulation;

// Scale: the bus cost per node and the absence of pathologies (runaway handshakes, unbounded
// links, nodes never learned) as the cluster grows. Figures are printed for docs/BENCHMARKS.md.
public sealed class LargeClusterTests(ITestOutputHelper output)
{
    private (SimCluster Sim, long ConvergedMs) Grow(int count, int seed, long budgetMs)
    {
        // No node restarts here: nodes.conf texts are not kept (see SimCluster.KeepConfigs).
        var sim = new SimCluster(seed) { KeepConfigs = false };
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
        // The check is O(n^2 + n * slots): at 1000 nodes it runs every 5 s of simulated time.
        bool ok = sim.RunUntil(() => sim.AllKnowEachOther() && sim.AgreeOnSlots(), budgetMs, checkEveryMs: Math.Max(500, count * 5));
        Assert.True(ok, $"seed {seed}: {count} nodes did not converge in {budgetMs} ms simulated");
        return (sim, sim.Now - t0);
    }

    private void MeasureSteadyState(SimCluster sim, int count, long convergedMs, long windowMs = 30_000)
    {
        long bytes0 = sim.BytesSent;
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

    /// <summary>
    /// A large cluster, run only when CINNABAR_SIM_NODES is set (bench/cluster-sim.sh): 1000 nodes
    /// take minutes of CPU, too long for CI. Same checks and figures as the tests above.
    /// </summary>
    [LargeSimulationFact]
    public void Large_cluster_converges_and_runs_without_pathologies()
    {
        int count = int.Parse(Environment.GetEnvironmentVariable("CINNABAR_SIM_NODES")!, System.Globalization.CultureInfo.InvariantCulture);
        long window = long.Parse(Environment.GetEnvironmentVariable("CINNABAR_SIM_WINDOW_MS") ?? "10000", System.Globalization.CultureInfo.InvariantCulture);
        var wall = System.Diagnostics.Stopwatch.StartNew();
        var (sim, ms) = Grow(count, 9, 900_000);
        output.WriteLine($"{count} nodes: converged after {wall.Elapsed.TotalSeconds:F0} s wall");
        MeasureSteadyState(sim, count, ms, window);
        output.WriteLine($"{count} nodes: {sim.FramesSent} frames, {sim.BytesSent} bytes in total; {wall.Elapsed.TotalSeconds:F0} s wall");
    }
}

/// <summary>A fact skipped unless CINNABAR_SIM_NODES names a node count.</summary>
public sealed class LargeSimulationFactAttribute : FactAttribute
{
    public LargeSimulationFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CINNABAR_SIM_NODES")))
            Skip = "large simulation: set CINNABAR_SIM_NODES (bench/cluster-sim.sh)";
    }
}
