using Cinnabar.Protocol;
using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>SENTINEL FAILOVER: forced, without ODOWN or a majority.</summary>
public sealed class ManualFailoverTests
{
    [Theory]
    [InlineData(301)]
    [InlineData(302)]
    public void A_forced_failover_completes_without_odown(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        net.WaitDiscovery(2);
        net.RunFor(2000);
        var s = net.Sentinels[0];
        var old = net.Redis[0];
        var ok = s.Command("failover", "mymaster");
        Assert.Equal(RespType.Status, ok.Type);
        Assert.Equal("OK", ok.Text);
        var again = s.Command("failover", "mymaster");
        Assert.Equal(RespType.Error, again.Type);
        Assert.Equal("INPROG Failover already in progress", again.Text);
        Assert.Contains("failover_in_progress", s.MasterInfo()["flags"]);
        Assert.Contains("force_failover", s.MasterInfo()["flags"]);
        Assert.Equal("wait_start", s.MasterInfo()["failover-state"]);

        Assert.True(net.RunUntil(() => net.Redis.Skip(1).Any(r => r.IsMaster) && net.Converged() && !old.IsMaster, 60_000), net.Dump());
        Assert.Equal(0, net.Count("+odown"));
        Assert.Equal(0, net.Count("+sdown", e => e.Message.StartsWith("master", StringComparison.Ordinal)));
        Assert.Single(net.Elections);
        Assert.Equal(0, net.Elections[0].Sentinel);
        Assert.DoesNotContain("failover-state", s.MasterInfo().Keys);
        // The old master was alive all along: it is converted once the new one looks sane.
        Assert.Contains(net.Events, e => e.Channel == "+convert-to-slave");
    }

    [Fact]
    public void A_forced_failover_without_replicas_is_refused()
    {
        var net = SimNetwork.Standard(303, sentinels: 1, replicas: 0, quorum: 1);
        net.RunFor(5000);
        var r = net.Sentinels[0].Command("failover", "mymaster");
        Assert.Equal(RespType.Error, r.Type);
        Assert.Equal("NOGOODSLAVE No suitable replica to promote", r.Text);
        Assert.Equal("ERR No such master with that name", net.Sentinels[0].Command("failover", "nosuch").Text);
        Assert.Equal("ERR wrong number of arguments for 'sentinel|failover' command", net.Sentinels[0].Command("failover").Text);
    }

    [Fact]
    public void A_forced_failover_refuses_replicas_with_priority_zero()
    {
        var net = SimNetwork.Standard(304, sentinels: 1, replicas: 2, quorum: 1);
        net.Redis[1].Priority = 0;
        net.Redis[2].Priority = 0;
        net.WaitDiscovery(2);
        net.RunFor(11_000); // INFO refreshed with the priorities
        Assert.Equal("NOGOODSLAVE No suitable replica to promote", net.Sentinels[0].Command("failover", "mymaster").Text);
    }
}
