using System.Diagnostics;
using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Streams with real connections: XREAD/XREADGROUP BLOCK wake-ups and timeouts, live DUMP/RESTORE
/// against redis-server in both directions (byte-identical payloads), and StackExchange.Redis.
/// </summary>
public sealed class StreamTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public StreamTests(SideBySideFixture f) => _f = f;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static string Raw(byte[] b) => Encoding.ASCII.GetString(b);

    private static int BlockedClients(ServerProcess server)
    {
        using var ctl = server.Connect();
        foreach (var line in ctl.Call("INFO", "clients").ToString().Split("\r\n"))
            if (line.StartsWith("blocked_clients:", StringComparison.Ordinal)) return int.Parse(line.AsSpan(16));
        return 0;
    }

    // Sends a blocking command and returns once the server reports the client as blocked.
    private static void SendBlocking(ServerProcess server, RespConnection c, params object[] command)
    {
        int before = BlockedClients(server);
        c.Send(command);
        Tools.WaitUntil(() => BlockedClients(server) > before, Deadline, "client to block");
    }

    [Fact]
    public void Xread_block_is_woken_by_xadd_from_another_connection()
    {
        var s = _f.Cinnabar;
        using var reader = s.Connect();
        using var writer = s.Connect();
        writer.Call("XADD", "st:wake", "1-0", "old", "x");
        SendBlocking(s, reader, "XREAD", "BLOCK", "0", "STREAMS", "st:wake:other", "st:wake", "$", "$");
        Assert.Equal("2-0", writer.Call("XADD", "st:wake", "2-0", "f", "v").ToString());
        Assert.Equal("*1\r\n*2\r\n$7\r\nst:wake\r\n*1\r\n*2\r\n$3\r\n2-0\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n", Raw(reader.ReadRawReply()));
        Assert.Equal("PONG", reader.Call("PING").ToString());
    }

    [Fact]
    public void Xread_block_dollar_is_the_last_id_when_blocking_not_when_woken()
    {
        var s = _f.Cinnabar;
        using var reader = s.Connect();
        using var writer = s.Connect();
        writer.Call("XADD", "st:dollar", "5-0", "a", "1");
        SendBlocking(s, reader, "XREAD", "COUNT", "10", "BLOCK", "0", "STREAMS", "st:dollar", "$");
        // A change that adds nothing after 5-0 must not release the reader.
        writer.Call("XDEL", "st:dollar", "5-0");
        Tools.WaitUntil(() => BlockedClients(s) >= 1, Deadline, "reader to stay blocked");
        // Two entries in one transaction: both are newer than the "$" taken at block time.
        writer.Call("MULTI");
        writer.Call("XADD", "st:dollar", "6-0", "b", "2");
        writer.Call("XADD", "st:dollar", "7-0", "c", "3");
        writer.Call("EXEC");
        var r = reader.Read();
        Assert.Equal("[[st:dollar,[[6-0,[b,2]],[7-0,[c,3]]]]]", r.ToString());
    }

    [Fact]
    public void Xread_block_times_out_with_a_null_reply_like_redis()
    {
        foreach (var proto in new[] { "2", "3" })
        {
            string? expected = null;
            foreach (var server in new[] { _f.Redis, _f.Cinnabar })
            {
                using var c = server.Connect();
                c.Call("HELLO", proto);
                var sw = Stopwatch.StartNew();
                string raw = Raw(c.CallRaw("XREAD", "BLOCK", "200", "STREAMS", "st:timeout", "$"));
                Assert.True(sw.ElapsedMilliseconds >= 150, $"returned after {sw.ElapsedMilliseconds} ms");
                Assert.True(sw.ElapsedMilliseconds < 5000, $"returned after {sw.ElapsedMilliseconds} ms");
                expected ??= raw;
                Assert.Equal(expected, raw);
            }
            Assert.Equal(proto == "2" ? "*-1\r\n" : "_\r\n", expected);
        }
    }

    [Fact]
    public void Xreadgroup_block_is_woken_by_xadd_and_records_the_pending_entry()
    {
        var s = _f.Cinnabar;
        using var reader = s.Connect();
        using var writer = s.Connect();
        Assert.Equal("OK", writer.Call("XGROUP", "CREATE", "st:grp", "g", "$", "MKSTREAM").ToString());
        SendBlocking(s, reader, "XREADGROUP", "GROUP", "g", "alice", "BLOCK", "0", "STREAMS", "st:grp", ">");
        writer.Call("XADD", "st:grp", "3-0", "f", "v");
        Assert.Equal("[[st:grp,[[3-0,[f,v]]]]]", reader.Read().ToString());
        Assert.Equal("[1,3-0,3-0,[[alice,1]]]", writer.Call("XPENDING", "st:grp", "g").ToString());
        var info = writer.Call("XINFO", "GROUPS", "st:grp").ToString();
        Assert.Contains("last-delivered-id,3-0,entries-read,1,lag,0", info);
    }

    [Fact]
    public void Xreadgroup_block_times_out_like_redis()
    {
        string? expected = null;
        foreach (var server in new[] { _f.Redis, _f.Cinnabar })
        {
            using var c = server.Connect();
            c.Call("DEL", "st:grp:timeout");
            c.Call("XGROUP", "CREATE", "st:grp:timeout", "g", "$", "MKSTREAM");
            var sw = Stopwatch.StartNew();
            string raw = Raw(c.CallRaw("XREADGROUP", "GROUP", "g", "c", "BLOCK", "150", "STREAMS", "st:grp:timeout", ">"));
            Assert.True(sw.ElapsedMilliseconds >= 100, $"returned after {sw.ElapsedMilliseconds} ms");
            expected ??= raw;
            Assert.Equal(expected, raw);
            // Redis 7.0 creates the consumer only when it serves something.
            Assert.Equal("0", c.Call("XINFO", "GROUPS", "st:grp:timeout").Items![0].Items![3].ToString());
        }
        Assert.Equal("*-1\r\n", expected);
    }

    // Blocks a reader on a server, runs the writer's commands, and returns the reader's raw reply.
    private static string BlockedOutcome(ServerProcess server, string key, string[][] setup, string[][] actions, params object[] blocking)
    {
        using var reader = server.Connect();
        using var writer = server.Connect();
        writer.Call("DEL", key);
        foreach (var c in setup) writer.Call(c);
        SendBlocking(server, reader, blocking);
        foreach (var c in actions) writer.Call(c);
        return Raw(reader.ReadRawReply());
    }

    // "set": SET over the stream; "swapdb": the db is swapped with an empty one (and back);
    // "flushdb": the db is emptied (Redis 7.0's scanDatabaseForDeletedStreams).
    public static TheoryData<string> WokenWithoutEntries => new() { "del", "destroy", "wrongtype", "xread-wrongtype", "set", "swapdb", "flushdb" };

    [Theory]
    [MemberData(nameof(WokenWithoutEntries))]
    public void Blocked_reader_whose_key_or_group_goes_away_replies_like_redis(string scenario)
    {
        string key = "st:gone:" + scenario;
        string[][] setup = [["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"]];
        string[][] actions = scenario switch
        {
            "del" => [["DEL", key]],
            "destroy" => [["XGROUP", "DESTROY", key, "g"]],
            "set" => [["SET", key, "x"]],
            "swapdb" => [["SWAPDB", "0", "15"], ["SWAPDB", "0", "15"]],
            "flushdb" => [["FLUSHDB"]],
            _ => [["DEL", key], ["SET", key, "x"]],
        };
        object[] blocking = scenario == "xread-wrongtype"
            ? ["XREAD", "BLOCK", "300", "STREAMS", key, "$"]
            : ["XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", key, ">"];
        string redis = BlockedOutcome(_f.Redis, key, setup, actions, blocking);
        string ours = BlockedOutcome(_f.Cinnabar, key, setup, actions, blocking);
        Assert.Equal(redis, ours);
        Assert.Equal(scenario switch
        {
            "destroy" => "-NOGROUP the consumer group this client was blocked on no longer exists\r\n",
            "xread-wrongtype" => "*-1\r\n",
            _ => "-UNBLOCKED the stream key no longer exists\r\n",
        }, ours);
    }

    // A command that blocks counts one call in commandstats, made when it completes (Redis's
    // updateStatsOnUnblock): here a failed one, as XGROUP DESTROY fails the blocked XREADGROUP.
    [Fact]
    public void Blocked_command_counts_one_call_when_it_completes()
    {
        foreach (var server in new[] { _f.Redis, _f.Cinnabar })
        {
            using var ctl = server.Connect();
            ctl.Call("CONFIG", "RESETSTAT");
            ctl.Call("DEL", "st:stats");
            ctl.Call("XGROUP", "CREATE", "st:stats", "g", "$", "MKSTREAM");
            using (var reader = server.Connect())
            {
                SendBlocking(server, reader, "XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "st:stats", ">");
                ctl.Call("XGROUP", "DESTROY", "st:stats", "g");
                Assert.StartsWith("-NOGROUP", Raw(reader.ReadRawReply()));
            }
            string stats = ctl.Call("INFO", "commandstats").ToString();
            string line = stats.Split("\r\n").Single(l => l.StartsWith("cmdstat_xreadgroup:", StringComparison.Ordinal));
            Assert.StartsWith("cmdstat_xreadgroup:calls=1,", line);
            Assert.EndsWith(",rejected_calls=0,failed_calls=1", line);
        }
    }

    // Builds the same streams on a server: several nodes, mixed field sets, tombstones, groups.
    private static void BuildStreams(RespConnection c, string prefix)
    {
        c.Call("CONFIG", "SET", "stream-node-max-entries", "100");
        c.Call("DEL", prefix + "big", prefix + "grp");
        for (int i = 1; i <= 250; i++)
            c.Call("XADD", prefix + "big", $"{i}-{i % 3}", "field", i, "other", i % 2 == 0 ? "v" + i : "some longer text " + i);
        c.Call("XADD", prefix + "big", "300-0", "different", "fields");
        c.Call("XDEL", prefix + "big", "5-2", "150-0", "250-1");
        c.Call("XTRIM", prefix + "big", "MAXLEN", "=", "240");
        for (int i = 1; i <= 6; i++) c.Call("XADD", prefix + "grp", $"{i}-0", "k", i);
        c.Call("XGROUP", "CREATE", prefix + "grp", "g1", "0");
        c.Call("XGROUP", "CREATE", prefix + "grp", "g2", "$");
        c.Call("XREADGROUP", "GROUP", "g1", "alice", "COUNT", "3", "STREAMS", prefix + "grp", ">");
        c.Call("XREADGROUP", "GROUP", "g1", "bob", "COUNT", "1", "STREAMS", prefix + "grp", ">");
        c.Call("XACK", prefix + "grp", "g1", "2-0");
        c.Call("XGROUP", "CREATECONSUMER", prefix + "grp", "g2", "idle");
    }

    [Theory]
    [InlineData("big")]
    [InlineData("grp")]
    public void Dump_from_redis_restores_into_cinnabar_and_dumps_back_identically(string name)
    {
        using var redis = _f.Redis.Connect();
        using var cin = _f.Cinnabar.Connect();
        BuildStreams(redis, "st:r2c:");
        string key = "st:r2c:" + name;
        var payload = redis.Call("DUMP", key).Bytes!;
        cin.Call("DEL", key);
        Assert.Equal("OK", cin.Call("RESTORE", key, "0", payload).ToString());
        Assert.Equal(Convert.ToHexString(payload), Convert.ToHexString(cin.Call("DUMP", key).Bytes!));
        Assert.Equal(Raw(redis.CallRaw("XRANGE", key, "-", "+")), Raw(cin.CallRaw("XRANGE", key, "-", "+")));
        Assert.Equal(Raw(redis.CallRaw("XINFO", "STREAM", key)), Raw(cin.CallRaw("XINFO", "STREAM", key)));
        Assert.Equal(Raw(redis.CallRaw("XINFO", "GROUPS", key)), Raw(cin.CallRaw("XINFO", "GROUPS", key)));
        // FULL shows absolute delivery and seen times, which RESTORE carries over.
        Assert.Equal(Raw(redis.CallRaw("XINFO", "STREAM", key, "FULL")), Raw(cin.CallRaw("XINFO", "STREAM", key, "FULL")));
    }

    [Theory]
    [InlineData("big")]
    [InlineData("grp")]
    public void Dump_from_cinnabar_restores_into_redis_and_dumps_back_identically(string name)
    {
        using var redis = _f.Redis.Connect();
        using var cin = _f.Cinnabar.Connect();
        BuildStreams(cin, "st:c2r:");
        string key = "st:c2r:" + name;
        var payload = cin.Call("DUMP", key).Bytes!;
        redis.Call("DEL", key);
        Assert.Equal("OK", redis.Call("RESTORE", key, "0", payload).ToString());
        Assert.Equal(Convert.ToHexString(payload), Convert.ToHexString(redis.Call("DUMP", key).Bytes!));
        Assert.Equal(Raw(cin.CallRaw("XRANGE", key, "-", "+")), Raw(redis.CallRaw("XRANGE", key, "-", "+")));
        Assert.Equal(Raw(cin.CallRaw("XINFO", "STREAM", key)), Raw(redis.CallRaw("XINFO", "STREAM", key)));
        Assert.Equal(Raw(cin.CallRaw("XINFO", "GROUPS", key)), Raw(redis.CallRaw("XINFO", "GROUPS", key)));
        // FULL shows absolute delivery and seen times, which RESTORE carries over.
        Assert.Equal(Raw(cin.CallRaw("XINFO", "STREAM", key, "FULL")), Raw(redis.CallRaw("XINFO", "STREAM", key, "FULL")));
    }

    [Fact]
    public void Same_commands_give_byte_identical_dump_payloads_on_both_servers()
    {
        using var redis = _f.Redis.Connect();
        using var cin = _f.Cinnabar.Connect();
        BuildStreams(redis, "st:same:");
        BuildStreams(cin, "st:same:");
        // "big" has no time-dependent parts (groups record delivery and seen times).
        Assert.Equal(Convert.ToHexString(redis.Call("DUMP", "st:same:big").Bytes!), Convert.ToHexString(cin.Call("DUMP", "st:same:big").Bytes!));
    }

    [Fact]
    public async Task StackExchange_redis_stream_add_read_and_read_group()
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Cinnabar.Port}");
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        RedisKey key = "st:se";
        await db.KeyDeleteAsync(key);
        var id1 = await db.StreamAddAsync(key, "temp", "21");
        var id2 = await db.StreamAddAsync(key, [new NameValueEntry("temp", "22"), new NameValueEntry("unit", "C")]);
        Assert.NotEqual(id1, id2);
        Assert.Equal(2, await db.StreamLengthAsync(key));

        var all = await db.StreamReadAsync(key, "0-0");
        Assert.Equal(2, all.Length);
        Assert.Equal(id1, all[0].Id);
        Assert.Equal("21", (string?)all[0]["temp"]);
        Assert.Equal("C", (string?)all[1]["unit"]);

        Assert.True(await db.StreamCreateConsumerGroupAsync(key, "workers", "0-0"));
        var got = await db.StreamReadGroupAsync(key, "workers", "w1", ">", count: 1);
        Assert.Single(got);
        Assert.Equal(id1, got[0].Id);
        var pending = await db.StreamPendingAsync(key, "workers");
        Assert.Equal(1, pending.PendingMessageCount);
        Assert.Equal("w1", (string?)pending.Consumers[0].Name);
        Assert.Equal(1, await db.StreamAcknowledgeAsync(key, "workers", id1));
        var rest = await db.StreamReadGroupAsync(key, "workers", "w2", ">");
        Assert.Equal(id2, Assert.Single(rest).Id);
        var range = await db.StreamRangeAsync(key, "-", "+", messageOrder: Order.Descending);
        Assert.Equal(id2, range[0].Id);
        Assert.Equal(1, await db.StreamDeleteAsync(key, [id1]));
        Assert.Equal(1, await db.StreamLengthAsync(key));
    }
}
