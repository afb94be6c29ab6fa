using Cinnabar.Cluster;
using Xunit.Abstractions;

namespace Cinnabar.Cluster.Tests.Simulation;

/// <summary>
/// Legacy slot migrations (the SETSLOT sequence redis-cli --cluster reshard sends) interleaved
/// with master kills, failovers and restarts. A migration step sent to a dead node or to a node
/// that is no longer a master aborts that migration, as redis-cli would; the slots it left open
/// are closed afterwards the way `--cluster fix` does for empty slots (SETSLOT STABLE). In the
/// end, every node must agree on one live master per slot, and no two masters may each believe
/// they own the same slot. A failing case names its seed and prints its schedule.
/// </summary>
public sealed class MigrationSimulationTests(ITestOutputHelper output)
{
    public static IEnumerable<object[]> Seeds =>
        Enumerable.Range(8000, int.TryParse(Environment.GetEnvironmentVariable("CINNABAR_MIGRATION_SEEDS"), out int n) ? n : 24)
            .Select(s => new object[] { s });

    private const long NodeTimeout = 2000;

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Migrations_interleaved_with_failovers_leave_one_owner_per_slot(int seed)
    {
        var sim = new SimCluster(seed);
        for (int i = 0; i < 8; i++) sim.AddNode(NodeTimeout);
        for (int i = 1; i < 8; i++) sim.Nodes[i].Meet(sim.Nodes[0]);
        int per = ClusterNode.SlotCount / 4;
        for (int i = 0; i < 4; i++)
            Assert.Null(sim.Nodes[i].Node.UpdateSlots([(i * per, i == 3 ? ClusterNode.SlotCount - 1 : (i + 1) * per - 1)], false));
        Assert.True(sim.RunUntil(sim.AllKnowEachOther, 30_000), $"seed {seed}: never met");
        for (int i = 4; i < 8; i++)
            Assert.Null(sim.Nodes[i].Node.Replicate(sim.Nodes[i % 4].Node.Myself.Name, dbEmpty: true));
        Assert.True(sim.RunUntil(sim.AllStateOk, 30_000), $"seed {seed}: never ok");

        var log = new List<string>();
        void Note(string what) => log.Add($"{sim.Now - 1_700_000_000_000,8} ms  {what}");
        var opened = new HashSet<int>();
        int moved = 0, aborted = 0, kills = 0;
        try
        {
            Replication(sim);
            long end = sim.Now + 60_000;
            while (sim.Now < end)
            {
                switch (sim.NextInt(0, 7))
                {
                    case 0 or 1:
                        if (Migrate(sim, opened, Note)) moved++; else aborted++;
                        break;
                    case 2 or 6:
                        if (AtomicTakeover(sim, Note)) moved++; else aborted++;
                        break;
                    case 3 when sim.Nodes.Count(n => n.Alive) > 6:
                    {
                        var masters = sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster && n.Node.Myself.NumSlots > 0).ToList();
                        if (masters.Count == 0) break;
                        var victim = masters[sim.NextInt(0, masters.Count)];
                        sim.Kill(victim);
                        kills++;
                        Note($"kill -9 {victim}");
                        break;
                    }
                    case 4:
                        foreach (var d in sim.Nodes.Where(n => !n.Alive).ToList())
                        {
                            // Only once its shard has a new master: a restarted node must not
                            // come back as the only copy of slots that moved on without it.
                            if (sim.NextInt(0, 2) == 0) continue;
                            d.RestartFromConfig(new Random(sim.NextInt(0, int.MaxValue)));
                            Note($"restart {d}");
                        }
                        break;
                    default:
                        sim.RunFor(sim.NextInt(100, 1500));
                        break;
                }
            }
            foreach (var d in sim.Nodes.Where(n => !n.Alive).ToList())
            {
                d.RestartFromConfig(new Random(sim.NextInt(0, int.MaxValue)));
                Note($"restart {d}");
            }
            // `redis-cli --cluster fix` for open slots without keys: it finds them on every master
            // (CLUSTER NODES' [slot->-id] / [slot-<-id]), also those of a migration a kill ended
            // after the last reply, and sends SETSLOT STABLE to each master.
            sim.RunFor(5000);
            foreach (var m in sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster))
                for (int slot = 0; slot < ClusterNode.SlotCount; slot++)
                    if (m.Node.MigratingTo(slot) != null || m.Node.ImportingFrom(slot) != null) opened.Add(slot);
            foreach (int slot in opened)
                foreach (var m in sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster))
                {
                    m.Node.SetSlotStable(slot);
                    m.Node.BeforeSleep(sim.Now);
                }
            Note($"fix: {opened.Count} open slots made stable");
            // Then its coverage check: a slot no master claims for itself (a source and a
            // destination that each believe the other owns it, after an epoch collision at
            // the wrong moment, as in Redis) is given to a master with DELSLOTS + ADDSLOTS +
            // BUMPEPOCH in one transaction (clusterManagerSetSlotOwner).
            sim.RunFor(5000);
            var owners = sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster).ToList();
            int covered = 0;
            for (int slot = 0; slot < ClusterNode.SlotCount; slot++)
            {
                if (owners.Any(m => m.Node.SlotOwner(slot) == m.Node.Myself)) continue;
                var m = owners[sim.NextInt(0, owners.Count)];
                m.Node.UpdateSlots([(slot, slot)], delete: true);
                Assert.Null(m.Node.UpdateSlots([(slot, slot)], delete: false));
                m.Node.BumpEpochWithoutConsensus();
                m.Node.BeforeSleep(sim.Now);
                covered++;
            }
            Note($"fix: {covered} uncovered slots assigned");
            bool converged = sim.RunUntil(() => Converged(sim), 90_000);
            Assert.True(converged, $"seed {seed}: no agreement 90 s after the last change: " + Describe(sim));
            AssertOneOwnerPerSlot(sim, seed);
            output.WriteLine($"seed {seed}: {moved} migrations done, {aborted} aborted, {kills} masters killed");
        }
        catch
        {
            output.WriteLine($"seed {seed} schedule:");
            foreach (var l in log) output.WriteLine(l);
            foreach (var n in sim.Nodes)
            {
                output.WriteLine($"== {n} alive={n.Alive}");
                foreach (var l in n.LogLines.TakeLast(30)) output.WriteLine("   " + l);
            }
            throw;
        }
    }

    /// <summary>
    /// One reshard of 1 to 20 consecutive slots from their owner to another master, step by step
    /// in redis-cli's order with simulated time between the steps. False when a step failed.
    /// </summary>
    private static bool Migrate(SimCluster sim, HashSet<int> opened, Action<string> note)
    {
        var masters = sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster && n.Node.Myself.NumSlots > 0).ToList();
        if (masters.Count < 2) return false;
        var src = masters[sim.NextInt(0, masters.Count)];
        var dst = masters.Where(m => m != src).ElementAt(sim.NextInt(0, masters.Count - 1));
        int first = FirstOwnedSlot(src, sim.NextInt(0, ClusterNode.SlotCount));
        if (first < 0) return false;
        int count = sim.NextInt(1, 21);
        string srcName = src.Node.Myself.Name, dstName = dst.Node.Myself.Name;
        note($"reshard {count} slots from {first}: {src} -> {dst}");
        for (int slot = first; slot < Math.Min(first + count, ClusterNode.SlotCount); slot++)
        {
            if (src.Node.SlotOwner(slot) != src.Node.Myself) break;
            bool ok = Step(sim, dst, n => n.Node.SetSlotImporting(slot, srcName), opened, slot, note)
                && Step(sim, src, n => n.Node.SetSlotMigrating(slot, dstName), opened, slot, note)
                && Step(sim, dst, n => n.Node.SetSlotNode(slot, dstName, sim.Now), opened, slot, note);
            if (!ok) return false;
            // The source may have been failed over meanwhile: redis-cli tolerates that reply.
            Step(sim, src, n => n.Node.SetSlotNode(slot, dstName, sim.Now), opened, slot, note, tolerant: true);
            foreach (var other in sim.Nodes.Where(n => n != src && n != dst && n.Alive && n.Node.Myself.IsMaster).ToList())
                Step(sim, other, n => n.Node.SetSlotNode(slot, dstName, sim.Now), opened, slot, note, tolerant: true);
        }
        return true;
    }

    /// <summary>
    /// An atomic migration's end (the data part is not simulated): after a stream of random
    /// length, the destination claims 1 to 50 slots of the source with an epoch bumped without
    /// consensus, unless either side died or stopped being a master meanwhile (the task fails
    /// and the slots stay).
    /// </summary>
    private static bool AtomicTakeover(SimCluster sim, Action<string> note)
    {
        var masters = sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster && n.Node.Myself.NumSlots > 0).ToList();
        if (masters.Count < 2) return false;
        var src = masters[sim.NextInt(0, masters.Count)];
        var dst = masters.Where(m => m != src).ElementAt(sim.NextInt(0, masters.Count - 1));
        int first = FirstOwnedSlot(src, sim.NextInt(0, ClusterNode.SlotCount));
        if (first < 0) return false;
        var slots = Enumerable.Range(first, Math.Min(sim.NextInt(1, 51), ClusterNode.SlotCount - first))
            .Where(s => dst.Node.SlotOwner(s)?.Name == src.Node.Myself.Name).ToList();
        note($"atomic import of {slots.Count} slots from {first}: {src} -> {dst}");
        sim.RunFor(sim.NextInt(10, 800));
        if (!src.Alive || !dst.Alive || !src.Node.Myself.IsMaster || !dst.Node.Myself.IsMaster)
        {
            note("  failed: a side died or was demoted");
            return false;
        }
        dst.Node.ClaimSlots(slots, src.Node.Myself.Name, sim.Now);
        dst.Node.BeforeSleep(sim.Now);
        return true;
    }

    private static bool Step(SimCluster sim, SimNode n, Func<SimNode, string?> command, HashSet<int> opened, int slot,
        Action<string> note, bool tolerant = false)
    {
        sim.RunFor(sim.NextInt(0, 120));
        string? error = !n.Alive ? "connection refused" : command(n);
        // As the server does after every command (ClusterService.AfterCommand): the config is
        // saved before the reply, so a kill after an OK never loses that SETSLOT.
        if (n.Alive) n.Node.BeforeSleep(sim.Now);
        if (error == null) return true;
        if (!tolerant)
        {
            opened.Add(slot);
            note($"  slot {slot}: {n} replied '{error}', migration aborted");
        }
        return false;
    }

    private static int FirstOwnedSlot(SimNode n, int from)
    {
        for (int k = 0; k < ClusterNode.SlotCount; k++)
        {
            int s = (from + k) % ClusterNode.SlotCount;
            if (n.Node.SlotOwner(s) == n.Node.Myself) return s;
        }
        return -1;
    }

    private static bool Converged(SimCluster sim)
    {
        if (!sim.AllStateOk() || !sim.AgreeOnSlots()) return false;
        var first = sim.Nodes.First(n => n.Alive).Node;
        for (int s = 0; s < ClusterNode.SlotCount; s++)
        {
            var owner = first.SlotOwner(s);
            if (owner == null || !owner.IsMaster || owner.Failed) return false;
        }
        return true;
    }

    private static void AssertOneOwnerPerSlot(SimCluster sim, int seed)
    {
        var claims = new Dictionary<int, SimNode>();
        foreach (var m in sim.Nodes.Where(n => n.Alive && n.Node.Myself.IsMaster))
            for (int s = 0; s < ClusterNode.SlotCount; s++)
            {
                if (m.Node.SlotOwner(s) != m.Node.Myself) continue;
                Assert.False(claims.TryGetValue(s, out var other), $"seed {seed}: slot {s} claimed by {other} and {m}");
                claims[s] = m;
            }
        Assert.Equal(ClusterNode.SlotCount, claims.Count);
        foreach (var n in sim.Nodes.Where(n => n.Alive))
            for (int s = 0; s < ClusterNode.SlotCount; s++)
            {
                Assert.True(n.Node.MigratingTo(s) == null && n.Node.ImportingFrom(s) == null || !n.Node.Myself.IsMaster,
                    $"seed {seed}: {n} still has slot {s} open");
            }
    }

    private static string Describe(SimCluster sim)
    {
        string nodes = string.Join("; ", sim.Nodes.Select(n => $"{n} {(n.Alive ? "" : "dead ")}{(n.Node.Myself.IsMaster ? "master" : "replica")} " +
            $"slots={n.Node.Myself.NumSlots} ok={n.Node.StateOk} epoch={n.Node.Myself.ConfigEpoch}/{n.Node.CurrentEpoch}"));
        // The slots some node disagrees on, with each node's view of their owner.
        var live = sim.Nodes.Where(n => n.Alive).ToList();
        var odd = new List<string>();
        for (int s = 0; s < ClusterNode.SlotCount && odd.Count < 5; s++)
        {
            var views = live.Select(n => n.Node.SlotOwner(s)).ToList();
            bool claimed = live.Any(n => n.Node.Myself.IsMaster && n.Node.SlotOwner(s) == n.Node.Myself);
            if (claimed && views.All(v => v != null && v.Name == views[0]!.Name)) continue;
            odd.Add($"slot {s}: " + string.Join(", ", live.Select(n =>
            {
                var o = n.Node.SlotOwner(s);
                return $"{n}->{(o == null ? "none" : o.Name[..8] + "@" + o.ConfigEpoch + (o.IsMaster ? "" : "(replica)") + (o.Failed ? "(fail)" : ""))}";
            })));
        }
        return nodes + " | " + string.Join(" | ", odd);
    }

    /// <summary>Masters take writes; a replica copies its master's offset (elections rank by it).</summary>
    private static void Replication(SimCluster sim)
    {
        foreach (var m in sim.Nodes)
            if (m.Alive && m.Node.Myself.IsMaster) m.Offset += sim.NextInt(0, 500);
        foreach (var r in sim.Nodes)
        {
            if (!r.Alive || r.ReplicatingFrom is not { } from) continue;
            var master = sim.Nodes.FirstOrDefault(n => n.Port == from.Port);
            if (master != null && master.Alive) r.Offset = master.Offset;
        }
        sim.Schedule(100, () => Replication(sim));
    }
}
