using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

public sealed class BasicTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public BasicTests(CinnabarFixture f) => _f = f;

    [Fact]
    public void Redis_cli_round_trips_set_and_get()
    {
        Assert.Equal("OK", Tools.RedisCli(_f.Server.Port, "SET", "basic:cli", "hello").Trim());
        Assert.Equal("hello", Tools.RedisCli(_f.Server.Port, "GET", "basic:cli").Trim());
    }

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_redis_connects_and_runs_commands(RedisProtocol protocol)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        string key = "basic:se:" + protocol;
        await db.StringSetAsync(key, "value");
        Assert.Equal("value", (string?)await db.StringGetAsync(key));
        Assert.Equal(protocol, mux.GetServers()[0].Protocol);
    }

    [Fact]
    public void Deep_pipeline_of_100k_commands_in_one_write_is_answered_in_order()
    {
        using var c = _f.Server.Connect();
        var ms = new MemoryStream();
        for (int i = 0; i < 100_000; i++) ms.Write(RespConnection.Encode("SET", "basic:pipe", i));
        ms.Write(RespConnection.Encode("GET", "basic:pipe"));
        c.SendRaw(ms.ToArray());
        for (int i = 0; i < 100_000; i++) Assert.Equal("OK", c.Read().ToString());
        Assert.Equal("99999", c.Read().ToString());
    }

    [Fact]
    public void Malformed_multibulk_gets_protocol_error_and_connection_closes()
    {
        using var c = _f.Server.Connect();
        c.SendRaw("*abc\r\n");
        var r = c.Read();
        Assert.True(r.IsError);
        Assert.Equal("ERR Protocol error: invalid multibulk length", r.ToString());
        Assert.Throws<IOException>(() => c.Read());
    }

    [Fact]
    public void Inline_commands_are_accepted()
    {
        using var c = _f.Server.Connect();
        c.SendRaw("SET basic:inline \"a b\"\r\nGET basic:inline\r\n");
        Assert.Equal("OK", c.Read().ToString());
        Assert.Equal("a b", c.Read().ToString());
    }
}
