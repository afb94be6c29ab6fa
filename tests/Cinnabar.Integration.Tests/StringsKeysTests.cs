using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

public sealed class StringsKeysTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public StringsKeysTests(CinnabarFixture f) => _f = f;

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        options.AllowAdmin = true;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    [Fact]
    public void Active_expiry_reclaims_a_million_volatile_keys_without_client_traffic()
    {
        // A dedicated server: DBSIZE must reach 0 with nobody touching the keys.
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        const int total = 1_000_000, chunk = 10_000;
        var sw = Stopwatch.StartNew();
        for (int start = 0; start < total; start += chunk)
        {
            var ms = new MemoryStream();
            for (int i = start; i < start + chunk; i++) ms.Write(RespConnection.Encode("SET", "ae:" + i, "v", "PX", 200));
            c.SendRaw(ms.ToArray());
            for (int i = 0; i < chunk; i++) Assert.Equal("OK", c.Read().ToString());
        }
        var written = sw.Elapsed;
        long initial = c.Call("DBSIZE").Integer;
        Assert.True(initial > 0, "keys should still be there right after writing");
        sw.Restart();
        c.ReadTimeoutMs = 30000;
        Tools.WaitUntil(() =>
        {
            using var probe = server.Connect();
            return probe.Call("DBSIZE").Integer == 0;
        }, TimeSpan.FromSeconds(60), "active expiry to reclaim all keys");
        // Visible in the test log, to compare the cycle with Redis.
        Console.WriteLine($"wrote {total} keys in {written.TotalSeconds:F1}s; reclaimed in {sw.Elapsed.TotalSeconds:F1}s");
    }

    [Fact]
    public async Task Counters_and_floats_work_through_StackExchange_Redis()
    {
        await using var mux = await ConnectAsync();
        var db = mux.GetDatabase();
        await db.KeyDeleteAsync(["sk:se:n", "sk:se:f"]);
        Assert.Equal(5, await db.StringIncrementAsync("sk:se:n", 5));
        Assert.Equal(2, await db.StringDecrementAsync("sk:se:n", 3));
        Assert.Equal(10.5, await db.StringIncrementAsync("sk:se:f", 10.5));
        Assert.Equal(10.75, await db.StringIncrementAsync("sk:se:f", 0.25));
        Assert.Equal("10.75", (string?)await db.StringGetAsync("sk:se:f"));
        await db.StringSetAsync("sk:se:max", long.MaxValue);
        var ex = await Assert.ThrowsAsync<RedisServerException>(() => db.StringIncrementAsync("sk:se:max"));
        Assert.Equal("ERR increment or decrement would overflow", ex.Message);
        Assert.Equal(11, await db.StringAppendAsync("sk:se:ap", "hello world"));
        Assert.Equal("world", (string?)await db.StringGetRangeAsync("sk:se:ap", 6, -1));
        Assert.Equal(11, await db.StringSetRangeAsync("sk:se:ap", 0, "J"));
        Assert.Equal("Jello world", (string?)await db.StringGetAsync("sk:se:ap"));
    }

    [Fact]
    public async Task Rename_move_and_copy_carry_the_ttl()
    {
        await using var mux = await ConnectAsync();
        var db = mux.GetDatabase(0);
        await db.StringSetAsync("sk:ttl:a", "v", TimeSpan.FromSeconds(100));
        Assert.True(await db.KeyRenameAsync("sk:ttl:a", "sk:ttl:b"));
        var ttl = await db.KeyTimeToLiveAsync("sk:ttl:b");
        Assert.InRange(ttl!.Value.TotalSeconds, 90, 100);
        Assert.True(await db.KeyCopyAsync("sk:ttl:b", "sk:ttl:c"));
        Assert.InRange((await db.KeyTimeToLiveAsync("sk:ttl:c"))!.Value.TotalSeconds, 90, 100);
        await mux.GetDatabase(9).KeyDeleteAsync("sk:ttl:c");
        Assert.True(await db.KeyMoveAsync("sk:ttl:c", 9));
        Assert.False(await db.KeyExistsAsync("sk:ttl:c"));
        Assert.InRange((await mux.GetDatabase(9).KeyTimeToLiveAsync("sk:ttl:c"))!.Value.TotalSeconds, 90, 100);
    }

    [Fact]
    public void Expired_keys_disappear_from_reads_keys_and_scan()
    {
        using var c = _f.Server.Connect();
        c.Call("SELECT", "3");
        c.Call("SET", "sk:lazy:keep", "v");
        c.Call("SET", "sk:lazy:gone", "v", "PX", "30");
        Tools.WaitUntil(() => c.Call("PTTL", "sk:lazy:gone").Integer == -2, TimeSpan.FromSeconds(10), "key to expire");
        var keys = c.Call("KEYS", "sk:lazy:*").Items!.Select(r => r.ToString()).ToList();
        Assert.Equal(["sk:lazy:keep"], keys);
        Assert.True(c.Call("GET", "sk:lazy:gone").IsNull);
        Assert.Equal(0, c.Call("EXISTS", "sk:lazy:gone").Integer);
    }

    [Fact]
    public void Object_idletime_grows_while_the_key_is_not_accessed()
    {
        using var c = _f.Server.Connect();
        c.Call("SET", "sk:idle", "v");
        Assert.InRange(c.Call("OBJECT", "IDLETIME", "sk:idle").Integer, 0, 1);
        Tools.WaitUntil(() => c.Call("OBJECT", "IDLETIME", "sk:idle").Integer >= 2, TimeSpan.FromSeconds(10), "idle time to grow");
        c.Call("GET", "sk:idle");
        Assert.InRange(c.Call("OBJECT", "IDLETIME", "sk:idle").Integer, 0, 1);
    }

    [Fact]
    public void Randomkey_skips_and_deletes_expired_keys()
    {
        using var c = _f.Server.Connect();
        c.Call("SELECT", "4");
        c.Call("FLUSHDB");
        for (int i = 0; i < 50; i++) c.Call("SET", "sk:rk:" + i, "v", "PX", "20");
        c.Call("SET", "sk:rk:live", "v");
        Tools.WaitUntil(() => c.Call("PTTL", "sk:rk:49").Integer == -2, TimeSpan.FromSeconds(10), "keys to expire");
        Assert.Equal("sk:rk:live", c.Call("RANDOMKEY").ToString());
        c.Call("DEL", "sk:rk:live");
        Tools.WaitUntil(() => c.Call("RANDOMKEY").IsNull, TimeSpan.FromSeconds(10), "RANDOMKEY to find nothing");
    }
}
