using Cinnabar.Cluster;
using Xunit.Abstractions;

namespace Cinnabar.Cluster.Tests.Simulation;

/// <summary>
/// Random faults against a 3-master, 6-replica cluster: kill -9 and restart from nodes.conf,
/// SIGSTOP/SIGCONT, partitions and heals, link resets, frame loss and long delays, while masters
/// take writes. Safety invariants are checked after every simulated event; at the end the faults
/// stop, every node comes back, and the cluster must converge. A failing case names its seed;
/// running that case again replays the same run (the fault schedule is printed).
/// </summary>
public sealed class ChaosSimulationTests(ITestOutputHelper output)
{
    // 48 seeds in CI; CINNABAR_CHAOS_SEEDS=n runs n (a longer hunt for rare interleavings).
    public static IEnumerable<object[]> Seeds =>
        Enumerable.Range(7000, int.TryParse(Environment.GetEnvironmentVariable("CINNABAR_CHAOS_SEEDS"), out int n) ? n : 48)
            .Select(s => new object[] { s });

    private const long NodeTimeout = 2000;

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_faults_keep_the_invariants_and_the_cluster_recovers(int seed)
    {
        var sim = new SimCluster(seed);
        for (int i = 0; i < 9; i++) sim.AddNode(NodeTimeout);
        for (int i = 1; i < 9; i++) sim.Nodes[i].Meet(sim.Nodes[0]);
        int per = ClusterNode.SlotCount / 3;
        for (int i = 0; i < 3; i++)
            Assert.Null(sim.Nodes[i].Node.UpdateSlots([(i * per, i == 2 ? ClusterNode.SlotCount - 1 : (i + 1) * per - 1)], false));
        Assert.True(sim.RunUntil(sim.AllKnowEachOther, 30_000), $"seed {seed}: never met");
        for (int i = 3; i < 9; i++)
            Assert.Null(sim.Nodes[i].Node.Replicate(sim.Nodes[i % 3].Node.Myself.Name, dbEmpty: true));
        Assert.True(sim.RunUntil(sim.AllStateOk, 30_000), $"seed {seed}: never ok");

        var check = new Invariants(sim);
        var log = new List<string>();
        void Note(string what) => log.Add($"{sim.Now - 1_700_000_000_000,8} ms  {what}");
        try
        {
            Replication(sim);
            long chaosEnd = sim.Now + 60_000;
            while (sim.Now < chaosEnd)
            {
                Assert.False(sim.RunUntil(check.Violated, sim.NextInt(300, 2500)), check.Failure);
                InjectFault(sim, check, Note);
            }
            // Faults stop; everything comes back.
            sim.DropRate = 0;
            sim.MinDelayMs = 1;
            sim.MaxDelayMs = 5;
            sim.Heal();
            foreach (var n in sim.Nodes.Where(n => !n.Alive).ToList()) Restart(sim, check, n, Note);
            Note("faults stop, all healed");
            bool converged = sim.RunUntil(() => check.Violated() || Converged(sim), 90_000);
            Assert.False(check.Violated(), check.Failure);
            Assert.True(converged, $"seed {seed}: no convergence 90 s after the faults stopped: " + Describe(sim));
            output.WriteLine($"seed {seed}: ok; {check.Elections} elections won, {check.Events} events checked");
        }
        catch
        {
            output.WriteLine($"seed {seed} fault schedule:");
            foreach (var l in log) output.WriteLine(l);
            foreach (var n in sim.Nodes)
            {
                output.WriteLine($"== {n} alive={n.Alive}");
                foreach (var l in n.LogLines.TakeLast(40)) output.WriteLine("   " + l);
            }
            throw;
        }
    }

    /// <summary>Every slot served by a live master every live node agrees on, and state ok everywhere.</summary>
    private static bool Converged(SimCluster sim)
    {
        if (!sim.AllStateOk() || !sim.AgreeOnSlots()) return false;
        var first = sim.Nodes.First(n => n.Alive).Node;
        for (int s = 0; s < ClusterNode.SlotCount; s += 97)
        {
            var owner = first.SlotOwner(s);
            if (owner == null || !owner.IsMaster || owner.Failed) return false;
        }
        // Every live node that is a replica in its own view replicates the master it names.
        return sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsReplica).All(n => n.ReplicatingFrom != null);
    }

    private static string Describe(SimCluster sim) =>
        string.Join("; ", sim.Nodes.Select(n => $"{n} {(n.Alive ? "" : "dead ")}{(n.Node.Myself.IsMaster ? "master" : "replica")} " +
            $"slots={n.Node.Myself.NumSlots} ok={n.Node.StateOk} epoch={n.Node.Myself.ConfigEpoch}/{n.Node.CurrentEpoch}" +
            string.Concat(n.Node.Nodes.Where(p => p.Failed || (p.Flags & NodeFlags.PFail) != 0).Select(p =>
                $" [sees {p.Name[..8]} {p.Flags} link={p.LinkId} ping={(p.PingSentMs == 0 ? 0 : sim.Now - p.PingSentMs)}ms-ago pong={sim.Now - p.PongReceivedMs}ms-ago]"))));

    /// <summary>Masters take writes every 100 ms; a replica copies its master's offset while it can reach it.</summary>
    private static void Replication(SimCluster sim)
    {
        foreach (var m in sim.Nodes)
            if (m.Alive && !sim.IsStopped(m) && m.Node.Myself.IsMaster && m.ReplicatingFrom == null) m.Offset += sim.NextInt(0, 500);
        foreach (var r in sim.Nodes)
        {
            if (!r.Alive || sim.IsStopped(r) || r.ReplicatingFrom is not { } from) continue;
            var master = sim.Nodes.FirstOrDefault(n => n.Port == from.Port);
            if (master != null && sim.Reachable(master, r) && !sim.IsStopped(master)) r.Offset = master.Offset;
        }
        sim.Schedule(100, () => Replication(sim));
    }

    private static void Restart(SimCluster sim, Invariants check, SimNode n, Action<string> note)
    {
        n.StoppedUntil = 0;
        n.RestartFromConfig(new Random(sim.NextInt(0, int.MaxValue)));
        check.Restarted(n);
        note($"restart {n}");
    }

    private static void InjectFault(SimCluster sim, Invariants check, Action<string> note)
    {
        var alive = sim.Nodes.Where(n => n.Alive).ToList();
        var dead = sim.Nodes.Where(n => !n.Alive).ToList();
        switch (sim.NextInt(0, 9))
        {
            case 0 when alive.Count > 5:
            {
                var n = alive[sim.NextInt(0, alive.Count)];
                check.Killing(n);
                sim.Kill(n);
                note($"kill -9 {n}");
                break;
            }
            case 1 when dead.Count > 0:
                Restart(sim, check, dead[sim.NextInt(0, dead.Count)], note);
                break;
            case 2:
            {
                var n = alive[sim.NextInt(0, alive.Count)];
                long ms = sim.NextInt(200, (int)(NodeTimeout * 3));
                sim.Stop(n, ms);
                note($"SIGSTOP {n} for {ms} ms");
                break;
            }
            case 3:
            {
                var side = sim.Nodes.Where(_ => sim.NextInt(0, 3) == 0).ToList();
                if (side.Count == 0 || side.Count == sim.Nodes.Count) break;
                sim.Heal();
                sim.Partition(side);
                long ms = sim.NextInt(500, 8000);
                sim.Schedule(ms, sim.Heal);
                note($"partition [{string.Join(",", side.Select(n => n.Index))}] for {ms} ms");
                break;
            }
            case 4:
            {
                var ids = sim.OpenLinkIds.ToList();
                for (int k = sim.NextInt(1, 4); k > 0 && ids.Count > 0; k--)
                {
                    int id = ids[sim.NextInt(0, ids.Count)];
                    sim.ResetLink(id);
                    ids.Remove(id);
                    note($"reset link {id}");
                }
                break;
            }
            case 5:
                sim.MaxDelayMs = sim.NextInt(5, 600);
                note($"delays up to {sim.MaxDelayMs} ms");
                break;
            case 6:
                sim.DropRate = sim.NextInt(0, 3) == 0 ? 0 : sim.NextInt(1, 10) / 100.0;
                note($"frame loss {sim.DropRate:P0}");
                break;
            default:
                // quiet period
                break;
        }
    }

    /// <summary>The safety properties, checked after every event.</summary>
    private sealed class Invariants
    {
        private readonly SimCluster _sim;
        private readonly Dictionary<SimNode, (ulong Current, ulong Config, ulong Vote)> _atDeath = new();
        private readonly Dictionary<ulong, string> _winners = new();
        private readonly Dictionary<SimNode, int> _logSeen = new();
        private SimNode? _receiver;
        private bool _claimable;

        public string Failure { get; private set; } = "";
        public int Elections => _winners.Count;
        public long Events { get; private set; }

        public Invariants(SimCluster sim)
        {
            _sim = sim;
            sim.BeforeDelivery = (n, m) =>
            {
                // Redis acts on a header's claims only when it knew the sender before this frame.
                var s = n.Node.Lookup(m.Sender);
                _receiver = n;
                _claimable = s != null && !s.InHandshake && s != n.Node.Myself;
            };
            sim.AfterDelivery = Learn;
        }

        // 3. A master never keeps serving a slot once it has heard a newer configEpoch claim it
        // (checked right after it handles the claim: Redis reassigns the slot there and then).
        private void Learn(SimNode n, BusMessage m)
        {
            if (_receiver != n) return;
            var me = n.Node.Myself;
            if (m.Type is BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet)
            {
                var sender = n.Node.Lookup(m.Sender);
                if (!_claimable || sender == null || !sender.IsMaster || (m.Flags & NodeFlags.Master) == 0) return;
                CheckClaim(n, m.MySlots, m.ConfigEpoch, $"{m.Sender} ({m.Type}, flags {m.Flags})");
            }
            else if (m.Type == BusMessageType.Update && m.UpdateNodeName != me.Name && n.Node.Lookup(m.UpdateNodeName) != null)
                CheckClaim(n, m.UpdateSlots, m.UpdateConfigEpoch, $"{m.UpdateNodeName} (UPDATE from {m.Sender})");
        }

        private void CheckClaim(SimNode n, SlotBitmap claim, ulong epoch, string claimant)
        {
            var me = n.Node.Myself;
            if (Failure.Length > 0 || !me.IsMaster || me.NumSlots == 0 || epoch <= me.ConfigEpoch) return;
            var bytes = claim.Bytes;
            for (int i = 0; i < bytes.Length; i++)
            {
                if (bytes[i] == 0) continue;
                for (int s = i * 8; s < i * 8 + 8; s++)
                    if (claim.Get(s) && n.Node.SlotOwner(s) == me && n.Node.ImportingFrom(s) == null)
                    {
                        Fail($"{n} (configEpoch {me.ConfigEpoch}) still serves slot {s} after {claimant} claimed it with configEpoch {epoch}");
                        return;
                    }
            }
        }

        // A replica's own configEpoch means nothing (nodes.conf stores its master's): only a
        // master's is checked.
        public void Killing(SimNode n) =>
            _atDeath[n] = (n.Node.CurrentEpoch, n.Node.Myself.IsMaster ? n.Node.Myself.ConfigEpoch : 0, n.Node.LastVoteEpoch);

        public void Restarted(SimNode n)
        {
            if (!_atDeath.Remove(n, out var before)) return;
            var node = n.Node;
            if (node.CurrentEpoch < before.Current || node.Myself.ConfigEpoch < before.Config || node.LastVoteEpoch < before.Vote)
                Failure = $"{n} restarted with epochs going back: current {before.Current}->{node.CurrentEpoch}, " +
                          $"config {before.Config}->{node.Myself.ConfigEpoch}, lastVote {before.Vote}->{node.LastVoteEpoch}";
        }

        public bool Violated()
        {
            Events++;
            if (Failure.Length > 0) return true;
            // 1. One election winner per epoch, cluster-wide.
            foreach (var n in _sim.Nodes)
            {
                _logSeen.TryGetValue(n, out int seen);
                for (int i = seen; i < n.LogLines.Count; i++)
                {
                    const string won = " after successful failover";
                    var line = n.LogLines[i];
                    if (!line.StartsWith("configEpoch set to ", StringComparison.Ordinal) || !line.EndsWith(won, StringComparison.Ordinal)) continue;
                    ulong epoch = ulong.Parse(line["configEpoch set to ".Length..^won.Length]);
                    string who = n.Node.Myself.Name;
                    if (_winners.TryGetValue(epoch, out var other) && other != who)
                        return Fail($"two elections won for epoch {epoch}: {other} and {who}");
                    _winners[epoch] = who;
                }
                _logSeen[n] = n.LogLines.Count;
            }
            // 2. At most one master per slot per configEpoch, across every live node's view.
            var byEpoch = new Dictionary<ulong, List<(string Name, SlotBitmap Slots, SimNode Viewer)>>();
            foreach (var n in _sim.Nodes.Where(n => n.Alive))
                foreach (var p in n.Node.Nodes)
                {
                    if (!p.IsMaster || p.NumSlots == 0) continue;
                    if (!byEpoch.TryGetValue(p.ConfigEpoch, out var list)) byEpoch[p.ConfigEpoch] = list = new();
                    foreach (var (name, slots, viewer) in list)
                        if (name != p.Name && Overlap(slots, p.Slots, out int slot))
                            return Fail($"slot {slot} has two masters at configEpoch {p.ConfigEpoch}: {name} (seen by {viewer}) and {p.Name} (seen by {n})");
                    list.Add((p.Name, p.Slots, n));
                }
            return false;
        }

        private bool Fail(string why)
        {
            Failure = $"seed {_sim.Seed} at {_sim.Now - 1_700_000_000_000} ms: {why}";
            return true;
        }

        private static bool Overlap(SlotBitmap a, SlotBitmap b, out int slot)
        {
            var x = a.Bytes;
            var y = b.Bytes;
            for (int i = 0; i < x.Length; i++)
            {
                int both = x[i] & y[i];
                if (both == 0) continue;
                slot = i * 8 + System.Numerics.BitOperations.TrailingZeroCount(both);
                return true;
            }
            slot = -1;
            return false;
        }
    }
}
