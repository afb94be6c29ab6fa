using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Config;
using Cinnabar.Storage;

namespace Cinnabar.Server.Tests;

/// <summary>In-process server harness: runs commands on a fake client and captures propagation.</summary>
internal sealed class StringsKeysHarness : IPropagationSink
{
    public readonly RedisServer Server = new(new ServerConfig());
    public readonly Client Client;
    public readonly List<string> Propagated = new();

    public StringsKeysHarness(bool propagate = true)
    {
        Client = Server.CreateFakeClient();
        if (propagate) Server.Propagator = this;
    }

    public string Run(params string[] args)
    {
        lock (Server.ExecLock)
        {
            Server.UpdateCachedTime();
            Client.Reply.Clear();
            Server.Execute(Client, CommandArgs.FromStrings(args));
            return Encoding.UTF8.GetString(Client.Reply.Written.Span);
        }
    }

    public void Propagate(int dbIndex, CommandArgs argv)
    {
        var parts = new string[argv.Count];
        for (int i = 0; i < argv.Count; i++) parts[i] = argv.GetString(i);
        Propagated.Add(string.Join(' ', parts));
    }

    public void Propagate(int dbIndex, byte[][] argv) => Propagated.Add(string.Join(' ', argv.Select(a => Encoding.UTF8.GetString(a))));
}

/// <summary>A non-string value, so WRONGTYPE paths can be tested before other families exist.</summary>
internal sealed class StringsKeysFakeList : RedisObject
{
    public override RedisType Type => RedisType.List;
    public override string Encoding => "listpack";
    public override RedisObject Clone() => new StringsKeysFakeList();
    public override long MemoryUsage(int samples) => 16;
}

public sealed class StringsKeysTests
{
    private const string WrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

    private static StringsKeysHarness WithList(string key)
    {
        var h = new StringsKeysHarness();
        h.Server.Keyspace[0].Set(Encoding.UTF8.GetBytes(key), new StringsKeysFakeList());
        return h;
    }

    [Theory]
    [InlineData("GET l")]
    [InlineData("GETSET l v")]
    [InlineData("GETDEL l")]
    [InlineData("GETEX l EX 10")]
    [InlineData("APPEND l v")]
    [InlineData("STRLEN l")]
    [InlineData("INCR l")]
    [InlineData("DECRBY l 3")]
    [InlineData("INCRBYFLOAT l 1.5")]
    [InlineData("GETRANGE l 0 -1")]
    [InlineData("SETRANGE l 0 v")]
    [InlineData("SET l v GET")]
    public void String_commands_on_another_type_reply_wrongtype(string command)
    {
        var h = WithList("l");
        Assert.Equal(WrongType, h.Run(command.Split(' ')));
        Assert.Equal("list", h.Run("TYPE", "l").TrimStart('+').TrimEnd());
    }

    [Fact]
    public void Mget_reads_other_types_as_nil_and_lcs_refuses_them()
    {
        var h = WithList("l");
        h.Run("SET", "s", "v");
        Assert.Equal("*2\r\n$-1\r\n$1\r\nv\r\n", h.Run("MGET", "l", "s"));
        Assert.Equal("-ERR The specified keys must contain string values\r\n", h.Run("LCS", "l", "s"));
        Assert.Equal("-ERR The specified keys must contain string values\r\n", h.Run("LCS", "s", "l", "FOO"));
    }

    [Fact]
    public void Set_and_generic_commands_replace_or_handle_other_types()
    {
        var h = WithList("l");
        Assert.Equal(":1\r\n", h.Run("EXISTS", "l"));
        Assert.Equal("+list\r\n", h.Run("TYPE", "l"));
        Assert.Equal("$8\r\nlistpack\r\n", h.Run("OBJECT", "ENCODING", "l"));
        Assert.Equal(":1\r\n", h.Run("COPY", "l", "l2"));
        Assert.Equal("+list\r\n", h.Run("TYPE", "l2"));
        Assert.Equal("*0\r\n", h.Run("SCAN", "0", "TYPE", "string")[^4..]);
        Assert.Contains("$1\r\nl\r\n", h.Run("SCAN", "0", "TYPE", "list"));
        Assert.Equal("+OK\r\n", h.Run("SET", "l", "now-a-string"));
        Assert.Equal("+string\r\n", h.Run("TYPE", "l"));
        Assert.Equal(":0\r\n", h.Run("SETNX", "l2", "x"));
        Assert.Equal(":1\r\n", h.Run("DEL", "l2"));
    }

    [Fact]
    public void Relative_expire_propagates_as_pexpireat_and_past_expire_as_del()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "k", "v");
        h.Propagated.Clear();
        Assert.Equal(":1\r\n", h.Run("EXPIRE", "k", "100", "NX"));
        long when = h.Server.Keyspace[0].GetExpire("k"u8);
        Assert.Equal($"PEXPIREAT k {when} NX", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        Assert.Equal(":1\r\n", h.Run("PEXPIREAT", "k", "4102444800000"));
        Assert.Equal("PEXPIREAT k 4102444800000", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        Assert.Equal(":1\r\n", h.Run("EXPIRE", "k", "-1"));
        Assert.Equal("DEL k", Assert.Single(h.Propagated));
        Assert.Equal(":0\r\n", h.Run("EXISTS", "k"));
    }

    [Fact]
    public void Setex_getex_and_incrbyfloat_propagate_deterministic_forms()
    {
        var h = new StringsKeysHarness();
        h.Run("SETEX", "a", "100", "v");
        long when = h.Server.Keyspace[0].GetExpire("a"u8);
        Assert.Equal($"SET a v PXAT {when}", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        h.Run("GETEX", "a", "PX", "5000");
        when = h.Server.Keyspace[0].GetExpire("a"u8);
        Assert.Equal($"PEXPIREAT a {when}", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        h.Run("GETEX", "a", "PERSIST");
        Assert.Equal("PERSIST a", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        h.Run("GETEX", "a", "PERSIST");
        Assert.Empty(h.Propagated);
        h.Run("GETEX", "a", "EXAT", "1");
        Assert.Equal("DEL a", Assert.Single(h.Propagated));
        h.Propagated.Clear();
        h.Run("INCRBYFLOAT", "f", "0.1");
        h.Run("INCRBYFLOAT", "f", "0.2");
        Assert.Equal(["SET f 0.1 KEEPTTL", "SET f 0.3 KEEPTTL"], h.Propagated);
    }

    [Fact]
    public void Incr_updates_an_int_encoded_value_in_place_and_keeps_the_ttl()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "n", "41", "EX", "100");
        var before = h.Server.Keyspace[0].Lookup("n"u8);
        Assert.Equal(":42\r\n", h.Run("INCR", "n"));
        Assert.Same(before, h.Server.Keyspace[0].Lookup("n"u8));
        Assert.NotEqual(-1, h.Server.Keyspace[0].GetExpire("n"u8));
        Assert.Equal("$3\r\nint\r\n", h.Run("OBJECT", "ENCODING", "n"));
    }

    [Fact]
    public void Append_and_setrange_respect_proto_max_bulk_len()
    {
        var h = new StringsKeysHarness();
        h.Server.Config.ProtoMaxBulkLen = 10;
        h.Run("SET", "s", "12345");
        Assert.Equal(":10\r\n", h.Run("APPEND", "s", "67890"));
        Assert.Equal("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", h.Run("APPEND", "s", "x"));
        Assert.Equal("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", h.Run("SETRANGE", "s", "10", "x"));
        Assert.Equal("-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n", h.Run("SETRANGE", "new", "10", "x"));
        Assert.Equal(":10\r\n", h.Run("SETRANGE", "new", "9", "x"));
        Assert.Equal("-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len\r\n", h.Run("LCS", "s", "new"));
    }

    [Fact]
    public void Flushdb_and_swapdb_invalidate_only_watches_on_existing_keys()
    {
        var h = new StringsKeysHarness();
        var watcher = h.Server.CreateFakeClient();
        h.Server.Watch(watcher, "missing"u8);
        h.Run("FLUSHDB");
        Assert.Equal(0, (int)(watcher.Flags & ClientFlags.DirtyCas));
        h.Run("SET", "present", "v");
        h.Server.Watch(watcher, "present"u8);
        h.Run("FLUSHALL");
        Assert.NotEqual(0, (int)(watcher.Flags & ClientFlags.DirtyCas));

        var w2 = h.Server.CreateFakeClient();
        h.Server.Watch(w2, "k"u8);
        h.Run("SELECT", "1");
        h.Run("SET", "k", "in1");
        h.Run("SWAPDB", "0", "1");
        Assert.NotEqual(0, (int)(w2.Flags & ClientFlags.DirtyCas));
    }

    [Fact]
    public void Flush_commands_count_dirty_changes()
    {
        var h = new StringsKeysHarness();
        h.Run("MSET", "a", "1", "b", "2", "c", "3");
        long before = h.Server.Dirty;
        h.Run("FLUSHDB");
        Assert.Equal(before + 3, h.Server.Dirty);
        h.Run("SET", "a", "1");
        before = h.Server.Dirty;
        h.Run("FLUSHALL");
        Assert.Equal(before + 2, h.Server.Dirty);
    }

    [Fact]
    public void Object_freq_and_idletime_depend_on_the_policy()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "k", "v");
        Assert.StartsWith("-ERR An LFU maxmemory policy is not selected", h.Run("OBJECT", "FREQ", "k"));
        Assert.StartsWith(":", h.Run("OBJECT", "IDLETIME", "k"));
        Assert.Null(h.Server.Config.Set("maxmemory-policy", "allkeys-lfu"));
        h.Run("SET", "fresh", "v");
        Assert.StartsWith("-ERR An LFU maxmemory policy is selected, idle time not tracked", h.Run("OBJECT", "IDLETIME", "fresh"));
        // A new key starts at LFU_INIT_VAL; OBJECT itself does not count as an access.
        Assert.Equal(":5\r\n", h.Run("OBJECT", "FREQ", "fresh"));
    }

    [Fact]
    public void Keys_skips_logically_expired_keys_without_deleting_them()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "live", "v");
        h.Run("SET", "dead", "v");
        var db = h.Server.Keyspace[0];
        db.SetExpire("dead"u8, 1);
        Assert.Equal("*1\r\n$4\r\nlive\r\n", h.Run("KEYS", "*"));
        Assert.Equal(2, db.Count);
        Assert.Equal(":2\r\n", h.Run("DBSIZE"));
    }

    [Theory]
    [InlineData("0", "0.1", "0.1")]
    [InlineData("0.1", "0.2", "0.3")]
    [InlineData("10.5", "0.1", "10.6")]
    [InlineData("10.5", "5.0e3", "5010.5")]
    [InlineData("0", "3.0e-5", "0.00003")]
    [InlineData("10000000000.1", "1.1", "10000000001.19999999925494194")]
    [InlineData("1e18", "1.1", "1000000000000000001.125")]
    [InlineData("5", "-5", "0")]
    [InlineData("-0.0", "0", "0")]
    [InlineData("0x10", "0x1.8p1", "19")]
    public void Extended_float_addition_prints_like_redis_long_double(string a, string b, string expected)
    {
        Assert.True(ExtendedFloat.TryParse(Encoding.ASCII.GetBytes(a), out var x));
        Assert.True(ExtendedFloat.TryParse(Encoding.ASCII.GetBytes(b), out var y));
        Assert.Equal(expected, ExtendedFloat.Add(x, y).FormatHuman());
    }

    [Theory]
    [InlineData("")]
    [InlineData(" 1")]
    [InlineData("1 ")]
    [InlineData("nan")]
    [InlineData("1e")]
    [InlineData("1e5000")]
    [InlineData("1e-5000")]
    [InlineData("abc")]
    [InlineData(".")]
    public void Extended_float_parse_rejects_what_strtold_rejects(string s)
    {
        Assert.False(ExtendedFloat.TryParse(Encoding.ASCII.GetBytes(s), out _));
    }

    [Fact]
    public void Keyspace_events_match_redis_for_string_and_key_commands()
    {
        var h = new StringsKeysHarness();
        Assert.Null(h.Server.Config.Set("notify-keyspace-events", "KEA"));
        var sub = h.Server.CreateFakeClient();
        h.Server.PubSub.PSubscribe(sub, "__keyevent@*");
        sub.Reply.Clear();
        string[] commands =
        [
            "SET a 1", "INCR a", "INCRBYFLOAT a 1.5", "APPEND a x", "SETRANGE a 0 y", "EXPIRE a 100", "PERSIST a",
            "RENAME a b", "COPY b c", "MOVE c 1", "EXPIRE b -1", "SETEX d 100 v", "GETEX d PERSIST", "GETDEL d",
            "MSET e 1 f 2", "DEL e f", "SET g v", "GETEX g EXAT 1", "SETNX h 1", "GETSET h 2", "DECRBY h 1",
            "SET i v EX 100", "RENAMENX i j", "PSETEX k 1000 v", "GETEX k EX 10",
        ];
        foreach (var c in commands) h.Run(c.Split(' '));
        // Captured from redis-server 7.0.15 with the same commands (redis-cli psubscribe '__keyevent@*').
        string expected = "0:set a|0:incrby a|0:incrbyfloat a|0:append a|0:setrange a|0:expire a|0:persist a|0:rename_from a|" +
            "0:rename_to b|0:copy_to c|0:move_from c|1:move_to c|0:del b|0:set d|0:expire d|0:persist d|0:del d|0:set e|" +
            "0:set f|0:del e|0:del f|0:set g|0:del g|0:set h|0:set h|0:incrby h|0:set i|0:expire i|0:rename_from i|" +
            "0:rename_to j|0:set k|0:expire k|0:expire k";
        var tokens = Encoding.UTF8.GetString(sub.Reply.Written.Span).Split("\r\n");
        var events = new List<string>();
        for (int i = 0; i < tokens.Length; i++)
        {
            if (tokens[i] != "pmessage") continue;
            string channel = tokens[i + 4], key = tokens[i + 6];
            string db = channel["__keyevent@".Length..channel.IndexOf("__:", StringComparison.Ordinal)];
            events.Add(db + ":" + channel[(channel.IndexOf("__:", StringComparison.Ordinal) + 3)..] + " " + key);
        }
        Assert.Equal(expected, string.Join('|', events));
    }

    [Fact]
    public void Exists_type_ttl_and_object_do_not_refresh_idle_time_but_get_and_touch_do()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "idle", "v");
        var o = h.Server.Keyspace[0].Dict.GetValueRef("idle"u8);
        o.Lru = h.Server.Keyspace.LruClock - 100;
        foreach (var c in new[] { "EXISTS idle", "TYPE idle", "TTL idle", "PTTL idle", "EXPIRETIME idle", "OBJECT ENCODING idle" })
            h.Run(c.Split(' '));
        Assert.InRange(Idle(h), 100, 101);
        h.Run("TOUCH", "idle");
        Assert.InRange(Idle(h), 0, 1);
        o.Lru = h.Server.Keyspace.LruClock - 50;
        h.Run("GET", "idle");
        Assert.InRange(Idle(h), 0, 1);
    }

    private static long Idle(StringsKeysHarness h) =>
        long.Parse(h.Run("OBJECT", "IDLETIME", "idle").Trim(':', '\r', '\n'), System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Swapdb_serves_clients_blocked_on_keys_that_appear_by_the_swap()
    {
        var h = new StringsKeysHarness();
        var blocked = h.Server.CreateFakeClient();
        lock (h.Server.ExecLock)
        {
            // Park a client as a blocking command would, waiting on "bk" in db 0; GET stands in
            // for the command re-executed once the key is ready.
            blocked.Context.Args = CommandArgs.FromStrings("GET", "bk");
            h.Server.Block(blocked.Context, ["bk"u8.ToArray()], 0, w => w.WriteNull());
        }
        h.Run("SELECT", "1");
        h.Run("SET", "bk", "swapped-in");
        lock (h.Server.ExecLock) h.Server.AfterBatch();
        Assert.True(h.Server.IsBlocked(blocked));
        h.Run("SWAPDB", "0", "1");
        lock (h.Server.ExecLock) h.Server.AfterBatch();
        Assert.False(h.Server.IsBlocked(blocked));
        Assert.Equal("$10\r\nswapped-in\r\n", Encoding.UTF8.GetString(blocked.Reply.Written.Span));
    }
}
