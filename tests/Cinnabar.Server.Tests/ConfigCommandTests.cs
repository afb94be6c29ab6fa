using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

/// <summary>CONFIG subcommands executed in process against a RedisServer that is not listening.</summary>
public sealed class ConfigCommandTests
{
    private static (RedisServer Server, Client Client) NewServer(ServerConfig? config = null)
    {
        var server = new RedisServer(config ?? new ServerConfig());
        return (server, server.CreateFakeClient());
    }

    private static string Run(RedisServer s, Client c, params string[] args)
    {
        c.Reply.Clear();
        lock (s.ExecLock) s.Execute(c, CommandArgs.FromStrings(args));
        return Encoding.UTF8.GetString(c.Reply.Written.Span);
    }

    [Fact]
    public void Config_resetstat_clears_command_and_keyspace_counters()
    {
        var (s, c) = NewServer();
        Run(s, c, "CONFIG", "GET", "hz");
        Run(s, c, "CONFIG", "SET", "nosuch", "1");
        s.Keyspace.Hits = 5;
        s.Keyspace.ExpiredKeys = 2;
        var get = s.Commands.Lookup("config")!.Subcommands!["get"];
        Assert.True(get.Calls > 0);
        Assert.True(s.Stats.TotalErrorReplies > 0);
        Assert.Equal("+OK\r\n", Run(s, c, "CONFIG", "RESETSTAT"));
        Assert.Equal(0, get.Calls);
        Assert.Equal(0, s.Commands.Lookup("config")!.Subcommands!["set"].FailedCalls);
        Assert.Equal(0, s.Keyspace.Hits);
        Assert.Equal(0, s.Keyspace.ExpiredKeys);
        Assert.Empty(s.Stats.ErrorCounts);
    }

    [Fact]
    public void Config_get_accepts_several_patterns_and_returns_each_name_once()
    {
        var (s, c) = NewServer();
        string reply = Run(s, c, "CONFIG", "GET", "hz", "HZ", "maxmemory");
        Assert.Equal("*4\r\n$2\r\nhz\r\n$2\r\n10\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", reply);
        Assert.Equal("*2\r\n$7\r\nSLAVEOF\r\n$0\r\n\r\n", Run(s, c, "CONFIG", "GET", "SLAVEOF"));
    }

    [Fact]
    public void Config_set_changes_typed_fields_and_refuses_protected_configs()
    {
        var (s, c) = NewServer();
        Assert.Equal("+OK\r\n", Run(s, c, "CONFIG", "SET", "min-slaves-to-write", "2", "repl-backlog-size", "2mb"));
        Assert.Equal(2, s.Config.MinReplicasToWrite);
        Assert.Equal(2L << 20, s.Config.ReplBacklogSize);
        Assert.Equal("-ERR CONFIG SET failed (possibly related to argument 'dbfilename') - can't set protected config\r\n",
            Run(s, c, "CONFIG", "SET", "dbfilename", "x.rdb"));
    }

    [Fact]
    public void Protected_configs_are_settable_when_enabled()
    {
        var config = new ServerConfig();
        Assert.Null(config.LoadText("enable-protected-configs yes"));
        var (s, c) = NewServer(config);
        Assert.Equal("+OK\r\n", Run(s, c, "CONFIG", "SET", "dbfilename", "x.rdb"));
        Assert.Equal("x.rdb", s.Config.DbFilename);
    }

    [Fact]
    public void Config_help_lists_subcommands_as_status_lines()
    {
        var (s, c) = NewServer();
        string reply = Run(s, c, "CONFIG", "HELP");
        Assert.StartsWith("*11\r\n+CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n", reply);
        Assert.EndsWith("+HELP\r\n+    Prints this help.\r\n", reply);
    }
}
