using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>SDOWN after down-after-milliseconds, ODOWN only with quorum agreement.</summary>
public sealed class DownDetectionTests
{
    private static bool IsMasterEvent(SimEvent e) => e.Message.StartsWith("master mymaster ", StringComparison.Ordinal);

    [Theory]
    [InlineData(101)]
    [InlineData(102)]
    [InlineData(103)]
    public void A_frozen_master_is_sdown_after_down_after_ms_and_back_when_it_answers(int seed)
    {
        // quorum 4 > 3 sentinels: SDOWN everywhere but never ODOWN, so nothing else happens.
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 1, quorum: 4, downAfterMs: 3000);
        net.WaitDiscovery(1);
        var master = net.Redis[0];
        master.Mode = FakeMode.Frozen;
        long frozenAt = net.Now;
        Assert.True(net.RunUntil(() => net.Count("+sdown", IsMasterEvent) == 3, 10_000), net.Dump());
        foreach (var e in net.EventsOf("+sdown").Where(IsMasterEvent))
        {
            long after = e.Time - frozenAt;
            Assert.True(after > 3000 - 20 && after < 3000 + 1500, $"seed {seed}: +sdown {after} ms after the freeze");
        }
        Assert.All(net.Sentinels, s => Assert.Contains("s_down", s.MasterInfo()["flags"]));
        net.RunFor(20_000);
        Assert.Equal(0, net.Count("+odown"));
        Assert.Equal(0, net.Count("+try-failover"));
        Assert.All(net.Sentinels, s => Assert.DoesNotContain("o_down", s.MasterInfo()["flags"]));

        master.Mode = FakeMode.Normal;
        Assert.True(net.RunUntil(() => net.Count("-sdown", IsMasterEvent) == 3, 5_000), net.Dump());
        Assert.All(net.Sentinels, s => Assert.Equal("master", s.MasterInfo()["flags"]));
    }

    [Theory]
    [InlineData(111)]
    [InlineData(112)]
    public void Odown_needs_quorum_sentinels_that_see_the_master_down(int seed)
    {
        // 5 sentinels, quorum 3. Only two of them lose the master: SDOWN there, no ODOWN anywhere.
        var net = SimNetwork.Standard(seed, sentinels: 5, replicas: 1, quorum: 3);
        net.WaitDiscovery(1);
        var master = net.Redis[0];
        net.Block(master, net.Sentinels[0]);
        net.Block(master, net.Sentinels[1]);
        Assert.True(net.RunUntil(() => net.Count("+sdown", IsMasterEvent) == 2, 10_000), net.Dump());
        net.RunFor(15_000);
        Assert.Equal(0, net.Count("+odown"));
        Assert.All(net.Sentinels.Skip(2), s => Assert.Equal("master", s.MasterInfo()["flags"]));

        // A third one loses it: quorum reached.
        net.Block(master, net.Sentinels[2]);
        Assert.True(net.RunUntil(() => net.Count("+odown") >= 1, 10_000), net.Dump());
        var odown = net.First("+odown")!;
        Assert.True(odown.Sentinel <= 2, "only a sentinel that sees it down can declare ODOWN");
        var q = odown.Message[(odown.Message.IndexOf("#quorum ", StringComparison.Ordinal) + 8)..].Split('/');
        Assert.True(int.Parse(q[0]) >= 3, odown.Message);
        Assert.Equal("3", q[1]);
        Assert.Contains(net.Events, e => e.Sentinel == odown.Sentinel && e.Channel == "+sdown" && e.Time <= odown.Time);
    }

    [Fact]
    public void No_odown_when_quorum_is_larger_than_the_sentinels_that_see_it_down()
    {
        var net = SimNetwork.Standard(121, sentinels: 3, replicas: 1, quorum: 3);
        net.WaitDiscovery(1);
        net.Block(net.Redis[0], net.Sentinels[0]);
        net.Block(net.Redis[0], net.Sentinels[1]);
        net.RunFor(20_000);
        Assert.Equal(2, net.Count("+sdown", IsMasterEvent));
        Assert.Equal(0, net.Count("+odown"));
        Assert.Empty(net.Redis[1].SlaveOfLog);
        // CKQUORUM counts sentinels, not what they see: all three are usable.
        Assert.Equal("OK 3 usable Sentinels. Quorum and failover authorization can be reached", net.Sentinels[0].Command("ckquorum", "mymaster").Text);
    }

    [Theory]
    [InlineData(FakeMode.Loading)]
    [InlineData(FakeMode.Busy)]
    public void Loading_is_a_valid_ping_reply_and_busy_triggers_one_script_kill(FakeMode mode)
    {
        var net = SimNetwork.Standard(131, sentinels: 1, replicas: 1, quorum: 2, downAfterMs: 2000);
        net.WaitDiscovery(1);
        var master = net.Redis[0];
        master.Mode = mode;
        net.RunFor(6000);
        if (mode == FakeMode.Loading)
        {
            Assert.Equal(0, net.Count("+sdown", IsMasterEvent));
            return;
        }
        // BUSY is no valid reply: SDOWN, then exactly one SCRIPT KILL, which unblocks the node.
        Assert.True(net.Count("+sdown", IsMasterEvent) >= 1, net.Dump());
        Assert.Equal(1, master.ScriptKills);
        Assert.True(net.RunUntil(() => net.Count("-sdown", IsMasterEvent) >= 1, 5000), net.Dump());
    }

    [Fact]
    public void A_killed_master_is_sdown_and_the_disconnected_flag_shows()
    {
        var net = SimNetwork.Standard(141, sentinels: 1, replicas: 0, quorum: 2);
        net.RunFor(3000);
        net.Redis[0].Kill();
        Assert.True(net.RunUntil(() => net.Count("+sdown", IsMasterEvent) == 1, 5000), net.Dump());
        Assert.True(net.RunUntil(() => net.Sentinels[0].MasterInfo()["flags"] == "s_down,master,disconnected", 2000), net.Dump());
        net.Redis[0].Restart();
        Assert.True(net.RunUntil(() => net.Sentinels[0].MasterInfo()["flags"] == "master", 5000), net.Dump());
        Assert.True(net.RunUntil(() => net.Count("+reboot") == 1, 15_000), net.Dump()); // the next INFO has a new run_id
    }
}
