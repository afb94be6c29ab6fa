using System.Net.Sockets;
using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// The Lua debugger (SCRIPT DEBUG YES|SYNC, Redis 7.0's LDB) driven over raw RESP connections:
/// whole session transcripts (every debugger reply, the end of the session, the EVAL reply and
/// the connection closing) are compared byte for byte with redis-server's, and redis-cli
/// --ldb / --ldb-sync-mode is run against both with the same scripted input.
/// </summary>
public sealed class ScriptDebuggerTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public ScriptDebuggerTests(SideBySideFixture f) => _f = f;

    private const string Script1 =
        "local a = 1\n" +
        "local t = {1,2,'x', k={y=2}}\n" +
        "redis.call('set', KEYS[1], ARGV[1])\n" +
        "redis.debug('hello', a, t)\n" +
        "local v = redis.call('get', KEYS[1])\n" +
        "redis.pcall('incr', KEYS[1])\n" +
        "return v\n";

    private static object[] C(params object[] args) => args;
    private static readonly string[] NoStrings = [];
    private static readonly object[] NoCommands = [];

    /// <summary>
    /// Runs SCRIPT DEBUG, the EVAL, then each debugger command, reading one reply per step; once
    /// "&lt;endsession&gt;" arrives, the EVAL's reply follows and the server closes the connection.
    /// </summary>
    private static string Transcript(int port, string mode, string script, string[] keys, string[] args, IEnumerable<object> commands, string[]? keep = null)
    {
        using var c = new RespConnection(port, 10000);
        var sb = new StringBuilder();
        sb.Append(Encoding.UTF8.GetString(c.CallRaw("SCRIPT", "DEBUG", mode))).Append('\n');
        var eval = new List<object> { "EVAL", script, keys.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        eval.AddRange(keys);
        eval.AddRange(args);
        c.Send(eval.ToArray());
        bool ended = ReadStep(c, sb);
        foreach (var cmd in commands)
        {
            if (ended) break;
            if (cmd is byte[] raw) c.SendRaw(raw);
            else c.Send((object[])cmd);
            ended = ReadStep(c, sb);
        }
        Assert.True(ended, "the session did not end:\n" + sb);
        sb.Append(ReadsEof(c) ? "<closed>" : "<still open>");
        return sb.ToString();
    }

    /// <summary>Reads one reply; after the end-of-session mark, also the EVAL reply. True when the session ended.</summary>
    private static bool ReadStep(RespConnection c, StringBuilder sb)
    {
        var raw = Encoding.UTF8.GetString(c.ReadRawReply());
        sb.Append(raw).Append('\n');
        if (!raw.Contains("+<endsession>\r\n", StringComparison.Ordinal)) return false;
        sb.Append(Encoding.UTF8.GetString(c.ReadRawReply())).Append('\n');
        return true;
    }

    private static bool ReadsEof(RespConnection c)
    {
        try
        {
            c.ReadTimeoutMs = 5000;
            c.ReadRawReply();
            return false;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            return false;
        }
        catch (IOException)
        {
            return true;
        }
    }

    private void AssertSameAsRedis(string mode, string script, string[] keys, string[] args, params object[] commands)
    {
        if (!ServerProcess.RedisAvailable) return;
        _f.Cinnabar.Connect().Call("FLUSHALL");
        _f.Redis.Connect().Call("FLUSHALL");
        string ours = Transcript(_f.Cinnabar.Port, mode, script, keys, args, commands);
        string theirs = Transcript(_f.Redis.Port, mode, script, keys, args, commands);
        Assert.Equal(theirs, ours);
    }

    [Fact]
    public void Stepping_listing_printing_and_breakpoints_read_as_in_redis()
    {
        AssertSameAsRedis("SYNC", Script1, ["dbg:k1"], ["bar"],
            C("s"), C("s"), C("p"), C("p", "t"), C("p", "KEYS"), C("p", "ARGV"), C("p", "nope"), C("l"), C("l", "3", "1"), C("w"),
            C("s"), C("s"), C("s"), C("s"), C("t"),
            C("b"), C("b", "6"), C("b", "7"), C("b"), C("b", "-6"), C("b", "abc"), C("b", "100"), C("b", "0"),
            C("h"), C("xyz"), C("redis"), C("c"));
    }

    [Fact]
    public void Eval_and_redis_commands_log_like_redis()
    {
        AssertSameAsRedis("SYNC", Script1, ["dbg:k2"], ["bar"],
            C("s"), C("s"), C("s"),
            C("e", "1+1"), C("e", "a"), C("e", "x ="), C("e", "error(\"boom\")"), C("e", "{1, 'two', {3}}"),
            C("r", "get", "dbg:k2"), C("r", "nosuchcmd"), C("r", "incr", "dbg:k2"), C("r", "set"), C("r", "ping"),
            C("r", "mget", "dbg:k2", "dbg:none"), C("r", "lrange", "dbg:none", "0", "-1"), C("s"), C("s"), C("c"));
    }

    [Fact]
    public void Maxlen_trims_replies_and_hints_once()
    {
        AssertSameAsRedis("SYNC", "local big = string.rep('x', 400)\nredis.call('set','dbg:k3',big)\nreturn redis.call('get','dbg:k3')\n", [], [],
            C("s"), C("p"), C("s"), C("s"), C("m"), C("m", "10"), C("r", "get", "dbg:k3"), C("m", "0"), C("r", "get", "dbg:k3"), C("m", "200"), C("c"));
    }

    [Fact]
    public void Redis_breakpoint_and_trace_inside_a_function_match_redis()
    {
        AssertSameAsRedis("SYNC",
            "redis.breakpoint()\nlocal x = 1\nlocal function f(a)\n  local b = a * 2\n  return b\nend\nx = f(3)\nredis.breakpoint()\nreturn x\n", [], [],
            C("c"), C("s"), C("s"), C("s"), C("t"), C("p"), C("p", "x"), C("c"), C("c"));
    }

    [Fact]
    public void Abort_ends_the_session_with_the_script_error()
    {
        AssertSameAsRedis("SYNC", Script1, ["dbg:k4"], ["v"], C("s"), C("a"));
    }

    [Fact]
    public void A_protocol_error_aborts_the_script()
    {
        AssertSameAsRedis("SYNC", Script1, ["dbg:k5"], ["v"], Encoding.ASCII.GetBytes("hello\r\n"));
    }

    [Fact]
    public void Commands_with_nul_bytes_are_unknown_debugger_commands()
    {
        AssertSameAsRedis("SYNC", "return 'hello'", [], [], C("hello\0world"), C("hello\0"), C("\0hello"), C("\0hello\0"), C("s"));
    }

    [Fact]
    public void A_redis_command_with_100_arguments_is_an_unknown_command_and_the_server_stays_up()
    {
        var raw = new StringBuilder("*101\r\n$5\r\nredis\r\n");
        for (int i = 0; i < 100; i++) raw.Append("$4\r\ntest\r\n");
        AssertSameAsRedis("SYNC", "return 'hello'", [], [], Encoding.ASCII.GetBytes(raw.ToString()), C("c"));
        Assert.Equal("PONG", _f.Cinnabar.Connect().Call("PING").ToString());
    }

    [Fact]
    public void Errors_before_the_script_runs_still_end_the_session()
    {
        AssertSameAsRedis("SYNC", "return (", NoStrings, NoStrings, NoCommands);
        AssertSameAsRedis("SYNC", "local x = 1\nreturn redis.call('nosuch')\n", NoStrings, NoStrings, C("s"), C("s"), C("c"));
        AssertSameAsRedis("YES", "return (", NoStrings, NoStrings, NoCommands);
    }

    [Fact]
    public void Resp3_replies_are_shown_in_human_form()
    {
        AssertSameAsRedis("SYNC",
            "redis.setresp(3)\nredis.call('hset','dbg:h','a','1')\nredis.call('sadd','dbg:s','x')\nreturn 1\n", [], [],
            C("s"), C("s"), C("s"), C("r", "hgetall", "dbg:h"), C("r", "smembers", "dbg:s"), C("r", "get", "dbg:none"), C("c"));
    }

    [Fact]
    public void Yes_mode_session_reads_the_same_as_in_redis()
    {
        AssertSameAsRedis("YES", Script1, ["dbg:k6"], ["bar"], C("s"), C("s"), C("s"), C("s"), C("r", "get", "dbg:k6"), C("c"));
    }

    [Fact]
    public void Script_debug_arguments_and_placement_are_checked_as_in_redis()
    {
        foreach (var server in Servers())
        {
            using var c = server.Connect();
            Assert.Equal("ERR Use SCRIPT DEBUG YES/SYNC/NO", c.Call("SCRIPT", "DEBUG", "maybe").ToString());
            Assert.Equal("ERR wrong number of arguments for 'script|debug' command", c.Call("SCRIPT", "DEBUG").ToString());
            c.SendRaw(RespConnection.Encode("PING").Concat(RespConnection.Encode("SCRIPT", "DEBUG", "YES")).ToArray());
            Assert.Equal("PONG", c.Read().ToString());
            Assert.Equal("ERR SCRIPT DEBUG must be called outside a pipeline", c.Read().ToString());
            c.Call("MULTI");
            c.Call("SCRIPT", "DEBUG", "YES");
            Assert.Equal("ERR SCRIPT DEBUG must be called outside a pipeline", c.Call("EXEC").Items![0].ToString());
            Assert.Equal("OK", c.Call("SCRIPT", "DEBUG", "SYNC").ToString());
            Assert.Equal("ERR Please use EVAL instead of EVALSHA for debugging", c.Call("EVALSHA", new string('a', 40), "0").ToString());
            // FCALL ignores the debug mode.
            c.Call("FUNCTION", "LOAD", "REPLACE", "#!lua name=dbglib\nredis.register_function('dbgf', function() return 5 end)");
            Assert.Equal("5", c.Call("FCALL", "dbgf", "0").ToString());
            Assert.Equal("OK", c.Call("SCRIPT", "DEBUG", "NO").ToString());
            Assert.Equal("7", c.Call("EVAL", "return 7", "0").ToString());
        }
    }

    private IEnumerable<ServerProcess> Servers()
    {
        yield return _f.Cinnabar;
        if (ServerProcess.RedisAvailable) yield return _f.Redis;
    }

    private const string WriteScript =
        "redis.call('set', 'dbg:w:new', 'n')\n" +
        "redis.call('set', 'dbg:w:ttl', 'changed')\n" +
        "redis.call('del', 'dbg:w:gone')\n" +
        "redis.call('rpush', 'dbg:w:list', 'c')\n" +
        "redis.call('select', 1)\n" +
        "redis.call('set', 'dbg:w:db1', 'x')\n" +
        "return 'done'\n";

    private static void Seed(RespConnection c)
    {
        c.Call("SELECT", "0");
        c.Call("SET", "dbg:w:ttl", "orig", "EX", "1000");
        c.Call("SET", "dbg:w:gone", "here");
        c.Call("RPUSH", "dbg:w:list", "a", "b");
        c.Call("DEL", "dbg:w:new");
        c.Call("SELECT", "1");
        c.Call("DEL", "dbg:w:db1");
        c.Call("SELECT", "0");
    }

    private static string State(RespConnection c)
    {
        string s = string.Join("|", c.Call("GET", "dbg:w:new"), c.Call("GET", "dbg:w:ttl"), c.Call("TTL", "dbg:w:ttl").Integer > 900,
            c.Call("GET", "dbg:w:gone"), string.Join(",", c.Call("LRANGE", "dbg:w:list", "0", "-1").Items!));
        c.Call("SELECT", "1");
        s += "|" + c.Call("GET", "dbg:w:db1");
        c.Call("SELECT", "0");
        return s;
    }

    [Fact]
    public void Sync_mode_keeps_the_changes_and_yes_mode_rolls_them_back()
    {
        foreach (var server in Servers())
        {
            using var c = server.Connect();
            Seed(c);
            long changes = ChangesSinceSave(c);
            string yes = Transcript(server.Port, "YES", WriteScript, [], [], [C("c")]);
            Assert.Contains("$4\r\ndone\r\n", yes);
            Assert.Equal("(nil)|orig|True|here|a,b|(nil)", State(c));
            if (server == _f.Cinnabar) Assert.Equal(changes, ChangesSinceSave(c));

            string sync = Transcript(server.Port, "SYNC", WriteScript, [], [], [C("c")]);
            Assert.Contains("$4\r\ndone\r\n", sync);
            Assert.Equal("n|changed|False|(nil)|a,b,c|x", State(c));
        }
    }

    [Fact]
    public void Yes_mode_rolls_back_a_flushall_and_debugger_redis_commands()
    {
        using var c = _f.Cinnabar.Connect();
        c.Call("SET", "dbg:f:a", "1");
        c.Call("HSET", "dbg:f:h", "f", "v");
        c.Call("PEXPIRE", "dbg:f:h", "500000");
        Transcript(_f.Cinnabar.Port, "YES", "redis.call('flushall')\nredis.call('set','dbg:f:b','2')\nreturn 1\n", [], [],
            [C("r", "set", "dbg:f:c", "3"), C("s"), C("s"), C("r", "del", "dbg:f:b"), C("c")]);
        Assert.Equal("1", c.Call("GET", "dbg:f:a").ToString());
        Assert.Equal("v", c.Call("HGET", "dbg:f:h", "f").ToString());
        Assert.True(c.Call("PTTL", "dbg:f:h").Integer > 400000);
        Assert.True(c.Call("EXISTS", "dbg:f:b", "dbg:f:c").Integer == 0);
    }

    private static long ChangesSinceSave(RespConnection c)
    {
        foreach (var line in c.Call("INFO", "persistence").ToString().Split("\r\n"))
            if (line.StartsWith("rdb_changes_since_last_save:", StringComparison.Ordinal)) return long.Parse(line.AsSpan(28));
        return -1;
    }

    [Fact]
    public void A_client_leaving_mid_session_ends_it_and_others_are_served_again()
    {
        using var other = _f.Cinnabar.Connect();
        other.Call("DEL", "dbg:leave");
        var debugging = new RespConnection(_f.Cinnabar.Port, 10000);
        Assert.Equal("OK", debugging.Call("SCRIPT", "DEBUG", "SYNC").ToString());
        debugging.Send("EVAL", "local x = 1\nredis.call('set','dbg:leave','done')\nreturn x\n", "0");
        Assert.Contains("Stopped at 1", debugging.Read().ToString());
        // Blocked while the session holds the server (as Redis's synchronous session does).
        other.Send("GET", "dbg:leave");
        debugging.Dispose();
        // The script then runs to its end without stopping: its write is there.
        Assert.Equal("done", other.Read().ToString());
        Assert.Equal("PONG", other.Call("PING").ToString());
    }

    [Fact]
    public void A_client_leaving_a_yes_session_leaves_the_dataset_untouched()
    {
        using var other = _f.Cinnabar.Connect();
        other.Call("SET", "dbg:leave2", "before");
        var debugging = new RespConnection(_f.Cinnabar.Port, 10000);
        debugging.Call("SCRIPT", "DEBUG", "YES");
        debugging.Send("EVAL", "redis.call('set','dbg:leave2','after')\nreturn 1\n", "0");
        debugging.Read();
        debugging.Dispose();
        Assert.Equal("before", other.Call("GET", "dbg:leave2").ToString());
    }

    [Fact]
    public void An_endless_loop_stops_with_the_timeout_reason()
    {
        using var c = new RespConnection(_f.Cinnabar.Port, 20000);
        c.Call("CONFIG", "SET", "busy-reply-threshold", "200");
        try
        {
            c.Call("SCRIPT", "DEBUG", "SYNC");
            c.Send("EVAL", "local i = 0\nwhile true do\n  i = i + 1\nend\n", "0");
            Assert.Contains("Stopped at 1, stop reason = step over", c.Read().ToString());
            c.Send("c");
            var r = c.Read().ToString();
            Assert.Contains("stop reason = timeout reached, infinite loop?", r);
            c.Send("a");
            Assert.Contains("<endsession>", c.Read().ToString());
            Assert.StartsWith("ERR script aborted for user request", c.Read().ToString());
        }
        finally
        {
            using var admin = _f.Cinnabar.Connect();
            admin.Call("CONFIG", "SET", "busy-reply-threshold", "5000");
        }
    }

    // ------------------------------------------------------------------ redis-cli

    private static string CliSession(int port, string[] flags, string scriptFile, string stdin, params string[] args)
    {
        var all = new List<string> { "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        all.AddRange(flags);
        all.Add("--eval");
        all.Add(scriptFile);
        all.AddRange(args);
        return Tools.Run("redis-cli", all, stdin, 30000).Stdout;
    }

    [Theory]
    [InlineData("--ldb-sync-mode")]
    [InlineData("--ldb")]
    public void Redis_cli_debugging_session_prints_the_same_as_against_redis(string mode)
    {
        if (!ServerProcess.RedisAvailable) return;
        string file = Path.Combine(Path.GetTempPath(), $"cinnabar-ldb-{Guid.NewGuid():N}.lua");
        File.WriteAllText(file, Script1.Replace("KEYS[1]", "'dbg:cli'", StringComparison.Ordinal));
        try
        {
            string stdin = "s\ns\np\nl\nb 6\nc\nr get dbg:cli\nhelp\nc\n";
            foreach (var s in Servers()) s.Connect().Call("DEL", "dbg:cli");
            string ours = CliSession(_f.Cinnabar.Port, [mode], file, stdin, "x", ",", "bar");
            string theirs = CliSession(_f.Redis.Port, [mode], file, stdin, "x", ",", "bar");
            Assert.Contains("Lua debugging session ended", theirs);
            Assert.Equal(theirs, ours);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
