using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Acl;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

/// <summary>ACL rules, their descriptions, and permission checks (Acl/*), in process.</summary>
public sealed class AclTests
{
    private static RedisServer NewServer(Action<ServerConfig>? configure = null)
    {
        var config = new ServerConfig();
        configure?.Invoke(config);
        return new RedisServer(config);
    }

    private static string Run(RedisServer s, Client c, params string[] args)
    {
        int before = c.Reply.Length;
        lock (s.ExecLock) s.Execute(c, CommandArgs.FromStrings(args));
        return Encoding.UTF8.GetString(c.Reply.Written.Span[before..]);
    }

    private static Client ClientAs(RedisServer s, string user)
    {
        var c = s.CreateFakeClient();
        AclManager.SetClientUser(c, s.Acl.GetUser(user)!);
        return c;
    }

    private static string Describe(RedisServer s, string user) => s.Acl.GetUser(user)!.Describe(s.Acl);

    private static string SetUser(RedisServer s, string user, params string[] ops) => s.Acl.SetUser(user, ops, null) ?? "OK";

    private static string DryRun(RedisServer s, string user, params string[] argv)
    {
        var c = s.CreateFakeClient();
        var full = new List<string> { "ACL", "DRYRUN", user };
        full.AddRange(argv);
        return Run(s, c, full.ToArray());
    }

    [Fact]
    public void Default_user_has_every_permission_and_takes_the_flag_only_path()
    {
        var s = NewServer();
        Assert.True(s.Acl.DefaultUser.Unrestricted);
        Assert.Equal("on nopass ~* &* +@all", Describe(s, "default"));
        SetUser(s, "default", "-flushall");
        Assert.False(s.Acl.DefaultUser.Unrestricted);
        Assert.Equal("on nopass ~* &* +@all -flushall", Describe(s, "default"));
    }

    [Fact]
    public void New_user_is_off_with_no_permissions()
    {
        var s = NewServer();
        Assert.Equal("OK", SetUser(s, "u1"));
        Assert.Equal("off resetchannels -@all", Describe(s, "u1"));
        SetUser(s, "u1", "reset");
        Assert.Equal("off sanitize-payload resetchannels -@all", Describe(s, "u1"));
    }

    [Fact]
    public void Passwords_are_stored_as_sha256_and_hashes_can_be_added_and_removed()
    {
        var s = NewServer();
        SetUser(s, "u", "on", ">passwd4");
        const string hash = "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6";
        Assert.Equal($"on #{hash} resetchannels -@all", Describe(s, "u"));
        Assert.NotNull(s.Acl.CheckCredentials("u", "passwd4"u8));
        Assert.Null(s.Acl.CheckCredentials("u", "other"u8));
        Assert.Equal("OK", SetUser(s, "u", "!" + hash));
        Assert.Null(s.Acl.CheckCredentials("u", "passwd4"u8));
        Assert.Equal("Error in ACL SETUSER modifier '<nope': The password you are trying to remove from the user does not exist", SetUser(s, "u", "<nope"));
        Assert.Equal("Error in ACL SETUSER modifier '#abc': The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters", SetUser(s, "u", "#abc"));
        SetUser(s, "u", "nopass");
        Assert.NotNull(s.Acl.CheckCredentials("u", "anything"u8));
        SetUser(s, "u", "off");
        Assert.Null(s.Acl.CheckCredentials("u", "anything"u8));
    }

    [Fact]
    public void A_failing_rule_leaves_the_user_unchanged()
    {
        var s = NewServer();
        SetUser(s, "u", "on", "+get");
        Assert.Equal("Error in ACL SETUSER modifier '+nosuch': Unknown command or category name in ACL", SetUser(s, "u", "+set", "+nosuch"));
        Assert.Equal("on resetchannels -@all +get", Describe(s, "u"));
    }

    [Theory]
    [InlineData("bogus", "Syntax error")]
    [InlineData("%X~a", "Syntax error")]
    [InlineData("+config|get|x", "Allowing first-arg of a subcommand is not supported")]
    [InlineData("+@nosuch", "Unknown command or category name in ACL")]
    public void Bad_rules_are_refused_with_redis_texts(string op, string reason)
    {
        var s = NewServer();
        Assert.Equal($"Error in ACL SETUSER modifier '{op}': {reason}", SetUser(s, "u", op));
    }

    [Fact]
    public void Patterns_after_allkeys_or_allchannels_are_refused()
    {
        var s = NewServer();
        Assert.Contains("'allkeys' flag", SetUser(s, "u", "allkeys", "~foo"));
        Assert.Contains("'allchannels' flag", SetUser(s, "u", "allchannels", "&foo"));
    }

    [Fact]
    public void Every_single_category_describes_back_as_itself()
    {
        var s = NewServer();
        foreach (var cat in AclCategories.Names)
        {
            SetUser(s, "a", "reset", "+@all", "-@" + cat);
            Assert.Equal("+@all -@" + cat, s.Acl.GetUser("a")!.Root.DescribeCommands(s.Acl));
            SetUser(s, "r", "reset", "-@all", "+@" + cat);
            Assert.Equal("-@all +@" + cat, s.Acl.GetUser("r")!.Root.DescribeCommands(s.Acl));
        }
    }

    [Fact]
    public void Subcommand_rules_describe_and_merge_into_their_container()
    {
        var s = NewServer();
        SetUser(s, "bob", "+memory|doctor");
        Assert.Equal("-@all +memory|doctor", s.Acl.GetUser("bob")!.Root.DescribeCommands(s.Acl));
        SetUser(s, "bob", "+memory");
        Assert.Equal("-@all +memory", s.Acl.GetUser("bob")!.Root.DescribeCommands(s.Acl));
        SetUser(s, "bob", "+@all", "-client|kill");
        Assert.Equal("+@all -client|kill", s.Acl.GetUser("bob")!.Root.DescribeCommands(s.Acl));
        SetUser(s, "bob", "-@all", "+select|0");
        Assert.Equal("-@all +select|0", s.Acl.GetUser("bob")!.Root.DescribeCommands(s.Acl));
    }

    [Fact]
    public void Read_and_write_key_patterns_combine_into_full_access()
    {
        var s = NewServer();
        SetUser(s, "u", "%R~foo", "%W~foo", "%RW~bar", "%R~r*");
        Assert.Equal("~foo ~bar %R~r*", s.Acl.GetUser("u")!.Root.DescribeKeys());
    }

    [Fact]
    public void Selectors_are_described_in_parentheses_and_cleared()
    {
        var s = NewServer();
        Assert.Equal("OK", SetUser(s, "u", "on", "(+get", "~k*)", "(%R~r* +@read)"));
        Assert.Equal("on resetchannels -@all (~k* resetchannels -@all +get) (%R~r* resetchannels -@all +@read)", Describe(s, "u"));
        Assert.Equal("Unmatched parenthesis in acl selector starting at '(+get'.", SetUser(s, "u", "(+get"));
        Assert.StartsWith("Error in ACL SETUSER modifier '(&* &x)': Adding a pattern after", SetUser(s, "u", "(&* &x)"));
        SetUser(s, "u", "clearselectors");
        Assert.Equal("on resetchannels -@all", Describe(s, "u"));
    }

    [Fact]
    public void Read_permission_allows_reads_and_write_permission_allows_writes()
    {
        var s = NewServer();
        SetUser(s, "t", "+@all", "%R~read*", "%W~write*", "%RW~rw*");
        Assert.Contains("OK", DryRun(s, "t", "GET", "read"));
        Assert.Contains("no permissions to access the 'write' key", DryRun(s, "t", "GET", "write"));
        Assert.Contains("OK", DryRun(s, "t", "LPUSH", "write", "1"));
        Assert.Contains("no permissions to access the 'read' key", DryRun(s, "t", "LPUSH", "read", "1"));
        Assert.Contains("OK", DryRun(s, "t", "COPY", "read", "write"));
        Assert.Contains("no permissions to access the 'write' key", DryRun(s, "t", "COPY", "write", "read"));
        // Existence and cardinality checks need either permission.
        Assert.Contains("OK", DryRun(s, "t", "EXISTS", "write"));
        Assert.Contains("OK", DryRun(s, "t", "STRLEN", "read"));
        Assert.Contains("no permissions to access the 'nothing' key", DryRun(s, "t", "TYPE", "nothing"));
    }

    [Fact]
    public void Commands_with_variable_key_flags_are_judged_by_their_arguments()
    {
        var s = NewServer();
        SetUser(s, "t", "+@all", "%R~read*", "%W~write*", "%RW~rw*");
        Assert.Contains("OK", DryRun(s, "t", "SET", "write", "v"));
        Assert.Contains("'write' key", DryRun(s, "t", "SET", "write", "v", "GET"));
        Assert.Contains("OK", DryRun(s, "t", "BITFIELD", "read", "GET", "u4", "0"));
        Assert.Contains("'read' key", DryRun(s, "t", "BITFIELD", "read", "SET", "u4", "0", "1"));
        Assert.Contains("OK", DryRun(s, "t", "SORT", "read", "STORE", "write"));
        Assert.Contains("'read' key", DryRun(s, "t", "SORT", "read", "STORE", "read"));
        Assert.Contains("OK", DryRun(s, "t", "EVAL", "", "1", "rw1"));
        Assert.Contains("'read' key", DryRun(s, "t", "EVAL", "", "1", "read"));
        Assert.Contains("OK", DryRun(s, "t", "EVAL", "", "3", "rw", "read"));
        Assert.Contains("OK", DryRun(s, "t", "GEORADIUS", "read", "1", "2", "3", "M", "STORE", "write"));
        Assert.Contains("'read2' key", DryRun(s, "t", "GEORADIUS", "read1", "1", "2", "3", "M", "STOREDIST", "read2"));
    }

    [Fact]
    public void Psubscribe_patterns_must_match_allowed_patterns_literally()
    {
        var allowed = new List<string> { "foo:1", "bar:*" };
        Assert.True(AclManager.ChannelAllowed(allowed, "bar:7", pattern: false));
        Assert.True(AclManager.ChannelAllowed(allowed, "bar:*", pattern: true));
        Assert.False(AclManager.ChannelAllowed(allowed, "bar:baz", pattern: true));
        Assert.False(AclManager.ChannelAllowed(allowed, "zap", pattern: false));
    }

    [Fact]
    public void Denials_reply_noperm_and_are_logged_with_redis_fields()
    {
        var s = NewServer();
        SetUser(s, "antirez", "on", ">foo", "+set", "~object:*", "resetchannels", "+publish");
        var c = ClientAs(s, "antirez");
        Assert.Equal("-NOPERM this user has no permissions to run the 'get' command\r\n", Run(s, c, "GET", "foo"));
        Assert.Equal("-NOPERM this user has no permissions to access one of the keys used as arguments\r\n", Run(s, c, "SET", "k", "v"));
        Assert.Equal("-NOPERM this user has no permissions to access one of the channels used as arguments\r\n", Run(s, c, "PUBLISH", "ch", "m"));
        Run(s, c, "GET", "foo");
        var log = s.Acl.LogEntries.ToList();
        Assert.Equal(3, log.Count);
        // A repeated denial bumps its entry's count and moves it to the front.
        Assert.Equal(("command", "get", 2L), (Reason(log[0].Reason), log[0].Object, log[0].Count));
        Assert.Equal(("channel", "ch"), (Reason(log[1].Reason), log[1].Object));
        Assert.Equal(("key", "k"), (Reason(log[2].Reason), log[2].Object));
        Assert.All(log, e => Assert.Equal("antirez", e.Username));
        Assert.Contains("cmd=get user=antirez", log[0].ClientInfo);
    }

    private static string Reason(AclResult r) => r switch
    {
        AclResult.DeniedCommand => "command",
        AclResult.DeniedKey => "key",
        AclResult.DeniedChannel => "channel",
        _ => "auth",
    };

    [Fact]
    public void Changed_rules_abort_the_queued_command_at_exec()
    {
        var s = NewServer();
        SetUser(s, "u", "on", "nopass", "+multi", "+exec", "+incr", "~*");
        var c = ClientAs(s, "u");
        Run(s, c, "MULTI");
        Assert.Equal("+QUEUED\r\n", Run(s, c, "INCR", "x"));
        SetUser(s, "u", "-incr");
        Assert.Equal("*1\r\n-NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: no permission to execute the command or subcommand\r\n",
            Run(s, c, "EXEC"));
        Assert.Equal(AclContext.Multi, s.Acl.LogEntries.First().Context);
    }

    [Fact]
    public void Requirepass_sets_the_default_users_password()
    {
        var s = NewServer(c => c.Set("requirepass", "secret", startup: true));
        Assert.True(s.AuthRequired);
        Assert.NotNull(s.Acl.CheckCredentials("default", "secret"u8));
        s.Config.Set("requirepass", "", startup: false);
        Assert.False(s.AuthRequired);
        Assert.Equal("on nopass ~* &* +@all", Describe(s, "default"));
    }

    [Fact]
    public void Config_file_user_lines_are_loaded_and_duplicates_refused()
    {
        var config = new ServerConfig();
        Assert.Null(config.LoadText("user alice on >pw ~* +@all\nuser default on nopass ~* +@all -flushdb\n"));
        var s = new RedisServer(config);
        Assert.Null(s.Acl.LoadAtStartup());
        Assert.Equal("on #" + AclUser.HashPassword("pw") + " ~* resetchannels +@all", Describe(s, "alice"));
        Assert.Equal("on nopass sanitize-payload ~* resetchannels +@all -flushdb", Describe(s, "default"));
        var err = new ServerConfig().LoadText("user foo on\nuser foo off\n");
        Assert.Contains("Duplicate user found", err);
    }

    [Fact]
    public void Config_rewrite_replaces_user_lines_with_the_current_users()
    {
        var config = new ServerConfig();
        Assert.Null(config.LoadText("user old on nopass +@all\n"));
        var s = new RedisServer(config);
        Assert.Null(s.Acl.LoadAtStartup());
        s.Acl.DeleteUser("old", null);
        SetUser(s, "newer", "on", "nopass", "+get");
        var text = ConfigRewrite.Build(config, ["port 6379", "user old on nopass +@all"]);
        Assert.Contains("user default on nopass ~* &* +@all", text);
        Assert.Contains("user newer on nopass resetchannels -@all +get", text);
        Assert.DoesNotContain("user old", text);
    }

    [Fact]
    public void Acl_file_with_an_error_changes_nothing_and_a_good_one_replaces_all_users()
    {
        var dir = Directory.CreateTempSubdirectory("acl-").FullName;
        try
        {
            string path = Path.Combine(dir, "users.acl");
            var s = NewServer(c => c.AclFile = path);
            SetUser(s, "keep", "on");
            File.WriteAllText(path, "user alice on nopass +@all\nuser alice on\n");
            var err = s.Acl.LoadFromFile(path, null);
            Assert.Contains("WARNING: Duplicate user 'alice' found on line 2.", err);
            Assert.NotNull(s.Acl.GetUser("keep"));
            File.WriteAllText(path, "user alice on nopass ~* +@all\nuser default on nopass ~* &* +@all -debug\n");
            Assert.Null(s.Acl.LoadFromFile(path, null));
            Assert.Null(s.Acl.GetUser("keep"));
            Assert.Equal("on nopass ~* &* +@all -debug", Describe(s, "default"));
            Assert.True(s.Acl.SaveToFile());
            Assert.Equal("user alice on nopass ~* resetchannels +@all\nuser default on nopass ~* &* +@all -debug\n", File.ReadAllText(path));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Acl_pubsub_default_allchannels_gives_new_users_every_channel()
    {
        var s = NewServer(c => c.Set("acl-pubsub-default", "allchannels", startup: true));
        SetUser(s, "u");
        Assert.Equal("off &* -@all", Describe(s, "u"));
    }

    [Fact]
    public void Scripts_run_as_the_callers_user_and_can_ask_acl_check_cmd()
    {
        var s = NewServer();
        SetUser(s, "bob", "on", ">123", "+@scripting", "+set", "~x*");
        var c = ClientAs(s, "bob");
        Assert.Equal(":1\r\n", Run(s, c, "EVAL", "return redis.acl_check_cmd('set','xx',1)", "0"));
        Assert.Equal("$-1\r\n", Run(s, c, "EVAL", "return redis.acl_check_cmd('set','yy',1)", "0"));
        Assert.StartsWith("-ERR Invalid command passed to redis.acl_check_cmd()", Run(s, c, "EVAL", "return redis.acl_check_cmd('nosuch')", "0"));
        Assert.StartsWith("-ERR The user executing the script can't run this command or subcommand", Run(s, c, "EVAL", "return redis.call('get','x1')", "0"));
        Assert.StartsWith("-ERR The user executing the script can't access at least one of the keys", Run(s, c, "EVAL", "return redis.call('set','yy','1')", "0"));
        var entry = s.Acl.LogEntries.First();
        Assert.Equal((AclContext.Lua, "yy", "bob"), (entry.Context, entry.Object, entry.Username));
    }
}
