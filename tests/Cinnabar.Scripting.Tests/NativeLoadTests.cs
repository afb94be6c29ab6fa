namespace Cinnabar.Scripting.Tests;

public class NativeLoadTests
{
    [Fact]
    public void Lua_5_1_runs_a_chunk_through_our_bindings()
    {
        var host = new FakeHost();
        using var e = new LuaEngine(host);
        var body = "return {_VERSION, tostring(10/2), 'a'..10/2, string.format('%d', 3.5)}"u8.ToArray();
        string sha = LuaEngine.Sha1Hex(body);
        Assert.Null(e.CompileScript(sha, body));
        var w = new Cinnabar.Protocol.RespWriter();
        Assert.Null(e.Run(sha, [], [], asFunction: false, readOnly: false, w, sha));
        Assert.Equal("*4\r\n$7\r\nLua 5.1\r\n$1\r\n5\r\n$2\r\na5\r\n$1\r\n3\r\n", System.Text.Encoding.UTF8.GetString(w.Written.Span));
    }
}
