using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Config file, command line and CONFIG command behaviour on real processes.</summary>
public sealed class ConfigTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public ConfigTests(SideBySideFixture f) => _f = f;

    private static string ServerBin => Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-server");

    private static Dictionary<string, string> ConfigGetAll(ServerProcess s)
    {
        using var c = s.Connect();
        var items = c.Call("CONFIG", "GET", "*").Items!;
        var map = new Dictionary<string, string>();
        for (int i = 0; i + 1 < items.Count; i += 2) map[items[i].ToString()] = items[i + 1].ToString();
        return map;
    }

    private static string ConfigGet(ServerProcess s, string name)
    {
        using var c = s.Connect();
        var items = c.Call("CONFIG", "GET", name).Items!;
        Assert.Equal(2, items.Count);
        return items[1].ToString();
    }

    [Fact]
    public void Config_get_star_lists_the_same_names_and_defaults_as_redis()
    {
        var ours = ConfigGetAll(_f.Cinnabar);
        var theirs = ConfigGetAll(_f.Redis);
        Assert.Equal(theirs.Keys.Order(StringComparer.Ordinal), ours.Keys.Order(StringComparer.Ordinal));
        // Values that legitimately differ: the port and directory each process was given, and
        // settings another test class may have changed on the shared servers.
        foreach (var (name, value) in theirs)
            if (name is not ("port" or "dir"))
                Assert.True(value == ours[name], $"{name}: redis '{value}', cinnabar '{ours[name]}'");
    }

    [Fact]
    public void Config_rewrite_without_a_config_file_is_an_error()
    {
        using var c = _f.Cinnabar.Connect();
        Assert.Equal("ERR The server is running without a config file", c.Call("CONFIG", "REWRITE").ToString());
    }

    [Fact]
    public void Config_resetstat_replies_ok()
    {
        using var c = _f.Cinnabar.Connect();
        Assert.Equal("OK", c.Call("CONFIG", "RESETSTAT").ToString());
    }

    [Fact]
    public void Server_started_with_a_config_file_applies_comments_quotes_and_include()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-cfg-").FullName;
        File.WriteAllText(Path.Combine(dir, "inc.conf"), "hz 20\nslowlog-max-len 77\n");
        string conf = Path.Combine(dir, "main.conf");
        File.WriteAllText(conf,
            "# a comment\n\n   # indented comment\nmaxmemory-policy \"allkeys-lru\"\nmasteruser 'user name'\n" +
            "include inc.conf\nclient-output-buffer-limit pubsub 64mb 16mb 90\nslowlog-max-len 78\n");
        using var s = ServerProcess.Start(false, [], configFile: conf, dir: dir);
        Assert.Equal("allkeys-lru", ConfigGet(s, "maxmemory-policy"));
        Assert.Equal("user name", ConfigGet(s, "masteruser"));
        Assert.Equal("20", ConfigGet(s, "hz"));
        Assert.Equal("78", ConfigGet(s, "slowlog-max-len"));
        Assert.Equal("normal 0 0 0 slave 268435456 67108864 60 pubsub 67108864 16777216 90", ConfigGet(s, "client-output-buffer-limit"));
    }

    [Fact]
    public void Command_line_options_pidfile_and_logfile_take_effect()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-cl-").FullName;
        string pid = Path.Combine(dir, "server.pid");
        using var s = ServerProcess.Start(false, ["--appendonly", "yes", "--maxmemory", "2mb", "--pidfile", pid, "--logfile", "server.log",
            "--save", "900 1", "--save", "300 10"], dir: dir);
        Assert.Equal("yes", ConfigGet(s, "appendonly"));
        Assert.Equal("2097152", ConfigGet(s, "maxmemory"));
        Assert.Equal("900 1 300 10", ConfigGet(s, "save"));
        Tools.WaitUntil(() => File.Exists(pid) && File.ReadAllText(pid).Trim().Length > 0, TimeSpan.FromSeconds(10), "pidfile");
        Assert.Equal(s.Pid.ToString(), File.ReadAllText(pid).Trim());
        // logfile is relative to dir (redis-server chdirs into dir while reading the config).
        string log = Path.Combine(dir, "server.log");
        Tools.WaitUntil(() => File.Exists(log) && ReadShared(log).Contains("Ready to accept connections"), TimeSpan.FromSeconds(10), "log line");
    }

    private static string ReadShared(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(fs).ReadToEnd();
    }

    [Fact]
    public void Unix_socket_serves_redis_cli()
    {
        string sock = $"/tmp/cinnabar-{Guid.NewGuid():N}"[..28] + ".sock";
        using var s = ServerProcess.StartCinnabar("--unixsocket", sock, "--unixsocketperm", "700");
        Tools.WaitUntil(() => File.Exists(sock), TimeSpan.FromSeconds(10), "unix socket");
        var r = Tools.Run("redis-cli", ["-s", sock, "CONFIG", "GET", "unixsocket"]);
        Assert.Equal($"unixsocket\n{sock}\n", r.Stdout);
        Assert.Equal("PONG\n", Tools.Run("redis-cli", ["-s", sock, "PING"]).Stdout);
    }

    [Theory]
    [InlineData("no-such-directive 1", "Bad directive or wrong number of arguments")]
    [InlineData("maxmemory 12x", "argument must be a memory value")]
    [InlineData("appendonly maybe", "argument must be 'yes' or 'no'")]
    public void Bad_config_file_exits_non_zero_naming_the_line(string line, string reason)
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-bad-").FullName;
        string conf = Path.Combine(dir, "bad.conf");
        File.WriteAllText(conf, "# comment\n" + line + "\n");
        var r = Tools.Run(ServerBin, [conf], timeoutMs: 300_000);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***", r.Stderr);
        Assert.Contains("Reading the configuration file, at line 2", r.Stderr);
        Assert.Contains($">>> '{line}'", r.Stderr);
        Assert.Contains(reason, r.Stderr);
        Directory.Delete(dir, true);
    }

    [Fact]
    public void Bad_command_line_value_exits_like_redis()
    {
        var ours = Tools.Run(ServerBin, ["--port", "abc"], timeoutMs: 300_000);
        Assert.Equal(1, ours.ExitCode);
        if (!ServerProcess.RedisAvailable) return;
        var theirs = Tools.Run("/usr/bin/redis-server", ["--port", "abc"]);
        Assert.Equal(theirs.ExitCode, ours.ExitCode);
        Assert.Equal(theirs.Stderr, ours.Stderr);
    }

    [Fact]
    public void Version_flag_prints_a_version_line()
    {
        var r = Tools.Run(ServerBin, ["--version"], timeoutMs: 300_000);
        Assert.Equal(0, r.ExitCode);
        Assert.StartsWith("Redis server v=7.0.15 ", r.Stdout);
    }

    [Fact]
    public void Config_set_then_rewrite_keeps_comments_and_survives_a_restart()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-rw-").FullName;
        string conf = Path.Combine(dir, "redis.conf");
        File.WriteAllText(conf, "# keep me\ntimeout 5\n\n# and me\nrename-command KEYS \"\"\n");
        // Kill, not Dispose: Dispose deletes the directory, which the rewritten file names in "dir".
        var first = ServerProcess.Start(false, [], configFile: conf, dir: dir);
        try
        {
            using var c = first.Connect();
            Assert.Equal("OK", c.Call("CONFIG", "SET", "timeout", "30", "maxmemory-policy", "allkeys-lfu", "maxmemory", "1gb").ToString());
            Assert.Equal("OK", c.Call("CONFIG", "REWRITE").ToString());
        }
        finally
        {
            first.Kill();
        }
        var lines = File.ReadAllLines(conf);
        Assert.Equal("# keep me", lines[0]);
        Assert.Equal("timeout 30", lines[1]);
        Assert.Equal("# and me", lines[3]);
        Assert.Equal("rename-command KEYS \"\"", lines[4]);
        Assert.Contains("# Generated by CONFIG REWRITE", lines);
        Assert.Contains("maxmemory-policy allkeys-lfu", lines);
        Assert.Contains("maxmemory 1gb", lines);
        using var again = ServerProcess.Start(false, [], configFile: conf, dir: dir);
        Assert.Equal("allkeys-lfu", ConfigGet(again, "maxmemory-policy"));
        Assert.Equal("30", ConfigGet(again, "timeout"));
    }

    [Fact]
    public void Config_set_port_listens_on_the_new_port_and_a_busy_port_is_refused()
    {
        using var s = ServerProcess.StartCinnabar();
        int newPort = ServerProcess.FreePort();
        using (var c = s.Connect())
            Assert.Equal("OK", c.Call("CONFIG", "SET", "port", newPort).ToString());
        using (var moved = ConnectWithin(newPort))
        {
            Assert.Equal("PONG", moved.Call("PING").ToString());
            // A port already taken (the shared redis-server's) fails and the current one keeps working.
            Assert.Equal("ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port. Check server logs.",
                moved.Call("CONFIG", "SET", "port", _f.Redis.Port).ToString());
        }
        using var again = ConnectWithin(newPort);
        Assert.Equal(newPort.ToString(), again.Call("CONFIG", "GET", "port").Items![1].ToString());
        Assert.Throws<System.Net.Sockets.SocketException>(() => new RespConnection(s.Port).Call("PING"));
    }

    private static RespConnection ConnectWithin(int port)
    {
        RespConnection? conn = null;
        Tools.WaitUntil(() =>
        {
            try { conn = new RespConnection(port); return true; }
            catch (System.Net.Sockets.SocketException) { return false; }
        }, TimeSpan.FromSeconds(5), "listening on " + port);
        return conn!;
    }
}
