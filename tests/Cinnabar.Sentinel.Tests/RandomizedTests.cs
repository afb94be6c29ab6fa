using Cinnabar.Sentinel.Tests.Simulation;
using Xunit.Abstractions;

namespace Cinnabar.Sentinel.Tests;

/// <summary>
/// Random master kills and restarts, data-node freezes, sentinel kills, restarts and pauses (TILT),
/// and partitions against 3 or 5 sentinels and 3 data nodes. After every step: at most one leader
/// elected per failover epoch. When the faults stop and everything is healed and restarted, the
/// live sentinels must agree on one master, a live node reporting role:master, and every other
/// data node must replicate from it. A failing case names its seed and prints its fault schedule;
/// the same seed replays the same run.
/// </summary>
public sealed class RandomizedTests(ITestOutputHelper output)
{
    // 20 seeds by default; CINNABAR_SENTINEL_SEEDS=n runs n.
    public static IEnumerable<object[]> Seeds =>
        Enumerable.Range(9000, int.TryParse(Environment.GetEnvironmentVariable("CINNABAR_SENTINEL_SEEDS"), out int n) ? n : 20)
            .Select(s => new object[] { s });

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Random_faults_keep_one_leader_per_epoch_and_the_system_converges(int seed)
    {
        var rng = new Random(seed);
        int sentinels = rng.Next(2) == 0 ? 3 : 5;
        var net = SimNetwork.Standard(seed, sentinels, replicas: 2, quorum: sentinels / 2 + 1);
        int maxDelay = rng.Next(3) switch { 0 => 5, 1 => 50, _ => 300 };
        var log = new List<string>();
        void Note(string what) => log.Add($"{net.Elapsed,8} ms  {what}");
        string? violation = null;
        net.OnEvent = e =>
        {
            if (e.Channel == "+elected-leader") violation ??= net.ElectionViolation();
        };
        bool Violated() => violation != null;
        try
        {
            net.WaitDiscovery(2);
            net.MaxDelayMs = maxDelay;
            long chaosEnd = net.Now + 90_000;
            while (net.Now < chaosEnd)
            {
                Assert.False(net.RunUntil(Violated, rng.Next(500, 6000)), violation);
                InjectFault(net, rng, Note);
            }
            // Faults stop: heal, restart, unfreeze everything.
            net.Heal();
            foreach (var r in net.Redis)
            {
                if (!r.Alive) r.Restart();
                r.Mode = FakeMode.Normal;
            }
            foreach (var s in net.Sentinels.Where(s => !s.Alive)) s.Restart();
            Note("faults stop, all healed and restarted");
            bool converged = net.RunUntilStable(() => Violated() || net.Converged(), 5000, 240_000);
            Assert.False(Violated(), violation);
            Assert.True(converged, $"seed {seed}: no convergence 240 s after the faults stopped");
            Assert.Null(net.ElectionViolation());
            // Sentinels and replicas are never forgotten nor duplicated, and the config epochs meet.
            Assert.True(net.RunUntil(() => net.Discovered(2) && net.Sentinels.Select(s => s.Node.Masters["mymaster"].ConfigEpoch).Distinct().Count() == 1, 30_000),
                $"seed {seed}: sentinels do not agree on the config epoch or the instances");
            Assert.True(net.Converged());
            output.WriteLine($"seed {seed}: {sentinels} sentinels, delay <= {maxDelay} ms, {net.Elections.Count} elections, {net.Count("+switch-master")} switch-master events, master {net.AgreedMaster()!.Addr}");
        }
        catch
        {
            output.WriteLine($"seed {seed} fault schedule:");
            foreach (var l in log) output.WriteLine(l);
            output.WriteLine("elections: " + string.Join(", ", net.Elections.Select(e => $"{e.Epoch}:s{e.Sentinel}")));
            output.WriteLine(net.Dump(150));
            throw;
        }
    }

    private static void InjectFault(SimNetwork net, Random rng, Action<string> note)
    {
        var agreed = net.AgreedMaster();
        switch (rng.Next(10))
        {
            case 0 or 1:
            {
                var victim = agreed is { Alive: true } && rng.Next(3) > 0 ? agreed : net.Redis[rng.Next(net.Redis.Count)];
                if (!victim.Alive) goto case 2;
                victim.Kill();
                note($"kill {victim.Addr}{(victim == agreed ? " (master)" : "")}");
                break;
            }
            case 2:
            {
                var dead = net.Redis.Where(r => !r.Alive).ToList();
                if (dead.Count == 0) break;
                var r = dead[rng.Next(dead.Count)];
                r.Restart();
                note($"restart {r.Addr} as {(r.IsMaster ? "master" : "replica")}");
                break;
            }
            case 3:
            {
                var r = net.Redis[rng.Next(net.Redis.Count)];
                r.Mode = r.Mode == FakeMode.Frozen ? FakeMode.Normal : FakeMode.Frozen;
                note($"{(r.Mode == FakeMode.Frozen ? "freeze" : "unfreeze")} {r.Addr}");
                break;
            }
            case 4:
            {
                var live = net.Sentinels.Where(s => s.Alive).ToList();
                if (live.Count <= 1) goto case 5;
                var s = live[rng.Next(live.Count)];
                s.Kill();
                note($"kill sentinel{s.Index}");
                break;
            }
            case 5:
            {
                var dead = net.Sentinels.Where(s => !s.Alive).ToList();
                var s = dead.Count > 0 ? dead[rng.Next(dead.Count)] : net.Sentinels[rng.Next(net.Sentinels.Count)];
                s.Restart();
                note($"restart sentinel{s.Index}");
                break;
            }
            case 6:
            {
                var s = net.Sentinels[rng.Next(net.Sentinels.Count)];
                if (!s.Alive) break;
                long ms = rng.Next(500, 4000);
                net.Stop(s, ms);
                note($"pause sentinel{s.Index} {ms} ms");
                break;
            }
            case 7 or 8:
            {
                var all = net.Redis.Cast<SimEndpoint>().Concat(net.Sentinels).ToList();
                var side = all.Where(_ => rng.Next(3) == 0).ToList();
                net.Heal();
                net.Partition(side);
                note($"partition [{string.Join(' ', side.Select(e => e is SimSentinel s ? $"sentinel{s.Index}" : ((FakeRedis)e).Addr))}]");
                break;
            }
            default:
                net.Heal();
                note("heal");
                break;
        }
    }
}
