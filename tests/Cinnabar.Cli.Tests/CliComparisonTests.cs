using System.Diagnostics;
using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>A redis-server and a Cinnabar server, plus a one-time build of bin/cinnabar-cli.</summary>
public sealed class CliFixture : IDisposable
{
    public CliFixture()
    {
        // Build the CLI once up front so no single test pays for (or times out on) the build.
        var v = Tools.Run(CliComparisonTests.CinnabarCli, ["--version"], stdin: "", timeoutMs: 300_000);
        if (v.ExitCode != 0) throw new InvalidOperationException("cinnabar-cli build failed: " + v.Stderr);
        Redis = ServerProcess.StartRedis();
        Cinnabar = ServerProcess.StartCinnabar();
        var seed = new[]
        {
            "RPUSH cli:list a b \"\" c",
            "HSET cli:hash f1 v1 f2 v2",
            "SET cli:str \"line1\\nline2 \\\"q\\\" \\xff\"",
            "SET cli:text hello",
            "SELECT 2",
            "SET cli:db2 in-db-two",
        };
        Tools.Run("redis-cli", ["-p", Redis.Port.ToString()], stdin: string.Join("\n", seed) + "\n");
    }

    public ServerProcess Redis { get; }
    public ServerProcess Cinnabar { get; }

    public void Dispose()
    {
        Redis.Dispose();
        Cinnabar.Dispose();
    }
}

/// <summary>
/// Runs the real redis-cli and bin/cinnabar-cli with the same arguments and stdin against the
/// same server and requires identical stdout, stderr and exit code, so only the CLI differs.
/// </summary>
public sealed class CliComparisonTests : IClassFixture<CliFixture>
{
    private readonly CliFixture _f;

    public CliComparisonTests(CliFixture f) => _f = f;

    public static string CinnabarCli => Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-cli");

    private static (int, string, string) Run(string exe, string[] args, string stdin) => Tools.Run(exe, args, stdin, timeoutMs: 30_000);

    private void Same(int port, string stdin, params string[] args)
    {
        var all = new List<string> { "-p", port.ToString() };
        all.AddRange(args);
        var expected = Run("redis-cli", [.. all], stdin);
        var actual = Run(CinnabarCli, [.. all], stdin);
        Assert.Equal(expected, actual);
    }

    private void SameOnRedis(params string[] args) => Same(_f.Redis.Port, "", args);

    public static TheoryData<string, string[]> CommandCases() => new()
    {
        { "status", ["SET", "cli:set", "v"] },
        { "bulk", ["GET", "cli:text"] },
        { "escaped bulk", ["GET", "cli:str"] },
        { "nil", ["GET", "cli:missing"] },
        { "error", ["INCR", "cli:text"] },
        { "wrong arity", ["GET"] },
        { "unknown command", ["NOSUCHCMD", "x"] },
        { "array", ["LRANGE", "cli:list", "0", "-1"] },
        { "empty array", ["LRANGE", "cli:missing", "0", "-1"] },
        { "integer", ["LLEN", "cli:list"] },
        { "nested array", ["COMMAND", "INFO", "get", "set"] },
        { "resp3 map", ["-3", "HGETALL", "cli:hash"] },
        { "resp3 empty map", ["-3", "HGETALL", "cli:missing"] },
        { "resp3 nested", ["-3", "EVAL", "redis.setresp(3); return {1,{map={a={1,2},b={1}}},{set={x=true}},{double=2.5},true,false}", "0"] },
        { "resp3 verbatim", ["-3", "EVAL", "redis.setresp(3); return {verbatim_string={format='txt',string='hi'}}", "0"] },
        { "resp3 big number", ["-3", "EVAL", "redis.setresp(3); return {big_number='12345'}", "0"] },
        { "db select", ["-n", "2", "GET", "cli:db2"] },
        { "uri", ["-u", "redis://127.0.0.1:1/2", "GET", "cli:db2"] },
        { "repeat", ["-r", "3", "GET", "cli:text"] },
        { "repeat with interval", ["-r", "2", "-i", "0.05", "PING"] },
        { "exit code on error", ["-e", "INCR", "cli:text"] },
        { "exit code stops repeats", ["-e", "-r", "3", "INCR", "cli:text"] },
        { "password warning", ["-a", "nopass", "PING"] },
        { "auth warning suppressed", ["--no-auth-warning", "--user", "u", "--pass", "p", "PING"] },
        { "delimiters", ["-d", ",", "-D", ";", "LRANGE", "cli:list", "0", "-1"] },
        { "csv array", ["--csv", "LRANGE", "cli:list", "0", "-1"] },
        { "csv error and nil", ["--csv", "EVAL", "return {1, 'a', redis.pcall('incr', KEYS[1])}", "1", "cli:text"] },
        { "csv resp3", ["--csv", "-3", "EVAL", "redis.setresp(3); return {1,{2,'x\\\"y'},{double=1.5},true,{map={a=1}},{set={q=true}},{}}", "0"] },
        { "csv nil", ["--csv", "GET", "cli:missing"] },
        { "scan", ["--scan", "--pattern", "cli:l*"] },
        { "scan quoted pattern", ["--scan", "--quoted-pattern", "\"cli:h*\""] },
    };

    [Theory]
    [MemberData(nameof(CommandCases))]
    public void Command_mode_raw_output_matches_redis_cli(string name, string[] args)
    {
        Assert.NotNull(name);
        SameOnRedis(FixUri(args));
    }

    [Theory]
    [MemberData(nameof(CommandCases))]
    public void Command_mode_no_raw_output_matches_redis_cli(string name, string[] args)
    {
        Assert.NotNull(name);
        SameOnRedis(["--no-raw", .. FixUri(args)]);
    }

    // The URI case must name the fixture's port; -p given first is overridden by -u as in redis-cli.
    private string[] FixUri(string[] args) => [.. args.Select(a => a.Replace("127.0.0.1:1/", $"127.0.0.1:{_f.Redis.Port}/"))];

    [Theory]
    [InlineData("--version")]
    [InlineData("--foo")]
    [InlineData("-n")]
    [InlineData("-2", "-3", "PING")]
    [InlineData("--resp3", "PING")]
    public void Option_errors_and_version_match_redis_cli(params string[] args) => SameOnRedis(args);

    [Fact]
    public void Connection_refused_matches_redis_cli()
    {
        Same(1, "", "PING");
        Same(1, "PING\n");
        Same(65536, "", "PING");
        Same(_f.Redis.Port, "", "-s", "/nonexistent/cli.sock", "PING");
    }

    [Fact]
    public void Stdin_last_argument_matches_redis_cli()
    {
        Same(_f.Redis.Port, "payload\nwith lines\n", "-x", "SET", "cli:x");
        SameOnRedis("GET", "cli:x");
        var stored = Tools.Run(CinnabarCli, ["-p", _f.Redis.Port.ToString(), "GET", "cli:x"], "");
        Assert.Equal("payload\nwith lines\n\n", stored.Stdout);
    }

    [Fact]
    public void Stdin_flag_without_command_reads_commands_like_redis_cli()
    {
        Same(_f.Redis.Port, "GET cli:text\nPING\n", "-x");
    }

    [Fact]
    public void Non_utf8_bytes_pass_through_arguments_and_stdin_lines()
    {
        // Tools.Run cannot pass raw bytes, so go through sh with printf escapes.
        string cli = CinnabarCli, port = _f.Redis.Port.ToString();
        var set = Tools.Run("sh", ["-c", $"{cli} -p {port} SET cli:bin \"$(printf '\\377\\376')\""], "");
        Assert.Equal("OK\n", set.Stdout);
        Assert.Equal("\"\\xff\\xfe\"\n", Tools.RedisCli(_f.Redis.Port, "--no-raw", "GET", "cli:bin"));
        var lines = Tools.Run("sh", ["-c", $"printf 'SET cli:bin2 \\377x\\r\\nSTRLEN cli:bin2\\n' | {cli} -p {port}"], "");
        Assert.Equal("OK\n2\n", lines.Stdout);
    }

    [Fact]
    public void Authentication_options_match_redis_cli()
    {
        using var server = ServerProcess.StartRedis("--requirepass", "sekret");
        string port = server.Port.ToString();
        Same(server.Port, "", "PING");
        Same(server.Port, "", "-a", "sekret", "PING");
        Same(server.Port, "", "-a", "wrong", "PING");
        Same(server.Port, "", "--user", "default", "--pass", "sekret", "--no-raw", "PING");
        foreach (var uri in new[] { $"redis://:sekret@127.0.0.1:{port}", $"redis://sekret@127.0.0.1:{port}/2", $"redis://default:sekret@127.0.0.1:{port}" })
            Same(server.Port, "", "-u", uri, "PING");
    }

    [Fact]
    public void Eval_file_matches_redis_cli()
    {
        string file = Path.Combine(_f.Redis.Dir, "cli-test.lua");
        File.WriteAllText(file, "return {KEYS[1], ARGV[1], #KEYS, #ARGV}");
        SameOnRedis("--eval", file, "k1", "k2", ",", "a1", "a2");
        SameOnRedis("--eval", file);
        SameOnRedis("--no-raw", "--eval", file, "k1,k2", "a");
        SameOnRedis("--eval", Path.Combine(_f.Redis.Dir, "missing.lua"));
    }

    [Fact]
    public void Pipe_mode_matches_redis_cli()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 2000; i++) sb.Append($"*3\r\n$3\r\nSET\r\n${("cli:pipe:" + i).Length}\r\ncli:pipe:{i}\r\n$1\r\nv\r\n");
        sb.Append("*2\r\n$4\r\nINCR\r\n$8\r\ncli:text\r\n");
        sb.Append("PING\r\n");
        Same(_f.Redis.Port, sb.ToString(), "--pipe");
        var ok = Tools.Run(CinnabarCli, ["-p", _f.Redis.Port.ToString(), "--pipe"], "SET cli:pipe:x 1\r\n");
        Assert.Equal((0, "All data transferred. Waiting for the last reply...\nLast reply received from server.\nerrors: 0, replies: 1\n"), (ok.ExitCode, ok.Stdout));
    }

    private const string Session = "SET cli:repl 1\nGET cli:repl\nLLEN cli:text\n\n   \nGET \"unbalanced\nLRANGE cli:list 0 -1\n3 PING\nSELECT 2\nGET cli:db2\nhelp\nquit\nGET cli:repl\n";

    [Theory]
    [InlineData("")]
    [InlineData("--no-raw")]
    [InlineData("-3 --no-raw")]
    [InlineData("-n 2")]
    public void Commands_from_non_tty_stdin_match_redis_cli(string options)
    {
        Same(_f.Redis.Port, Session, options.Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    private static (int ExitCode, string Output) RunInTty(string command, string stdin)
    {
        // script(1) gives the CLI a pseudo-terminal for both stdin and stdout.
        var r = Tools.Run("script", ["-qec", command, "/dev/null"], stdin, timeoutMs: 30_000);
        return (r.ExitCode, r.Stdout.Replace("\r\n", "\n"));
    }

    [Fact]
    public void Tty_command_mode_uses_human_format_like_redis_cli()
    {
        foreach (var cmd in new[] { "LRANGE cli:list 0 -1", "GET cli:missing", "INCR cli:text", "--raw LRANGE cli:list 0 -1", "-3 HGETALL cli:hash" })
        {
            var expected = RunInTty($"redis-cli -p {_f.Redis.Port} {cmd}", "");
            var actual = RunInTty($"{CinnabarCli} -p {_f.Redis.Port} {cmd}", "");
            Assert.Equal(expected, actual);
        }
    }

    // The prompt in a terminal (line editing, prompts with db and "(TX)", history, hints) is
    // compared with redis-cli through a pseudo-terminal in InteractiveTests.

    [Theory]
    [InlineData("--raw")]
    [InlineData("--no-raw")]
    [InlineData("-3 --no-raw")]
    public void Subscribe_streams_messages_like_redis_cli(string options)
    {
        string channel = "cli:chan:" + options.Replace(" ", "");
        var extra = options.Split(' ');
        using var a = StartStreaming("redis-cli", [.. extra, "SUBSCRIBE", channel]);
        using var b = StartStreaming(CinnabarCli, [.. extra, "SUBSCRIBE", channel]);
        Tools.WaitUntil(() => Subscribers(channel) == 2, TimeSpan.FromSeconds(30), "both CLIs subscribed");
        Tools.RedisCli(_f.Redis.Port, "PUBLISH", channel, "hello");
        Tools.WaitUntil(() => a.Text.Contains("hello") && b.Text.Contains("hello"), TimeSpan.FromSeconds(10), "message delivered");
        Assert.Equal(a.Text, b.Text);
    }

    private long Subscribers(string channel)
    {
        var lines = Tools.RedisCli(_f.Redis.Port, "PUBSUB", "NUMSUB", channel).Split('\n');
        return lines.Length > 1 && long.TryParse(lines[1], out long n) ? n : 0;
    }

    private StreamingProcess StartStreaming(string exe, string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-p");
        psi.ArgumentList.Add(_f.Redis.Port.ToString());
        foreach (var x in args) psi.ArgumentList.Add(x);
        return new StreamingProcess(Process.Start(psi)!);
    }

    private sealed class StreamingProcess : IDisposable
    {
        private readonly Process _p;
        private readonly StringBuilder _sb = new();

        public StreamingProcess(Process p)
        {
            _p = p;
            _p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_sb) _sb.Append(e.Data).Append('\n'); };
            _p.BeginOutputReadLine();
        }

        public string Text
        {
            get
            {
                lock (_sb) return _sb.ToString();
            }
        }

        public void Dispose()
        {
            try { _p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            _p.WaitForExit(5000);
            _p.Dispose();
        }
    }

    [Fact]
    public void Cluster_mode_follows_moved_redirects_like_redis_cli()
    {
        using var n1 = ServerProcess.StartRedis("--cluster-enabled", "yes");
        using var n2 = ServerProcess.StartRedis("--cluster-enabled", "yes");
        Tools.RedisCli(n1.Port, "CLUSTER", "ADDSLOTSRANGE", "0", "8191");
        Tools.RedisCli(n2.Port, "CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
        Tools.RedisCli(n1.Port, "CLUSTER", "MEET", "127.0.0.1", n2.Port.ToString());
        Tools.WaitUntil(() => Tools.RedisCli(n1.Port, "CLUSTER", "INFO").Contains("cluster_state:ok")
            && Tools.RedisCli(n2.Port, "CLUSTER", "INFO").Contains("cluster_state:ok"), TimeSpan.FromSeconds(30), "cluster ok");
        // foo hashes to slot 12182 (node 2), bar to 5061 (node 1).
        Same(n1.Port, "", "-c", "SET", "foo", "1");
        Same(n1.Port, "", "-c", "--no-raw", "GET", "foo");
        Same(n1.Port, "", "GET", "foo");
        Same(n1.Port, "GET foo\nSET bar 2\nGET bar\nGET foo\n", "-c", "--no-raw");
        Same(n1.Port, "GET foo\nGET bar\n", "-c");
    }

    [Fact]
    public void Shutdown_in_a_session_matches_redis_cli()
    {
        // Each CLI shuts down its own throwaway server; ports are normalised before comparing.
        (int, string, string) Session(string exe)
        {
            using var server = ServerProcess.StartRedis();
            string port = server.Port.ToString();
            var (code, stdout, stderr) = Tools.Run(exe, ["-p", port], "PING\nSHUTDOWN NOSAVE\nPING\n", timeoutMs: 30_000);
            return (code, stdout, stderr.Replace(port, "PORT"));
        }
        Assert.Equal(Session("redis-cli"), Session(CinnabarCli));
    }

    [Fact]
    public void Both_clis_agree_against_cinnabar()
    {
        int port = _f.Cinnabar.Port;
        Same(port, "", "SET", "cli:cin", "v");
        Same(port, "", "GET", "cli:cin");
        Same(port, "", "--no-raw", "GET", "cli:cin");
        Same(port, "", "GET", "cli:cin:missing");
        Same(port, "PING\nGET cli:cin\n", "--no-raw");
    }
}
