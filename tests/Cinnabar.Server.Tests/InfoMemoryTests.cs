using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

/// <summary>INFO memory observes the server without allocating what it reports on.</summary>
public sealed class InfoMemoryTests
{
    private static string Run(RedisServer s, Client c, params string[] args)
    {
        int before = c.Reply.Length;
        lock (s.ExecLock) s.Execute(c, CommandArgs.FromStrings(args));
        return Encoding.UTF8.GetString(c.Reply.Written.Span[before..]);
    }

    [Fact]
    public void Info_memory_does_not_start_the_lua_engines_before_a_script_runs()
    {
        var s = new RedisServer(new ServerConfig());
        var c = s.CreateFakeClient();
        // The scripting host and its Lua states would otherwise appear in used_memory between the
        // first INFO and the next one (unit/obuf-limits compares two readings within 10 KB).
        string first = Run(s, c, "INFO", "memory");
        Assert.Contains("used_memory_lua:0\r\n", first);
        Assert.Contains("used_memory_vm_functions:0\r\n", first);
        Assert.Contains("number_of_cached_scripts:0\r\n", Run(s, c, "INFO", "memory"));

        Assert.Equal(":1\r\n", Run(s, c, "EVAL", "return 1", "0"));
        string after = Run(s, c, "INFO", "memory");
        Assert.DoesNotContain("used_memory_lua:0\r\n", after);
        Assert.Contains("number_of_cached_scripts:1\r\n", after);
    }
}
