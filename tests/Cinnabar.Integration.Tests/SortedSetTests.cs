using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>Blocking sorted set pops across connections, and a real client (StackExchange.Redis).</summary>
public sealed class SortedSetTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public SortedSetTests(CinnabarFixture f) => _f = f;

    /// <summary>Waits until the server reports at least <paramref name="count"/> blocked clients.</summary>
    private void WaitBlocked(RespConnection probe, int count)
    {
        Tools.WaitUntil(() =>
        {
            string info = probe.Call("INFO", "clients").ToString();
            var line = info.Split("\r\n").FirstOrDefault(l => l.StartsWith("blocked_clients:", StringComparison.Ordinal));
            return line != null && int.Parse(line["blocked_clients:".Length..], System.Globalization.CultureInfo.InvariantCulture) >= count;
        }, TimeSpan.FromSeconds(10), $"{count} blocked clients");
    }

    [Fact]
    public void Bzpopmin_is_woken_by_zadd_from_another_connection()
    {
        using var blocked = _f.Server.Connect();
        using var writer = _f.Server.Connect();
        blocked.Send("BZPOPMIN", "zt:wake:a", "zt:wake:b", "0");
        WaitBlocked(writer, 1);
        Assert.Equal(2, writer.Call("ZADD", "zt:wake:b", "2", "y", "1", "x").Integer);
        var reply = blocked.Read();
        Assert.Equal("[zt:wake:b,x,1]", reply.ToString());
        Assert.Equal(1, writer.Call("ZCARD", "zt:wake:b").Integer);
    }

    [Fact]
    public void Bzpopmax_times_out_with_a_null_array()
    {
        using var c = _f.Server.Connect();
        var sw = Stopwatch.StartNew();
        byte[] raw = c.CallRaw("BZPOPMAX", "zt:timeout", "0.2");
        Assert.Equal("*-1\r\n", System.Text.Encoding.ASCII.GetString(raw));
        Assert.True(sw.ElapsedMilliseconds >= 150, $"returned after {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Bzmpop_times_out_with_resp3_null()
    {
        using var c = _f.Server.Connect();
        c.Call("HELLO", "3");
        byte[] raw = c.CallRaw("BZMPOP", "0.1", "1", "zt:timeout3", "MIN");
        Assert.Equal("_\r\n", System.Text.Encoding.ASCII.GetString(raw));
    }

    [Fact]
    public void Blocked_clients_are_served_in_fifo_order()
    {
        using var first = _f.Server.Connect();
        using var second = _f.Server.Connect();
        using var writer = _f.Server.Connect();
        first.Send("BZPOPMIN", "zt:fifo", "0");
        WaitBlocked(writer, 1);
        second.Send("BZPOPMIN", "zt:fifo", "0");
        WaitBlocked(writer, 2);
        writer.Call("ZADD", "zt:fifo", "1", "one");
        Assert.Equal("[zt:fifo,one,1]", first.Read().ToString());
        writer.Call("ZADD", "zt:fifo", "2", "two");
        Assert.Equal("[zt:fifo,two,2]", second.Read().ToString());
    }

    [Fact]
    public void Bzmpop_wakes_with_count_and_nested_reply()
    {
        using var blocked = _f.Server.Connect();
        using var writer = _f.Server.Connect();
        blocked.Send("BZMPOP", "0", "1", "zt:mpop", "MAX", "COUNT", "2");
        WaitBlocked(writer, 1);
        writer.Call("ZADD", "zt:mpop", "1", "a", "2", "b", "3", "c");
        Assert.Equal("[zt:mpop,[[c,3],[b,2]]]", blocked.Read().ToString());
        Assert.Equal(1, writer.Call("ZCARD", "zt:mpop").Integer);
    }

    [Fact]
    public void Blocked_pop_ignores_a_key_that_becomes_another_type()
    {
        using var blocked = _f.Server.Connect();
        using var writer = _f.Server.Connect();
        blocked.Send("BZPOPMIN", "zt:type", "5");
        WaitBlocked(writer, 1);
        // As in Redis 7.0, only a sorted set serves the client: a string stored under the key
        // leaves it blocked (no WRONGTYPE), and the sorted set added later is popped.
        writer.Call("SET", "zt:type", "string");
        writer.Call("ZADD", "zt:type:src", "1", "a");
        Assert.Equal(1, writer.Call("ZRANGESTORE", "zt:type", "zt:type:src", "0", "-1").Integer);
        Assert.Equal("[zt:type,a,1]", blocked.Read().ToString());
    }

    [Fact]
    public void Zscan_of_a_skiplist_returns_every_member_once_with_its_score()
    {
        using var c = _f.Server.Connect();
        var args = new List<object> { "ZADD", "zt:scan" };
        for (int i = 0; i < 300; i++) { args.Add(i.ToString(System.Globalization.CultureInfo.InvariantCulture)); args.Add("m" + i); }
        Assert.Equal(300, c.Call(args.ToArray()).Integer);
        var seen = new Dictionary<string, string>();
        string cursor = "0";
        int calls = 0;
        do
        {
            var reply = c.Call("ZSCAN", "zt:scan", cursor, "COUNT", "50");
            cursor = reply.Items![0].ToString();
            var items = reply.Items[1].Items!;
            for (int k = 0; k < items.Count; k += 2) Assert.True(seen.TryAdd(items[k].ToString(), items[k + 1].ToString()));
            Assert.True(++calls < 100, "ZSCAN did not finish");
        } while (cursor != "0");
        Assert.Equal(300, seen.Count);
        Assert.Equal("123", seen["m123"]);
    }

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_redis_sorted_set_operations(RedisProtocol protocol)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        string key = "zt:se:" + protocol + ":" + Guid.NewGuid().ToString("N");
        Assert.Equal(3, await db.SortedSetAddAsync(key, [new("a", 1.5), new("b", 2), new("c", 3)]));
        Assert.Equal(1.5, await db.SortedSetScoreAsync(key, "a"));
        Assert.Equal(5.5, await db.SortedSetIncrementAsync(key, "a", 4));
        var withScores = await db.SortedSetRangeByRankWithScoresAsync(key, 0, -1);
        Assert.Equal(["b", "c", "a"], withScores.Select(e => (string)e.Element!).ToArray());
        Assert.Equal([2.0, 3.0, 5.5], withScores.Select(e => e.Score).ToArray());
        Assert.Equal(2, await db.SortedSetRankAsync(key, "a"));
        Assert.Equal(2, await db.SortedSetLengthAsync(key, 2, 4));
        var byScore = await db.SortedSetRangeByScoreAsync(key, 2, 5.5, Exclude.Start, Order.Descending);
        Assert.Equal(["a", "c"], byScore.Select(v => (string)v!).ToArray());
        var popped = await db.SortedSetPopAsync(key, Order.Descending);
        Assert.Equal("a", (string)popped!.Value.Element!);
        Assert.Equal(5.5, popped.Value.Score);
        string other = key + ":other";
        await db.SortedSetAddAsync(other, "b", 10);
        Assert.Equal(1, await db.SortedSetCombineAndStoreAsync(SetOperation.Intersect, key + ":dst", key, other));
        Assert.Equal(12, await db.SortedSetScoreAsync(key + ":dst", "b"));
        Assert.True(await db.SortedSetRemoveAsync(key, "b"));
        Assert.Equal(1, await db.SortedSetLengthAsync(key));
    }
}
