using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Scripting.Tests;

/// <summary>The Lua 5.1 runtime: libraries, memory bound, sandbox, hostile values.</summary>
public class Lua51RuntimeTests
{
    private static (string Reply, string? Error) Run(LuaEngine e, string script)
    {
        var body = Encoding.UTF8.GetBytes(script);
        string sha = LuaEngine.Sha1Hex(body);
        var cerr = e.CompileScript(sha, body);
        if (cerr != null) return ("", "compile: " + cerr);
        var w = new RespWriter();
        var err = e.Run(sha, [], [], asFunction: false, readOnly: false, w, sha);
        return (Encoding.UTF8.GetString(w.Written.Span), err);
    }

    private static (string Reply, string? Error) Eval(string script)
    {
        using var e = new LuaEngine(new FakeHost());
        return Run(e, script);
    }

    [Theory]
    [InlineData("return {bit.band(0xff, 0x0f), bit.bor(1, 2, 4), bit.bxor(5, 1)}", "*3\r\n:15\r\n:7\r\n:4\r\n")]
    [InlineData("return {bit.lshift(1, 31), bit.rshift(-1, 28), bit.arshift(-256, 4)}", "*3\r\n:-2147483648\r\n:15\r\n:-16\r\n")]
    [InlineData("return {bit.tobit(2^32 + 5), bit.bnot(0), bit.rol(1, 33), bit.ror(1, 1)}", "*4\r\n:5\r\n:-1\r\n:2\r\n:-2147483648\r\n")]
    [InlineData("return {bit.tohex(65535, -4), bit.tohex(255), bit.bswap(1)}", "*3\r\n$4\r\nFFFF\r\n$8\r\n000000ff\r\n:16777216\r\n")]
    [InlineData("return {struct.unpack('>i2 <I4 d', struct.pack('>i2 <I4 d', -2, 70000, 1.5))}", "*4\r\n:-2\r\n:70000\r\n:1\r\n:15\r\n")]
    [InlineData("return {struct.size('!4 b i'), struct.unpack('s', struct.pack('s', 'hi'))}", "*3\r\n:8\r\n$2\r\nhi\r\n:4\r\n")]
    [InlineData("return cmsgpack.unpack(cmsgpack.pack({1, 2, 'x'}))", "*3\r\n:1\r\n:2\r\n$1\r\nx\r\n")]
    [InlineData("return #cmsgpack.pack(1, -200, 70000, 1.5, 'abc', true)", ":19\r\n")]
    [InlineData("local pos, v = cmsgpack.unpack_one(cmsgpack.pack(7, 8)) return {pos, v}", "*2\r\n:1\r\n:7\r\n")]
    [InlineData("return cjson.encode({1, 2, {a = 'x/y'}})", "$18\r\n[1,2,{\"a\":\"x\\/y\"}]\r\n")]
    [InlineData("return cjson.decode('{\"a\":[1,2,{\"b\":null}]}').a[3].b == cjson.null", ":1\r\n")]
    [InlineData("return {tostring(10/2), 'a'..10/2, string.format('%d', 3.5), table.getn({1, 2})}", "*4\r\n$1\r\n5\r\n$2\r\na5\r\n$1\r\n3\r\n:2\r\n")]
    public void Libraries_behave_like_redis(string script, string expected)
    {
        var (reply, err) = Eval(script);
        Assert.Null(err);
        Assert.Equal(expected, reply);
    }

    [Theory]
    [InlineData("return bit.band('x')", "ERR user_script:1: bad argument #1 to 'band' (number expected, got string)")]
    [InlineData("return struct.pack('q', 1)", "ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'q')")]
    [InlineData("return cmsgpack.unpack('\\217')", "ERR user_script:1: Missing bytes in input.")]
    [InlineData("return cmsgpack.unpack(string.rep('\\145', 50000))", "ERR user_script:1: stack overflow")]
    [InlineData("return cjson.decode('[')", "ERR user_script:1: Expected value but found T_END at character 2")]
    [InlineData("return cjson.decode('{\"a\" 1}')", "ERR user_script:1: Expected colon but found T_NUMBER at character 6")]
    [InlineData("return cjson.decode(string.rep('[', 5000))", "ERR user_script:1: Found too many nested data structures (1001) at character 1001")]
    [InlineData("return cjson.encode({1, 2, [20] = 3})", "ERR user_script:1: Cannot serialise table: excessively sparse array")]
    [InlineData("setmetatable(_G, {})", "ERR Attempt to modify a readonly table")]
    [InlineData("getmetatable('').__index.upper = nil", "ERR user_script:1: Attempt to modify a readonly table")]
    [InlineData("return loadstring(string.dump(function() return 1 end))()", "ERR user_script:1: attempt to call a nil value")]
    [InlineData("return newproxy", "ERR user_script:1: Script attempted to access nonexistent global variable 'newproxy'")]
    public void Misuse_raises_redis_errors(string script, string expectedStart)
    {
        var (_, err) = Eval(script);
        Assert.NotNull(err);
        Assert.StartsWith(expectedStart, err);
    }

    [Fact]
    public void Bytecode_is_refused_at_compile_time()
    {
        var (_, err) = Eval("\u001bLua");
        Assert.Equal("compile: user_script:1: unexpected symbol near 'char(27)'", err);
    }

    [Fact]
    public void Memory_is_counted_and_bounded_and_the_engine_survives()
    {
        using var e = new LuaEngine(new FakeHost(), memoryLimit: 64L << 20);
        long before = e.UsedMemory;
        Assert.True(before > 10_000);
        var (_, err) = Run(e, "local t = {} for i = 1, 1e7 do t[i] = string.rep('x', 100) .. i end return #t");
        Assert.NotNull(err);
        Assert.Contains("not enough memory", err);
        Assert.True(e.UsedMemory < 64L << 20);
        var (reply, err2) = Run(e, "return 'still here'");
        Assert.Null(err2);
        Assert.Equal("$10\r\nstill here\r\n", reply);
    }

    [Fact]
    public void Hostile_return_values_convert_without_running_lua()
    {
        var (reply, err) = Eval("return setmetatable({}, {__index = function() error('boom') end})");
        Assert.Null(err);
        Assert.Equal("*0\r\n", reply);
        (reply, err) = Eval("local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return t");
        Assert.Null(err);
        Assert.EndsWith("-ERR reached lua stack limit\r\n", reply);
    }

    [Fact]
    public void Changes_to_globals_do_not_reach_later_scripts()
    {
        using var e = new LuaEngine(new FakeHost());
        Run(e, "pcall(function() string.upper = nil end) pcall(rawset, _G, 'y', 1) pcall(function() cjson.x = 1 end)");
        var (reply, err) = Run(e, "return {string.upper('a'), type(rawget(_G, 'y')), type(cjson.x)}");
        Assert.Null(err);
        Assert.Equal("*3\r\n$1\r\nA\r\n$3\r\nnil\r\n$3\r\nnil\r\n", reply);
    }
}
