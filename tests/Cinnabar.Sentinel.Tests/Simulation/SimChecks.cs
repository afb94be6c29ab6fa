namespace Cinnabar.Sentinel.Tests.Simulation;

/// <summary>Conditions and invariants shared by the simulation tests.</summary>
public static class SimChecks
{
    public static IEnumerable<SimSentinel> Live(this SimNetwork net) => net.Sentinels.Where(s => s.Alive);

    /// <summary>Every live sentinel knows all other sentinels and <paramref name="replicas"/> replicas.</summary>
    public static bool Discovered(this SimNetwork net, int replicas, string name = "mymaster") =>
        net.Live().All(s =>
        {
            var m = s.Node.Masters[name];
            return m.Sentinels.Count == net.Sentinels.Count - 1 && m.Replicas.Count == replicas
                && m.Sentinels.Values.All(p => !p.Link.Disconnected);
        });

    public static void WaitDiscovery(this SimNetwork net, int replicas, long maxMs = 30_000)
    {
        Assert.True(net.RunUntil(() => net.Discovered(replicas), maxMs), $"discovery incomplete\n{net.Dump()}");
    }

    /// <summary>Leaders elected per epoch (epoch → distinct leader ids).</summary>
    public static Dictionary<long, HashSet<string>> LeadersByEpoch(this SimNetwork net)
    {
        var d = new Dictionary<long, HashSet<string>>();
        foreach (var (epoch, leader, _) in net.Elections)
        {
            if (!d.TryGetValue(epoch, out var set)) d[epoch] = set = new HashSet<string>();
            set.Add(leader);
        }
        return d;
    }

    /// <summary>Null when at most one leader was elected per epoch, else a description.</summary>
    public static string? ElectionViolation(this SimNetwork net)
    {
        foreach (var (epoch, set) in net.LeadersByEpoch())
            if (set.Count > 1) return $"epoch {epoch} has {set.Count} leaders: {string.Join(", ", set)}";
        return null;
    }

    /// <summary>All live sentinels report <paramref name="r"/> as the master's address.</summary>
    public static bool AllPointAt(this SimNetwork net, FakeRedis r, string name = "mymaster") =>
        net.Live().All(s => s.MasterAddr(name) == r.Addr);

    /// <summary>The live data node the live sentinels agree on as master, if any.</summary>
    public static FakeRedis? AgreedMaster(this SimNetwork net, string name = "mymaster")
    {
        var addrs = net.Live().Select(s => s.Node.Masters.TryGetValue(name, out var m) ? AddrOf(SentinelNode.CurrentMasterAddress(m)) : null).Distinct().ToList();
        if (addrs.Count != 1) return null;
        return net.Redis.FirstOrDefault(r => r.Addr == addrs[0]);
    }

    private static string AddrOf(SentinelAddr a) => $"{a.Ip}:{a.Port}";

    /// <summary>Healthy end state: sentinels agree on a live master that says role:master, every other
    /// live data node replicates from it with the link up, and no failover is in progress.</summary>
    public static bool Converged(this SimNetwork net, string name = "mymaster")
    {
        var m = net.AgreedMaster(name);
        if (m == null || !m.Alive || !m.IsMaster) return false;
        foreach (var r in net.Redis)
        {
            if (r == m || !r.Alive) continue;
            if (r.IsMaster || r.MasterHost != m.Ip || r.MasterPort != m.Port || !r.LinkUp) return false;
        }
        return net.Live().All(s => !s.Node.Masters[name].Has(InstanceFlags.FailoverInProgress));
    }

    public static int Count(this SimNetwork net, string channel, Func<SimEvent, bool>? where = null) =>
        net.Events.Count(e => e.Channel == channel && (where == null || where(e)));

    public static SimEvent? First(this SimNetwork net, string channel, Func<SimEvent, bool>? where = null) =>
        net.Events.FirstOrDefault(e => e.Channel == channel && (where == null || where(e)));
}
