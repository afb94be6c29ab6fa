using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Hostile scripts: each gets Redis's reply (error text or value) and the server must still
/// answer PING afterwards.
/// </summary>
public sealed class ScriptingAdversarialTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ScriptingAdversarialTests(CinnabarFixture f) => _f = f;

    private Reply Eval(string script, RespConnection? c = null)
    {
        using var own = c == null ? new RespConnection(_f.Server.Port, 60000) : null;
        var conn = c ?? own!;
        var r = conn.Call("EVAL", script, "0");
        Assert.Equal("PONG", conn.Call("PING").ToString());
        return r;
    }

    private void AssertError(string script, string expectedStart)
    {
        var r = Eval(script);
        Assert.True(r.IsError, "expected an error, got " + r);
        Assert.StartsWith(expectedStart, r.ToString());
    }

    [Fact]
    public void Returning_the_globals_table_gives_an_empty_array()
    {
        var r = Eval("return _G");
        Assert.Equal('*', r.Type);
        Assert.Empty(r.Items!);
    }

    [Theory]
    [InlineData("local t = {} setmetatable(t, {__index = function() error('boom') end}) return t")]
    [InlineData("local t = setmetatable({}, {__index = function() redis.call('set', 'x', '1') end}) return t")]
    [InlineData("return {function() end, coroutine.create(function() end), cjson.null}")]
    public void Returned_tables_with_metatables_functions_or_userdata_convert_without_running_code(string script)
    {
        var r = Eval(script);
        Assert.Equal('*', r.Type);
    }

    [Fact]
    public void A_self_referencing_table_ends_in_the_stack_limit_error()
    {
        var r = Eval("local t = {} t[1] = t return t");
        var leaf = r;
        while (leaf.Type == '*') leaf = leaf.Items![0];
        Assert.Equal("ERR reached lua stack limit", leaf.ToString());
    }

    [Fact]
    public void A_reply_nested_100k_levels_deep_is_cut_at_the_stack_limit()
    {
        var r = Eval("local t = {} local c = t for i = 1, 100000 do c[1] = {} c = c[1] end return t");
        int depth = 0;
        var leaf = r;
        while (leaf.Type == '*') { leaf = leaf.Items![0]; depth++; }
        Assert.True(depth > 1000);
        Assert.Equal("ERR reached lua stack limit", leaf.ToString());
    }

    [Theory]
    [InlineData("local function f() return f() + 1 end return f()", "ERR user_script:1: stack overflow")]
    [InlineData("return cjson.decode(string.rep('[', 100000))", "ERR user_script:1: Found too many nested data structures (1001) at character 1001")]
    [InlineData("return cmsgpack.unpack(string.rep('\\145', 100000))", "ERR user_script:1: stack overflow")]
    [InlineData("return cmsgpack.unpack('\\217')", "ERR user_script:1: Missing bytes in input.")]
    [InlineData("return cmsgpack.unpack('\\193')", "ERR user_script:1: Bad data format in input.")]
    [InlineData("return struct.pack('q', 1)", "ERR user_script:1: bad argument #1 to 'pack' (invalid format option 'q')")]
    [InlineData("return struct.unpack('i', 'x')", "ERR user_script:1: bad argument #2 to 'unpack' (data string too short)")]
    [InlineData("return bit.band('x')", "ERR user_script:1: bad argument #1 to 'band' (number expected, got string)")]
    [InlineData("return cjson.encode(function() end)", "ERR user_script:1: Cannot serialise function: type not supported")]
    [InlineData("local t = {} t[1] = t return cjson.encode(t)", "ERR user_script:1: Cannot serialise, excessive nesting (1001)")]
    [InlineData("return loadstring(string.dump(function() return 1 end))()", "ERR user_script:1: attempt to call a nil value")]
    [InlineData("x = 1", "ERR user_script:1: Attempt to modify a readonly table")]
    [InlineData("getmetatable('').__index.upper = nil", "ERR user_script:1: Attempt to modify a readonly table")]
    [InlineData("setmetatable(_G, {})", "ERR Attempt to modify a readonly table")]
    [InlineData("rawset(_G, 'x', 1)", "ERR Attempt to modify a readonly table")]
    [InlineData("local g = getmetatable(_G) g.__index = {}", "ERR user_script:1: Attempt to modify a readonly table")]
    [InlineData("cjson.encode = nil", "ERR user_script:1: Attempt to modify a readonly table")]
    [InlineData("return newproxy(true)", "ERR user_script:1: Script attempted to access nonexistent global variable 'newproxy'")]
    [InlineData("return getfenv(0)", "ERR user_script:1: Script attempted to access nonexistent global variable 'getfenv'")]
    [InlineData("return os.exit()", "ERR user_script:1: Script attempted to access nonexistent global variable 'os'")]
    public void Misuse_gets_redis_error_and_server_survives(string script, string expected) => AssertError(script, expected);

    [Fact]
    public void Bytecode_scripts_are_refused_at_compile_time()
    {
        AssertError("\u001bLua", "ERR Error compiling script (new function): user_script:1: unexpected symbol near 'char(27)'");
    }

    [Fact]
    public void Large_strings_and_tables_are_fine()
    {
        Assert.Equal(1L << 26, Eval("return #string.rep('x', 2^26)").Integer);
        Assert.Equal(1000000, Eval("local t = {} for i = 1, 1e6 do t[i] = i end return #t").Integer);
    }

    [Fact]
    public void Scripts_cannot_leave_globals_or_libraries_changed_for_later_scripts()
    {
        Eval("pcall(function() string.upper = nil end) pcall(function() _G.x = 1 end)");
        Assert.Equal("A", Eval("return string.upper('a')").ToString());
        AssertError("return x", "ERR user_script:1: Script attempted to access nonexistent global variable 'x'");
    }

    [Fact]
    public void Lua_memory_shows_in_info()
    {
        using var c = new RespConnection(_f.Server.Port);
        Eval("return 1", c);
        string info = c.Call("INFO", "memory").ToString();
        var line = info.Split("\r\n").First(l => l.StartsWith("used_memory_vm_eval:", StringComparison.Ordinal));
        Assert.True(long.Parse(line.Split(':')[1]) > 10000);
    }

    [Fact]
    public void Function_load_body_that_never_returns_is_stopped_after_500ms()
    {
        using var c = new RespConnection(_f.Server.Port, 30000);
        var r = c.Call("FUNCTION", "LOAD", "#!lua name=spin\nwhile true do end");
        Assert.Equal("ERR Error registering functions: ERR FUNCTION LOAD timeout", r.ToString());
        Assert.Equal("PONG", c.Call("PING").ToString());
    }
}
