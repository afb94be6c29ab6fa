using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Protocol;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class ServerIntroTests
{
    private static (RedisServer Server, Client Client) NewServer()
    {
        var config = new ServerConfig();
        config.Set("enable-debug-command", "yes", startup: true);
        var s = new RedisServer(config);
        return (s, s.CreateFakeClient());
    }

    private static string Run(RedisServer s, Client c, params string[] args)
    {
        int before = c.Reply.Length;
        lock (s.ExecLock) s.Execute(c, CommandArgs.FromStrings(args));
        return Encoding.UTF8.GetString(c.Reply.Written.Span[before..]);
    }

    [Fact]
    public void Protected_mode_refuses_all_but_127_0_0_1_and_ipv6_loopback_without_a_password()
    {
        var remote = IPAddress.Parse("192.0.2.7");
        Assert.True(RedisServer.IsProtectedModeViolation(true, true, remote, unix: false));
        Assert.True(RedisServer.IsProtectedModeViolation(true, true, IPAddress.Parse("::ffff:192.0.2.7"), unix: false));
        // islocalClient compares the peer with "127.0.0.1" and "::1" only.
        Assert.True(RedisServer.IsProtectedModeViolation(true, true, IPAddress.Parse("127.0.0.2"), unix: false));
        Assert.False(RedisServer.IsProtectedModeViolation(true, true, IPAddress.Loopback, unix: false));
        Assert.False(RedisServer.IsProtectedModeViolation(true, true, IPAddress.IPv6Loopback, unix: false));
        Assert.False(RedisServer.IsProtectedModeViolation(true, true, IPAddress.Parse("::ffff:127.0.0.1"), unix: false));
        Assert.False(RedisServer.IsProtectedModeViolation(true, true, null, unix: true));
    }

    [Fact]
    public void Protected_mode_is_off_with_a_default_user_password_or_protected_mode_no()
    {
        var remote = IPAddress.Parse("192.0.2.7");
        Assert.False(RedisServer.IsProtectedModeViolation(true, defaultUserNoPass: false, remote, unix: false));
        Assert.False(RedisServer.IsProtectedModeViolation(protectedMode: false, true, remote, unix: false));
    }

    [Fact]
    public void Protected_mode_message_is_a_denied_error_naming_the_fixes()
    {
        Assert.StartsWith("DENIED Redis is running in protected mode", Errors.ProtectedMode);
        Assert.Contains("'--protected-mode no'", Errors.ProtectedMode);
        Assert.DoesNotContain("\r\n", Errors.ProtectedMode);
    }

    [Fact]
    public void Output_buffer_limits_parse_each_class_with_units()
    {
        var l = RedisServer.ParseOutputLimits("normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60");
        Assert.Equal(new OutputBufferLimit(0, 0, 0), l[(int)ClientType.Normal]);
        Assert.Equal(new OutputBufferLimit(256L << 20, 64L << 20, 60), l[(int)ClientType.Replica]);
        Assert.Equal(new OutputBufferLimit(32L << 20, 8L << 20, 60), l[(int)ClientType.PubSub]);
        var custom = RedisServer.ParseOutputLimits("pubsub 1024 512 5");
        Assert.Equal(new OutputBufferLimit(1024, 512, 5), custom[(int)ClientType.PubSub]);
        Assert.Equal(new OutputBufferLimit(256L << 20, 64L << 20, 60), custom[(int)ClientType.Replica]);
    }

    [Fact]
    public void Pubsub_client_over_the_hard_output_limit_is_closed_and_normal_client_is_not()
    {
        var (s, normal) = NewServer();
        var sub = s.CreateFakeClient();
        sub.Channels = ["chan"];
        var big = new byte[1 << 20];
        for (int i = 0; i < 33; i++)
        {
            sub.Reply.WriteBulk(big);
            normal.Reply.WriteBulk(big);
        }
        Assert.Equal(ClientType.PubSub, RedisServer.TypeOf(sub));
        Assert.True(s.EnforceOutputLimit(sub));
        Assert.True(sub.IsClosed);
        Assert.False(s.EnforceOutputLimit(normal));
        Assert.False(normal.IsClosed);
    }

    [Fact]
    public void Soft_output_limit_closes_only_after_the_soft_period()
    {
        var (s, _) = NewServer();
        var sub = s.CreateFakeClient();
        sub.Channels = ["chan"];
        sub.Reply.WriteBulk(new byte[9 << 20]);
        Assert.False(s.EnforceOutputLimit(sub));
        sub.SoftLimitSinceMs = Environment.TickCount64 - 61_000;
        Assert.True(s.EnforceOutputLimit(sub));
    }

    [Fact]
    public void Info_default_lists_redis_sections_in_order()
    {
        var (s, _) = NewServer();
        string info = InfoCommand.Build(s, new HashSet<string> { "server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace" });
        var headers = info.Split("\r\n").Where(l => l.StartsWith('#')).ToArray();
        Assert.Equal(["# Server", "# Clients", "# Memory", "# Persistence", "# Stats", "# Replication", "# CPU", "# Modules", "# Errorstats", "# Cluster", "# Keyspace"], headers);
        Assert.Contains("\r\n\r\n# Clients\r\n", info);
        Assert.Contains("redis_version:7.0.15\r\n", info);
        Assert.Contains("run_id:" + s.RunId + "\r\n", info);
    }

    [Fact]
    public void Info_reports_changes_since_last_save_and_keyspace()
    {
        var (s, c) = NewServer();
        Run(s, c, "SET", "intro:a", "1");
        Run(s, c, "SET", "intro:b", "2");
        string info = InfoCommand.Build(s, new HashSet<string> { "persistence", "keyspace" });
        Assert.Contains("rdb_changes_since_last_save:2\r\n", info);
        Assert.Contains("db0:keys=2,expires=0,avg_ttl=0\r\n", info);
        s.Rdb.DirtyAtLastSave = s.Dirty;
        Assert.Contains("rdb_changes_since_last_save:0\r\n", InfoCommand.Build(s, new HashSet<string> { "persistence" }));
    }

    [Fact]
    public void Info_commandstats_and_errorstats_count_calls_and_errors()
    {
        var (s, c) = NewServer();
        Run(s, c, "SET", "intro:c", "1");
        Run(s, c, "CLIENT", "NO-EVICT", "maybe");
        string info = InfoCommand.Build(s, new HashSet<string> { "commandstats", "errorstats" });
        Assert.Matches(@"cmdstat_set:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n", info);
        Assert.Matches(@"cmdstat_client\|no-evict:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=1\r\n", info);
        Assert.Contains("errorstat_ERR:count=1\r\n", info);
    }

    [Fact]
    public void Reset_stats_clears_counters_commandstats_and_errorstats()
    {
        var (s, c) = NewServer();
        Run(s, c, "SET", "intro:r", "1");
        Run(s, c, "GET", "intro:r");
        Run(s, c, "CLIENT", "NO-EVICT", "maybe");
        s.ResetStats();
        string info = InfoCommand.Build(s, new HashSet<string> { "stats", "commandstats", "errorstats" });
        Assert.Contains("total_commands_processed:0\r\n", info);
        Assert.Contains("keyspace_hits:0\r\n", info);
        Assert.Contains("total_error_replies:0\r\n", info);
        Assert.DoesNotContain("cmdstat_", info);
        Assert.DoesNotContain("errorstat_", info);
    }

    [Fact]
    public void Client_pause_write_holds_writes_but_not_reads_and_unpause_releases()
    {
        var (s, c) = NewServer();
        Assert.Equal("+OK\r\n", Run(s, c, "CLIENT", "PAUSE", "100000", "WRITE"));
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("SET", "k", "v")));
        Assert.False(s.MustPause(c, CommandArgs.FromStrings("GET", "k")));
        s.PauseClients(100000, writesOnly: false);
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("GET", "k")));
        s.UnpauseClients();
        Assert.False(s.MustPause(c, CommandArgs.FromStrings("SET", "k", "v")));
        Assert.True(s.WaitUnpausedAsync().IsCompleted);
    }

    [Fact]
    public void Client_reply_skip_drops_exactly_the_next_reply()
    {
        var (s, c) = NewServer();
        Assert.Equal("", Run(s, c, "CLIENT", "REPLY", "SKIP"));
        Assert.Equal("", Run(s, c, "SET", "intro:skip", "1"));
        Assert.Equal("$1\r\n1\r\n", Run(s, c, "GET", "intro:skip"));
        Assert.Equal("", Run(s, c, "CLIENT", "REPLY", "OFF"));
        Assert.Equal("", Run(s, c, "GET", "intro:skip"));
        Assert.Equal("+OK\r\n", Run(s, c, "CLIENT", "REPLY", "ON"));
    }

    [Fact]
    public void Command_info_describes_get_like_redis()
    {
        var (s, c) = NewServer();
        string r = Run(s, c, "COMMAND", "INFO", "get");
        Assert.StartsWith("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n", r);
        Assert.Contains("$9\r\nfind_keys\r\n*4\r\n$4\r\ntype\r\n$5\r\nrange\r\n", r);
        Assert.Equal(":" + s.Commands.Count + "\r\n", Run(s, c, "COMMAND", "COUNT"));
    }

    [Fact]
    public void Command_without_subcommand_lists_every_command()
    {
        var (s, c) = NewServer();
        Assert.StartsWith("*" + s.Commands.Count + "\r\n*10\r\n", Run(s, c, "COMMAND"));
    }

    [Fact]
    public void Command_docs_gives_summary_since_group_and_complexity()
    {
        var (s, c) = NewServer();
        string r = Run(s, c, "COMMAND", "DOCS", "client");
        Assert.StartsWith("*2\r\n$6\r\nclient\r\n*10\r\n$7\r\nsummary\r\n", r);
        Assert.Contains("$11\r\nsubcommands\r\n", r);
        Assert.Contains("$11\r\nclient|list\r\n", r);
    }

    [Fact]
    public void Debug_object_uses_redis_format()
    {
        var (s, c) = NewServer();
        Run(s, c, "SET", "intro:obj", "hello");
        string r = Run(s, c, "DEBUG", "OBJECT", "intro:obj");
        Assert.Matches(new Regex(@"^\+Value at:0x[0-9a-f]+ refcount:1 encoding:embstr serializedlength:6 lru:\d+ lru_seconds_idle:\d+\r\n$"), r);
        Assert.Equal("-ERR no such key\r\n", Run(s, c, "DEBUG", "OBJECT", "intro:none"));
    }

    [Fact]
    public void Debug_set_active_expire_toggles_the_config()
    {
        var (s, c) = NewServer();
        Assert.Equal("+OK\r\n", Run(s, c, "DEBUG", "SET-ACTIVE-EXPIRE", "0"));
        Assert.False(s.Config.ActiveExpireEnabled);
        Run(s, c, "DEBUG", "SET-ACTIVE-EXPIRE", "1");
        Assert.True(s.Config.ActiveExpireEnabled);
    }

    [Fact]
    public void Slowlog_records_commands_over_the_threshold_with_args_and_client()
    {
        var (s, c) = NewServer();
        s.Config.SlowlogLogSlowerThanUs = 0;
        Run(s, c, "SLOWLOG", "RESET");
        Run(s, c, "SET", "intro:slow", "v");
        string r = Run(s, c, "SLOWLOG", "GET", "1");
        Assert.Matches(new Regex(@"^\*1\r\n\*6\r\n:\d+\r\n:\d+\r\n:\d+\r\n\*3\r\n\$3\r\nSET\r\n\$10\r\nintro:slow\r\n\$1\r\nv\r\n\$\d+\r\n.*\r\n\$0\r\n\r\n$", RegexOptions.Singleline), r);
        Assert.Matches(@"^:\d+\r\n$", Run(s, c, "SLOWLOG", "LEN"));
    }

    [Fact]
    public void Memory_usage_counts_value_and_key()
    {
        var (s, c) = NewServer();
        Run(s, c, "SET", "intro:mem", new string('x', 100));
        var r = Run(s, c, "MEMORY", "USAGE", "intro:mem");
        long n = long.Parse(r.AsSpan(1, r.Length - 3));
        Assert.InRange(n, 110, 400);
        Assert.Equal("$-1\r\n", Run(s, c, "MEMORY", "USAGE", "intro:nokey"));
    }
}

public sealed class ClientUnblockIntroTests
{
    private static string Run(RedisServer s, Client c, params string[] args)
    {
        int before = c.Reply.Length;
        lock (s.ExecLock) s.Execute(c, CommandArgs.FromStrings(args));
        return Encoding.UTF8.GetString(c.Reply.Written.Span[before..]);
    }

    private static (RedisServer, Client Admin, Client Blocked) BlockedPair()
    {
        var s = new RedisServer(new ServerConfig());
        var admin = s.CreateFakeClient();
        var blocked = s.CreateFakeClient();
        s.AddClient(blocked);
        blocked.Context.Args = CommandArgs.FromStrings("BLPOP", "intro:list", "0");
        lock (s.ExecLock) s.Block(blocked.Context, ["intro:list"u8.ToArray()], 0, w => w.WriteNullArray());
        return (s, admin, blocked);
    }

    [Fact]
    public void Client_unblock_error_sends_the_unblocked_error_to_the_blocked_client()
    {
        var (s, admin, blocked) = BlockedPair();
        Assert.True(s.IsBlocked(blocked));
        Assert.Equal(":1\r\n", Run(s, admin, "CLIENT", "UNBLOCK", blocked.Id.ToString(), "ERROR"));
        Assert.False(s.IsBlocked(blocked));
        Assert.Equal("-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n", Encoding.UTF8.GetString(blocked.Reply.Written.Span));
        Assert.Equal(":0\r\n", Run(s, admin, "CLIENT", "UNBLOCK", blocked.Id.ToString()));
    }

    [Fact]
    public void Client_unblock_timeout_sends_the_commands_timeout_reply()
    {
        var (s, admin, blocked) = BlockedPair();
        Assert.Equal(":1\r\n", Run(s, admin, "CLIENT", "UNBLOCK", blocked.Id.ToString(), "TIMEOUT"));
        Assert.Equal("*-1\r\n", Encoding.UTF8.GetString(blocked.Reply.Written.Span));
    }
}
