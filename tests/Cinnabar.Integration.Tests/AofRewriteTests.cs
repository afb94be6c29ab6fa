using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>A data set with every type and encoding, and a description of it that does not depend on hash order or time.</summary>
internal static class AllTypes
{
    public const string Library = "#!lua name=plib\nredis.register_function('pf', function() return 1 end)";

    public static void Fill(RespConnection c, string p)
    {
        c.Call("SET", p + ":str", "hello");
        c.Call("SET", p + ":int", "12345");
        c.Call("SET", p + ":long", new string('z', 300));
        c.Call("SET", p + ":ttl", "v", "PX", "100000000");
        c.Call("PFADD", p + ":hll", "a", "b", "c");
        var list = new List<object> { "RPUSH", p + ":list" };
        for (int i = 0; i < 150; i++) list.Add("item" + i);
        c.Call(list.ToArray());
        c.Call("SADD", p + ":iset", "1", "2", "3");
        var set = new List<object> { "SADD", p + ":set" };
        for (int i = 0; i < 130; i++) set.Add("m" + i);
        c.Call(set.ToArray());
        c.Call("HSET", p + ":hash", "f1", "v1", "f2", "2");
        var hash = new List<object> { "HSET", p + ":bighash" };
        for (int i = 0; i < 200; i++) { hash.Add("field" + i); hash.Add("value" + i); }
        c.Call(hash.ToArray());
        c.Call("ZADD", p + ":zset", "1", "a", "2.5", "b", "-inf", "c", "0.1", "d");
        var zset = new List<object> { "ZADD", p + ":bigzset" };
        for (int i = 0; i < 200; i++) { zset.Add((i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture)); zset.Add("zm" + i); }
        c.Call(zset.ToArray());
        string st = p + ":stream";
        c.Call("XADD", st, "1-1", "f", "v");
        c.Call("XADD", st, "2-1", "f", "v2");
        c.Call("XADD", st, "3-1", "other", "x", "f", "y");
        c.Call("XADD", st, "4-1", "f", "v4");
        c.Call("XDEL", st, "4-1");
        c.Call("XGROUP", "CREATE", st, "g1", "0");
        c.Call("XGROUP", "CREATE", st, "g2", "$");
        c.Call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "1", "STREAMS", st, ">");
        c.Call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "2", "STREAMS", st, ">");
        c.Call("XGROUP", "CREATECONSUMER", st, "g1", "carol");
        c.Call("XADD", p + ":empty", "5-5", "a", "b");
        c.Call("XDEL", p + ":empty", "5-5");
        c.Call("SELECT", "2");
        c.Call("SET", p + ":indb2", "x");
        c.Call("SELECT", "0");
        Assert.Equal("plib", c.Call("FUNCTION", "LOAD", "REPLACE", Library).ToString());
    }

    private static string Sorted(Reply r) => string.Join(",", r.Items!.Select(i => i.ToString()).Order(StringComparer.Ordinal));

    private static string Pairs(Reply r)
    {
        var items = r.Items!;
        var pairs = new List<string>();
        for (int i = 0; i + 1 < items.Count; i += 2) pairs.Add(items[i] + "=" + items[i + 1]);
        return string.Join(",", pairs.Order(StringComparer.Ordinal));
    }

    /// <summary>Field values of an XINFO-style flat map, picked by name.</summary>
    private static string Fields(Reply map, params string[] names)
    {
        var items = map.Items!;
        var picked = new List<string>();
        foreach (var n in names)
            for (int i = 0; i + 1 < items.Count; i += 2)
                if (items[i].ToString() == n) picked.Add(n + "=" + items[i + 1]);
        return string.Join(",", picked);
    }

    public static string Describe(RespConnection c, string p)
    {
        var lines = new List<string>();
        foreach (var k in new[] { "str", "int", "long", "ttl", "hll" }) lines.Add(k + ":" + c.Call("GET", p + ":" + k));
        lines.Add("ttl-at:" + c.Call("PEXPIRETIME", p + ":ttl"));
        lines.Add("list:" + c.Call("LRANGE", p + ":list", "0", "-1"));
        lines.Add("iset:" + Sorted(c.Call("SMEMBERS", p + ":iset")));
        lines.Add("set:" + Sorted(c.Call("SMEMBERS", p + ":set")));
        lines.Add("hash:" + Pairs(c.Call("HGETALL", p + ":hash")));
        lines.Add("bighash:" + Pairs(c.Call("HGETALL", p + ":bighash")));
        lines.Add("zset:" + c.Call("ZRANGE", p + ":zset", "0", "-1", "WITHSCORES"));
        lines.Add("bigzset:" + c.Call("ZRANGE", p + ":bigzset", "0", "-1", "WITHSCORES"));
        foreach (var k in new[] { "str", "int", "long", "list", "iset", "set", "hash", "bighash", "zset", "bigzset", "stream" })
            lines.Add("enc:" + k + ":" + c.Call("OBJECT", "ENCODING", p + ":" + k));
        string st = p + ":stream";
        lines.Add("stream:" + c.Call("XRANGE", st, "-", "+"));
        lines.Add("xinfo:" + Fields(c.Call("XINFO", "STREAM", st), "length", "last-generated-id", "max-deleted-entry-id", "entries-added", "groups"));
        foreach (var g in c.Call("XINFO", "GROUPS", st).Items!)
            lines.Add("group:" + Fields(g, "name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"));
        foreach (var pe in c.Call("XPENDING", st, "g1", "-", "+", "100").Items!)
            lines.Add("pending:" + pe.Items![0] + "," + pe.Items[1] + "," + pe.Items[3]);
        foreach (var cons in c.Call("XINFO", "CONSUMERS", st, "g1").Items!)
            lines.Add("consumer:" + Fields(cons, "name", "pending"));
        lines.Add("empty:" + Fields(c.Call("XINFO", "STREAM", p + ":empty"), "length", "last-generated-id", "max-deleted-entry-id", "entries-added"));
        c.Call("SELECT", "2");
        lines.Add("db2:" + c.Call("GET", p + ":indb2"));
        c.Call("SELECT", "0");
        lines.Add("dbsize:" + c.Call("DBSIZE"));
        lines.Add("functions:" + c.Call("FUNCTION", "LIST"));
        var text = string.Join("\n", lines);
        // Guard against comparing two equal error texts.
        Assert.DoesNotContain("ERR", text, StringComparison.Ordinal);
        Assert.Contains("pending:2-1,bob,1", text, StringComparison.Ordinal);
        Assert.Contains("consumer:name=carol,pending=0", text, StringComparison.Ordinal);
        Assert.Contains("plib", text, StringComparison.Ordinal);
        return text;
    }
}

/// <summary>aof-use-rdb-preamble no: the AOF base is commands (appendonly.aof.N.base.aof), readable by redis-server 7.0 and back.</summary>
public sealed class AofRewriteTests
{
    private static string Manifest(string dir) => File.ReadAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"));

    private static string CopyAofDir(string from)
    {
        var to = Directory.CreateTempSubdirectory("cinnabar-aofcopy-").FullName;
        Directory.CreateDirectory(Path.Combine(to, "appendonlydir"));
        foreach (var f in Directory.GetFiles(Path.Combine(from, "appendonlydir")))
            File.Copy(f, Path.Combine(to, "appendonlydir", Path.GetFileName(f)));
        return to;
    }

    private static void WaitRewrite(RespConnection c) =>
        Tools.WaitUntil(() => c.Call("INFO", "persistence").ToString().Contains("aof_rewrite_in_progress:0", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "rewrite end");

    [Fact]
    public void Cinnabar_aof_without_preamble_passes_check_aof_and_loads_in_redis_server()
    {
        string expected, dir;
        using (var s = ServerProcess.StartCinnabar("--appendonly", "yes", "--aof-use-rdb-preamble", "no"))
        {
            Assert.Equal("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n", Manifest(s.Dir));
            using var c = s.Connect();
            AllTypes.Fill(c, "nr");
            Assert.Equal("Background append only file rewriting started", c.Call("BGREWRITEAOF").ToString());
            WaitRewrite(c);
            Assert.Equal("file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n", Manifest(s.Dir));
            var baseBytes = File.ReadAllBytes(Path.Combine(s.Dir, "appendonlydir", "appendonly.aof.2.base.aof"));
            Assert.StartsWith("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n", System.Text.Encoding.ASCII.GetString(baseBytes, 0, 40));
            c.Call("SET", "nr:after", "1");
            expected = AllTypes.Describe(c, "nr");
            dir = CopyAofDir(s.Dir);
        }
        try
        {
            var check = Tools.Run("redis-check-aof", [Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest")]);
            Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
            Assert.Contains("Start to check BASE AOF (RESP format).", check.Stdout);
            using (var redis = ServerProcess.Start(true, ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"], dir: dir))
            using (var c = redis.Connect())
            {
                Assert.Equal(expected, AllTypes.Describe(c, "nr"));
                Assert.Equal("1", c.Call("GET", "nr:after").ToString());
            }
            // And back: Cinnabar restarted on the same directory sees the same data.
            using (var again = ServerProcess.Start(false, ["--appendonly", "yes", "--aof-use-rdb-preamble", "no"], dir: dir))
            using (var c = again.Connect())
                Assert.Equal(expected, AllTypes.Describe(c, "nr"));
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Fact]
    public void Redis_aof_without_preamble_loads_in_cinnabar()
    {
        string expected, dir;
        using (var r = ServerProcess.StartRedis("--appendonly", "yes", "--aof-use-rdb-preamble", "no"))
        {
            using var c = r.Connect();
            AllTypes.Fill(c, "rr");
            c.Call("BGREWRITEAOF");
            WaitRewrite(c);
            Assert.Contains("appendonly.aof.2.base.aof", Manifest(r.Dir));
            c.Call("SET", "rr:after", "1");
            expected = AllTypes.Describe(c, "rr");
            dir = CopyAofDir(r.Dir);
        }
        try
        {
            using var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
            using var cc = s.Connect();
            Assert.Equal(expected, AllTypes.Describe(cc, "rr"));
            Assert.Equal("1", cc.Call("GET", "rr:after").ToString());
            Tools.WaitUntil(() => s.Output.Contains("DB loaded from base file appendonly.aof.2.base.aof", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "base load log line");
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Fact]
    public void Config_set_appendonly_yes_without_preamble_writes_a_command_base()
    {
        using var s = ServerProcess.StartCinnabar("--aof-use-rdb-preamble", "no");
        using var c = s.Connect();
        c.Call("SET", "cs:k", "v");
        c.Call("RPUSH", "cs:l", "a", "b");
        Assert.Equal("OK", c.Call("CONFIG", "SET", "appendonly", "yes").ToString());
        WaitRewrite(c);
        Assert.Equal("file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n", Manifest(s.Dir));
        var text = File.ReadAllText(Path.Combine(s.Dir, "appendonlydir", "appendonly.aof.1.base.aof"));
        Assert.StartsWith("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", text);
        Assert.Contains("$5\r\nRPUSH\r\n$4\r\ncs:l\r\n$1\r\na\r\n$1\r\nb\r\n", text);
        c.Call("SET", "cs:after", "1");
        s.Kill();
        using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: s.Dir);
        using var c2 = again.Connect();
        Assert.Equal("v", c2.Call("GET", "cs:k").ToString());
        Assert.Equal("1", c2.Call("GET", "cs:after").ToString());
        Assert.Equal(2, c2.Call("LLEN", "cs:l").Integer);
    }

    [Fact]
    public void Switching_preamble_off_replaces_the_rdb_base_with_a_command_base()
    {
        using var s = ServerProcess.StartCinnabar("--appendonly", "yes");
        using var c = s.Connect();
        Assert.Contains("appendonly.aof.1.base.rdb", Manifest(s.Dir));
        c.Call("SET", "sw:k", "v");
        c.Call("CONFIG", "SET", "aof-use-rdb-preamble", "no");
        c.Call("BGREWRITEAOF");
        WaitRewrite(c);
        Assert.Equal("file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n", Manifest(s.Dir));
        Tools.WaitUntil(() => !File.Exists(Path.Combine(s.Dir, "appendonlydir", "appendonly.aof.1.base.rdb")), TimeSpan.FromSeconds(10), "old base removal");
        s.Kill();
        using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: s.Dir);
        using var c2 = again.Connect();
        Assert.Equal("v", c2.Call("GET", "sw:k").ToString());
    }

    [Fact]
    public void A_base_named_aof_holding_an_rdb_preamble_loads_by_content()
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-aofkind-").FullName;
        try
        {
            using (var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
            {
                using var c = s.Connect();
                c.Call("SET", "kind:k", "v");
                c.Call("BGREWRITEAOF");
                WaitRewrite(c);
                c.Call("SET", "kind:after", "2");
            }
            // Rename the RDB base to .aof, as a user may: Redis checks the "REDIS" magic, not the name.
            var aofDir = Path.Combine(dir, "appendonlydir");
            File.Move(Path.Combine(aofDir, "appendonly.aof.2.base.rdb"), Path.Combine(aofDir, "appendonly.aof.2.base.aof"));
            File.WriteAllText(Path.Combine(aofDir, "appendonly.aof.manifest"), "file appendonly.aof.2.base.aof seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n");
            using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
            using var c2 = again.Connect();
            Assert.Equal("v", c2.Call("GET", "kind:k").ToString());
            Assert.Equal("2", c2.Call("GET", "kind:after").ToString());
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
