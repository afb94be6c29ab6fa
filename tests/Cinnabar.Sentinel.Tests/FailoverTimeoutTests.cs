using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>The failover state machine's timeouts: wait_promotion and reconf_slaves.</summary>
public sealed class FailoverTimeoutTests
{
    [Fact]
    public void A_replica_that_never_reports_master_aborts_the_failover_after_the_timeout()
    {
        var net = SimNetwork.Standard(501, sentinels: 1, replicas: 1, quorum: 1, failoverTimeoutMs: 5000);
        var replica = net.Redis[1];
        replica.IgnoreSlaveOf = true;
        net.WaitDiscovery(1);
        net.RunFor(2000);
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Count("-failover-abort-slave-timeout") == 1, 30_000), net.Dump());
        var waiting = net.First("+failover-state-wait-promotion")!;
        var abort = net.First("-failover-abort-slave-timeout")!;
        Assert.InRange(abort.Time - waiting.Time, 5000, 5000 + 200);
        Assert.Single(replica.SlaveOfLog, e => e.Target == "NO ONE");
        Assert.Equal(0, net.Count("+promoted-slave"));
        var s = net.Sentinels[0];
        Assert.Equal(net.Redis[0].Addr, s.MasterAddr());
        Assert.DoesNotContain("failover_in_progress", s.MasterInfo()["flags"]);
        Assert.DoesNotContain("promoted", SimSentinel.ToMap(s.Command("replicas", "mymaster").Elements[0])["flags"]);
    }

    [Fact]
    public void A_replica_that_never_reconfigures_ends_the_failover_by_timeout()
    {
        var net = SimNetwork.Standard(502, sentinels: 1, replicas: 2, quorum: 1, failoverTimeoutMs: 8000);
        var good = net.Redis[1];
        var stuck = net.Redis[2];
        stuck.Priority = 200; // never the one promoted
        net.WaitDiscovery(2);
        net.RunFor(11_000);
        stuck.IgnoreSlaveOf = true;
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Count("+switch-master") == 1, 60_000), net.Dump());
        var reconf = net.First("+failover-state-reconf-slaves")!;
        var end = net.First("+failover-end-for-timeout")!;
        Assert.NotNull(end);
        Assert.InRange(end.Time - reconf.Time, 8000, 8000 + 200);
        Assert.True(net.First("+failover-end")!.Time >= end.Time);
        Assert.Contains(net.Events, e => e.Channel == "+slave-reconf-sent" && e.Message.StartsWith($"slave {stuck.Addr} ", StringComparison.Ordinal));
        Assert.Equal(0, net.Count("+slave-reconf-done"));
        Assert.True(good.IsMaster);
        Assert.Equal(good.Addr, net.Sentinels[0].MasterAddr());
        Assert.Equal($"mymaster {net.Redis[0].Ip} {net.Redis[0].Port} {good.Ip} {good.Port}", net.First("+switch-master")!.Message);
    }

    [Fact]
    public void With_parallel_syncs_one_replicas_are_reconfigured_one_at_a_time()
    {
        var net = SimNetwork.Standard(503, sentinels: 1, replicas: 4, quorum: 1);
        net.WaitDiscovery(4);
        net.RunFor(2000);
        int maxInFlight = 0;
        net.OnEvent = e =>
        {
            if (e.Channel is not ("+slave-reconf-sent" or "+slave-reconf-done")) return;
            int sent = net.Count("+slave-reconf-sent");
            int done = net.Count("+slave-reconf-done");
            maxInFlight = Math.Max(maxInFlight, sent - done);
        };
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Count("+failover-end") == 1, 60_000), net.Dump());
        Assert.Equal(3, net.Count("+slave-reconf-sent"));
        Assert.Equal(3, net.Count("+slave-reconf-inprog"));
        Assert.Equal(3, net.Count("+slave-reconf-done"));
        Assert.Equal(0, net.Count("+failover-end-for-timeout"));
        Assert.Equal(1, maxInFlight);
        Assert.True(net.RunUntil(() => net.Converged(), 30_000), net.Dump());
    }
}
