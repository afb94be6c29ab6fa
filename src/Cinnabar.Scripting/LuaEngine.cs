using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Cinnabar.Protocol;
using KeraLua;

namespace Cinnabar.Scripting;

/// <summary>
/// One sandboxed Lua 5.4 state (KeraLua) set up to behave like Redis 7.0's Lua 5.1 scripting.
/// EVAL scripts and FUNCTION libraries each get their own engine, as in Redis.
/// C# entry points never raise Lua errors themselves (a longjmp across managed frames is unsafe):
/// they return values and small Lua wrappers (Bootstrap.lua) raise. Errors reach C# as
/// {err=, source=, line=} tables built by the bootstrap's message handler.
/// </summary>
public sealed class LuaEngine : IDisposable
{
    private readonly Lua _lua;
    private readonly IScriptHost _host;
    // Delegates handed to native code must stay reachable for the state's lifetime.
    private readonly List<LuaFunction> _keepAlive = new();
    private readonly int _errorHandlerRef;
    private readonly int _envRef;
    private readonly int _apiRef;
    private int _callablesRef;
    private readonly Stopwatch _running = new();

    public LuaEngine(IScriptHost host, bool functionsMode = false)
    {
        _host = host;
        _lua = new Lua(openLibs: true);
        string libraries = Resource("Libraries.lua");
        if (_lua.LoadString(libraries, "=cinnabar_libs") != LuaStatus.OK || _lua.PCall(0, 0, 0) != LuaStatus.OK)
            throw new InvalidOperationException(_lua.ToString(-1));
        string bootstrap = Resource("Bootstrap.lua");
        if (_lua.LoadString(bootstrap, "=cinnabar") != LuaStatus.OK) throw new InvalidOperationException(_lua.ToString(-1));
        _lua.NewTable();
        AddFunction("call", l => RedisCall(l, raise: true));
        AddFunction("pcall", l => RedisCall(l, raise: false));
        AddFunction("error_reply", l => ReplyTable(l, "err"));
        AddFunction("status_reply", l => ReplyTable(l, "ok"));
        AddFunction("sha1hex", Sha1HexFn);
        AddFunction("log", RedisLog);
        AddFunction("setresp", SetResp);
        AddFunction("set_repl", SetRepl);
        AddFunction("acl_check_cmd", AclCheckCmd);
        AddFunction("check", CheckKill);
        _lua.PushBoolean(functionsMode);
        if (_lua.PCall(2, 1, 0) != LuaStatus.OK) throw new InvalidOperationException(_lua.ToString(-1));
        _apiRef = _lua.Ref(LuaRegistry.Index);
        _errorHandlerRef = ApiRef("error_handler");
        _envRef = ApiRef("env");
        _lua.NewTable();
        _callablesRef = _lua.Ref(LuaRegistry.Index);
    }

    /// <summary>Protocol chosen by redis.setresp for the running script (2 by default).</summary>
    public int Resp { get; private set; } = 2;
    public bool ReadOnlyRun { get; private set; }
    public bool IsRunning => _running.IsRunning;
    public long RunningMs => _running.ElapsedMilliseconds;
    public bool KillRequested { get; set; }
    /// <summary>Set when a command called by the running script modified data (SCRIPT KILL then refuses).</summary>
    public bool WroteSomething { get; set; }
    public string KillMessage { get; set; } = "ERR Script killed by user with SCRIPT KILL...";

    private static string Resource(string name)
    {
        using var s = typeof(LuaEngine).Assembly.GetManifestResourceStream("Cinnabar.Scripting." + name)!;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    private int ApiRef(string field)
    {
        _lua.RawGetInteger(LuaRegistry.Index, _apiRef);
        _lua.GetField(-1, field);
        int r = _lua.Ref(LuaRegistry.Index);
        _lua.Pop(1);
        return r;
    }

    private void AddFunction(string name, Func<Lua, int> body)
    {
        LuaFunction f = state => body(Lua.FromIntPtr(state));
        _keepAlive.Add(f);
        _lua.PushCFunction(f);
        _lua.SetField(-2, name);
    }

    /// <summary>
    /// Makes the running C# function raise {err=message} when it returns (see Bootstrap.lua:
    /// raising from C# directly would longjmp across managed frames).
    /// </summary>
    private int Raise(Lua l, byte[] message)
    {
        l.RawGetInteger(LuaRegistry.Index, _apiRef);
        l.GetField(-1, "raise_on_return");
        l.Remove(-2);
        l.NewTable();
        l.PushBuffer(message);
        l.SetField(-2, "err");
        l.PCall(1, 0, 0);
        return 0;
    }

    private int Raise(Lua l, string message) => Raise(l, Encoding.UTF8.GetBytes(message));

    private void CallApi(string name, int nargs, int nresults)
    {
        // Stack: args on top. Insert the api function below them.
        _lua.RawGetInteger(LuaRegistry.Index, _apiRef);
        _lua.GetField(-1, name);
        _lua.Remove(-2);
        _lua.Insert(-1 - nargs);
        if (_lua.PCall(nargs, nresults, 0) != LuaStatus.OK)
        {
            string msg = _lua.ToString(-1);
            _lua.Pop(1);
            throw new InvalidOperationException(msg);
        }
    }

    public static string Sha1Hex(ReadOnlySpan<byte> body) => Convert.ToHexString(SHA1.HashData(body)).ToLowerInvariant();

    // ------------------------------------------------------------------ compile

    /// <summary>Compiles a chunk with the sandbox as its globals; leaves the function on the stack or returns the error.</summary>
    private string? Compile(byte[] body, string chunkName)
    {
        var status = _lua.LoadBuffer(body, chunkName);
        if (status != LuaStatus.OK)
        {
            string err = _lua.ToString(-1, false) ?? "unknown error";
            _lua.Pop(1);
            return err;
        }
        _lua.RawGetInteger(LuaRegistry.Index, _envRef);
        _lua.SetUpValue(-2, 1);
        return null;
    }

    /// <summary>Compiles and caches an EVAL script under its sha; returns a compile error message or null.</summary>
    public string? CompileScript(string sha, byte[] body)
    {
        var err = Compile(body, "@user_script");
        if (err != null) return err;
        _lua.RawGetInteger(LuaRegistry.Index, _callablesRef);
        _lua.Insert(-2);
        _lua.SetField(-2, sha);
        _lua.Pop(1);
        return null;
    }

    public bool HasCallable(string name)
    {
        _lua.RawGetInteger(LuaRegistry.Index, _callablesRef);
        var t = _lua.GetField(-1, name);
        _lua.Pop(2);
        return t == LuaType.Function;
    }

    public void RemoveCallable(string name)
    {
        _lua.RawGetInteger(LuaRegistry.Index, _callablesRef);
        _lua.PushNil();
        _lua.SetField(-2, name);
        _lua.Pop(1);
    }

    /// <summary>Drops every cached script or function (SCRIPT FLUSH / FUNCTION FLUSH).</summary>
    public void ClearCallables()
    {
        _lua.Unref(LuaRegistry.Index, _callablesRef);
        _lua.NewTable();
        _callablesRef = _lua.Ref(LuaRegistry.Index);
        _lua.GarbageCollector(LuaGC.Collect, 0);
    }

    // ------------------------------------------------------------------ run

    /// <summary>
    /// Runs a cached script or function and writes its reply. EVAL scripts get KEYS/ARGV globals;
    /// functions get (keys, args) arguments. Returns the error text to report (the caller writes
    /// it through its error path) or null when a reply was written to <paramref name="w"/>.
    /// </summary>
    public string? Run(string name, byte[][] keys, byte[][] args, bool asFunction, bool readOnly, RespWriter w, string errorName)
    {
        _lua.SetTop(0);
        Resp = 2;
        ReadOnlyRun = readOnly;
        KillRequested = false;
        WroteSomething = false;
        // A killed script leaves a line hook that raises; clear it before running our own Lua.
        _lua.SetHook(null!, LuaHookMask.Disabled, 0);
        CallApi("rearm", 0, 0);
        _lua.RawGetInteger(LuaRegistry.Index, _errorHandlerRef);
        _lua.RawGetInteger(LuaRegistry.Index, _callablesRef);
        _lua.GetField(-1, name);
        _lua.Remove(-2);
        PushArray(keys);
        PushArray(args);
        int nargs = 2;
        if (!asFunction)
        {
            CallApi("set_keys_args", 2, 0);
            nargs = 0;
        }
        _running.Restart();
        LuaStatus status;
        try
        {
            status = _lua.PCall(nargs, 1, 1);
        }
        finally
        {
            _running.Stop();
        }
        string? error = null;
        if (status == LuaStatus.OK)
        {
            error = LuaConversion.WriteReply(_lua, -1, w, Resp);
        }
        else error = FormatError(errorName);
        _lua.SetTop(0);
        // Redis runs a full GC step after scripts that allocated a lot; a small step is enough here.
        _lua.GarbageCollector(LuaGC.Step, 1);
        return error;
    }

    private string FormatError(string errorName)
    {
        if (_lua.Type(-1) != LuaType.Table)
            return "ERR Error running script (call to " + errorName + "): " + (_lua.ToString(-1, false) ?? "unknown error");
        LuaConversion.TryGetStringField(_lua, -1, "err", out var errBytes);
        string msg = Encoding.UTF8.GetString(errBytes);
        _lua.GetField(-1, "source");
        string? source = _lua.Type(-1) == LuaType.String ? _lua.ToString(-1, false) : null;
        _lua.Pop(1);
        _lua.GetField(-1, "line");
        string? line = _lua.Type(-1) == LuaType.Number ? LuaNumbers.ToReplyInteger(_lua, -1).ToString(System.Globalization.CultureInfo.InvariantCulture) : null;
        _lua.Pop(1);
        if (source != null && line != null) return $"{msg} script: {errorName}, on {source}:{line}.";
        return msg;
    }

    private void PushArray(byte[][] items)
    {
        _lua.CreateTable(items.Length, 0);
        for (int i = 0; i < items.Length; i++)
        {
            _lua.PushBuffer(items[i]);
            _lua.RawSetInteger(-2, i + 1);
        }
    }

    // ------------------------------------------------------------------ functions (FUNCTION LOAD)

    public sealed record RegisteredFunction(string Name, string? Description, string[] Flags);

    /// <summary>
    /// Runs a library body in the load-time sandbox and returns what it registered. The callbacks
    /// are stored under temporary names "lib\0fn" until <see cref="CommitFunctions"/>.
    /// </summary>
    public string? LoadLibrary(byte[] body, out List<RegisteredFunction> registered, out string? compileError)
    {
        registered = new List<RegisteredFunction>();
        compileError = null;
        _lua.SetTop(0);
        var err = Compile(body, "@user_function");
        if (err != null)
        {
            compileError = err;
            return null;
        }
        _lua.SetHook(null!, LuaHookMask.Disabled, 0);
        CallApi("rearm", 0, 0);
        CallApi("begin_load", 0, 0);
        _lua.RawGetInteger(LuaRegistry.Index, _errorHandlerRef);
        _lua.Insert(-2);
        _running.Restart();
        var status = _lua.PCall(0, 0, 1);
        _running.Stop();
        string? runError = null;
        if (status != LuaStatus.OK)
        {
            LuaConversion.TryGetStringField(_lua, -1, "err", out var e);
            runError = Encoding.UTF8.GetString(e);
            _lua.SetTop(0);
        }
        CallApi("end_load", 0, 1);
        if (runError != null)
        {
            _lua.SetTop(0);
            return runError;
        }
        // Stack: list of {name, callback, flags, description}. Park the callbacks in a pending table.
        _lua.NewTable();
        int pending = _lua.GetTop();
        int list = pending - 1;
        for (int i = 1; _lua.RawGetInteger(list, i) == LuaType.Table; i++)
        {
            _lua.GetField(-1, "name");
            string fname = _lua.ToString(-1, false)!;
            _lua.Pop(1);
            _lua.GetField(-1, "description");
            string? desc = _lua.Type(-1) == LuaType.String ? _lua.ToString(-1, false) : null;
            _lua.Pop(1);
            var flags = new List<string>();
            _lua.GetField(-1, "flags");
            for (int k = 1; _lua.RawGetInteger(-1, k) == LuaType.String; k++)
            {
                flags.Add(_lua.ToString(-1, false)!);
                _lua.Pop(1);
            }
            _lua.Pop(2);
            _lua.GetField(-1, "callback");
            _lua.SetField(pending, fname);
            _lua.Pop(1);
            registered.Add(new RegisteredFunction(fname, desc, flags.ToArray()));
        }
        _lua.Pop(1);
        _pendingRef = _lua.Ref(LuaRegistry.Index);
        _lua.SetTop(0);
        return null;
    }

    private int _pendingRef = -1;

    /// <summary>Makes the functions of the last successful <see cref="LoadLibrary"/> callable (or drops them).</summary>
    public void CommitFunctions(bool commit)
    {
        if (_pendingRef < 0) return;
        if (commit)
        {
            _lua.RawGetInteger(LuaRegistry.Index, _callablesRef);
            _lua.RawGetInteger(LuaRegistry.Index, _pendingRef);
            _lua.PushNil();
            while (_lua.Next(-2))
            {
                _lua.PushCopy(-2);
                _lua.Insert(-2);
                _lua.SetTable(-5);
            }
            _lua.Pop(2);
        }
        _lua.Unref(LuaRegistry.Index, _pendingRef);
        _pendingRef = -1;
    }

    // ------------------------------------------------------------------ C# entry points

    /// <summary>luaArgsToRedisArgv: the Lua arguments as command arguments, or null with the error.</summary>
    private static byte[][]? ArgsToArgv(Lua l, out string? error)
    {
        error = null;
        int argc = l.GetTop();
        if (argc == 0)
        {
            error = "ERR Please specify at least one argument for this redis lib call";
            return null;
        }
        var argv = new byte[argc][];
        for (int i = 0; i < argc; i++)
        {
            int idx = i + 1;
            var t = l.Type(idx);
            if (t == LuaType.String) argv[i] = l.ToBuffer(idx, false);
            else if (t == LuaType.Number) argv[i] = LuaNumbers.ArgBytes(l, idx);
            else
            {
                error = "ERR Lua redis lib command arguments must be strings or integers";
                return null;
            }
        }
        return argv;
    }

    /// <summary>redis.acl_check_cmd: true/false, or an error when no such command exists.</summary>
    private int AclCheckCmd(Lua l)
    {
        var argv = ArgsToArgv(l, out string? error);
        if (argv == null) return Raise(l, error!);
        bool? allowed = _host.AclCheckCommand(argv);
        if (allowed == null) return Raise(l, "ERR Invalid command passed to redis.acl_check_cmd()");
        l.SetTop(0);
        l.PushBoolean(allowed.Value);
        return 1;
    }

    /// <summary>redis.call / redis.pcall: runs a command through the host and converts its reply.</summary>
    private int RedisCall(Lua l, bool raise)
    {
        var argv = ArgsToArgv(l, out string? argError);
        if (argv == null) return Fail(l, raise, argError!);
        var reply = _host.Call(argv, Resp, ReadOnlyRun, out string? scriptError);
        if (scriptError != null) return Fail(l, raise, scriptError);
        var span = reply.Span;
        l.SetTop(0);
        if (span.Length == 0)
        {
            l.PushNil();
            return 1;
        }
        if (span[0] == '-' && raise) return Raise(l, span[1..span.IndexOf("\r\n"u8)].ToArray());
        LuaConversion.PushResp(l, span, 0);
        return 1;
    }

    private int Fail(Lua l, bool raise, string message)
    {
        if (raise) return Raise(l, message);
        l.NewTable();
        l.PushString(message);
        l.SetField(-2, "err");
        return 1;
    }

    private int ReplyTable(Lua l, string field)
    {
        if (l.GetTop() != 1 || l.Type(1) != LuaType.String) return Raise(l, "ERR wrong number or type of arguments");
        l.NewTable();
        l.PushCopy(1);
        l.SetField(-2, field);
        return 1;
    }

    private int RedisLog(Lua l)
    {
        int argc = l.GetTop();
        if (argc < 2) return Raise(l, "ERR redis.log() requires two arguments or more.");
        if (l.Type(1) != LuaType.Number) return Raise(l, "ERR First argument must be a number (log level).");
        long level = LuaNumbers.ToReplyInteger(l, 1);
        if (level < 0 || level > 3) return Raise(l, "ERR Invalid debug level.");
        var sb = new StringBuilder();
        for (int i = 2; i <= argc; i++)
        {
            var t = l.Type(i);
            if (t != LuaType.String && t != LuaType.Number) continue;
            if (sb.Length > 0) sb.Append(' ');
            sb.Append(t == LuaType.String ? l.ToString(i, false) : Encoding.ASCII.GetString(LuaNumbers.ArgBytes(l, i)));
        }
        _host.Log((int)level, sb.ToString());
        return 0;
    }

    private int Sha1HexFn(Lua l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR wrong number of arguments");
        byte[] data = l.Type(1) switch
        {
            LuaType.String => l.ToBuffer(1, false),
            LuaType.Number => LuaNumbers.ArgBytes(l, 1),
            _ => [],
        };
        l.PushString(Sha1Hex(data));
        return 1;
    }

    private int SetResp(Lua l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR redis.setresp() requires one argument.");
        long v = l.Type(1) == LuaType.Number ? LuaNumbers.ToReplyInteger(l, 1) : 0;
        if (v != 2 && v != 3) return Raise(l, "ERR RESP version must be 2 or 3.");
        Resp = (int)v;
        return 0;
    }

    private int SetRepl(Lua l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR redis.set_repl() requires one argument.");
        long v = l.Type(1) == LuaType.Number ? LuaNumbers.ToReplyInteger(l, 1) : -1;
        if (v < 0 || v > 3) return Raise(l, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        return 0;
    }

    private int CheckKill(Lua l)
    {
        if (KillRequested || _host.ShouldKill(_running.ElapsedMilliseconds))
        {
            KillRequested = true;
            l.PushString(KillMessage);
            return 1;
        }
        return 0;
    }

    public void Dispose() => _lua.Dispose();
}
