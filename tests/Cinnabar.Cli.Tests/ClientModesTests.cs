using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Cli.Modes;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>A redis-server and a Cinnabar server seeded alike (diskless sync without delay).</summary>
public sealed class ClientModesFixture : IDisposable
{
    public ClientModesFixture()
    {
        var v = Tools.Run(CliComparisonTests.CinnabarCli, ["--version"], stdin: "", timeoutMs: 300_000);
        if (v.ExitCode != 0) throw new InvalidOperationException("cinnabar-cli build failed: " + v.Stderr);
        string[] args = ["--repl-diskless-sync-delay", "0", "--appendonly", "no", "--save", ""];
        Redis = ServerProcess.StartRedis(args);
        Cinnabar = ServerProcess.StartCinnabar(args);
        var seed = new[]
        {
            "RPUSH modes:list a b c d",
            "RPUSH modes:list2 x",
            "HSET modes:hash f1 v1 f2 v2 f3 v3",
            "SADD modes:set m1 m2",
            "ZADD modes:zset 1 a 2 b 3 c",
            "XADD modes:stream 1-1 f v",
            "XADD modes:stream 1-2 f v",
            "SET modes:str hello",
            "SET \"modes:bin\\x01 key\" abcdefghijklmnop",
            "SET other:str x",
            "FUNCTION LOAD \"#!lua name=modeslib\\nredis.register_function('modesfn', function(keys, args) return 1 end)\"",
            "SELECT 2",
            "SET db2:only value",
        };
        foreach (var s in new[] { Redis, Cinnabar })
        {
            var r = Tools.Run("redis-cli", ["-p", s.Port.ToString()], stdin: string.Join("\n", seed) + "\n");
            if (r.ExitCode != 0) throw new InvalidOperationException("seeding failed: " + r.Stderr);
        }
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
/// redis-cli's client modes: each runs with the real redis-cli and bin/cinnabar-cli against the
/// same server (Redis and Cinnabar). Deterministic output must be identical; timings and
/// samples are compared by shape. Modes that never end run under a deadline and are killed.
/// </summary>
public sealed class ClientModesTests : IClassFixture<ClientModesFixture>
{
    private readonly ClientModesFixture _f;

    public ClientModesTests(ClientModesFixture f) => _f = f;

    private static string Cli => CliComparisonTests.CinnabarCli;

    private ServerProcess Server(string which) => which == "redis" ? _f.Redis : _f.Cinnabar;

    private static (int, string, string) Run(string exe, int port, params string[] args) =>
        Tools.Run(exe, ["-p", port.ToString(), .. args], stdin: "", timeoutMs: 30_000);

    private static void Same(int port, params string[] args)
    {
        var expected = Run("redis-cli", port, args);
        var actual = Run(Cli, port, args);
        Assert.Equal(expected, actual);
    }

    /// <summary>
    /// Runs a process that does not end by itself, collecting its output until stop holds (or
    /// maxMs passes), then kills it. Returns what it printed by then.
    /// </summary>
    private static (string Stdout, string Stderr, bool Exited, int ExitCode) RunUntil(string exe, IEnumerable<string> args, Func<string, string, bool> stop, int maxMs)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var sbOut = new StringBuilder();
        var sbErr = new StringBuilder();
        var tOut = Pump(p.StandardOutput, sbOut);
        var tErr = Pump(p.StandardError, sbErr);
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < maxMs && !p.HasExited)
        {
            string o, e;
            lock (sbOut) o = sbOut.ToString();
            lock (sbErr) e = sbErr.ToString();
            if (stop(o, e)) break;
            Thread.Sleep(20);
        }
        bool exited = p.HasExited;
        if (!exited) p.Kill(entireProcessTree: true);
        p.WaitForExit(10_000);
        Task.WaitAll([tOut, tErr], 10_000);
        lock (sbOut)
            lock (sbErr)
                return (sbOut.ToString(), sbErr.ToString(), exited, exited ? p.ExitCode : -1);
    }

    private static (int Code, byte[] Stdout, string Stderr) RunBytes(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var ms = new MemoryStream();
        var tOut = p.StandardOutput.BaseStream.CopyToAsync(ms);
        var tErr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(30_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException(exe + " timed out");
        }
        p.WaitForExit();
        tOut.Wait(10_000);
        return (p.ExitCode, ms.ToArray(), tErr.Result);
    }

    private static Task Pump(StreamReader r, StringBuilder sb) => Task.Run(() =>
    {
        var buf = new char[4096];
        int n;
        while ((n = r.Read(buf, 0, buf.Length)) > 0)
            lock (sb) sb.Append(buf, 0, n);
    });

    // ---------------------------------------------------------------- --bigkeys / --memkeys

    public static TheoryData<string, string[]> KeyspaceCases()
    {
        var d = new TheoryData<string, string[]>();
        foreach (var server in new[] { "redis", "cinnabar" })
        {
            d.Add(server, ["--bigkeys"]);
            d.Add(server, ["--memkeys"]);
            d.Add(server, ["--memkeys-samples", "2"]);
            d.Add(server, ["--bigkeys", "--pattern", "modes:*"]);
            d.Add(server, ["--bigkeys", "--pattern", "modes:l*"]);
            d.Add(server, ["-n", "2", "--bigkeys"]);
            d.Add(server, ["-n", "7", "--bigkeys"]); // empty: the half-rehashed type order
            d.Add(server, ["-n", "7", "--hotkeys"]);
            d.Add(server, ["--hotkeys"]); // no LFU policy: OBJECT FREQ's error, exit 1
        }
        return d;
    }

    [Theory]
    [MemberData(nameof(KeyspaceCases))]
    public void KeyspaceModesMatchRedisCli(string server, string[] args) => Same(Server(server).Port, args);

    [Theory]
    [InlineData("redis")]
    [InlineData("cinnabar")]
    public void BigKeysReportsEveryTypeWithRedisCliWording(string server)
    {
        var (code, stdout, _) = Run(Cli, Server(server).Port, "--bigkeys");
        Assert.Equal(0, code);
        Assert.Contains("# Scanning the entire keyspace to find biggest keys as well as\n", stdout);
        Assert.Contains("Biggest   list found '\"modes:list\"' has 4 items\n", stdout);
        Assert.Contains("Biggest string found '\"modes:bin\\x01 key\"' has 16 bytes\n", stdout);
        Assert.Contains("1 hashs with 3 fields (11.11% of keys, avg size 3.00)\n", stdout);
        Assert.Contains("3 strings with 22 bytes (33.33% of keys, avg size 7.33)\n", stdout);
        Assert.Contains("Sampled 9 keys in the keyspace!\n", stdout);
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("cinnabar")]
    public void HotKeysWithAnLfuPolicyMatchRedisCli(string server)
    {
        int port = Server(server).Port;
        Tools.RedisCli(port, "CONFIG", "SET", "maxmemory-policy", "allkeys-lfu");
        try
        {
            // Keys made under the LFU policy start with counter 5; older ones carry LRU bits.
            Tools.RedisCli(port, "-n", "6", "MSET", "hot:a", "value a", "hot:b", "value b");
            for (int i = 0; i < 20; i++) Tools.RedisCli(port, "-n", "6", "GET", "hot:a");
            var expected = Run("redis-cli", port, "-n", "6", "--hotkeys");
            var actual = Run(Cli, port, "-n", "6", "--hotkeys");
            Assert.Equal(0, actual.Item1);
            Assert.Contains("Sampled 2 keys in the keyspace!\n", actual.Item2);
            Assert.Matches(@"hot key found with counter: \d+\tkeyname: ""hot:a""\nhot key found with counter: \d+\tkeyname: ""hot:b""\n$", actual.Item2);
            // LFU counters are probabilistic and decay with time: compare them as N.
            static string Norm(string s) => Regex.Replace(s, "counter:? \\d+", "counter N");
            Assert.Equal((expected.Item1, Norm(expected.Item2), expected.Item3), (actual.Item1, Norm(actual.Item2), actual.Item3));
        }
        finally
        {
            Tools.RedisCli(port, "CONFIG", "SET", "maxmemory-policy", "noeviction");
            Tools.RedisCli(port, "-n", "6", "FLUSHDB");
        }
    }

    [Fact]
    public void BigKeysStopsOnSigintAndStillPrintsTheSummary()
    {
        int port = _f.Cinnabar.Port;
        Tools.RedisCli(port, "-n", "10", "EVAL", "for i=1,20000 do redis.call('set','big:'..i,'v'..i) end return 1", "0");
        try
        {
            foreach (var exe in new[] { "redis-cli", Cli })
            {
                // With -i 0.2 the scan takes several seconds; interrupt it once it has started
                // (the previous CLI's connection gone first, so its db=10 entry cannot mislead).
                Tools.WaitUntil(() => !Tools.RedisCli(port, "CLIENT", "LIST").Contains("db=10 ", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "no client on db 10");
                var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
                foreach (var a in new[] { "-p", port.ToString(), "-n", "10", "--bigkeys", "-i", "0.2" }) psi.ArgumentList.Add(a);
                using var p = Process.Start(psi)!;
                var tOut = p.StandardOutput.ReadToEndAsync();
                var tErr = p.StandardError.ReadToEndAsync();
                try
                {
                    Tools.WaitUntil(() => Tools.RedisCli(port, "CLIENT", "LIST").Contains("db=10 ", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the scan to start");
                    Tools.Run("kill", ["-INT", p.Id.ToString()], timeoutMs: 10_000);
                    Assert.True(p.WaitForExit(20_000), exe + " ignored SIGINT");
                }
                finally
                {
                    if (!p.HasExited) p.Kill(entireProcessTree: true);
                }
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
                Assert.Equal("", tErr.Result);
                var m = Regex.Match(tOut.Result, @"\n-------- summary -------\n\n\[\d\d\.\d\d%\] Sampled (\d+) keys in the keyspace!\nTotal key length in bytes is \d+ \(avg len \d+\.\d\d\)\n\nBiggest string found '""big:\d+""' has \d+ bytes\n\n");
                Assert.True(m.Success, exe + ": " + tOut.Result);
                Assert.InRange(int.Parse(m.Groups[1].Value), 1, 19999);
            }
        }
        finally
        {
            Tools.RedisCli(port, "-n", "10", "FLUSHDB");
        }
    }

    [Fact]
    public void TypeTableIteratesLikeRedisCliTypeDict()
    {
        // Observed from redis-cli 7.0.15: right after the six adds (table half rehashed) and
        // once lookups have completed the rehash.
        var t = new TypeTable<string>();
        foreach (var n in new[] { "string", "list", "set", "hash", "zset", "stream" }) t.Add(n, n);
        Assert.Equal(["hash", "list", "string", "stream", "set", "zset"], t.Values());
        for (int i = 0; i < 8; i++) Assert.True(t.TryFind("string", out _));
        Assert.Equal(["list", "hash", "string", "stream", "set", "zset"], t.Values());
        Assert.False(t.TryFind("none", out _));
    }

    // ---------------------------------------------------------------- latency modes

    [Theory]
    [InlineData("redis", new string[0], @"^\d+ \d+ \d+\.\d\d \d+\n$")]
    [InlineData("cinnabar", new string[0], @"^\d+ \d+ \d+\.\d\d \d+\n$")]
    [InlineData("cinnabar", new[] { "--csv" }, @"^\d+,\d+,\d+\.\d\d,\d+\n$")]
    [InlineData("cinnabar", new[] { "--json" }, @"^\{""min"": \d+, ""max"": \d+, ""avg"": \d+\.\d\d, ""count"": \d+\}\n$")]
    [InlineData("cinnabar", new[] { "-i", "0.3" }, @"^\d+ \d+ \d+\.\d\d \d+\n$")]
    public void LatencyWithoutTerminalPrintsOneLineAndExits(string server, string[] extra, string shape)
    {
        int port = Server(server).Port;
        var expected = Run("redis-cli", port, ["--latency", .. extra]);
        var actual = Run(Cli, port, ["--latency", .. extra]);
        Assert.Matches(shape, expected.Item2); // the shape holds for redis-cli too
        Assert.Matches(shape, actual.Item2);
        Assert.Equal((0, ""), (actual.Item1, actual.Item3));
        Assert.Equal((expected.Item1, expected.Item3), (actual.Item1, actual.Item3));
        // About 1 s (or -i) of samples every 10 ms.
        long samples = long.Parse(Regex.Match(actual.Item2, @"(\d+)\D*$").Groups[1].Value);
        Assert.InRange(samples, extra.Length == 2 ? 5 : 20, extra.Length == 2 ? 31 : 101);
    }

    [Fact]
    public void LatencyHistoryInTerminalFormatRedrawsTheLineAndClosesEachRange()
    {
        string[] args = ["-p", _f.Cinnabar.Port.ToString(), "--latency-history", "-i", "0.3", "--no-raw"];
        static bool TwoRanges(string o, string e) => Regex.Matches(o, " -- ").Count >= 2;
        var ours = RunUntil(Cli, args, TwoRanges, 15_000);
        var theirs = RunUntil("redis-cli", args, TwoRanges, 15_000);
        var line = @"\x1b\[0G\x1b\[2Kmin: \d+, max: \d+, avg: \d+\.\d\d \(\d+ samples\)";
        var shape = $@"^(({line})+ -- 0\.\d\d seconds range\n)+({line})*$";
        Assert.Matches(shape, theirs.Stdout);
        Assert.Matches(shape, ours.Stdout);
        Assert.Equal("", ours.Stderr);
        // Each range restarts the counts: the first sample after " -- " is sample 1.
        Assert.Contains("range\n\u001b[0G\u001b[2Kmin: ", ours.Stdout);
        Assert.Matches(@"range\n\x1b\[0G\x1b\[2Kmin: \d+, max: \d+, avg: \d+\.00 \(1 samples\)", ours.Stdout);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LatencyDistPrintsTheLegendAndOneSpectrumLinePerInterval(bool mono)
    {
        string[] args = ["-p", _f.Cinnabar.Port.ToString(), "--latency-dist", "-i", "0.25", .. (mono ? new[] { "--mono" } : [])];
        static bool TwoLines(string o, string e) => Regex.Matches(o, "\u001b\\[0m\n").Count >= 3;
        var ours = RunUntil(Cli, args, TwoLines, 15_000);
        var theirs = RunUntil("redis-cli", args, TwoLines, 15_000);
        static string Legend(string s) => s[..(s.IndexOf("---\n", 50, StringComparison.Ordinal) + 4)];
        Assert.Equal(Legend(theirs.Stdout), Legend(ours.Stdout));
        Assert.Contains(mono ? "\u001b[48;5;253m \u001b[0m\n" : "\u001b[48;5;196m \u001b[0m\n", ours.Stdout);
        string glyphs = ".-*#123456789ABCDEFGHIJKLMNOPQ?";
        var spectrum = "\u001b\\[38;5;0m" + string.Concat(glyphs.Select(g => @"\x1b\[48;5;\d+m" + Regex.Escape(g.ToString()))) + @"\x1b\[0m\n";
        Assert.Matches($"^{Regex.Escape(Legend(ours.Stdout))}({spectrum})+", ours.Stdout);
        Assert.Matches($"^{Regex.Escape(Legend(theirs.Stdout))}({spectrum})+", theirs.Stdout);
    }

    // ---------------------------------------------------------------- --stat

    [Theory]
    [InlineData("redis")]
    [InlineData("cinnabar")]
    public void StatRowsAreBlockBufferedWithoutTerminal(string server)
    {
        // Not a terminal: stdout goes out in 4 KiB blocks, as C stdio does, so a killed --stat
        // leaves whole blocks behind; with -i 0.01 the first block fills quickly.
        string[] args = ["-p", Server(server).Port.ToString(), "--stat", "-i", "0.01"];
        static bool Block(string o, string e) => o.Length >= 4096;
        var ours = RunUntil(Cli, args, Block, 20_000);
        var theirs = RunUntil("redis-cli", args, Block, 20_000);
        foreach (var r in new[] { theirs, ours })
        {
            Assert.Equal(0, r.Stdout.Length % 4096);
            Assert.True(r.Stdout.Length >= 4096);
            var lines = r.Stdout.Split('\n');
            Assert.Equal("------- data ------ --------------------- load -------------------- - child -", lines[0]);
            Assert.Equal("keys       mem      clients blocked requests            connections          ", lines[1]);
            // keys (11 wide), mem (8), clients (" " + 8), blocked (8), requests (19), connections (" " + 12).
            var row = new Regex(@"^(?=.{68}$)\d+ +\d+(\.\d\d[KMG]|B) +\d+ +\d+ +\d+ \(\+\d+\) +\d+ *$");
            Assert.Matches(row, lines[2]);
            Assert.Contains("(+0)", lines[2]);
            Assert.Matches(@"\(\+[1-9]\d*\)", lines[3]);
            for (int i = 2; i < lines.Length - 1; i++)
            {
                if (i % 22 is 0 or 1) Assert.StartsWith(i % 22 == 0 ? "------- data" : "keys ", lines[i]);
                else Assert.Matches(row, lines[i]);
            }
        }
    }

    [Fact]
    public void StatHelpersFollowRedisCli()
    {
        Assert.Equal("1023B", StatMode.BytesToHuman("", 1023));
        Assert.Equal("1.00K", StatMode.BytesToHuman("", 1024));
        Assert.Equal("1.50M", StatMode.BytesToHuman("", 1024 * 1536));
        Assert.Equal("2.00G", StatMode.BytesToHuman("", 2L << 30));
        Assert.Equal("-5B", StatMode.BytesToHuman("", -5));
        Assert.Equal("12", StatMode.BytesToHuman("12", 1L << 41)); // redis-cli leaves the buffer as it was
        const string info = "# Keyspace\r\ndb0:keys=7,expires=0,avg_ttl=0\r\ndb12:keys=3,expires=1\r\n";
        Assert.Equal(7, StatMode.LongField(info, "db0:keys"));
        Assert.Equal(3, StatMode.LongField(info, "db12:keys"));
        Assert.Equal(long.MinValue, StatMode.LongField(info, "db1:keys"));
    }

    // ---------------------------------------------------------------- --rdb / --functions-rdb

    [Theory]
    [InlineData("redis", false)]
    [InlineData("cinnabar", false)]
    [InlineData("redis", true)]
    [InlineData("cinnabar", true)]
    public void RdbFetchMatchesRedisCliAndTheFileLoads(string server, bool functionsOnly)
    {
        var srv = Server(server);
        string dir = Path.Combine(Path.GetTempPath(), "cli-rdb-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string opt = functionsOnly ? "--functions-rdb" : "--rdb";
            string theirsFile = Path.Combine(dir, "theirs.rdb"), oursFile = Path.Combine(dir, "ours.rdb");
            var theirs = Run("redis-cli", srv.Port, opt, theirsFile);
            var ours = Run(Cli, srv.Port, opt, oursFile);
            Assert.Equal(0, ours.Item1);
            Assert.Equal(theirs.Item3.Replace(theirsFile, "F"), ours.Item3.Replace(oursFile, "F"));
            Assert.Equal((theirs.Item1, theirs.Item2), (ours.Item1, ours.Item2));
            Assert.Contains("sending REPLCONF rdb-only 1\n", ours.Item3);
            Assert.Contains("Transfer finished with success", ours.Item3);
            // Same payload (the RDB's creation time aside): same size, and it loads.
            Assert.Equal(new FileInfo(theirsFile).Length, new FileInfo(oursFile).Length);
            Assert.Equal("REDIS"u8.ToArray(), File.ReadAllBytes(oursFile)[..5]);
            using var loaded = ServerProcess.Start(true, ["--dbfilename", "ours.rdb", "--appendonly", "no"], dir: dir);
            Assert.Equal(functionsOnly ? "0" : "9", Tools.RedisCli(loaded.Port, "DBSIZE").Trim());
            Assert.Equal(functionsOnly ? "0" : "1", Tools.RedisCli(loaded.Port, "-n", "2", "DBSIZE").Trim());
            Assert.Contains("modeslib", Tools.RedisCli(loaded.Port, "FUNCTION", "LIST"));
            if (!functionsOnly) Assert.Equal("abcdefghijklmnop", Tools.RedisCli(loaded.Port, "GET", "modes:bin\u0001 key").Trim());
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Theory]
    [InlineData("redis")]
    [InlineData("cinnabar")]
    public void RdbToStdoutWithADiskBasedSyncMatchesRedisCli(string server)
    {
        int port = Server(server).Port;
        Tools.RedisCli(port, "CONFIG", "SET", "repl-diskless-sync", "no");
        try
        {
            var theirs = RunBytes("redis-cli", "-p", port.ToString(), "--rdb", "-");
            var ours = RunBytes(Cli, "-p", port.ToString(), "--rdb", "-");
            Assert.Equal((theirs.Code, theirs.Stderr), (ours.Code, ours.Stderr));
            Assert.Matches(@"SYNC sent to master, writing \d+ bytes to '-'\nTransfer finished with success\.\n$", ours.Stderr);
            int len = int.Parse(Regex.Match(ours.Stderr, @"writing (\d+) bytes").Groups[1].Value);
            Assert.Equal(len, ours.Stdout.Length);
            Assert.Equal(theirs.Stdout.Length, ours.Stdout.Length);
            Assert.Equal("REDIS0010"u8.ToArray(), ours.Stdout[..9]);
            Assert.Equal(0xff, ours.Stdout[^9]); // EOF opcode, then the 8-byte checksum

            // Into an existing longer file: redis-cli overwrites the start and leaves the rest
            // (it truncates only after a diskless transfer).
            string file = Path.Combine(Path.GetTempPath(), "cli-rdb-" + Guid.NewGuid().ToString("N") + ".rdb");
            try
            {
                File.WriteAllBytes(file, Enumerable.Repeat((byte)'x', 100_000).ToArray());
                Assert.Equal(0, Run(Cli, port, "--rdb", file).Item1);
                var bytes = File.ReadAllBytes(file);
                Assert.Equal(100_000, bytes.Length);
                Assert.Equal("REDIS0010"u8.ToArray(), bytes[..9]);
                Assert.Equal(0xff, bytes[ours.Stdout.Length - 9]);
                Assert.All(bytes[ours.Stdout.Length..], b => Assert.Equal((byte)'x', b));
                Tools.RedisCli(port, "CONFIG", "SET", "repl-diskless-sync", "yes");
                Assert.Equal(0, Run(Cli, port, "--rdb", file).Item1);
                Assert.Equal(ours.Stdout.Length, new FileInfo(file).Length);
            }
            finally
            {
                File.Delete(file);
            }
        }
        finally
        {
            Tools.RedisCli(port, "CONFIG", "SET", "repl-diskless-sync", "yes");
        }
    }

    [Fact]
    public void SyncRefusedByAReplicaWithoutItsMasterFailsLikeRedisCli()
    {
        // A replica whose master is unreachable refuses SYNC; redis-cli prints the error line
        // with its carriage return.
        using var replica = ServerProcess.StartRedis("--replicaof", "127.0.0.1 1");
        foreach (var args in new[] { new[] { "--rdb", "/tmp/never.rdb" }, ["--replica"] })
        {
            Same(replica.Port, args);
            var (code, _, stderr) = Run(Cli, replica.Port, args);
            Assert.Equal(1, code);
            Assert.EndsWith("\nSYNC with master failed: -NOMASTERLINK Can't SYNC while not connected with my master\r\n", stderr);
        }
    }

    [Fact]
    public void RdbIntoAnUnwritablePathFailsLikeRedisCli() =>
        Same(_f.Cinnabar.Port, "--rdb", "/nonexistent-dir/x.rdb");

    // ---------------------------------------------------------------- --replica

    [Theory]
    [InlineData("redis")]
    [InlineData("cinnabar")]
    public void ReplicaPrintsTheReplicationStreamLikeRedisCli(string server)
    {
        var srv = Server(server);
        string[] args = ["-p", srv.Port.ToString(), "--replica"];
        // Both CLIs attach at once; when both are logging, write to the master.
        const string last = "\"del\",\"modes:repl2\"\n";
        static bool Ready(string o, string e) => e.Contains("sending REPLCONF ACK 0\n", StringComparison.Ordinal);
        bool wrote = false;
        var gate = new object();
        bool oursReady = false, theirsReady = false;
        void WriteWhenBothReady()
        {
            lock (gate)
            {
                if (wrote || !oursReady || !theirsReady) return;
                wrote = true;
            }
            // redis-cli takes the first message after its ACK as the ACK's reply: give both a
            // moment so that message is the master's, not ours.
            Thread.Sleep(500);
            // In db 4, away from the keys the other tests count.
            Tools.RedisCli(srv.Port, "-n", "4", "set", "modes:repl", "v 1");
            Tools.RedisCli(srv.Port, "-n", "4", "rpush", "modes:repl2", "a", "b");
            Tools.RedisCli(srv.Port, "-n", "4", "del", "modes:repl2");
        }
        (string Stdout, string Stderr, bool Exited, int ExitCode) Watch(string exe, Action markReady) => RunUntil(exe, args, (o, e) =>
        {
            if (Ready(o, e))
            {
                markReady();
                Task.Run(WriteWhenBothReady);
            }
            return o.EndsWith(last, StringComparison.Ordinal);
        }, 30_000);
        var tOurs = Task.Run(() => Watch(Cli, () => oursReady = true));
        var tTheirs = Task.Run(() => Watch("redis-cli", () => theirsReady = true));
        var ours = tOurs.Result;
        var theirs = tTheirs.Result;
        Assert.Equal(theirs.Stderr, ours.Stderr);
        Assert.Equal(
            "sending REPLCONF capa eof\nsending REPLCONF rdb-filter-only \nSYNC with master, discarding bytes of bulk transfer until EOF marker...\n",
            ours.Stderr[..ours.Stderr.IndexOf("SYNC done", StringComparison.Ordinal)]);
        // redis-cli's ACK swallows the first message after it: a PING when one was due, else
        // the SELECT opening our writes. Drop both kinds before comparing.
        static string Norm(string s)
        {
            var lines = s.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Equals("\"ping\"", StringComparison.OrdinalIgnoreCase)).ToList();
            if (lines.Count > 0 && lines[0] == "\"SELECT\",\"4\"") lines.RemoveAt(0);
            return string.Concat(lines.Select(l => l + "\n"));
        }
        Assert.Equal("\"set\",\"modes:repl\",\"v 1\"\n\"rpush\",\"modes:repl2\",\"a\",\"b\"\n" + last, Norm(ours.Stdout));
        Assert.Equal(Norm(theirs.Stdout), Norm(ours.Stdout));
    }

    // ---------------------------------------------------------------- local and load modes

    [Fact]
    public void IntrinsicLatencyRunsForTheGivenSecondsAndSummarises()
    {
        var sw = Stopwatch.StartNew();
        var (code, stdout, stderr) = Tools.Run(Cli, ["--intrinsic-latency", "1"], stdin: "", timeoutMs: 30_000);
        var theirs = Tools.Run("redis-cli", ["--intrinsic-latency", "1"], stdin: "", timeoutMs: 30_000);
        var shape = @"^(Max latency so far: \d+ microseconds\.\n)+\n\d+ total runs \(avg latency: \d+\.\d{4} microseconds / \d+\.\d\d nanoseconds per run\)\.\nWorst run took \d+x longer than the average latency\.\n$";
        Assert.Matches(shape, theirs.Stdout);
        Assert.Matches(shape, stdout);
        Assert.Equal((0, ""), (code, stderr));
        Assert.True(sw.Elapsed > TimeSpan.FromSeconds(1));
        // No server is involved: the port is never used.
        Assert.Equal(0, Tools.Run(Cli, ["-p", "1", "--intrinsic-latency", "0"], stdin: "", timeoutMs: 30_000).ExitCode);
    }

    [Fact]
    public void LruTestWritesPowerLawKeysAndReportsHitsEverySecond()
    {
        int port = _f.Cinnabar.Port;
        // A terminal, so each line is flushed (through script(1)'s pseudo-terminal).
        string cmd = $"{Cli} -p {port} -n 9 --lru-test 1000";
        static bool TwoLines(string o, string e) => Regex.Matches(o, "Gets/sec").Count >= 2;
        var ours = RunUntil("script", ["-qec", cmd, "/dev/null"], TwoLines, 20_000);
        var lines = ours.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.Contains("Gets/sec")).ToList();
        Assert.True(lines.Count >= 2, ours.Stdout);
        foreach (var l in lines)
        {
            var m = Regex.Match(l, @"^(\d+) Gets/sec \| Hits: (\d+) \(\d+\.\d\d%\) \| Misses: (\d+) \(\d+\.\d\d%\)\r?$");
            Assert.True(m.Success, l);
            Assert.Equal(long.Parse(m.Groups[1].Value), long.Parse(m.Groups[2].Value) + long.Parse(m.Groups[3].Value));
            Assert.Equal(0, long.Parse(m.Groups[1].Value) % 250);
        }
        var keys = Tools.RedisCli(port, "-n", "9", "--scan").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(keys);
        Assert.All(keys, k => Assert.Matches(@"^lru:([1-9]\d{0,2}|1000)$", k));
        // 80/20: the low numbers are the popular ones, so nearly all of 1..20 exist.
        Assert.True(keys.Count(k => int.Parse(k[4..]) <= 20) >= 15);
        Assert.Matches("^[A-y]{5}$", Tools.RedisCli(port, "-n", "9", "GET", "lru:1").Trim());
        Tools.RedisCli(port, "-n", "9", "FLUSHDB");
    }

    // ---------------------------------------------------------------- errors

    public static TheoryData<string[]> DownCases() => new()
    {
        { ["--latency"] },
        { ["--latency-history"] },
        { ["--latency-dist"] },
        { ["--replica"] },
        { ["--rdb", "/tmp/never.rdb"] },
        { ["--functions-rdb", "/tmp/never.rdb"] },
        { ["--bigkeys"] },
        { ["--memkeys"] },
        { ["--hotkeys"] },
        { ["--stat"] },
        { ["--lru-test", "10"] },
    };

    [Theory]
    [MemberData(nameof(DownCases))]
    public void ServerDownFailsLikeRedisCli(string[] args)
    {
        int port = ServerProcess.FreePort();
        Same(port, args);
        var (code, stdout, stderr) = Run(Cli, port, args);
        Assert.Equal((1, "", $"Could not connect to Redis at 127.0.0.1:{port}: Connection refused\n"), (code, stdout, stderr));
    }

    [Theory]
    [InlineData("-n", "99", "--bigkeys")]
    [InlineData("-a", "wrong", "--no-auth-warning", "--stat")]
    [InlineData("-n", "99", "--rdb", "/tmp/never.rdb")]
    public void HandshakeFailuresEndTheModeLikeRedisCli(params string[] args) => Same(_f.Cinnabar.Port, args);
}
