using System.Text.RegularExpressions;
using System.Text.Json;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>
/// The interactive prompt in a terminal: redis-cli 7.0 and bin/cinnabar-cli are each driven
/// through a pseudo-terminal (pty_drive.py, fixed 60x24 or 80x24 size) with the same keystrokes
/// against the same server, and everything they wrote to the terminal must be identical: the
/// line editor's redraws (multi-line mode), grey hints, TAB completion, help, prompts with the
/// db number and "(TX)", and the history file left behind.
/// </summary>
public sealed class InteractiveTests : IClassFixture<CliFixture>
{
    private readonly CliFixture _f;

    public InteractiveTests(CliFixture f) => _f = f;

    private static string Cli => CliComparisonTests.CinnabarCli;

    private static string Driver => Path.Combine(ServerProcess.RepoRoot, "tests", "Cinnabar.Cli.Tests", "pty_drive.py");

    /// <summary>Runs exe in a terminal with the keystrokes; returns the terminal output (escaped)
    /// and the history file's contents (null when none was written).</summary>
    private static (string Screen, string? History) Drive(string exe, int cols, string[] keys, string[] args, string? historyLines = null, string? rc = null)
    {
        string dir = Directory.CreateTempSubdirectory("cli-pty-").FullName;
        try
        {
            string hist = Path.Combine(dir, "history");
            if (historyLines != null) File.WriteAllText(hist, historyLines);
            string rcFile = Path.Combine(dir, "rc");
            File.WriteAllText(rcFile, rc ?? "");
            string[] all =
            [
                "REDISCLI_HISTFILE=" + hist, "REDISCLI_RCFILE=" + rcFile, "TERM=xterm", "HOME=" + dir,
                "python3", Driver, cols.ToString(), "24", "--", exe, .. args,
            ];
            var chunks = keys.Select(k => k.StartsWith(Quiet, StringComparison.Ordinal) ? (object)new[] { k[Quiet.Length..], "quiet" } : k).ToArray();
            var r = Tools.Run("env", all, JsonSerializer.Serialize(chunks), timeoutMs: 90_000);
            Assert.True(r.ExitCode == 0, "pty driver failed: " + r.Stderr);
            // The "(0.52s)" line after slow commands depends on timing.
            string screen = System.Text.RegularExpressions.Regex.Replace(r.Stdout, @"\(\d+\.\d\ds\)\\r\\n", "");
            return (screen, File.Exists(hist) ? File.ReadAllText(hist) : null);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Prefix of a keystroke chunk after which only quiet output is awaited (no prompt).</summary>
    private const string Quiet = "quiet:";

    private (string Screen, string? History) Same(int cols, string[] keys, string[] args, string? historyLines = null, string? rc = null)
    {
        var expected = Drive("redis-cli", cols, keys, args, historyLines, rc);
        var actual = Drive(Cli, cols, keys, args, historyLines, rc);
        Assert.Equal(expected.Screen, actual.Screen);
        Assert.Equal(expected.History, actual.History);
        return actual;
    }

    private string[] OnRedis(params string[] args) => ["-p", _f.Redis.Port.ToString(), .. args];

    [Fact]
    public void Line_editing_hints_completion_and_help_match_redis_cli()
    {
        string[] keys =
        [
            "set cli:ed v1\r", "get cli:ed\r",
            "\u001b[A\u001b[A\u001b[B\r",                        // history up/up/down
            "lpush\u0001x\u0005 q\u0002\u0002\u0006\u0006 z\r",  // Ctrl-A/E/B/F
            "hget ab cd\u0017\u0017ef\r",                        // Ctrl-W
            "xyz\u0015get cli:ed\u000b\r",                       // Ctrl-U, Ctrl-K
            "ge\t\t\t\r",                                         // TAB cycles completions
            "help set\r", "help @hyperloglog\r", "help \t\u001b\r",
            "2 ping\r", "0 ping\r", "get \"x\r",
            ":set nohints\r", "get k\r", ":set hints\r", ":set foo\r", ":bar\r", "restart\r",
            "set " + new string('a', 80) + " " + new string('b', 50) + "\u0002\u0002\u0002\u0002\u0001\u0005\r", // wraps
            "\u001b[3~x\u001b[H\u001b[3~\u001b[F\u001bOH\u001bOF\u0008\u0008\u0014\r",
            "ab\u0004\u0004\u0004\r", "\u0004",                   // Ctrl-D deletes, then ends on an empty line
        ];
        var (screen, history) = Same(60, keys, OnRedis());
        Assert.Contains("summary:", screen);
        Assert.Contains("\\x1b[0;90;49m key\\x1b[0m", screen); // the grey hint after "get"
        Assert.EndsWith("EXIT 0\n", screen);
        Assert.NotNull(history);
        // Up/up/down recalled "get cli:ed", equal to the last entry, so it is not stored twice.
        Assert.StartsWith("set cli:ed v1\nget cli:ed\nxlpush q z\nhget ef\nget cli:ed\nGEOHASH\n", history);
        Assert.DoesNotContain("0 ping", history);
    }

    [Fact]
    public void History_file_is_loaded_and_sensitive_lines_stay_out_of_it()
    {
        string[] keys =
        [
            "\u001b[A\u001b[A\r",                 // recalls the older of the two loaded lines
            "AUTH nosuchuser secret\r",
            "ACL SETUSER cli-tmp on >pw\r",
            "HELLO 3 AUTH nosuchuser secret\r",
            "CONFIG SET masteruser nobody\r",
            "ECHO kept\r",
            "quit\r",
        ];
        var (_, history) = Same(80, keys, OnRedis("-n", "2"), historyLines: "get cli:db2\nping\n");
        Assert.Equal("get cli:db2\nping\nget cli:db2\nECHO kept\nquit\n", history);
    }

    [Fact]
    public void Prompt_shows_the_db_and_open_transactions_like_redis_cli()
    {
        string[] keys = ["select 2\r", "multi\r", "ping\r", "exec\r", "multi\r", "discard\r", "select 0\r", "exit\r"];
        var (screen, _) = Same(80, keys, OnRedis());
        string p = $"127.0.0.1:{_f.Redis.Port}";
        Assert.Contains($"{p}[2](TX)> ", screen);
        Assert.Contains($"{p}[2]> ", screen);
    }

    [Fact]
    public void Ctrl_c_and_end_of_input_end_the_prompt_like_redis_cli()
    {
        Same(80, ["ping\r", "abc\u0003"], OnRedis());
        Same(80, ["\u0004"], OnRedis());
        // Not connected: every command tries again and reports the refused connection.
        Same(80, ["ping\r", "connect 127.0.0.1 " + _f.Redis.Port + "\r", "ping\r", "quit\r"], ["-p", "1"]);
    }

    [Fact]
    public void Ctrl_c_leaves_subscribe_mode_but_ends_a_blocked_command_like_redis_cli()
    {
        var (screen, _) = Same(80, [Quiet + "subscribe cli:chan\r", "\u0003", "ping\r", Quiet + "blpop cli:nosuch 0\r", "\u0003"], OnRedis());
        Assert.Contains("Reading messages... (press Ctrl-C to quit)", screen);
        Assert.Contains("PONG", screen);
        Assert.EndsWith("EXIT 1\n", screen);
    }

    [Fact]
    public void Preferences_file_turns_hints_off_like_redis_cli()
    {
        var (screen, _) = Same(80, ["get cli:text\r", "quit\r"], OnRedis(), rc: ":set nohints\n:set colors\n");
        Assert.DoesNotContain("\\x1b[0;90;49m", screen);
        Assert.Contains(".redisclirc: unknown redis-cli preference 'colors'", screen);
    }

    [Fact]
    public void Askpass_prompt_is_masked_like_redis_cli()
    {
        using var server = ServerProcess.StartRedis("--requirepass", "sekret");
        var (screen, _) = Same(80, ["sekrez\u0008t\r"], ["-p", server.Port.ToString(), "--askpass", "PING"]);
        Assert.Contains("Please input password: ", screen);
        Assert.DoesNotContain("sekret", screen);
        Assert.Contains("PONG", screen);
    }

    [Fact]
    public void Database_is_selected_again_after_auth_and_reconnects_like_redis_cli()
    {
        // -n 2 cannot be selected before AUTH; AUTH selects it, `connect` reconnects to it, and
        // DISCARD restores the database of before MULTI.
        using var server = ServerProcess.StartRedis("--requirepass", "sekret");
        string port = server.Port.ToString();
        string[] keys = ["get x\r", "auth sekret\r", "get x\r", "select 3\r", "connect 127.0.0.1 " + port + "\r", "get x\r", "auth sekret\r", "multi\r", "select 5\r", "discard\r", "quit\r"];
        var (screen, _) = Same(80, keys, ["-p", port, "-n", "2"]);
        Assert.StartsWith("SELECT 2 failed: NOAUTH Authentication required.", screen);
        Assert.Contains($"127.0.0.1:{port}[5](TX)> ", screen);
        Assert.Contains($"127.0.0.1:{port}[3]> \\r\\x1b[0K127.0.0.1:{port}[3]> q", screen);
    }

    [Fact]
    public void Lua_debugger_prompt_matches_redis_cli()
    {
        string file = Path.Combine(_f.Redis.Dir, "ldb-tty.lua");
        File.WriteAllText(file, "local a = 1\nredis.call('set', KEYS[1], ARGV[1])\nreturn {a, ARGV[1]}\n");
        var (screen, _) = Same(80, ["n\r", "p\r", "n\r", "n\r", "n\r", "ping\r", "quit\r"], OnRedis("--ldb", "--eval", file, "cli:ldbtty", ",", "v"));
        Assert.Contains("lua debugger> ", screen);
        Assert.Contains("(Lua debugging session ended -- dataset changes rolled back)", screen);
    }

    [Fact]
    public void Help_matches_redis_cli_against_redis_cinnabar_and_no_server()
    {
        // Against redis-server both CLIs print Redis's docs; against our server (and offline, from
        // the table embedded from our server) the summaries are our own wording, so those compare
        // everything but the summary text.
        static string Summaries((int, string, string) r) =>
            Regex.Replace(r.Item1 + "|" + r.Item2 + "|" + r.Item3, "(summary:\u001b\\[0m )[^\r]*", "$1*");
        foreach (int port in new[] { _f.Redis.Port, _f.Cinnabar.Port, 1 })
            foreach (var topic in new[] { new[] { "set" }, ["@string"], ["client", "kill"], ["config"], ["nosuch"], [] })
            {
                string[] args = ["-p", port.ToString(), "help", .. topic];
                var expected = Tools.Run("redis-cli", args, "", timeoutMs: 30_000);
                var actual = Tools.Run(Cli, args, "", timeoutMs: 30_000);
                if (port == _f.Redis.Port) Assert.Equal(expected, actual);
                else Assert.Equal(Summaries(expected), Summaries(actual));
            }
        // The syntax line is built from COMMAND DOCS the way redis-cli renders the argument tree.
        var set = Tools.Run(Cli, ["-p", _f.Redis.Port.ToString(), "help", "set"], "").Stdout;
        Assert.Equal("\r\n  \u001b[1mSET\u001b[0m \u001b[90mkey value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]\u001b[0m\r\n"
            + "  \u001b[33msummary:\u001b[0m Set the string value of a key\r\n  \u001b[33msince:\u001b[0m 1.0.0\r\n  \u001b[33mgroup:\u001b[0m string\r\n\r\n", set);
    }

    [Fact]
    public void Cluster_redirects_are_announced_at_the_prompt_like_redis_cli()
    {
        using var n1 = ServerProcess.StartRedis("--cluster-enabled", "yes");
        using var n2 = ServerProcess.StartRedis("--cluster-enabled", "yes");
        Tools.RedisCli(n1.Port, "CLUSTER", "ADDSLOTSRANGE", "0", "8191");
        Tools.RedisCli(n2.Port, "CLUSTER", "ADDSLOTSRANGE", "8192", "16383");
        Tools.RedisCli(n1.Port, "CLUSTER", "MEET", "127.0.0.1", n2.Port.ToString());
        Tools.WaitUntil(() => Tools.RedisCli(n1.Port, "CLUSTER", "INFO").Contains("cluster_state:ok")
            && Tools.RedisCli(n2.Port, "CLUSTER", "INFO").Contains("cluster_state:ok"), TimeSpan.FromSeconds(30), "cluster ok");
        // foo hashes to slot 12182 (node 2), bar to 5061 (node 1).
        var (screen, _) = Same(80, ["set foo 1\r", "get bar\r", "get foo\r", "quit\r"], ["-c", "-p", n1.Port.ToString()]);
        Assert.Contains($"-> Redirected to slot [12182] located at 127.0.0.1:{n2.Port}", screen);
        Assert.Contains($"127.0.0.1:{n2.Port}> ", screen);
    }
}
