using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class IntrospectionDetailsTests
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

    private static string Flags(params string[] f) => "*" + f.Length + "\r\n" + string.Concat(f.Select(x => "+" + x + "\r\n"));

    private static string Key(string key, params string[] flags) => "*2\r\n$" + key.Length + "\r\n" + key + "\r\n" + Flags(flags);

    [Fact]
    public void Getkeysandflags_reports_each_keys_access_flags_from_its_key_spec()
    {
        var (s, c) = NewServer();
        Assert.Equal("*2\r\n" + Key("k1", "RW", "access", "delete") + Key("k2", "RW", "insert"),
            Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "LMOVE", "k1", "k2", "left", "right"));
        Assert.Equal("*2\r\n" + Key("k1", "OW", "update") + Key("k2", "OW", "update"),
            Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "MSET", "k1", "v1", "k2", "v2"));
        Assert.Equal("*3\r\n" + Key("d", "OW", "update") + Key("a", "RO", "access") + Key("b", "RO", "access"),
            Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "ZUNIONSTORE", "d", "2", "a", "b"));
    }

    [Fact]
    public void Getkeysandflags_follows_commands_whose_flags_depend_on_arguments()
    {
        var (s, c) = NewServer();
        Assert.Equal("*1\r\n" + Key("k1", "OW", "update"), Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "SET", "k1", "v1"));
        Assert.Equal("*1\r\n" + Key("k1", "RW", "access", "update"), Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "SET", "k1", "v1", "GET"));
        Assert.Equal("*2\r\n" + Key("k1", "RO", "access") + Key("k2", "OW", "update"),
            Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "SORT", "k1", "STORE", "k2"));
        Assert.Equal("*1\r\n" + Key("b", "RO", "access"), Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "b", "GET", "u8", "0"));
        Assert.Equal("*1\r\n" + Key("b", "RW", "access", "update"), Run(s, c, "COMMAND", "GETKEYSANDFLAGS", "BITFIELD", "b", "SET", "u8", "0", "1"));
    }

    [Fact]
    public void Command_info_shows_keyword_key_specs()
    {
        var (s, c) = NewServer();
        string r = Run(s, c, "COMMAND", "INFO", "xread");
        Assert.Contains("$12\r\nbegin_search\r\n*4\r\n$4\r\ntype\r\n$7\r\nkeyword\r\n$4\r\nspec\r\n*4\r\n$7\r\nkeyword\r\n$7\r\nSTREAMS\r\n$9\r\nstartfrom\r\n:1\r\n", r);
        Assert.Contains("$5\r\nlimit\r\n:2\r\n", r);
    }

    [Fact]
    public void Cluster_commands_exist_but_answer_cluster_support_disabled()
    {
        var (s, c) = NewServer();
        Assert.Equal("-ERR This instance has cluster support disabled\r\n", Run(s, c, "CLUSTER", "INFO"));
        Assert.Equal("-ERR This instance has cluster support disabled\r\n", Run(s, c, "CLUSTER", "HELP"));
        string list = Run(s, c, "COMMAND", "LIST", "FILTERBY", "PATTERN", "cl*help");
        Assert.Contains("client|help", list);
        Assert.Contains("cluster|help", list);
    }

    [Fact]
    public void Monitor_shows_a_transactions_commands_before_exec()
    {
        var (s, c) = NewServer();
        var monitor = s.CreateFakeClient();
        Run(s, monitor, "MONITOR");
        int start = monitor.Reply.Length;
        Run(s, c, "multi");
        Run(s, c, "set", "mon:k", "v");
        Run(s, c, "exec");
        string fed = Encoding.UTF8.GetString(monitor.Reply.Written.Span[start..]);
        int multi = fed.IndexOf("\"multi\"", StringComparison.Ordinal);
        int set = fed.IndexOf("\"set\" \"mon:k\" \"v\"", StringComparison.Ordinal);
        int exec = fed.IndexOf("\"exec\"", StringComparison.Ordinal);
        Assert.True(multi >= 0 && set > multi && exec > set, fed);
    }

    [Fact]
    public void Keys_past_their_ttl_are_not_deleted_while_clients_are_paused()
    {
        var (s, c) = NewServer();
        long setAtMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Run(s, c, "SET", "pause:k", "v", "PX", "1");
        Assert.True(SpinWait.SpinUntil(() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() > setAtMs + 2, 5000));
        Run(s, c, "CLIENT", "PAUSE", "100000", "WRITE");
        s.UpdateCachedTime();
        Assert.Equal("$-1\r\n", Run(s, c, "GET", "pause:k"));
        Assert.Contains("expired_keys:0\r\n", Run(s, c, "INFO", "stats"));
        Run(s, c, "CLIENT", "UNPAUSE");
        Assert.Equal("$-1\r\n", Run(s, c, "GET", "pause:k"));
        Assert.Contains("expired_keys:1\r\n", Run(s, c, "INFO", "stats"));
    }

    [Fact]
    public void Debug_config_rewrite_force_all_writes_default_directives_too()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-forceall").FullName;
        try
        {
            string path = Path.Combine(dir, "redis.conf");
            File.WriteAllText(path, "port 7777\n");
            var config = new ServerConfig();
            config.Set("enable-debug-command", "yes", startup: true);
            config.ConfigFile = path;
            var s = new RedisServer(config);
            var c = s.CreateFakeClient();
            Assert.Equal("+OK\r\n", Run(s, c, "DEBUG", "CONFIG-REWRITE-FORCE-ALL"));
            string text = File.ReadAllText(path);
            // The existing line is rewritten in place (with the running value), defaults appended.
            Assert.StartsWith("port 6379\n", text);
            Assert.Contains("\nhz 10\n", text);
            Assert.Contains("\nappendonly no\n", text);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Client_pause_write_holds_may_replicate_commands_and_scripts_that_may_write()
    {
        var (s, c) = NewServer();
        Run(s, c, "CLIENT", "PAUSE", "100000", "WRITE");
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("PFCOUNT", "h")));
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("PUBLISH", "ch", "m")));
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("EVAL", "return 1", "0")));
        Assert.True(s.MustPause(c, CommandArgs.FromStrings("EVAL", "#!lua\nreturn 1", "0")));
        Assert.False(s.MustPause(c, CommandArgs.FromStrings("EVAL", "#!lua flags=no-writes\nreturn 1", "0")));
        Assert.False(s.MustPause(c, CommandArgs.FromStrings("EVAL_RO", "return 1", "0")));
        Run(s, c, "CLIENT", "UNPAUSE");
    }

    [Fact]
    public void Command_info_hides_may_replicate()
    {
        var (s, c) = NewServer();
        Assert.DoesNotContain("may_replicate", Run(s, c, "COMMAND", "INFO", "publish", "eval"));
    }

    [Theory]
    [InlineData(new[] { "--port", "--loglevel", "verbose" }, "port \"--loglevel\" \"verbose\"")]
    [InlineData(new[] { "--port", "6379", "6380" }, "port \"6379\" \"6380\"")]
    [InlineData(new[] { "--save", "--loglevel", "verbose" }, "save \"\"\nloglevel \"verbose\"")]
    [InlineData(new[] { "--maxmemory 700mb", "--maxmemory-policy volatile-lru" }, "maxmemory 700mb\nmaxmemory-policy volatile-lru")]
    public void Command_line_options_take_values_as_redis_server_does(string[] args, string expected)
    {
        var (_, text) = ServerConfig.ArgsToConfigText(args);
        Assert.Equal(expected, string.Join('\n', text.Split('\n').Select(l => l.TrimEnd())));
    }

    [Fact]
    public void Shutdown_on_signal_flags_read_back_in_declaration_order()
    {
        var c = new ServerConfig();
        Assert.Null(c.Set("shutdown-on-sigint", "nosave force now"));
        Assert.Equal("nosave now force", c.Get("shutdown-on-sigint"));
    }
}
