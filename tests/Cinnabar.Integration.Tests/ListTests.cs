using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

public sealed class ListTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ListTests(CinnabarFixture f) => _f = f;

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_redis_list_operations_round_trip(RedisProtocol protocol)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        string key = "list:se:" + protocol;
        Assert.Equal(3, await db.ListRightPushAsync(key, ["a", "b", "c"]));
        Assert.Equal(4, await db.ListLeftPushAsync(key, "z"));
        Assert.Equal(4, await db.ListLengthAsync(key));
        Assert.Equal(["z", "a", "b", "c"], (await db.ListRangeAsync(key)).Select(v => (string)v!).ToArray());
        Assert.Equal("b", (string?)await db.ListGetByIndexAsync(key, -2));
        await db.ListSetByIndexAsync(key, 0, "first");
        Assert.Equal(5, await db.ListInsertAfterAsync(key, "a", "a2"));
        Assert.Equal(2, await db.ListPositionAsync(key, "a2"));
        Assert.Equal(1, await db.ListRemoveAsync(key, "a2"));
        Assert.Equal("first", (string?)await db.ListLeftPopAsync(key));
        Assert.Equal(["c", "b"], (await db.ListRightPopAsync(key, 2)).Select(v => (string)v!).ToArray());
        Assert.Equal("a", (string?)await db.ListMoveAsync(key, key + ":dst", ListSide.Left, ListSide.Right));
        Assert.Equal(0, await db.ListLengthAsync(key));
        var popped = await db.ListLeftPopAsync([key, key + ":dst"], 5);
        Assert.Equal(key + ":dst", (string?)popped.Key);
        Assert.Equal(["a"], popped.Values.Select(v => (string)v!).ToArray());
        await db.ListRightPushAsync(key, ["1", "2", "3", "4"]);
        await db.ListTrimAsync(key, 1, 2);
        Assert.Equal(["2", "3"], (await db.ListRangeAsync(key)).Select(v => (string)v!).ToArray());
        await db.StringSetAsync(key + ":str", "v");
        var ex = await Assert.ThrowsAsync<RedisServerException>(() => db.ListLeftPushAsync(key + ":str", "x"));
        Assert.StartsWith("WRONGTYPE", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Lset_errors_match_redis()
    {
        using var c = _f.Server.Connect();
        Assert.Equal("ERR no such key", c.Call("LSET", "list:lset:none", "0", "v").ToString());
        c.Call("RPUSH", "list:lset", "a");
        Assert.Equal("ERR index out of range", c.Call("LSET", "list:lset", "5", "v").ToString());
    }

    [Fact]
    public void Popping_the_last_element_deletes_the_key()
    {
        using var c = _f.Server.Connect();
        c.Call("RPUSH", "list:del", "a", "b");
        c.Call("LPOP", "list:del", "2");
        // A deleted key can be reused as another type.
        Assert.Equal("OK", c.Call("SET", "list:del", "now-a-string").ToString());
        Assert.Equal("now-a-string", c.Call("GET", "list:del").ToString());
    }
}
