using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>TILT: entered on a timer gap, no acting while in it, left after tilt-period.</summary>
public sealed class TiltTests
{
    [Theory]
    [InlineData(601)]
    [InlineData(602)]
    public void A_tick_gap_enters_tilt_which_suppresses_sdown_until_it_ends(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 1, replicas: 1, quorum: 2, configure: n => n.TiltPeriodMs = 8000);
        net.WaitDiscovery(1);
        var s = net.Sentinels[0];
        net.Stop(s, 2500); // like SIGSTOP: the next timer run comes > 2000 ms after the previous one
        long stoppedAt = net.Now;
        Assert.True(net.RunUntil(() => net.Count("+tilt") == 1, 5000), net.Dump());
        var tilt = net.First("+tilt")!;
        Assert.Equal("#tilt mode entered", tilt.Message);
        Assert.True(tilt.Time >= stoppedAt + 2500);
        Assert.True(s.Node.Tilt);
        Assert.Contains("sentinel_tilt:1", s.Node.InfoSection(net.Now, 0, 0));

        net.Redis[0].Mode = FakeMode.Frozen;
        Assert.True(net.RunUntil(() => net.Count("-tilt") == 1, 10_000), net.Dump());
        var untilt = net.First("-tilt")!;
        Assert.InRange(untilt.Time - tilt.Time, 8000, 8000 + 150);
        // Frozen for more than down-after while in TILT, but no SDOWN was declared then...
        Assert.Equal(0, net.Count("+sdown", e => e.Time < untilt.Time));
        Assert.NotEqual(0, s.Node.Masters["mymaster"].Link.ActPingTime);
        // ...and it is at the first check after TILT.
        Assert.True(net.RunUntil(() => net.Count("+sdown") >= 1, 1000), net.Dump());
        Assert.True(net.First("+sdown")!.Time - untilt.Time < 200);
        Assert.False(s.Node.Tilt);
        Assert.Contains("sentinel_tilt:0", s.Node.InfoSection(net.Now, 0, 0));
    }

    [Fact]
    public void In_tilt_is_master_down_answers_zero_but_votes_are_still_given()
    {
        var net = SimNetwork.Standard(603, sentinels: 1, replicas: 0, quorum: 2);
        net.RunFor(3000);
        var s = net.Sentinels[0];
        var m = net.Redis[0];
        m.Mode = FakeMode.Frozen;
        Assert.True(net.RunUntil(() => s.MasterInfo()["flags"].Contains("s_down"), 10_000));
        net.Stop(s, 3000);
        net.RunFor(3100);
        Assert.True(s.Node.Tilt);
        var r = s.Command("is-master-down-by-addr", m.Ip, m.Port.ToString(), "3", new string('e', 40));
        Assert.Equal(0, r.Elements[0].Integer);
        Assert.Equal(new string('e', 40), r.Elements[1].Text);
        Assert.Equal(3, r.Elements[2].Integer);
    }
}
