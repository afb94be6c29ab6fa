using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

public sealed class ScriptingTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ScriptingTests(CinnabarFixture f) => _f = f;

    private async Task<ConnectionMultiplexer> ConnectAsync(RedisProtocol protocol = RedisProtocol.Resp2)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_ScriptEvaluate_runs_with_keys_and_args(RedisProtocol protocol)
    {
        await using var mux = await ConnectAsync(protocol);
        var db = mux.GetDatabase();
        string key = "scripting:se:" + protocol;
        var set = await db.ScriptEvaluateAsync("return redis.call('set', KEYS[1], ARGV[1])", [key], ["v1"]);
        Assert.Equal("OK", set.ToString());
        var result = (RedisResult[])(await db.ScriptEvaluateAsync("return {redis.call('get', KEYS[1]), #ARGV, 3.7}", [key], ["a", "b"]))!;
        Assert.Equal("v1", result[0].ToString());
        Assert.Equal(2, (int)result[1]);
        Assert.Equal(3, (int)result[2]);
    }

    [Fact]
    public async Task StackExchange_script_errors_surface_as_RedisServerException()
    {
        await using var mux = await ConnectAsync();
        var db = mux.GetDatabase();
        var ex = await Assert.ThrowsAsync<RedisServerException>(() => db.ScriptEvaluateAsync("return redis.call('nosuch')"));
        Assert.StartsWith("ERR Unknown Redis command called from script script: ", ex.Message);
    }

    [Fact]
    public async Task StackExchange_loaded_script_runs_by_sha()
    {
        await using var mux = await ConnectAsync();
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        byte[] sha = await server.ScriptLoadAsync("return 'from cache'");
        Assert.True(await server.ScriptExistsAsync("return 'from cache'"));
        var r = await mux.GetDatabase().ScriptEvaluateAsync(sha, []);
        Assert.Equal("from cache", r.ToString());
    }

    [Fact]
    public void Redis_cli_eval_file_passes_keys_and_args()
    {
        string file = Path.Combine(Path.GetTempPath(), $"cinnabar-script-{Guid.NewGuid():N}.lua");
        File.WriteAllText(file, "redis.call('set', KEYS[1], ARGV[1])\nreturn redis.call('get', KEYS[1])\n");
        try
        {
            string output = Tools.RedisCli(_f.Server.Port, "--eval", file, "scripting:cli", ",", "hello");
            Assert.Equal("hello", output.Trim());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Functions_load_call_and_list()
    {
        using var c = _f.Server.Connect();
        var name = c.Call("FUNCTION", "LOAD", "REPLACE", "#!lua name=itlib\nredis.register_function('itfn', function(keys, args) return redis.call('set', keys[1], args[1]) end)");
        Assert.Equal("itlib", name.ToString());
        Assert.Equal("OK", c.Call("FCALL", "itfn", 1, "scripting:fn", "x").ToString());
        Assert.Equal("x", c.Call("GET", "scripting:fn").ToString());
        var ro = c.Call("FCALL_RO", "itfn", 1, "scripting:fn", "y");
        Assert.Equal("ERR Can not execute a script with write flag using *_ro command.", ro.ToString());
        var list = c.Call("FUNCTION", "LIST", "LIBRARYNAME", "itlib");
        Assert.Single(list.Items!);
        Assert.Equal("OK", c.Call("FUNCTION", "DELETE", "itlib").ToString());
    }

    [Fact]
    public void Select_inside_a_script_does_not_change_the_callers_db()
    {
        using var c = _f.Server.Connect();
        c.Call("SELECT", 0);
        c.Call("EVAL", "redis.call('select', 1); return redis.call('set', KEYS[1], 'in-db1')", 1, "scripting:select");
        Assert.True(c.Call("GET", "scripting:select").IsNull);
        c.Call("SELECT", 1);
        Assert.Equal("in-db1", c.Call("GET", "scripting:select").ToString());
        c.Call("SELECT", 0);
    }
}

/// <summary>BUSY and SCRIPT KILL need their own server (a low busy-reply-threshold, a script that spins).</summary>
public sealed class ScriptKillTests
{
    [Fact]
    public void Busy_script_gets_busy_replies_and_is_stopped_by_script_kill()
    {
        using var server = ServerProcess.StartCinnabar("--busy-reply-threshold", "100");
        using var runner = server.Connect();
        runner.Send("EVAL", "local i = 0 while true do i = i + 1 end", 0);
        using var other = server.Connect();
        Reply r = other.Call("PING");
        Tools.WaitUntil(() =>
        {
            if (r.IsError && r.ToString().StartsWith("BUSY", StringComparison.Ordinal)) return true;
            r = other.Call("PING");
            return false;
        }, TimeSpan.FromSeconds(10), "a BUSY reply");
        Assert.Equal("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.", r.ToString());
        Assert.Equal("OK", other.Call("SCRIPT", "KILL").ToString());
        var killed = runner.Read();
        Assert.StartsWith("ERR Script killed by user with SCRIPT KILL... script: ", killed.ToString());
        Assert.Equal("PONG", other.Call("PING").ToString());
        Assert.Equal("1", runner.Call("EVAL", "return 1", 0).ToString());
    }

    [Fact]
    public void Script_that_wrote_cannot_be_killed()
    {
        using var server = ServerProcess.StartCinnabar("--busy-reply-threshold", "100");
        using var runner = server.Connect();
        runner.ReadTimeoutMs = 120000;
        // Spins for several seconds after a write (long enough to be seen busy under CI load), then returns.
        runner.Send("EVAL", "redis.call('set', 'scripting:w', '1') local t = 0 for i = 1, 8e8 do t = t + i end return 7", 0);
        using var other = server.Connect();
        Reply r = other.Call("PING");
        Tools.WaitUntil(() =>
        {
            if (r.IsError) return true;
            r = other.Call("PING");
            return false;
        }, TimeSpan.FromSeconds(10), "a BUSY reply");
        var kill = other.Call("SCRIPT", "KILL");
        Assert.StartsWith("UNKILLABLE", kill.ToString());
        Assert.Equal("7", runner.Read().ToString());
    }
}
