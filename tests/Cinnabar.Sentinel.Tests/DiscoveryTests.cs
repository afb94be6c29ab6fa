using Cinnabar.Sentinel.Tests.Simulation;
using Xunit.Abstractions;

namespace Cinnabar.Sentinel.Tests;

public sealed class DiscoveryTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Three_sentinels_find_each_other_and_the_replicas(int seed)
    {
        var net = SimNetwork.Standard(seed, sentinels: 3, replicas: 2, quorum: 2);
        bool ok = net.RunUntil(() => net.Sentinels.All(s =>
        {
            var m = s.MasterInfo();
            return m["num-other-sentinels"] == "2" && m["num-slaves"] == "2";
        }), 30_000);
        output.WriteLine(net.Dump(20));
        Assert.True(ok, $"seed {seed}: discovery incomplete\n{net.Dump()}");
        foreach (var s in net.Sentinels)
        {
            var lines = s.Node.RewriteLines().Select(l => l.Line).ToList();
            var others = net.Sentinels.Where(o => o != s).ToList();
            foreach (var o in others)
                Assert.Contains($"sentinel known-sentinel mymaster {o.Ip} {o.Port} {o.Node.MyId}", lines);
            Assert.Contains($"sentinel known-replica mymaster {net.Redis[1].Ip} {net.Redis[1].Port}", lines);
            Assert.Contains($"sentinel known-replica mymaster {net.Redis[2].Ip} {net.Redis[2].Port}", lines);
            // The saved config file has them too (discovery saves).
            Assert.Contains($"sentinel known-sentinel mymaster {others[0].Ip} {others[0].Port} {others[0].Node.MyId}", s.SavedConfig);
            var m = s.MasterInfo();
            Assert.Equal("master", m["flags"]);
            Assert.Equal(net.Redis[0].RunId, m["runid"]);
        }
        Assert.Empty(net.EventsOf("+sdown"));
    }
}
