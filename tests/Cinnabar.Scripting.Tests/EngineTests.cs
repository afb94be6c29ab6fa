using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Scripting.Tests;

/// <summary>A host that answers every call with a canned RESP reply and records argv.</summary>
internal sealed class FakeHost : IScriptHost
{
    public string NextReply = "+OK\r\n";
    public string? NextError;
    public readonly List<string[]> Calls = new();
    public readonly List<string> Logs = new();

    public ReadOnlyMemory<byte> Call(byte[][] argv, int resp, bool readOnlyScript, out string? scriptError)
    {
        Calls.Add(argv.Select(a => Encoding.UTF8.GetString(a)).ToArray());
        scriptError = NextError;
        return Encoding.UTF8.GetBytes(NextReply);
    }

    public void Log(int level, string message) => Logs.Add(level + ":" + message);
    public bool ShouldKill(long elapsedMs) => false;
}

public class EngineTests
{
    private static (string Reply, string? Error) Eval(string script, FakeHost? host = null, string[]? keys = null, string[]? args = null)
    {
        host ??= new FakeHost();
        using var e = new LuaEngine(host);
        var body = Encoding.UTF8.GetBytes(script);
        string sha = LuaEngine.Sha1Hex(body);
        var err = e.CompileScript(sha, body);
        if (err != null) return ("", "compile: " + err);
        var w = new RespWriter();
        var k = (keys ?? []).Select(Encoding.UTF8.GetBytes).ToArray();
        var a = (args ?? []).Select(Encoding.UTF8.GetBytes).ToArray();
        var runErr = e.Run(sha, k, a, asFunction: false, readOnly: false, w, sha);
        return (Encoding.UTF8.GetString(w.Written.Span), runErr);
    }

    [Theory]
    [InlineData("return 1", ":1\r\n")]
    [InlineData("return 3.99", ":3\r\n")]
    [InlineData("return -3.99", ":-3\r\n")]
    [InlineData("return 10/2", ":5\r\n")]
    [InlineData("return 'x'", "$1\r\nx\r\n")]
    [InlineData("return nil", "$-1\r\n")]
    [InlineData("return false", "$-1\r\n")]
    [InlineData("return true", ":1\r\n")]
    [InlineData("return {1,nil,3}", "*1\r\n:1\r\n")]
    [InlineData("return {a=1}", "*0\r\n")]
    [InlineData("return {ok='fine'}", "+fine\r\n")]
    [InlineData("return {1,{2,'x'},{err='bad'},{ok='s'}}", "*4\r\n:1\r\n*2\r\n:2\r\n$1\r\nx\r\n-bad\r\n+s\r\n")]
    [InlineData("return 1e300", ":-9223372036854775808\r\n")]
    [InlineData("return tostring(10/2)", "$1\r\n5\r\n")]
    [InlineData("return redis.sha1hex('')", "$40\r\nda39a3ee5e6b4b0d3255bfef95601890afd80709\r\n")]
    [InlineData("return table.getn({1,2,3}) + #{unpack({1,2})}", ":5\r\n")]
    [InlineData("return redis.status_reply('X')", "+X\r\n")]
    public void Lua_values_convert_to_resp_like_redis(string script, string expected)
    {
        var (reply, err) = Eval(script);
        Assert.Null(err);
        Assert.Equal(expected, reply);
    }

    [Fact]
    public void Error_reply_table_is_returned_as_error()
    {
        var (_, err) = Eval("return redis.error_reply('My Error')");
        Assert.Equal("My Error", err);
    }

    [Theory]
    [InlineData("error('x')", "ERR user_script:1: x script: {sha}, on @user_script:1.")]
    [InlineData("return x", "ERR user_script:1: Script attempted to access nonexistent global variable 'x' script: {sha}, on @user_script:1.")]
    [InlineData("x = 5", "ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.")]
    [InlineData("redis.x = 5", "ERR user_script:1: Attempt to modify a readonly table script: {sha}, on @user_script:1.")]
    [InlineData("error({err='MY custom'})", "MY custom script: {sha}, on @user_script:1.")]
    [InlineData("error()", "ERR nil script: {sha}, on @user_script:1.")]
    [InlineData("error(12)", "ERR user_script:1: 12 script: {sha}, on @user_script:1.")]
    [InlineData("local a = 1\nreturn redis.setresp(4)", "ERR RESP version must be 2 or 3. script: {sha}, on @user_script:2.")]
    [InlineData("return redis.call()", "ERR Please specify at least one argument for this redis lib call script: {sha}, on @user_script:1.")]
    [InlineData("return redis.call('get', {})", "ERR Lua redis lib command arguments must be strings or integers script: {sha}, on @user_script:1.")]
    [InlineData("return os", "ERR user_script:1: Script attempted to access nonexistent global variable 'os' script: {sha}, on @user_script:1.")]
    public void Script_errors_use_redis_format(string script, string expected)
    {
        var (_, err) = Eval(script);
        Assert.Equal(expected.Replace("{sha}", LuaEngine.Sha1Hex(Encoding.UTF8.GetBytes(script))), err);
    }

    [Fact]
    public void Redis_call_passes_arguments_and_converts_reply()
    {
        var host = new FakeHost { NextReply = "*3\r\n:1\r\n$-1\r\n$2\r\nab\r\n" };
        var (reply, err) = Eval("return redis.call('mget', KEYS[1], ARGV[1], 3, 0.1)", host, ["k"], ["a"]);
        Assert.Null(err);
        Assert.Equal("*3\r\n:1\r\n$-1\r\n$2\r\nab\r\n", reply);
        Assert.Equal(new[] { "mget", "k", "a", "3", "0.10000000000000001" }, host.Calls[0]);
    }

    [Fact]
    public void Redis_call_raises_error_replies_and_pcall_returns_them()
    {
        var host = new FakeHost { NextReply = "-ERR value is not an integer or out of range\r\n" };
        var (_, err) = Eval("return redis.call('incr','s')", host);
        Assert.StartsWith("ERR value is not an integer or out of range script: ", err);
        var (reply, err2) = Eval("local t = redis.pcall('incr','s'); return t.err", host);
        Assert.Null(err2);
        Assert.Equal("$43\r\nERR value is not an integer or out of range\r\n", reply);
    }

    [Fact]
    public void Host_refusal_raises_script_error()
    {
        var host = new FakeHost { NextError = "ERR Unknown Redis command called from script" };
        var (_, err) = Eval("return redis.call('nosuch')", host);
        Assert.StartsWith("ERR Unknown Redis command called from script script: ", err);
    }

    [Fact]
    public void Status_reply_becomes_ok_table()
    {
        var host = new FakeHost { NextReply = "+PONG\r\n" };
        var (reply, _) = Eval("return redis.call('ping').ok", host);
        Assert.Equal("$4\r\nPONG\r\n", reply);
    }

    [Fact]
    public void Redis_log_reaches_host()
    {
        var host = new FakeHost();
        Eval("redis.log(redis.LOG_WARNING, 'hello', 'x')", host);
        Assert.Equal(new[] { "3:hello x" }, host.Logs);
    }

    [Theory]
    [InlineData("return cjson.encode({1,2,'a'})", "[1,2,\"a\"]")]
    [InlineData("return cjson.encode({a='x/y'})", "{\"a\":\"x\\/y\"}")]
    [InlineData("return cjson.decode('{\"a\":[1,2,{\"b\":true}]}').a[3].b and 'yes' or 'no'", "yes")]
    [InlineData("return cmsgpack.unpack(cmsgpack.pack({1,2,3}))[3] .. ''", "3")]
    [InlineData("return bit.tohex(bit.bxor(0xff, 0x0f))", "000000f0")]
    [InlineData("return tostring(bit.bnot(0))", "-1")]
    [InlineData("return tostring(bit.lshift(1, 31))", "-2147483648")]
    [InlineData("return tostring(struct.unpack('>I2', struct.pack('>I2', 258)))", "258")]
    public void Bundled_libraries_work(string script, string expected)
    {
        var (reply, err) = Eval(script);
        Assert.Null(err);
        Assert.Equal($"${Encoding.UTF8.GetByteCount(expected)}\r\n{expected}\r\n", reply);
    }

    [Fact]
    public void Compile_errors_are_reported()
    {
        var (_, err) = Eval("return 1 +");
        Assert.Equal("compile: user_script:1: unexpected symbol near '<eof>'", err);
    }
}
