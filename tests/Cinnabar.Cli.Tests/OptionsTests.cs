using Cinnabar.Cli;

namespace Cinnabar.Cli.Tests;

public sealed class OptionsTests
{
    private static CliOptions P(params string[] args) => CliOptions.Parse(args, out var err) ?? throw new InvalidOperationException(err);

    [Fact]
    public void Defaults_match_redis_cli()
    {
        var o = P();
        Assert.Equal(("127.0.0.1", 6379, 0, 1L, 2), (o.Host, o.Port, o.Db, o.Repeat, o.Resp));
        Assert.Equal(OutputMode.Auto, o.Output);
        Assert.Empty(o.Command);
    }

    [Fact]
    public void Options_stop_at_the_first_command_word()
    {
        var o = P("-h", "10.0.0.1", "-p", "7000", "-n", "3", "--raw", "set", "-p", "v");
        Assert.Equal(("10.0.0.1", 7000, 3), (o.Host, o.Port, o.Db));
        Assert.Equal(OutputMode.Raw, o.Output);
        Assert.Equal(new[] { "set", "-p", "v" }, o.Command);
    }

    [Fact]
    public void Flags_are_recognised()
    {
        var o = P("-x", "-e", "-3", "--no-raw", "-r", "5", "-i", "0.25", "--pipe", "-s", "/tmp/s", "-d", "\\t", "-D", ";");
        Assert.True(o.StdinLastArg && o.ExitOnError && o.Pipe);
        Assert.True(P("-c").Cluster);
        Assert.Null(CliOptions.Parse(["-c", "-s", "/tmp/s"], out string? err));
        Assert.Equal("Options -c and -s are mutually exclusive.", err);
        Assert.Equal((3, OutputMode.Human, 5L, 0.25, "/tmp/s"), (o.Resp, o.Output, o.Repeat, o.IntervalSeconds, o.Socket));
        Assert.Equal(("\t", ";"), (o.MbDelim, o.CmdDelim));
        Assert.Equal(3, P("-3", "-3").Resp);
    }

    [Fact]
    public void Password_options_request_the_warning()
    {
        var o = P("--user", "bob", "-a", "secret");
        Assert.Equal(("bob", "secret", true), (o.User, o.Password, o.AuthWarning));
        Assert.True(P("--pass", "x", "--no-auth-warning").NoAuthWarning);
    }

    [Fact]
    public void Uri_sets_credentials_host_port_and_db()
    {
        var o = P("-u", "redis://alice:p%40ss@example.org:7001/4");
        Assert.Equal(("alice", "p@ss", "example.org", 7001, 4), (o.User, o.Password, o.Host, o.Port, o.Db));
        var noUser = P("-u", "redis://:pw@h");
        Assert.Equal(("", "pw", true), (noUser.User, noUser.Password, noUser.AuthWarning));
        var passOnly = P("-u", "redis://pw@h");
        Assert.Equal(((string?)null, "pw", true), (passOnly.User, passOnly.Password, passOnly.AuthWarning));
        var bare = P("-u", "redis://h2");
        Assert.Equal(("h2", 6379, 0, (string?)null), (bare.Host, bare.Port, bare.Db, bare.Password));
    }

    [Theory]
    [InlineData("--foo")]
    [InlineData("-p")]
    [InlineData("-n")]
    public void Unknown_or_incomplete_options_are_rejected(string arg)
    {
        Assert.Null(CliOptions.Parse([arg], out var err));
        Assert.Equal($"Unrecognized option or bad number of args for: '{arg}'", err);
    }

    [Fact]
    public void Resp2_and_resp3_flags_are_mutually_exclusive()
    {
        Assert.Null(CliOptions.Parse(["-2", "-3", "ping"], out var err));
        Assert.Equal("Options -2 and -3 are mutually exclusive.", err);
        Assert.Null(CliOptions.Parse(["--resp3"], out err));
        Assert.Equal("Unrecognized option or bad number of args for: '--resp3'", err);
    }

    [Fact]
    public void Numbers_parse_like_atoi()
    {
        Assert.Equal(12, P("-p", "12abc").Port);
        Assert.Equal(0, P("-n", "x").Db);
        Assert.Equal(-1, P("-r", "-1").Repeat);
    }
}
