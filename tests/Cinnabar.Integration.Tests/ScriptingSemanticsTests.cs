using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Script and function behaviour as Redis 7.0.15 answers it (checked against redis-server):
/// refusals, error codes and statistics, script flags in the server's checks, library loading.
/// </summary>
public sealed class ScriptingSemanticsTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ScriptingSemanticsTests(CinnabarFixture f) => _f = f;

    [Fact]
    public void Xread_with_block_is_refused_inside_a_script()
    {
        using var c = _f.Server.Connect();
        var r = c.Call("EVAL", "return redis.pcall('xread','BLOCK',0,'STREAMS',KEYS[1],'$')", 1, "semantics:stream");
        Assert.True(r.IsError);
        Assert.Equal("ERR xread command is not allowed with BLOCK option from scripts", r.ToString());
        Assert.True(c.Call("EVAL", "return redis.pcall('xread','STREAMS',KEYS[1],'$')", 1, "semantics:stream").IsNull);
    }

    [Theory]
    [InlineData("", "ERR ")]
    [InlineData("x", "ERR x")]
    [InlineData("-x", "ERR x")]
    [InlineData("MY_CODE custom msg", "MY_CODE custom msg")]
    [InlineData("-MY_CODE custom msg\r\n", "MY_CODE custom msg")]
    public void Error_reply_always_carries_an_error_code(string message, string expected)
    {
        using var c = _f.Server.Connect();
        var r = c.Call("EVAL", "return redis.error_reply(ARGV[1])", 0, message);
        Assert.True(r.IsError);
        Assert.Equal(expected, r.ToString());
    }

    [Fact]
    public void Error_reply_with_bad_arguments_returns_an_error_table_instead_of_raising()
    {
        using var c = _f.Server.Connect();
        Assert.Equal("ok", c.Call("EVAL", "local t = redis.error_reply() return 'ok'", 0).ToString());
        Assert.Equal("ERR wrong number or type of arguments", c.Call("EVAL", "return redis.status_reply()", 0).ToString());
    }

    [Fact]
    public void A_refused_call_counts_once_in_error_and_command_stats()
    {
        using var c = _f.Server.Connect();
        c.Call("CONFIG", "RESETSTAT");
        var r = c.Call("EVAL_RO", "local t = redis.pcall('set', KEYS[1], 'y') return t['err']", 1, "semantics:ro");
        Assert.Equal("ERR Write commands are not allowed from read-only scripts.", r.ToString());
        string errors = c.Call("INFO", "errorstats").ToString();
        Assert.Contains("errorstat_ERR:count=1", errors);
        string stats = c.Call("INFO", "commandstats").ToString();
        Assert.Contains("cmdstat_set:calls=0,", stats);
        Assert.Contains("rejected_calls=1,failed_calls=0", stats);
    }

    [Fact]
    public void A_command_error_raised_by_a_script_counts_once()
    {
        using var c = _f.Server.Connect();
        c.Call("CONFIG", "RESETSTAT");
        var r = c.Call("EVAL", "return redis.call('select', 99)", 0);
        Assert.StartsWith("ERR DB index is out of range script: ", r.ToString());
        Assert.Contains("errorstat_ERR:count=1", c.Call("INFO", "errorstats").ToString());
        Assert.Contains("total_error_replies:1", c.Call("INFO", "stats").ToString());
    }

    [Fact]
    public void Sort_by_a_constant_is_sorted_bytewise_inside_a_script()
    {
        using var c = _f.Server.Connect();
        c.Call("DEL", "semantics:set");
        c.Call("SADD", "semantics:set", "b", "aa", "c", "a", "azz");
        var r = c.Call("EVAL", "return redis.call('sort', KEYS[1], 'by', '_')", 1, "semantics:set");
        Assert.Equal("[a,aa,azz,b,c]", r.ToString());
    }

    [Theory]
    [InlineData("redis.register_function('f1')", "*calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")]
    [InlineData("redis.register_function(nil, function() return 1 end)", "*first argument to redis.register_function must be a string")]
    [InlineData("redis.register_function('f1', 'x')", "*second argument to redis.register_function must be a function")]
    [InlineData("redis.register_function{function_name='f1', callback=function() return 1 end, flags={'bad'}}", "*unknown flag given")]
    [InlineData("return redis.setresp(3)", "*Script attempted to access nonexistent global variable 'setresp'*")]
    public void Register_function_argument_errors_use_Redis_messages(string body, string pattern)
    {
        using var c = _f.Server.Connect();
        var r = c.Call("FUNCTION", "LOAD", "REPLACE", "#!lua name=semlib\n" + body);
        Assert.True(r.IsError);
        Assert.Matches("^" + System.Text.RegularExpressions.Regex.Escape(pattern).Replace("\\*", ".*") + "$", r.ToString());
    }

    [Theory]
    [InlineData("#! name=semlib2\nredis.register_function('f', function() return 1 end)", "ERR Engine '' not found")]
    [InlineData("#!lua name=a name=b\nredis.register_function('f', function() return 1 end)", "ERR Invalid metadata value, name argument was given multiple times")]
    [InlineData("#!lua name=semlib3", "ERR Invalid library metadata")]
    public void Library_metadata_errors_use_Redis_messages(string code, string expected)
    {
        using var c = _f.Server.Connect();
        Assert.Equal(expected, c.Call("FUNCTION", "LOAD", "REPLACE", code).ToString());
    }

    [Fact]
    public void Library_name_may_be_quoted()
    {
        using var c = _f.Server.Connect();
        Assert.Equal("semquoted", c.Call("FUNCTION", "LOAD", "REPLACE", "#!lua name=\"semquoted\"\nredis.register_function('semq', function() return 1 end)").ToString());
        c.Call("FUNCTION", "DELETE", "semquoted");
    }
}

/// <summary>Server-state checks that need a server of their own (maxmemory, DEBUG, a busy function).</summary>
public sealed class ScriptingServerStateTests
{
    [Fact]
    public void Shebang_script_without_allow_oom_is_refused_when_out_of_memory()
    {
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        c.Call("SET", "x", "1");
        c.Call("CONFIG", "SET", "maxmemory", "1");
        Assert.Equal("OOM command not allowed when used memory > 'maxmemory'.", c.Call("EVAL", "#!lua flags=\nreturn 1", 0).ToString());
        Assert.Equal("1", c.Call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "x").ToString());
        Assert.Equal("1", c.Call("EVAL", "#!lua flags=allow-oom\nreturn redis.call('get', KEYS[1])", 1, "x").ToString());
        Assert.StartsWith("OOM command not allowed when used memory > 'maxmemory'. script: ", c.Call("EVAL", "return redis.call('set', KEYS[1], 2)", 1, "x").ToString());
        c.Call("CONFIG", "SET", "maxmemory", "0");
    }

    [Fact]
    public void Shebang_script_is_a_write_for_min_replicas_to_write()
    {
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        c.Call("SET", "x", "v");
        c.Call("CONFIG", "SET", "min-replicas-to-write", "1");
        Assert.Equal("v", c.Call("EVAL", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, "x").ToString());
        Assert.Equal("v", c.Call("EVAL", "return redis.call('get', KEYS[1])", 1, "x").ToString());
        Assert.Equal("NOREPLICAS Not enough good replicas to write.", c.Call("EVAL", "#!lua\nreturn redis.call('get', KEYS[1])", 1, "x").ToString());
        Assert.StartsWith("NOREPLICAS Not enough good replicas to write. script: ", c.Call("EVAL", "return redis.call('set', KEYS[1], 1)", 1, "x").ToString());
    }

    [Fact]
    public void Debug_reload_noflush_fails_on_a_library_collision_and_merge_replaces()
    {
        using var server = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using var c = server.Connect();
        c.Call("FUNCTION", "LOAD", "#!lua name=rl\nredis.register_function('rlf', function() return 1 end)");
        Assert.Equal("ERR Error trying to load the RDB dump", c.Call("DEBUG", "RELOAD", "NOFLUSH").ToString());
        Assert.Equal("OK", c.Call("DEBUG", "RELOAD", "NOFLUSH", "MERGE").ToString());
        Assert.Equal("1", c.Call("FCALL", "rlf", 0).ToString());
    }

    [Fact]
    public void Busy_function_is_reported_by_function_stats_and_only_function_kill_stops_it()
    {
        using var server = ServerProcess.StartCinnabar("--busy-reply-threshold", "100");
        using var setup = server.Connect();
        setup.Call("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() local a = 1 while true do a = a + 1 end end)");
        using var runner = server.Connect();
        runner.Send("FCALL", "spin", 0);
        using var other = server.Connect();
        Reply r = other.Call("PING");
        Tools.WaitUntil(() =>
        {
            if (r.IsError) return true;
            r = other.Call("PING");
            return false;
        }, TimeSpan.FromSeconds(10), "a BUSY reply");
        Assert.Equal("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.", r.ToString());
        string stats = other.Call("FUNCTION", "STATS").ToString();
        Assert.StartsWith("[running_script,[name,spin,command,[FCALL,spin,0],duration_ms,", stats);
        Assert.Equal("BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.", other.Call("SCRIPT", "KILL").ToString());
        // HELLO is allowed while busy (allow_busy): a script polling CLIENT LIST may wait for the name.
        var hello = other.Call("HELLO", "2", "SETNAME", "watcher");
        Assert.Equal("server", hello.Items![0].ToString());
        Assert.Equal("OK", other.Call("FUNCTION", "KILL").ToString());
        Assert.StartsWith("ERR Script killed by user with FUNCTION KILL...", runner.Read().ToString());
        Assert.Equal("PONG", other.Call("PING").ToString());
        Assert.Equal("watcher", other.Call("CLIENT", "GETNAME").ToString());
    }
}
