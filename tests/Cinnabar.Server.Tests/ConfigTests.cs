using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class ConfigTests
{
    [Fact]
    public void Command_line_options_override_file_values()
    {
        var c = new ServerConfig();
        var (path, text) = ServerConfig.ArgsToConfigText(["/etc/redis.conf", "--port", "7000", "--appendonly", "yes"]);
        Assert.Equal("/etc/redis.conf", path);
        Assert.Null(c.LoadText("port 6380\n" + text));
        Assert.Equal(7000, c.Port);
        Assert.Equal("7000", c.Get("port"));
    }

    [Fact]
    public void Bad_values_report_the_line_and_reason()
    {
        var c = new ServerConfig();
        var err = c.LoadText("# comment\nport abc\n");
        Assert.NotNull(err);
        Assert.Contains("at line 2", err);
        Assert.Contains(">>> 'port abc'", err);
        Assert.Contains("argument couldn't be parsed into an integer", err);
    }

    [Fact]
    public void Unknown_directive_is_refused()
    {
        var err = new ServerConfig().LoadText("no-such-directive 1");
        Assert.Contains("Bad directive or wrong number of arguments", err);
    }

    [Fact]
    public void Memory_units_follow_redis()
    {
        Assert.True(ServerConfig.TryParseMemory("1kb", out long a));
        Assert.Equal(1024, a);
        Assert.True(ServerConfig.TryParseMemory("1k", out long b));
        Assert.Equal(1000, b);
        Assert.True(ServerConfig.TryParseMemory("2GB", out long c));
        Assert.Equal(2L << 30, c);
        Assert.False(ServerConfig.TryParseMemory("12x", out _));
    }
}
