using Cinnabar.Protocol;
using Cinnabar.Sentinel.Tests.Simulation;

namespace Cinnabar.Sentinel.Tests;

/// <summary>IS-MASTER-DOWN-BY-ADDR voting: once per epoch, persisted across restarts.</summary>
public sealed class VoteTests
{
    private static readonly string A = new('a', 40);
    private static readonly string B = new('b', 40);
    private static readonly string C = new('c', 40);

    private static (long Down, string Leader, long Epoch) Ask(SimSentinel s, FakeRedis m, long epoch, string runid)
    {
        var r = s.Command("is-master-down-by-addr", m.Ip, m.Port.ToString(), epoch.ToString(), runid);
        Assert.Equal(RespType.Array, r.Type);
        Assert.Equal(3, r.Elements.Count);
        Assert.Equal(RespType.Integer, r.Elements[0].Type);
        Assert.Equal(RespType.Bulk, r.Elements[1].Type);
        Assert.Equal(RespType.Integer, r.Elements[2].Type);
        return (r.Elements[0].Integer, r.Elements[1].Text, r.Elements[2].Integer);
    }

    [Fact]
    public void A_sentinel_votes_once_per_epoch_and_remembers_the_epoch_across_restarts()
    {
        var net = SimNetwork.Standard(201, sentinels: 1, replicas: 1, quorum: 2);
        net.RunFor(3000);
        var s = net.Sentinels[0];
        var m = net.Redis[0];

        Assert.Equal((0L, "*", 0L), Ask(s, m, 5, "*")); // no vote asked, none given
        Assert.Equal((0L, A, 5L), Ask(s, m, 5, A));
        Assert.Equal((0L, A, 5L), Ask(s, m, 5, B)); // same epoch: the first vote stands
        Assert.Equal((0L, A, 5L), Ask(s, m, 4, C)); // older epoch: the current vote is returned
        Assert.Equal(5, s.Node.CurrentEpoch);
        Assert.Contains("sentinel leader-epoch mymaster 5", s.SavedConfig);
        Assert.Contains("sentinel current-epoch 5", s.SavedConfig);
        Assert.Equal(1, net.Count("+vote-for-leader"));
        Assert.Equal($"{A} 5", net.First("+vote-for-leader")!.Message);
        Assert.Contains(net.Events, e => e.Channel == "+new-epoch" && e.Message == "5");

        Assert.Equal((0L, B, 6L), Ask(s, m, 6, B)); // a new epoch gets a new vote
        Assert.Contains("sentinel leader-epoch mymaster 6", s.SavedConfig);

        // After a restart the vote itself is forgotten but its epoch is not: no second vote in epoch 6.
        s.Restart();
        var again = Ask(s, m, 6, C);
        Assert.NotEqual(C, again.Leader);
        Assert.Equal(6, again.Epoch);
        Assert.Equal((0L, C, 7L), Ask(s, m, 7, C));
    }

    [Fact]
    public void Is_master_down_reports_sdown_by_address_and_unknown_addresses_get_no_vote()
    {
        var net = SimNetwork.Standard(202, sentinels: 1, replicas: 0, quorum: 2);
        net.RunFor(3000);
        var s = net.Sentinels[0];
        var m = net.Redis[0];
        m.Mode = FakeMode.Frozen;
        Assert.True(net.RunUntil(() => s.MasterInfo()["flags"].Contains("s_down"), 10_000));
        Assert.Equal(1, Ask(s, m, 0, "*").Down);
        var r = s.Command("is-master-down-by-addr", "10.9.9.9", "1", "3", A);
        Assert.Equal("*3\r\n:0\r\n$1\r\n*\r\n:0\r\n", Resp(r));
        Assert.Equal(0, s.Node.CurrentEpoch);
        Assert.Equal("ERR value is not an integer or out of range", s.Command("is-master-down-by-addr", m.Ip, "x", "1", "*").Text);
        Assert.Equal("ERR value is not an integer or out of range", s.Command("is-master-down-by-addr", m.Ip, "6379", "x", "*").Text);
        Assert.Equal("ERR wrong number of arguments for 'sentinel|is-master-down-by-addr' command", s.Command("is-master-down-by-addr", m.Ip).Text);
    }

    private static string Resp(RespReply r) => r.Type switch
    {
        RespType.Array => $"*{r.Elements.Count}\r\n" + string.Concat(r.Elements.Select(Resp)),
        RespType.Integer => $":{r.Integer}\r\n",
        RespType.Bulk => $"${r.Str.Length}\r\n{r.Text}\r\n",
        RespType.Status => $"+{r.Text}\r\n",
        RespType.Error => $"-{r.Text}\r\n",
        _ => "?",
    };
}
