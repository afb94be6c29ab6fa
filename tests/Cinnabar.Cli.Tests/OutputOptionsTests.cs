using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>
/// The output and input options of one-shot commands (--json, --quoted-json, --csv, --raw,
/// --no-raw over every reply type in RESP2 and RESP3; --askpass, -X, --quoted-input, --count,
/// --show-pushes, --ldb), each run through redis-cli 7.0 and bin/cinnabar-cli against the same
/// server and compared on stdout, stderr and exit code.
/// </summary>
public sealed class OutputOptionsTests : IClassFixture<CliFixture>
{
    private readonly CliFixture _f;

    public OutputOptionsTests(CliFixture f) => _f = f;

    private static string Cli => CliComparisonTests.CinnabarCli;

    private void Same(string stdin, params string[] args) => SameOn(_f.Redis.Port, stdin, args);

    private static void SameOn(int port, string stdin, params string[] args)
    {
        string[] all = ["-p", port.ToString(), .. args];
        var expected = Tools.Run("redis-cli", all, stdin, timeoutMs: 30_000);
        var actual = Tools.Run(Cli, all, stdin, timeoutMs: 30_000);
        Assert.Equal(expected, actual);
    }

    // One command per reply type: status, bulk with control/quote/backslash/0xff bytes, nil,
    // integer, error, arrays (empty, nested, with nil), and the RESP3 types through Lua.
    public static TheoryData<string, string[]> Replies() => new()
    {
        { "status", ["SET", "cli:json", "v"] },
        { "escaped bulk", ["GET", "cli:str"] },
        { "nil", ["GET", "cli:missing"] },
        { "integer", ["LLEN", "cli:list"] },
        { "error", ["INCR", "cli:text"] },
        { "array", ["LRANGE", "cli:list", "0", "-1"] },
        { "empty array", ["LRANGE", "cli:missing", "0", "-1"] },
        { "map", ["HGETALL", "cli:hash"] },
        { "empty map", ["HGETALL", "cli:missing"] },
        { "nested", ["EVAL", "return {1, {'a', {'b\\\\c', 'd\"e'}}, redis.pcall('incr', KEYS[1]), false}", "1", "cli:text"] },
        { "resp3 types", ["EVAL", "redis.setresp(3); return {{double=1.5},true,false,{map={a=1,[2]={3},x={map={}}}},{set={q=true}},{}}", "0"] },
        { "resp3 verbatim", ["EVAL", "redis.setresp(3); return {verbatim_string={format='txt',string='v\\tx'}}", "0"] },
        { "resp3 map keys", ["EVAL", "redis.setresp(3); return {map={[1]='int', [true]='t'}}", "0"] },
        { "control bytes", ["ECHO", "a\u0001b\u001fc\r\n\t\b\f/"] },
    };

    [Theory]
    [MemberData(nameof(Replies))]
    public void Json_quoted_json_csv_raw_and_human_match_redis_cli_in_resp2_and_resp3(string name, string[] command)
    {
        Assert.NotNull(name);
        foreach (var format in new[] { "--json", "--quoted-json", "--csv", "--raw", "--no-raw" })
            foreach (var proto in new[] { "-2", "-3" })
                Same("", [format, proto, .. command]);
        // --json alone defaults to RESP3 (HELLO 3), as in redis-cli.
        Same("", ["--json", .. command]);
        Same("", ["--quoted-json", .. command]);
    }

    [Fact]
    public void Json_over_a_non_utf8_value_matches_redis_cli()
    {
        // 0xff passes through --json as is; --quoted-json escapes it.
        Same("", "--json", "GET", "cli:str");
        Same("", "--quoted-json", "GET", "cli:str");
        Same("", "--json", "--no-raw", "GET", "cli:str");
    }

    [Fact]
    public void Askpass_reads_the_password_from_stdin_like_redis_cli()
    {
        using var server = ServerProcess.StartRedis("--requirepass", "sekret");
        SameOn(server.Port, "sekret\n", "--askpass", "PING");
        SameOn(server.Port, "wrong\n", "--askpass", "PING");
        SameOn(server.Port, "", "--askpass", "PING");
        SameOn(server.Port, "sekret\nrest\n", "--askpass", "--user", "default", "GET", "x");
        var ok = Tools.Run(Cli, ["-p", server.Port.ToString(), "--askpass", "PING"], "sekret\n");
        Assert.Equal((0, "PONG\n", ""), ok);
    }

    [Fact]
    public void Stdin_tag_replaces_the_matching_argument_like_redis_cli()
    {
        Same("tagged value\n", "-X", "@", "SET", "cli:tag", "@");
        Same("", "GET", "cli:tag");
        Assert.Equal("tagged value\n\n", Tools.Run(Cli, ["-p", _f.Redis.Port.ToString(), "GET", "cli:tag"], "").Stdout);
        Same("x", "-X", "@", "SET", "cli:tag", "notag");
        Same("x", "-x", "-X", "@", "SET", "cli:tag", "@");
        // Only the first argument equal to the tag is replaced.
        Same("only the first\n", "-X", "T", "EVAL", "return ARGV", "0", "T", "T");
    }

    [Fact]
    public void Quoted_input_unquotes_arguments_like_redis_cli()
    {
        Same("", "--quoted-input", "SET", "\"cli:q\\x41\"", "\"line\\nbreak\"");
        Same("", "--no-raw", "GET", "cli:qA");
        Same("", "--quoted-input", "GET", "\"unbalanced");
        Same("", "--quoted-input", "GET", "'a' 'b'");
        Same("", "--quoted-input", "ECHO", "'single \\' quote'");
    }

    [Fact]
    public void Option_errors_match_redis_cli()
    {
        Same("", "--ldb", "GET", "x");
        Same("", "--ldb-sync-mode");
        Same("", "-x", "-X", "T", "ECHO", "T");
        Same("", "--show-pushes", "perhaps", "PING");
    }

    [Fact]
    public void Scan_count_is_sent_as_the_count_hint()
    {
        // --count is a redis-cli 7.2 option (7.0 rejects it): the keys must be those of a plain
        // --scan, and the value must reach SCAN (a negative one is a syntax error there).
        string port = _f.Redis.Port.ToString();
        var plain = Tools.Run("redis-cli", ["-p", port, "--scan", "--pattern", "cli:*"], "");
        var counted = Tools.Run(Cli, ["-p", port, "--scan", "--count", "1", "--pattern", "cli:*"], "");
        Assert.Equal(0, counted.ExitCode);
        Assert.Equal(plain.Stdout.Split('\n').Order(), counted.Stdout.Split('\n').Order());
        var bad = Tools.Run(Cli, ["-p", port, "--scan", "--count", "-5"], "");
        Assert.Equal((1, "", "SCAN error: ERR syntax error\n"), bad);
    }

    [Fact]
    public void Show_pushes_prints_or_drops_invalidations_like_redis_cli()
    {
        const string session = "CLIENT TRACKING ON\nSET cli:push 1\nGET cli:push\nSET cli:push 2\nPING\nGET cli:push\nINCR cli:push\nPING\n";
        foreach (var opts in new[] { new[] { "-3" }, ["-3", "--show-pushes", "y"], ["-3", "--show-pushes", "y", "--no-raw"], ["-3", "--show-pushes", "n", "--no-raw"], ["-3", "--show-pushes", "y", "--json"] })
            Same(session, opts);
    }

    [Fact]
    public void Lua_debugger_sessions_match_redis_cli()
    {
        string file = Path.Combine(_f.Redis.Dir, "ldb-test.lua");
        File.WriteAllText(file, "local a = 1\nredis.call('set', KEYS[1], ARGV[1])\nreturn {a, ARGV[1]}\n");
        string bad = Path.Combine(_f.Redis.Dir, "ldb-bad.lua");
        File.WriteAllText(bad, "return {\n");
        // Step to the end (forked and synchronous), restart, quit, a broken script, and
        // debugger commands (print, breakpoints, eval, redis) with the dataset rolled back.
        Same("n\nn\nhelp\nn\nn\nGET cli:ldb\n", "--ldb", "--eval", file, "cli:ldb", ",", "v");
        Same("n\nn\nn\nn\nGET cli:ldbsync\n", "--ldb-sync-mode", "--eval", file, "cli:ldbsync", ",", "v");
        Same("n\nrestart\nn\nc\nPING\n", "--ldb", "--eval", file, "k", ",", "v");
        Same("n\nquit\n", "--ldb", "--eval", file, "k", ",", "v");
        Same("c\n", "--ldb", "--eval", bad);
        Same("p\nb 3\nc\nprint\ne redis.call('ping')\nr get cli:text\nabort\nPING\n", "--ldb", "--eval", file, "k", ",", "v");
        // SCRIPT DEBUG typed at the prompt arms the debugger for the next EVAL.
        Same("SCRIPT DEBUG yes\nEVAL \"return 1\" 0\nn\nPING\n");
        Same("SCRIPT DEBUG sync\nEVAL \"return 1\" 0\nn\nPING\n", "--no-raw");
    }
}
