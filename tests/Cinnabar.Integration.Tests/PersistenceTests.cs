using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>RDB and AOF files move between Cinnabar and redis-server 7.0, and survive kill -9.</summary>
public sealed class PersistenceTests
{
    private static void Fill(RespConnection c, string prefix)
    {
        c.Call("SET", prefix + ":str", "hello");
        c.Call("SET", prefix + ":int", "12345");
        c.Call("SET", prefix + ":long", new string('z', 300));
        c.Call("HSET", prefix + ":hash", "f1", "v1", "f2", "2");
        c.Call("SADD", prefix + ":iset", "1", "2", "3");
        c.Call("SADD", prefix + ":set", "a", "b", "c");
        var big = new List<object> { "HSET", prefix + ":bighash" };
        for (int i = 0; i < 300; i++) { big.Add("field" + i); big.Add("value" + i); }
        c.Call(big.ToArray());
        c.Call("SET", prefix + ":ttl", "v", "EX", "1000");
    }

    private static void AssertFilled(RespConnection c, string prefix)
    {
        Assert.Equal("hello", c.Call("GET", prefix + ":str").ToString());
        Assert.Equal("12345", c.Call("GET", prefix + ":int").ToString());
        Assert.Equal(new string('z', 300), c.Call("GET", prefix + ":long").ToString());
        Assert.Equal("v1", c.Call("HGET", prefix + ":hash", "f1").ToString());
        Assert.Equal(3, c.Call("SCARD", prefix + ":iset").Integer);
        Assert.Equal(1, c.Call("SISMEMBER", prefix + ":set", "b").Integer);
        Assert.Equal(300, c.Call("HLEN", prefix + ":bighash").Integer);
        Assert.Equal("value299", c.Call("HGET", prefix + ":bighash", "field299").ToString());
        long ttl = c.Call("TTL", prefix + ":ttl").Integer;
        Assert.InRange(ttl, 900, 1000);
    }

    private static string CopyDir(string from)
    {
        var to = Directory.CreateTempSubdirectory("cinnabar-copy-").FullName;
        foreach (var f in Directory.GetFiles(from, "*.rdb")) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        return to;
    }

    [Fact]
    public void Cinnabar_dump_restarts_and_loads_in_redis_server()
    {
        string dir;
        using (var s = ServerProcess.StartCinnabar())
        {
            using var c = s.Connect();
            Fill(c, "p1");
            Assert.Equal("OK", c.Call("SAVE").ToString());
            dir = CopyDir(s.Dir);
        }
        using (var again = ServerProcess.Start(false, [], dir: dir))
        using (var c = again.Connect())
            AssertFilled(c, "p1");
        var check = Tools.Run("redis-check-rdb", [Path.Combine(dir, "dump.rdb")]);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        using (var redis = ServerProcess.Start(true, [], dir: dir))
        using (var c = redis.Connect())
            AssertFilled(c, "p1");
    }

    [Fact]
    public void Redis_server_dump_loads_in_cinnabar()
    {
        string dir;
        using (var r = ServerProcess.StartRedis())
        {
            using var c = r.Connect();
            Fill(c, "p2");
            Assert.Equal("OK", c.Call("SAVE").ToString());
            dir = CopyDir(r.Dir);
        }
        using var s = ServerProcess.Start(false, [], dir: dir);
        using var cc = s.Connect();
        AssertFilled(cc, "p2");
        Tools.WaitUntil(() => s.Output.Contains("Done loading RDB", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "load log line");
    }

    [Fact]
    public void Dump_payloads_restore_across_servers()
    {
        using var r = ServerProcess.StartRedis();
        using var s = ServerProcess.StartCinnabar();
        using var rc = r.Connect();
        using var sc = s.Connect();
        Fill(rc, "p3");
        foreach (var key in new[] { "p3:str", "p3:long", "p3:hash", "p3:iset", "p3:set", "p3:bighash" })
        {
            var payload = rc.Call("DUMP", key).Bytes!;
            Assert.Equal("OK", sc.Call("RESTORE", key, "0", payload).ToString());
            var back = sc.Call("DUMP", key).Bytes!;
            Assert.Equal("OK", rc.Call("RESTORE", key + ":back", "0", back).ToString());
        }
        Assert.Equal("hello", sc.Call("GET", "p3:str").ToString());
        Assert.Equal(300, rc.Call("HLEN", "p3:bighash:back").Integer);
        Assert.Equal("ERR DUMP payload version or checksum are wrong", sc.Call("RESTORE", "bad", "0", "garbage-payload").ToString());
        Assert.Equal("BUSYKEY Target key name already exists.", sc.Call("RESTORE", "p3:str", "0", rc.Call("DUMP", "p3:str").Bytes!).ToString());
    }

    [Fact]
    public void Dump_payloads_are_byte_identical_to_redis_without_compression()
    {
        // Same listpack bytes and the same quicklist node splits as RPUSH makes in Redis 7.0.
        using var r = ServerProcess.StartRedis("--rdbcompression", "no");
        using var s = ServerProcess.StartCinnabar("--rdbcompression", "no");
        using var rc = r.Connect();
        using var sc = s.Connect();
        var ints = new List<object> { "RPUSH", "bi:ints" };
        for (int i = 1; i <= 2000; i++) ints.Add(i.ToString());
        var strs = new List<object> { "RPUSH", "bi:strs" };
        for (int i = 1; i <= 400; i++) strs.Add($"element-{i}-padding-padding-padding");
        foreach (var c in new[] { rc, sc })
        {
            c.Call(ints.ToArray());
            c.Call(strs.ToArray());
            c.Call("RPUSH", "bi:mixed", "a", "12", "-5", "70000", "-9000000", "12345678901", new string('b', 70), new string('c', 5000), new string('d', 5000));
            c.Call("HSET", "bi:hash", "f", new string('e', 63), "g", "4096");
            c.Call("ZADD", "bi:zset", "1.5", "a", "3", "b", "-2", "c", "100000", "d");
        }
        foreach (var key in new[] { "bi:ints", "bi:strs", "bi:mixed", "bi:hash", "bi:zset" })
            Assert.Equal(Convert.ToHexString(rc.Call("DUMP", key).Bytes!), Convert.ToHexString(sc.Call("DUMP", key).Bytes!));
    }

    [Fact]
    public void Aof_with_appendfsync_always_loses_no_acknowledged_write_on_kill_9()
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-aof-").FullName;
        long lastAcked;
        using (var s = ServerProcess.Start(false, ["--appendonly", "yes", "--appendfsync", "always"], dir: dir))
        {
            using var c = s.Connect();
            c.Call("HSET", "aof:h", "f", "v");
            lastAcked = 0;
            for (int i = 0; i < 300; i++) lastAcked = c.Call("INCR", "aof:counter").Integer;
            s.Kill();
        }
        Assert.True(File.Exists(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest")));
        using (var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
        {
            using var c = again.Connect();
            Assert.Equal(lastAcked, long.Parse(c.Call("GET", "aof:counter").ToString()));
            Assert.Equal("v", c.Call("HGET", "aof:h", "f").ToString());
        }
        var check = Tools.Run("redis-check-aof", [Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest")]);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        // redis-server 7.0 loads our AOF directory as is.
        using (var redis = ServerProcess.Start(true, ["--appendonly", "yes"], dir: dir))
        using (var c = redis.Connect())
            Assert.Equal(lastAcked, long.Parse(c.Call("GET", "aof:counter").ToString()));
    }

    [Fact]
    public void Bgrewriteaof_replaces_base_and_incr_files()
    {
        using var s = ServerProcess.StartCinnabar("--appendonly", "yes");
        using var c = s.Connect();
        for (int i = 0; i < 100; i++) c.Call("SET", "rw:" + i, i);
        c.Call("SADD", "rw:set", "x", "y");
        Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF").ToString());
        var manifest = Path.Combine(s.Dir, "appendonlydir", "appendonly.aof.manifest");
        Tools.WaitUntil(() => File.ReadAllText(manifest).Contains("appendonly.aof.2.base.rdb"), TimeSpan.FromSeconds(30), "rewrite");
        string text = File.ReadAllText(manifest);
        Assert.Equal("file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n", text);
        // History files are removed after the manifest swap (in the background in Redis).
        Tools.WaitUntil(() => !File.Exists(Path.Combine(s.Dir, "appendonlydir", "appendonly.aof.1.base.rdb")), TimeSpan.FromSeconds(10), "old base removal");
        c.Call("SET", "rw:after", "1");
        s.Kill();
        using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: s.Dir);
        using var c2 = again.Connect();
        Assert.Equal("99", c2.Call("GET", "rw:99").ToString());
        Assert.Equal("1", c2.Call("GET", "rw:after").ToString());
        Assert.Equal(2, c2.Call("SCARD", "rw:set").Integer);
    }

    [Fact]
    public void Truncated_aof_tail_is_recovered()
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-trunc-").FullName;
        using (var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
        {
            using var c = s.Connect();
            c.Call("SET", "t:a", "1");
            c.Call("SET", "t:b", "2");
            s.Kill();
        }
        var incr = Path.Combine(dir, "appendonlydir", "appendonly.aof.1.incr.aof");
        File.AppendAllText(incr, "*3\r\n$3\r\nSET\r\n$3\r\nt:c\r\n$1");
        using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
        using var c2 = again.Connect();
        Assert.Equal("2", c2.Call("GET", "t:b").ToString());
        Assert.True(c2.Call("GET", "t:c").IsNull);
        Tools.WaitUntil(() => again.Output.Contains("loaded anyway because aof-load-truncated is enabled", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "truncation log line");
    }
}

public sealed class DebugReloadTests
{
    [Fact]
    public void Debug_reload_round_trips_every_type_through_the_rdb()
    {
        using var s = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using var c = s.Connect();
        c.Call("SET", "dr:s", "v");
        c.Call("RPUSH", "dr:l", "a", "b", "c");
        c.Call("ZADD", "dr:z", "1.5", "m", "2", "n");
        c.Call("HSET", "dr:h", "f", "v");
        c.Call("SADD", "dr:set", "x");
        c.Call("XADD", "dr:x", "1-1", "f", "v");
        c.Call("PFADD", "dr:hll", "a", "b");
        var before = new[] { "dr:s", "dr:l", "dr:z", "dr:h", "dr:set", "dr:x", "dr:hll" }.Select(k => Convert.ToHexString(c.Call("DUMP", k).Bytes!)).ToArray();
        Assert.Equal("OK", c.Call("DEBUG", "RELOAD").ToString());
        var after = new[] { "dr:s", "dr:l", "dr:z", "dr:h", "dr:set", "dr:x", "dr:hll" }.Select(k => Convert.ToHexString(c.Call("DUMP", k).Bytes!)).ToArray();
        Assert.Equal(before, after);
        Assert.Equal("1.5", c.Call("ZSCORE", "dr:z", "m").ToString());
        Assert.Equal(3, c.Call("LLEN", "dr:l").Integer);
    }
}
