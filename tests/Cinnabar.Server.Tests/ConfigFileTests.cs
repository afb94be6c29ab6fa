using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class ConfigFileTests
{
    [Fact]
    public void Every_directive_starts_at_its_default()
    {
        var c = new ServerConfig();
        foreach (var d in c.Directives)
        {
            if (d.Name == "dir") continue; // shows the working directory
            Assert.Equal(d.Default, c.Get(d.Name));
        }
    }

    [Fact]
    public void Aliases_read_and_write_the_same_directive()
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText("slave-priority 7\nmin-slaves-to-write 2\nslaveof 10.0.0.1 6380"));
        Assert.Equal("7", c.Get("replica-priority"));
        Assert.Equal(7, c.ReplicaPriority);
        Assert.Equal(2, c.MinReplicasToWrite);
        Assert.Equal("10.0.0.1", c.ReplicaOfHost);
        Assert.Equal(6380, c.ReplicaOfPort);
        Assert.Equal("10.0.0.1 6380", c.Get("replicaof"));
        Assert.Contains(c.Match("*"), p => p.Name == "slaveof" && p.Value == "10.0.0.1 6380");
    }

    [Theory]
    [InlineData("save\n", "")]
    [InlineData("save 900 1\nsave\n", "900 1")]
    [InlineData("save\nsave 900 1\n", "900 1")]
    [InlineData("save \"\"\n", "")]
    public void A_bare_save_line_adds_nothing_but_replaces_the_defaults(string text, string expected)
    {
        // As redis-server 7.0 (checked with CONFIG GET save on the same files).
        var c = new ServerConfig();
        Assert.Null(c.LoadText(text));
        Assert.Equal(expected, c.Get("save"));
    }

    [Fact]
    public void Last_occurrence_wins_except_save_which_accumulates()
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText("port 7001\nsave 900 1\nport 7002\nsave 300 10\n"));
        Assert.Equal(7002, c.Port);
        Assert.Equal("900 1 300 10", c.Get("save"));
        Assert.Equal([(900L, 1L), (300L, 10L)], c.SavePoints);
    }

    [Fact]
    public void Save_empty_string_clears_points_and_later_lines_add_again()
    {
        var c = new ServerConfig();
        var (_, args) = ServerConfig.ArgsToConfigText(["--save", "", "--save", "1", "2"]);
        Assert.Null(c.LoadText("save 900 1\nsave 300 10\n" + args));
        Assert.Equal("1 2", c.Get("save"));
        var empty = new ServerConfig();
        Assert.Null(empty.LoadText("save \"\""));
        Assert.Empty(empty.SavePoints);
    }

    [Fact]
    public void Multi_value_command_line_options_become_one_directive()
    {
        var c = new ServerConfig();
        var (path, text) = ServerConfig.ArgsToConfigText(["--save", "900 1", "--save", "300 10", "--bind", "127.0.0.1", "::1", "--appendonly", "yes"]);
        Assert.Null(path);
        Assert.Null(c.LoadText(text));
        Assert.Equal("900 1 300 10", c.Get("save"));
        Assert.Equal(["127.0.0.1", "::1"], c.Bind);
        Assert.True(c.AppendOnly);
    }

    [Fact]
    public void Quoted_values_keep_spaces_and_escapes()
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText("requirepass \"a b\\tc\"\nmasteruser 'x y'\n"));
        Assert.Equal("a b\tc", c.RequirePass);
        Assert.Equal("x y", c.MasterUser);
    }

    [Fact]
    public void Wrong_argument_count_of_known_directive_is_reported_as_redis_does()
    {
        var err = new ServerConfig().LoadText("port 1 2");
        Assert.Equal("\n*** FATAL CONFIG FILE ERROR (Redis 7.0.15) ***\nReading the configuration file, at line 1\n>>> 'port 1 2'\nwrong number of arguments", err);
        Assert.EndsWith("Unbalanced quotes in configuration line", new ServerConfig().LoadText("logfile \"x"));
        Assert.EndsWith("Invalid save parameters", new ServerConfig().LoadText("save 100"));
    }

    [Fact]
    public void Include_loads_another_file_and_a_missing_one_is_fatal()
    {
        string dir = Directory.CreateTempSubdirectory("cfginc-").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "a.conf"), "maxmemory 1mb\n");
            File.WriteAllText(Path.Combine(dir, "b.conf"), "timeout 9\n");
            var c = new ServerConfig();
            Assert.Null(c.LoadText($"include {dir}/*.conf\nport 7003"));
            Assert.Equal(1024 * 1024, c.MaxMemory);
            Assert.Equal(9, c.TimeoutSeconds);
            var err = new ServerConfig().LoadText($"include {dir}/missing.conf");
            Assert.Contains($"# Fatal error, can't open config file '{dir}/missing.conf': No such file or directory", err);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Client_output_buffer_limit_merges_classes_and_accepts_units()
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText("client-output-buffer-limit pubsub 64mb 16mb 90\nclient-output-buffer-limit replica 1gb 0 0"));
        Assert.Equal("normal 0 0 0 slave 1073741824 0 0 pubsub 67108864 16777216 90", c.Get("client-output-buffer-limit"));
        Assert.Equal(new ClientOutputBufferLimit(64L << 20, 16L << 20, 90), c.ClientOutputBufferPubSub);
        Assert.Equal("Invalid client class specified in buffer limit configuration.", c.Set("client-output-buffer-limit", "foo 1 2 3"));
        Assert.Equal("Wrong number of arguments in buffer limit configuration.", c.Set("client-output-buffer-limit", "normal 1 2"));
    }

    [Fact]
    public void Hz_is_clamped_and_shown_clamped()
    {
        var c = new ServerConfig();
        Assert.Null(c.Set("hz", "1000"));
        Assert.Equal("500", c.Get("hz"));
        Assert.Null(c.Set("hz", "0"));
        Assert.Equal("1", c.Get("hz"));
    }

    [Fact]
    public void Set_many_applies_nothing_when_a_value_is_invalid()
    {
        var c = new ServerConfig();
        var failure = c.SetMany([("lfu-decay-time", "3"), ("port", "abc")]);
        Assert.Equal(("port", "argument couldn't be parsed into an integer"), failure);
        Assert.Equal("1", c.Get("lfu-decay-time"));
        Assert.Equal(1, c.LfuDecayTime);
    }

    [Fact]
    public void Set_many_restores_earlier_values_when_an_apply_fails()
    {
        var c = new ServerConfig();
        var failure = c.SetMany([("maxmemory", "5mb"), ("dir", "/nonexistent/dir/for/cinnabar")]);
        Assert.NotNull(failure);
        Assert.Equal("dir", failure.Value.Name);
        Assert.Equal(0, c.MaxMemory);
        Assert.Equal("0", c.Get("maxmemory"));
    }

    [Fact]
    public void Set_refuses_immutable_directives_at_runtime_only()
    {
        var c = new ServerConfig();
        Assert.Equal("can't set immutable config", c.Set("databases", "4"));
        Assert.Null(c.Set("databases", "4", startup: true));
        Assert.Equal(4, c.Databases);
    }

    [Theory]
    [InlineData("port", "+5", "argument couldn't be parsed into an integer")]
    [InlineData("port", "99999", "argument must be between 0 and 65535 inclusive")]
    [InlineData("maxclients", "0", "argument must be between 1 and 4294967295 inclusive")]
    [InlineData("maxmemory", "-1", "argument must be a memory value")]
    [InlineData("appendfsync", "x", "argument(s) must be one of the following: everysec, always, no")]
    [InlineData("oom-score-adj-values", "1 2 3000", "Invalid oom-score-adj-values, elements must be between -2000 and 2000.")]
    [InlineData("maxmemory-clients", "101%", "percentage argument must be less or equal to 100")]
    [InlineData("latency-tracking-info-percentiles", "1 200", "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]")]
    [InlineData("proc-title-template", "{nope}", "template format is invalid or contains unknown variables")]
    public void Invalid_values_get_redis_reasons(string name, string value, string reason) =>
        Assert.Equal(reason, new ServerConfig().Set(name, value));

    [Fact]
    public void Encoding_thresholds_drive_storage_limits()
    {
        var c = new ServerConfig();
        try
        {
            Assert.Null(c.Set("list-compress-depth", "3"));
            Assert.Equal(3, Cinnabar.Storage.EncodingLimits.ListCompressDepth);
        }
        finally
        {
            c.Set("list-compress-depth", "0");
        }
    }

    [Fact]
    public void Rename_command_and_user_lines_are_kept_for_other_subsystems()
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText("rename-command FLUSHALL \"\"\nuser alice on >pw ~* +@all"));
        Assert.Equal([("FLUSHALL", "")], c.RenamedCommands);
        Assert.Equal(["alice", "on", ">pw", "~*", "+@all"], c.UserLines[0]);
        Assert.DoesNotContain(c.Match("*"), p => p.Name is "rename-command" or "include" or "user");
    }
}
