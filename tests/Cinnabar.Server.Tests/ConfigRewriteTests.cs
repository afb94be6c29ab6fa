using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class ConfigRewriteTests
{
    private static (ServerConfig Config, List<string> Lines) Load(string text)
    {
        var c = new ServerConfig();
        Assert.Null(c.LoadText(text));
        return (c, text.Split('\n').ToList());
    }

    private static string[] Rewritten(ServerConfig c, List<string> lines) =>
        ConfigRewrite.Build(c, lines).Split('\n');

    [Fact]
    public void Changed_directive_is_replaced_in_place_and_comments_stay()
    {
        var (c, lines) = Load("# top\nport 7000\n# mid\ntimeout 5");
        Assert.Null(c.Set("timeout", "30"));
        var o = Rewritten(c, lines);
        Assert.Equal("# top", o[0]);
        Assert.Equal("port 7000", o[1]);
        Assert.Equal("# mid", o[2]);
        Assert.Equal("timeout 30", o[3]);
    }

    [Fact]
    public void New_non_default_values_are_appended_after_the_signature()
    {
        var (c, lines) = Load("port 7000");
        Assert.Null(c.Set("maxmemory", "2mb"));
        Assert.Null(c.Set("requirepass", "a b"));
        var o = Rewritten(c, lines);
        int sig = Array.IndexOf(o, ConfigRewrite.Signature);
        Assert.True(sig > 0);
        Assert.Contains("maxmemory 2mb", o[sig..]);
        Assert.Contains("requirepass \"a b\"", o[sig..]);
        Assert.DoesNotContain(o, l => l.StartsWith("hz ", StringComparison.Ordinal)); // default, not in file
    }

    [Fact]
    public void Extra_occurrences_become_blank_and_aliases_take_the_canonical_name()
    {
        var (c, lines) = Load("save 900 1\nsave 300 10\nslave-priority 5\nrename-command KEYS \"\"");
        Assert.Null(c.Set("save", "100 1"));
        var o = Rewritten(c, lines);
        Assert.Equal("save 100 1", o[0]);
        Assert.Equal("", o[1]);
        Assert.Equal("replica-priority 5", o[2]);
        Assert.Equal("rename-command KEYS \"\"", o[3]);
    }

    [Fact]
    public void Rewriting_twice_keeps_a_single_signature()
    {
        var (c, lines) = Load("port 7000");
        Assert.Null(c.Set("maxmemory", "1gb"));
        var once = ConfigRewrite.Build(c, lines);
        var twice = ConfigRewrite.Build(c, once.TrimEnd('\n').Split('\n').ToList());
        Assert.Equal(once, twice);
        Assert.Single(twice.Split('\n'), l => l == ConfigRewrite.Signature);
    }

    [Fact]
    public void Rewritten_text_loads_back_to_the_same_values()
    {
        var (c, lines) = Load("port 7000\nsave \"\"");
        Assert.Null(c.Set("client-output-buffer-limit", "pubsub 1mb 512kb 5"));
        Assert.Null(c.Set("notify-keyspace-events", "KEA"));
        var text = ConfigRewrite.Build(c, lines);
        var back = new ServerConfig();
        Assert.Null(back.LoadText(text));
        foreach (var d in c.Directives) Assert.Equal(c.Get(d.Name), back.Get(d.Name));
    }
}
