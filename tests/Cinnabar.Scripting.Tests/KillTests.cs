using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Scripting.Tests;

public class KillTests
{
    private sealed class KillingHost : IScriptHost
    {
        public bool Kill;
        public ReadOnlyMemory<byte> Call(byte[][] argv, int resp, bool readOnlyScript, out string? scriptError)
        {
            scriptError = null;
            return "+OK\r\n"u8.ToArray();
        }
        public void Log(int level, string message) { }
        public bool ShouldKill(long elapsedMs) => Kill;
    }

    private static string? Run(LuaEngine e, string script, out string reply)
    {
        var body = Encoding.UTF8.GetBytes(script);
        string sha = LuaEngine.Sha1Hex(body);
        Assert.Null(e.CompileScript(sha, body));
        var w = new RespWriter();
        var err = e.Run(sha, [], [], false, false, w, sha);
        reply = Encoding.UTF8.GetString(w.Written.Span);
        return err;
    }

    [Fact]
    public void Killed_script_stops_and_engine_keeps_working()
    {
        var host = new KillingHost { Kill = true };
        using var e = new LuaEngine(host);
        var err = Run(e, "local i = 0 while true do i = i + 1 end", out _);
        Assert.StartsWith("ERR Script killed by user with SCRIPT KILL... script: ", err);
        host.Kill = false;
        Assert.Null(Run(e, "return 1", out var r1));
        Assert.Equal(":1\r\n", r1);
        Assert.Null(Run(e, "redis.call('get', 'x') return 2", out var r2));
        Assert.Equal(":2\r\n", r2);
    }

    [Fact]
    public void Pcall_cannot_swallow_a_kill()
    {
        var host = new KillingHost { Kill = true };
        using var e = new LuaEngine(host);
        var err = Run(e, "while true do pcall(function() while true do end end) end", out _);
        Assert.StartsWith("ERR Script killed by user with SCRIPT KILL...", err);
    }
}
