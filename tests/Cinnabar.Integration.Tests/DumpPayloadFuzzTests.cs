using System.Buffers.Binary;
using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Seeded mutation fuzzing of DUMP payloads against a real server process (issue 8: no client
/// input crashes or wedges the server). Payloads of every type and encoding are taken from our
/// server and, when installed, from redis-server 7.0; each case flips, overwrites, inserts,
/// deletes or duplicates bytes of the body, fixes the CRC so the mutation reaches the decoder,
/// RESTOREs it (sanitize-dump-payload no or yes), then, if accepted, reads and writes the key
/// with type-specific commands, DUMPs it back and checks PING still answers. Every case has its
/// own seed (base seed + index), printed on failure together with the payload, and
/// <c>CINNABAR_FUZZ_SEED=n</c> replays a single case; <c>CINNABAR_FUZZ_CASES=n</c> runs longer.
/// </summary>
public sealed class DumpPayloadFuzzTests : IClassFixture<CinnabarFixture>
{
    private const int CasesPerRun = 2000;
    private readonly CinnabarFixture _f;

    public DumpPayloadFuzzTests(CinnabarFixture f) => _f = f;

    [Theory]
    [InlineData(1_000_000)]
    [InlineData(2_000_000)]
    public void Mutated_dump_payloads_never_take_the_server_down(int baseSeed)
    {
        var corpus = Corpus();
        string? replay = Environment.GetEnvironmentVariable("CINNABAR_FUZZ_SEED");
        using var c = _f.Server.Connect();
        c.ReadTimeoutMs = 10_000;
        if (replay != null)
        {
            _ = RunCase(c, corpus, int.Parse(replay, System.Globalization.CultureInfo.InvariantCulture));
            return;
        }
        // CINNABAR_FUZZ_CASES=n runs a longer campaign locally (CI keeps the default).
        string? more = Environment.GetEnvironmentVariable("CINNABAR_FUZZ_CASES");
        int cases = more != null ? int.Parse(more, System.Globalization.CultureInfo.InvariantCulture) : CasesPerRun;
        int accepted = 0;
        for (int i = 0; i < cases; i++) accepted += RunCase(c, corpus, baseSeed + i) ? 1 : 0;
        // Mutations must also reach the commands that read accepted values, not only the decoder.
        Assert.True(accepted >= cases / 50, $"only {accepted} of {cases} mutated payloads were accepted");
        // The accepted values also survive a save and load of the whole dataset.
        Assert.Equal("OK", c.Call("DEBUG", "RELOAD").ToString());
        Assert.Equal("PONG", c.Call("PING").ToString());
    }

    /// <summary>One case; true when the mutated payload was accepted (and then exercised).</summary>
    private bool RunCase(RespConnection c, List<(string Name, byte[] Payload)> corpus, int seed)
    {
        var rng = new Random(seed);
        var (name, original) = corpus[rng.Next(corpus.Count)];
        var payload = Mutate(original, rng);
        string key = "fuzz:" + seed % 64;
        try
        {
            c.Call("CONFIG", "SET", "sanitize-dump-payload", rng.Next(2) == 0 ? "no" : "yes");
            var restored = c.Call("RESTORE", key, "0", payload, "REPLACE");
            bool accepted = !restored.IsError;
            if (!accepted)
            {
                Assert.True(restored.ToString() is "ERR Bad data format" or "ERR DUMP payload version or checksum are wrong", restored.ToString());
            }
            else
            {
                Assert.Equal("OK", restored.ToString());
                Exercise(c, key, rng);
            }
            Assert.Equal("PONG", c.Call("PING").ToString());
            return accepted;
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"fuzz case seed {seed} ({name}) failed; replay with CINNABAR_FUZZ_SEED={seed}; payload {Convert.ToHexString(payload)}\nserver output:\n{_f.Server.Output}", e);
        }
    }

    /// <summary>Reads and writes the restored key as clients would; every reply just has to arrive.</summary>
    private static void Exercise(RespConnection c, string key, Random rng)
    {
        string type = c.Call("TYPE", key).ToString();
        var calls = new List<object[]>
        {
            new object[] { "OBJECT", "ENCODING", key },
            new object[] { "MEMORY", "USAGE", key },
            new object[] { "DEBUG", "DIGEST-VALUE", key },
        };
        string r = rng.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture);
        switch (type)
        {
            case "string":
                calls.Add(["GET", key]);
                calls.Add(["STRLEN", key]);
                calls.Add(["GETRANGE", key, "0", "100"]);
                calls.Add(["APPEND", key, "x" + r]);
                calls.Add(["SETRANGE", key, "3", "yz"]);
                calls.Add(["INCR", key]);
                break;
            case "list":
                calls.Add(["LRANGE", key, "0", "-1"]);
                calls.Add(["LINDEX", key, "-1"]);
                calls.Add(["LPOS", key, r]);
                calls.Add(["RPUSH", key, r, "elem" + r]);
                calls.Add(["LINSERT", key, "BEFORE", r, "ins"]);
                calls.Add(["LSET", key, "0", "set"]);
                calls.Add(["LREM", key, "1", r]);
                calls.Add(["LTRIM", key, "1", "-2"]);
                calls.Add(["LPOP", key]);
                break;
            case "set":
                calls.Add(["SMEMBERS", key]);
                calls.Add(["SISMEMBER", key, r]);
                calls.Add(["SRANDMEMBER", key, "-5"]);
                calls.Add(["SADD", key, r, "m" + r]);
                calls.Add(["SREM", key, r]);
                calls.Add(["SINTERCARD", "1", key]);
                calls.Add(["SPOP", key]);
                break;
            case "hash":
                calls.Add(["HGETALL", key]);
                calls.Add(["HRANDFIELD", key, "-3", "WITHVALUES"]);
                calls.Add(["HSET", key, r, "v" + r]);
                calls.Add(["HINCRBY", key, "n" + r, "2"]);
                calls.Add(["HDEL", key, r]);
                calls.Add(["HSCAN", key, "0"]);
                calls.Add(["HLEN", key]);
                break;
            case "zset":
                calls.Add(["ZRANGE", key, "0", "-1", "WITHSCORES"]);
                calls.Add(["ZRANGEBYSCORE", key, "-inf", "+inf"]);
                calls.Add(["ZRANGEBYLEX", key, "-", "+"]);
                calls.Add(["ZRANDMEMBER", key, "-3", "WITHSCORES"]);
                calls.Add(["ZADD", key, r, "m" + r]);
                calls.Add(["ZINCRBY", key, "1.5", "m" + r]);
                calls.Add(["ZRANK", key, "m" + r]);
                calls.Add(["ZREM", key, "m" + r]);
                calls.Add(["ZPOPMIN", key]);
                break;
            case "stream":
                calls.Add(["XRANGE", key, "-", "+"]);
                calls.Add(["XREVRANGE", key, "+", "-", "COUNT", "3"]);
                calls.Add(["XINFO", "STREAM", key, "FULL"]);
                calls.Add(["XINFO", "GROUPS", key]);
                calls.Add(["XADD", key, "*", "f", r]);
                calls.Add(["XREAD", "COUNT", "2", "STREAMS", key, "0"]);
                calls.Add(["XGROUP", "CREATE", key, "g" + r, "0"]);
                calls.Add(["XREADGROUP", "GROUP", "g" + r, "c1", "COUNT", "3", "STREAMS", key, ">"]);
                calls.Add(["XPENDING", key, "g" + r, "-", "+", "10"]);
                calls.Add(["XAUTOCLAIM", key, "g" + r, "c2", "0", "0"]);
                calls.Add(["XTRIM", key, "MAXLEN", "5"]);
                calls.Add(["XDEL", key, "0-1"]);
                calls.Add(["XLEN", key]);
                break;
        }
        calls.Add(["DUMP", key]);
        foreach (var call in calls)
        {
            var reply = c.Call(call);
            Assert.NotNull(reply);
        }
        // Whatever survives, DUMP of it restores again (nothing half-broken was kept).
        var dump = c.Call("DUMP", key);
        if (!dump.IsNull) Assert.Equal("OK", c.Call("RESTORE", key, "0", dump.Bytes!, "REPLACE").ToString());
    }

    private static byte[] Mutate(byte[] original, Random rng)
    {
        // Body = type byte + value; the trailer (version + CRC) is rebuilt after mutating.
        var body = new List<byte>(original.AsSpan(0, original.Length - 10).ToArray());
        int mutations = 1 + rng.Next(4);
        for (int m = 0; m < mutations && body.Count > 0; m++)
        {
            int at = rng.Next(body.Count);
            switch (rng.Next(7))
            {
                case 0: body[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: body[at] = (byte)rng.Next(256); break;
                case 2: body[at] = rng.Next(2) == 0 ? (byte)0xFF : (byte)0x00; break;
                case 3:
                    for (int k = rng.Next(1, 5); k > 0; k--) body.Insert(at, (byte)rng.Next(256));
                    break;
                case 4: body.RemoveRange(at, Math.Min(body.Count - at, rng.Next(1, 9))); break;
                case 5:
                {
                    int len = Math.Min(body.Count - at, rng.Next(1, 17));
                    body.InsertRange(rng.Next(body.Count), body.GetRange(at, len));
                    break;
                }
                default:
                    // A length-like field blown up: 32/64-bit length markers or huge listpack sizes.
                    body[at] = rng.Next(3) switch { 0 => 0x80, 1 => 0x81, _ => 0xF0 };
                    break;
            }
        }
        if (body.Count > 0 && rng.Next(20) == 0) body[0] = (byte)rng.Next(22); // another type byte
        return WithTrailer(body.ToArray(), original[^10], original[^9]);
    }

    private static byte[] WithTrailer(byte[] body, byte versionLow, byte versionHigh)
    {
        var p = new byte[body.Length + 10];
        body.CopyTo(p, 0);
        p[body.Length] = versionLow;
        p[body.Length + 1] = versionHigh;
        BinaryPrimitives.WriteUInt64LittleEndian(p.AsSpan(body.Length + 2), Crc64Jones(p.AsSpan(0, body.Length + 2)));
        return p;
    }

    /// <summary>Redis's CRC-64 (Jones polynomial, reflected, init 0), bit by bit: test code, no tables.</summary>
    internal static ulong Crc64Jones(ReadOnlySpan<byte> data)
    {
        const ulong poly = 0x95ac9329ac4bc9b5;
        ulong crc = 0;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ poly : crc >> 1;
        }
        return crc;
    }

    /// <summary>DUMP payloads of every type and encoding, built on a server by commands.</summary>
    private static List<(string, byte[])> Payloads(RespConnection c, string prefix)
    {
        var result = new List<(string, byte[])>();
        void Build(string name, params object[][] commands)
        {
            string key = prefix + name;
            c.Call("DEL", key);
            foreach (var cmd in commands)
            {
                // Commands name the key right after the command unless they place it with "$K".
                if (Array.IndexOf(cmd, "$K") >= 0)
                {
                    var placed = cmd.Select(a => a is "$K" ? key : a).ToArray();
                    var r = c.Call(placed);
                    Assert.False(r.IsError, $"{name}: {r}");
                    continue;
                }
                var args = new object[cmd.Length + 1];
                args[0] = cmd[0];
                args[1] = key;
                Array.Copy(cmd, 1, args, 2, cmd.Length - 1);
                var reply = c.Call(args);
                Assert.False(reply.IsError, $"{name}: {reply}");
            }
            result.Add((prefix + name, c.Call("DUMP", key).Bytes!));
        }
        static object[] Many(string cmd, int n, Func<int, object[]> item)
        {
            var list = new List<object> { cmd };
            for (int i = 0; i < n; i++) list.AddRange(item(i));
            return list.ToArray();
        }
        Build("str", ["SET", "hello world"]);
        Build("int", ["SET", "-12345678"]);
        Build("lzf", ["SET", new string('a', 200) + "bcd" + new string('a', 100)]);
        Build("list-lp", Many("RPUSH", 10, i => [i % 3 == 0 ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : "e" + i]));
        Build("list-big", Many("RPUSH", 600, i => ["element-" + i + new string('x', i % 40)]));
        Build("set-intset", Many("SADD", 20, i => [(i * 7919 - 50000).ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        Build("set-ht", Many("SADD", 30, i => ["m" + i]));
        Build("hash-lp", Many("HSET", 8, i => ["f" + i, i % 2 == 0 ? "v" + i : (i * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)]));
        Build("hash-ht", Many("HSET", 200, i => ["field" + i, "value" + i]));
        Build("zset-lp", Many("ZADD", 10, i => [(i * 1.5).ToString(System.Globalization.CultureInfo.InvariantCulture), "m" + i]));
        Build("zset-sl", Many("ZADD", 200, i => [(i * 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture), "member" + i]));
        var stream = new List<object[]>();
        for (int i = 1; i <= 12; i++) stream.Add(["XADD", i + "-1", "name", "n" + i, i % 3 == 0 ? "other" : "v", "x" + i]);
        stream.Add(["XDEL", "4-1"]);
        stream.Add(["XGROUP", "CREATE", "$K", "grp", "0"]);
        stream.Add(["XREADGROUP", "GROUP", "grp", "alice", "COUNT", "3", "STREAMS", "$K", ">"]);
        stream.Add(["XREADGROUP", "GROUP", "grp", "bob", "COUNT", "2", "STREAMS", "$K", ">"]);
        stream.Add(["XGROUP", "CREATE", "$K", "grp2", "$"]);
        Build("stream", stream.ToArray());
        return result;
    }

    private List<(string Name, byte[] Payload)> Corpus()
    {
        using var c = _f.Server.Connect();
        var corpus = Payloads(c, "fuzzsrc:");
        if (ServerProcess.RedisAvailable)
        {
            using var redis = ServerProcess.StartRedis();
            using var rc = redis.Connect();
            corpus.AddRange(Payloads(rc, "golden:"));
        }
        foreach (var (name, payload) in corpus)
            Assert.Equal("OK", c.Call("RESTORE", "fuzz:check", "0", payload, "REPLACE").ToString());
        return corpus;
    }
}
