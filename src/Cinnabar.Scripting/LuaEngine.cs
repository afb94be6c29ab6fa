using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// One sandboxed Lua 5.1 state (Debian's liblua5.1, through our own bindings in
/// <see cref="Lua51"/>) set up like Redis 7.0's scripting. EVAL scripts and FUNCTION libraries
/// each get their own engine, as in Redis. C# entry points never raise Lua errors themselves (a
/// longjmp across managed frames is unsafe): they store the error and a one-shot Lua return
/// hook raises it once the C# function has returned (Bootstrap.lua). Errors reach C# as
/// {err=, source=, line=} tables built by the bootstrap's message handler.
/// </summary>
public sealed unsafe class LuaEngine : IDisposable
{
    /// <summary>Default bound on one state's memory (bytes); a script allocating past it gets an error reply.</summary>
    public const long DefaultMemoryLimit = 4L << 30;

    private readonly LuaState _lua;
    private readonly IScriptHost _host;
    private readonly Lua51.MemState* _mem;
    private GCHandle _self;
    private readonly List<Func<LuaState, int>> _functions = new();
    private readonly int _errorHandlerRef;
    private readonly int _envRef;
    private readonly int _apiRef;
    private int _callablesRef;
    private readonly Stopwatch _running = new();
    private bool _disposed;
    private bool _loading;
    private int _callerStrict;

    public LuaEngine(IScriptHost host, bool functionsMode = false, long memoryLimit = DefaultMemoryLimit)
    {
        _host = host;
        _mem = (Lua51.MemState*)NativeMemory.AllocZeroed((nuint)sizeof(Lua51.MemState));
        _mem->Limit = memoryLimit;
        IntPtr l = Lua51.lua_newstate(&Lua51.Alloc, _mem);
        if (l == IntPtr.Zero) throw new InvalidOperationException("cannot create a Lua state");
        _lua = new LuaState(l);
        Lua51.lua_atpanic(l, &Lua51.Panic);
        _self = GCHandle.Alloc(this);
        Lua51.luaL_openlibs(l);
        _lua.NewTable();
        AddFunction("call", s => RedisCall(s, raise: true));
        AddFunction("pcall", s => RedisCall(s, raise: false));
        AddFunction("error_reply", ErrorReply);
        AddFunction("status_reply", s => ReplyTable(s, "ok"));
        AddFunction("sha1hex", Sha1HexFn);
        AddFunction("log", RedisLog);
        AddFunction("setresp", SetResp);
        AddFunction("set_repl", SetRepl);
        AddFunction("acl_check_cmd", AclCheckCmd);
        AddFunction("check", CheckKill);
        AddFunction("is_bytecode", IsBytecode);
        AddFunction("null", PushNull);
        AddFunction("wrap", Wrap);
        AddFunction("ldb_hook", LdbHook);
        AddFunction("debug", DebugLog);
        AddFunction("breakpoint", Breakpoint);
        AddLibrary("bit", LuaBit.Functions);
        AddLibrary("struct", LuaStruct.Functions);
        AddLibrary("cmsgpack", LuaMsgPack.Functions);
        int cs = _lua.Ref();
        if (_lua.LoadBuffer(Encoding.UTF8.GetBytes(Resource("Libraries.lua")), "=cinnabar_libs") != LuaStatus.OK) throw new InvalidOperationException(_lua.ToStringUtf8(-1));
        _lua.GetRef(cs);
        if (_lua.PCall(1, 0, 0) != LuaStatus.OK) throw new InvalidOperationException(_lua.ToStringUtf8(-1));
        if (_lua.LoadBuffer(Encoding.UTF8.GetBytes(Resource("Bootstrap.lua")), "=cinnabar") != LuaStatus.OK) throw new InvalidOperationException(_lua.ToStringUtf8(-1));
        _lua.GetRef(cs);
        _lua.Unref(cs);
        _lua.PushBoolean(functionsMode);
        if (_lua.PCall(2, 1, 0) != LuaStatus.OK) throw new InvalidOperationException(_lua.ToStringUtf8(-1));
        _apiRef = _lua.Ref();
        _errorHandlerRef = ApiRef("error_handler");
        _envRef = ApiRef("env");
        _lua.NewTable();
        _callablesRef = _lua.Ref();
        _lua.Gc(Lua51.GcCollect, 0);
    }

    /// <summary>The debugging session of the next <see cref="Run"/> (SCRIPT DEBUG), or null.</summary>
    public LuaDebugger? Debugger { get; set; }

    /// <summary>Protocol chosen by redis.setresp for the running script (2 by default).</summary>
    public int Resp { get; private set; } = 2;

    /// <summary>The error the last <see cref="Run"/> returned was a command's error the statistics already counted.</summary>
    public bool LastErrorCounted { get; private set; }

    /// <summary>redis.set_repl: where the script's next writes propagate (1 AOF, 2 replicas, 3 both, 0 none).</summary>
    public int ReplFlags { get; private set; } = 3;
    public bool ReadOnlyRun { get; private set; }
    public bool IsRunning => _running.IsRunning;
    public long RunningMs => _running.ElapsedMilliseconds;
    public bool KillRequested { get; set; }
    /// <summary>Set when a command called by the running script modified data (SCRIPT KILL then refuses).</summary>
    public bool WroteSomething { get; set; }
    public string KillMessage { get; set; } = "ERR Script killed by user with SCRIPT KILL...";

    /// <summary>Bytes the Lua state holds (INFO used_memory_lua / used_memory_vm_*).</summary>
    public long UsedMemory => _disposed ? 0 : _mem->Used;

    /// <summary>
    /// Upper bound (ms) on running a FUNCTION LOAD body, or 0 for none. When reached the body
    /// stops with <see cref="TimeoutMessage"/> (Redis stops it after 500 ms).
    /// </summary>
    public long TimeLimitMs { get; set; } = LoadTimeoutMs;
    public string TimeoutMessage { get; set; } = "ERR FUNCTION LOAD timeout";

    /// <summary>Redis stops a FUNCTION LOAD body after this long.</summary>
    public const long LoadTimeoutMs = 500;

    private static string Resource(string name)
    {
        using var s = typeof(LuaEngine).Assembly.GetManifestResourceStream("Cinnabar.Scripting." + name)!;
        using var r = new StreamReader(s);
        return r.ReadToEnd();
    }

    private int ApiRef(string field)
    {
        _lua.GetRef(_apiRef);
        _lua.GetField(-1, field);
        int r = _lua.Ref();
        _lua.Pop(1);
        return r;
    }

    /// <summary>Pushes a C closure that dispatches to <paramref name="body"/> (upvalues: this engine, index).</summary>
    private void PushFunction(Func<LuaState, int> body)
    {
        _functions.Add(body);
        Lua51.lua_pushlightuserdata(_lua.Handle, (void*)GCHandle.ToIntPtr(_self));
        _lua.PushNumber(_functions.Count - 1);
        Lua51.lua_pushcclosure(_lua.Handle, &Dispatch, 2);
    }

    private void AddFunction(string name, Func<LuaState, int> body)
    {
        PushFunction(body);
        _lua.SetField(-2, name);
    }

    private void AddLibrary(string name, IEnumerable<(string Name, Func<LuaState, int> Body)> functions)
    {
        _lua.NewTable();
        foreach (var (fname, body) in functions) AddFunction(fname, body);
        _lua.SetField(-2, name);
    }

    /// <summary>
    /// Entry of every C# function called from Lua. Runs the body with the allocator lenient
    /// (an allocation failure would raise across this frame) and turns exceptions into raised errors.
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int Dispatch(IntPtr state)
    {
        var l = new LuaState(state);
        var engine = (LuaEngine)GCHandle.FromIntPtr((IntPtr)Lua51.lua_touserdata(state, Lua51.UpvalueIndex(1))).Target!;
        int id = (int)Lua51.lua_tonumber(state, Lua51.UpvalueIndex(2));
        int strict = engine._mem->Strict;
        engine._mem->Strict = 0;
        engine._callerStrict = strict;
        try
        {
            return engine._functions[id](l);
        }
        catch (LuaLibraryException e)
        {
            return engine.RaiseValue(l, Encoding.UTF8.GetBytes(e.Message), asTable: false);
        }
        catch (Exception e)
        {
            return engine.RaiseValue(l, Encoding.UTF8.GetBytes("ERR " + e.Message), asTable: true);
        }
        finally
        {
            engine._mem->Strict = strict;
        }
    }

    /// <summary>
    /// Makes the running C# function raise when it returns: {err=message} (a Redis error) or the
    /// plain string (an error of a Lua library, which the error handler prefixes with "ERR ").
    /// </summary>
    private int RaiseValue(LuaState l, byte[] message, bool asTable, bool counted = false)
    {
        l.SetTop(0);
        l.GetRef(_apiRef);
        l.GetField(-1, "raise_on_return");
        l.Remove(-2);
        if (asTable)
        {
            l.NewTable();
            l.PushBuffer(message);
            l.SetField(-2, "err");
            if (counted) MarkCounted(l);
        }
        else l.PushBuffer(message);
        l.PCall(1, 0, 0);
        l.SetTop(0);
        return 0;
    }

    private int Raise(LuaState l, byte[] message) => RaiseValue(l, message, asTable: true);

    /// <summary>Makes the running C# function raise the value on top of the stack, unchanged, when it returns.</summary>
    private int RaiseTop(LuaState l)
    {
        if (l.GetTop() > 1)
        {
            l.Replace(1);
            l.SetTop(1);
        }
        l.GetRef(_apiRef);
        l.GetField(-1, "raise_on_return");
        l.Remove(-2);
        l.Insert(1);
        l.PushNumber(0);
        l.PCall(2, 0, 0);
        l.SetTop(0);
        return 0;
    }

    /// <summary>
    /// cs.wrap(f): a C function running the Lua function f. Library functions written in Lua are
    /// exposed this way so that, like Redis's C functions, a `return f(...)` tail call keeps the
    /// user's frame (whose line error replies name).
    /// </summary>
    private int Wrap(LuaState l)
    {
        if (l.Type(1) != LuaType.Function) return Raise(l, "ERR wrap expects a function");
        l.SetTop(1);
        int fref = l.Ref();
        PushFunction(s => Trampoline(s, fref));
        return 1;
    }

    private int Trampoline(LuaState l, int fref)
    {
        int nargs = l.GetTop();
        l.GetRef(fref);
        l.Insert(1);
        _mem->Strict = _callerStrict;
        LuaStatus status;
        try
        {
            status = l.PCall(nargs, Lua51.MultRet, 0);
        }
        finally
        {
            _mem->Strict = 0;
        }
        if (status == LuaStatus.OK) return l.GetTop();
        if (status == LuaStatus.ErrMem)
        {
            l.SetTop(0);
            l.PushString("not enough memory");
        }
        return RaiseTop(l);
    }
    private int Raise(LuaState l, string message) => Raise(l, Encoding.UTF8.GetBytes(message));

    private void CallApi(string name, int nargs, int nresults)
    {
        // Stack: args on top. Insert the api function below them.
        _lua.GetRef(_apiRef);
        _lua.GetField(-1, name);
        _lua.Remove(-2);
        _lua.Insert(-1 - nargs);
        if (_lua.PCall(nargs, nresults, 0) != LuaStatus.OK)
        {
            string msg = _lua.ToStringUtf8(-1) ?? "error";
            _lua.Pop(1);
            throw new InvalidOperationException(msg);
        }
    }

    public static string Sha1Hex(ReadOnlySpan<byte> body) => Convert.ToHexString(SHA1.HashData(body)).ToLowerInvariant();

    // ------------------------------------------------------------------ compile

    /// <summary>
    /// Redis's Lua parses every chunk as text (bytecode loading is disabled): a chunk starting
    /// with ESC gets the text parser's error. A leading space gives exactly that.
    /// </summary>
    internal static byte[] RefuseBytecode(byte[] body)
    {
        if (body.Length == 0 || body[0] != 0x1b) return body;
        var b = new byte[body.Length + 1];
        b[0] = (byte)' ';
        body.CopyTo(b, 1);
        return b;
    }

    private static int PushNull(LuaState l)
    {
        Lua51.lua_pushlightuserdata(l.Handle, null);
        return 1;
    }

    private int IsBytecode(LuaState l)
    {
        var s = l.Type(1) == LuaType.String ? l.ToSpan(1) : default;
        l.PushBoolean(s.Length > 0 && s[0] == 0x1b);
        return 1;
    }

    /// <summary>Compiles a chunk with the sandbox as its globals; leaves the function on the stack or returns the error.</summary>
    private string? Compile(byte[] body, string chunkName)
    {
        var status = _lua.LoadBuffer(RefuseBytecode(body), chunkName);
        if (status != LuaStatus.OK)
        {
            string err = status == LuaStatus.ErrMem ? "not enough memory" : _lua.ToStringUtf8(-1) ?? "unknown error";
            _lua.Pop(1);
            return err;
        }
        _lua.GetRef(_envRef);
        _lua.SetFEnv(-2);
        return null;
    }

    /// <summary>Compiles and caches an EVAL script under its sha; returns a compile error message or null.</summary>
    public string? CompileScript(string sha, byte[] body)
    {
        _lua.SetTop(0);
        var err = Compile(body, "@user_script");
        if (err != null) return err;
        _lua.GetRef(_callablesRef);
        _lua.Insert(-2);
        _lua.SetField(-2, sha);
        _lua.Pop(1);
        return null;
    }

    public bool HasCallable(string name)
    {
        _lua.GetRef(_callablesRef);
        var t = _lua.GetField(-1, name);
        _lua.Pop(2);
        return t == LuaType.Function;
    }

    public void RemoveCallable(string name)
    {
        _lua.GetRef(_callablesRef);
        _lua.PushNil();
        _lua.SetField(-2, name);
        _lua.Pop(1);
    }

    /// <summary>Drops every cached script or function (SCRIPT FLUSH / FUNCTION FLUSH).</summary>
    public void ClearCallables()
    {
        _lua.Unref(_callablesRef);
        _lua.NewTable();
        _callablesRef = _lua.Ref();
        _lua.Gc(Lua51.GcCollect, 0);
    }

    // ------------------------------------------------------------------ run

    /// <summary>Runs the function below <paramref name="nargs"/> arguments under the error handler, with the memory bound on.</summary>
    private LuaStatus ProtectedRun(int nargs, int nresults)
    {
        int fn = _lua.GetTop() - nargs;
        _lua.GetRef(_errorHandlerRef);
        _lua.Insert(fn);
        _running.Restart();
        _mem->Strict = 1;
        LuaStatus status;
        try
        {
            status = _lua.PCall(nargs, nresults, fn);
        }
        finally
        {
            _mem->Strict = 0;
            _running.Stop();
        }
        // A kill leaves a raising line hook; our own Lua below must not trip on it.
        Lua51.lua_sethook(_lua.Handle, IntPtr.Zero, 0, 0);
        _lua.Remove(fn);
        return status;
    }

    private void PrepareRun()
    {
        _lua.SetTop(0);
        KillRequested = false;
        WroteSomething = false;
        _mem->Failed = 0;
        ClearHookAndRearm();
    }

    /// <summary>A killed script leaves a raising line hook behind: drop it before running our own Lua.</summary>
    private void ClearHookAndRearm()
    {
        Lua51.lua_sethook(_lua.Handle, IntPtr.Zero, 0, 0);
        CallApi("rearm", 0, 0);
    }

    /// <summary>
    /// Runs a cached script or function and writes its reply. EVAL scripts get KEYS/ARGV globals;
    /// functions get (keys, args) arguments. Returns the error text to report (the caller writes
    /// it through its error path) or null when a reply was written to <paramref name="w"/>.
    /// </summary>
    public string? Run(string name, byte[][] keys, byte[][] args, bool asFunction, bool readOnly, RespWriter w, string errorName)
    {
        Resp = 2;
        ReplFlags = 3;
        ReadOnlyRun = readOnly;
        PrepareRun();
        // Debugging replaces the kill-check hook with the debugger's line hook (luaCallFunction).
        if (Debugger != null) CallApi("ldb_arm", 0, 0);
        if (!asFunction)
        {
            PushArray(keys);
            PushArray(args);
            CallApi("set_keys_args", 2, 0);
        }
        _lua.GetRef(_callablesRef);
        _lua.GetField(-1, name);
        _lua.Remove(-2);
        int nargs = 0;
        if (asFunction)
        {
            PushArray(keys);
            PushArray(args);
            nargs = 2;
        }
        var status = ProtectedRun(nargs, 1);
        string? error;
        LastErrorCounted = false;
        if (status == LuaStatus.OK)
        {
            error = LuaConversion.WriteReply(_lua, w, Resp, out bool counted);
            LastErrorCounted = counted;
        }
        else error = FormatError(errorName, status);
        _lua.SetTop(0);
        if (!asFunction)
        {
            _lua.PushNil();
            _lua.PushNil();
            CallApi("set_keys_args", 2, 0);
        }
        // Redis runs a full GC after a script that allocated a lot; a step is enough otherwise.
        if (_mem->Used > (64L << 20) || _mem->Failed != 0) _lua.Gc(Lua51.GcCollect, 0);
        else _lua.Gc(Lua51.GcStep, 1);
        return error;
    }

    private string FormatError(string errorName, LuaStatus status)
    {
        if (status == LuaStatus.ErrMem || _lua.Type(-1) != LuaType.Table)
        {
            string what = status == LuaStatus.ErrMem ? "not enough memory" : _lua.ToStringUtf8(-1) ?? "unknown error";
            return "ERR Error running script (call to " + errorName + "): @user_script:0: " + what;
        }
        LuaConversion.TryGetStringField(_lua, -1, "err", out var errBytes);
        LastErrorCounted = LuaConversion.IsErrorCounted(_lua, -1);
        string msg = Encoding.UTF8.GetString(errBytes);
        _lua.GetField(-1, "source");
        string? source = _lua.Type(-1) == LuaType.String ? _lua.ToStringUtf8(-1) : null;
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
    /// are parked until <see cref="CommitFunctions"/>.
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
        int fn = _lua.GetTop();
        KillRequested = false;
        _mem->Failed = 0;
        ClearHookAndRearm();
        CallApi("begin_load", 0, 0);
        _lua.PushCopy(fn);
        _lua.Remove(fn);
        _loading = true;
        LuaStatus status;
        try
        {
            status = ProtectedRun(0, 0);
        }
        finally
        {
            _loading = false;
        }
        string? runError = null;
        if (status != LuaStatus.OK)
        {
            if (status == LuaStatus.ErrMem || _lua.Type(-1) != LuaType.Table) runError = "ERR " + (status == LuaStatus.ErrMem ? "not enough memory" : _lua.ToStringUtf8(-1));
            else
            {
                LuaConversion.TryGetStringField(_lua, -1, "err", out var e);
                runError = Encoding.UTF8.GetString(e);
            }
            _lua.SetTop(0);
        }
        CallApi("end_load", 0, 1);
        if (runError != null)
        {
            _lua.SetTop(0);
            _lua.Gc(Lua51.GcCollect, 0);
            return runError;
        }
        // Stack: list of {name, callback, flags, description}. Park the callbacks in a pending table.
        _lua.NewTable();
        int pending = _lua.GetTop();
        int list = pending - 1;
        for (int i = 1; _lua.RawGetInteger(list, i) == LuaType.Table; i++)
        {
            _lua.GetField(-1, "name");
            string fname = _lua.ToStringUtf8(-1)!;
            _lua.Pop(1);
            _lua.GetField(-1, "description");
            string? desc = _lua.Type(-1) == LuaType.String ? _lua.ToStringUtf8(-1) : null;
            _lua.Pop(1);
            var flags = new List<string>();
            _lua.GetField(-1, "flags");
            for (int k = 1; _lua.RawGetInteger(-1, k) == LuaType.String; k++)
            {
                flags.Add(_lua.ToStringUtf8(-1)!);
                _lua.Pop(1);
            }
            _lua.Pop(2);
            _lua.GetField(-1, "callback");
            _lua.SetField(pending, fname);
            _lua.Pop(1);
            registered.Add(new RegisteredFunction(fname, desc, flags.ToArray()));
        }
        _lua.Pop(1);
        _pendingRef = _lua.Ref();
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
            _lua.GetRef(_callablesRef);
            _lua.GetRef(_pendingRef);
            _lua.PushNil();
            while (_lua.Next(-2))
            {
                _lua.PushCopy(-2);
                _lua.Insert(-2);
                _lua.RawSet(-5);
            }
            _lua.Pop(2);
        }
        _lua.Unref(_pendingRef);
        _pendingRef = -1;
    }

    // ------------------------------------------------------------------ C# entry points

    /// <summary>redis.call / redis.pcall: runs a command through the host and converts its reply.</summary>
    /// <summary>luaArgsToRedisArgv: the Lua arguments as command arguments, or null with the error.</summary>
    private static byte[][]? ArgsToArgv(LuaState l, out string? error)
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
            if (t == LuaType.String) argv[i] = l.ToBuffer(idx);
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
    private int AclCheckCmd(LuaState l)
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
    private int RedisCall(LuaState l, bool raise)
    {
        var argv = ArgsToArgv(l, out string? argError);
        // While stepping, the debugger logs the command, its errors and its reply (ldbIsEnabled).
        var dbg = Debugger is { Step: true } d ? d : null;
        if (argv == null)
        {
            dbg?.LogError(ErrorLogText(argError!));
            return Fail(l, raise, argError!);
        }
        dbg?.LogCommand(argv);
        var reply = _host.Call(argv, Resp, ReadOnlyRun, out string? scriptError);
        // The host counted these errors already (a refusal, or the command's own error reply):
        // the tables carry Redis's ignore_error_stats_update mark.
        if (scriptError != null)
        {
            dbg?.LogError(ErrorLogText(scriptError));
            return Fail(l, raise, scriptError, counted: true);
        }
        var span = reply.Span;
        if (dbg != null && span.Length > 0) dbg.LogReply(span);
        l.SetTop(0);
        if (span.Length == 0)
        {
            l.PushNil();
            return 1;
        }
        if (span[0] == '-' && raise) return RaiseValue(l, span[1..span.IndexOf("\r\n"u8)].ToArray(), asTable: true, counted: true);
        LuaConversion.PushResp(l, span, 0);
        if (span[0] == '-' && l.Type(-1) == LuaType.Table) MarkCounted(l);
        return 1;
    }

    private int Fail(LuaState l, bool raise, string message, bool counted = false)
    {
        if (raise) return RaiseValue(l, Encoding.UTF8.GetBytes(message), asTable: true, counted);
        l.NewTable();
        l.PushString(message);
        l.SetField(-2, "err");
        if (counted) MarkCounted(l);
        return 1;
    }

    private static void MarkCounted(LuaState l)
    {
        l.PushBoolean(true);
        l.SetField(-2, LuaConversion.IgnoreErrorStatsField);
    }

    private int ReplyTable(LuaState l, string field)
    {
        // Bad arguments give back an error table rather than raising (luaRedisReturnHelper).
        if (l.GetTop() != 1 || l.Type(1) != LuaType.String) return Fail(l, false, "ERR wrong number or type of arguments");
        l.NewTable();
        l.PushCopy(1);
        l.SetField(-2, field);
        return 1;
    }

    /// <summary>
    /// redis.error_reply(msg): an error table whose text always carries an error code, as Redis
    /// 7.0's luaPushErrorBuff makes it: "-CODE msg" and "CODE msg" keep their first word as the
    /// code, a message of one word (or none) gets "ERR " in front; trailing CR/LF are trimmed.
    /// </summary>
    private int ErrorReply(LuaState l)
    {
        if (l.GetTop() != 1 || l.Type(1) != LuaType.String) return Fail(l, false, "ERR wrong number or type of arguments");
        var text = l.ToBuffer(1);
        var body = text.Length > 0 && text[0] == '-' ? text.AsSpan(1) : text.AsSpan();
        int space = body.IndexOf((byte)' ');
        ReadOnlySpan<byte> code = space < 0 ? "ERR"u8 : body[..space];
        var msg = space < 0 ? body : body[(space + 1)..];
        while (msg.Length > 0 && msg[0] is (byte)'\r' or (byte)'\n') msg = msg[1..];
        while (msg.Length > 0 && msg[^1] is (byte)'\r' or (byte)'\n') msg = msg[..^1];
        var final = new byte[code.Length + 1 + msg.Length];
        code.CopyTo(final);
        final[code.Length] = (byte)' ';
        msg.CopyTo(final.AsSpan(code.Length + 1));
        l.NewTable();
        l.PushBuffer(final);
        l.SetField(-2, "err");
        return 1;
    }

    private int RedisLog(LuaState l)
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
            sb.Append(t == LuaType.String ? l.ToStringUtf8(i) : Encoding.ASCII.GetString(LuaNumbers.ArgBytes(l, i)));
        }
        _host.Log((int)level, sb.ToString());
        return 0;
    }

    private int Sha1HexFn(LuaState l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR wrong number of arguments");
        byte[] data = l.Type(1) switch
        {
            LuaType.String => l.ToBuffer(1),
            LuaType.Number => LuaNumbers.ArgBytes(l, 1),
            _ => [],
        };
        l.PushString(Sha1Hex(data));
        return 1;
    }

    private int SetResp(LuaState l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR redis.setresp() requires one argument.");
        long v = l.Type(1) == LuaType.Number ? LuaNumbers.ToReplyInteger(l, 1) : 0;
        if (v != 2 && v != 3) return Raise(l, "ERR RESP version must be 2 or 3.");
        Resp = (int)v;
        return 0;
    }

    private int SetRepl(LuaState l)
    {
        if (l.GetTop() != 1) return Raise(l, "ERR redis.set_repl() requires one argument.");
        long v = l.Type(1) == LuaType.Number ? LuaNumbers.ToReplyInteger(l, 1) : -1;
        if (v < 0 || v > 3) return Raise(l, "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
        ReplFlags = (int)v;
        return 0;
    }

    private int CheckKill(LuaState l)
    {
        if (_loading)
        {
            if (TimeLimitMs > 0 && _running.ElapsedMilliseconds > TimeLimitMs)
            {
                KillRequested = true;
                l.PushString(TimeoutMessage);
                return 1;
            }
            return 0;
        }
        if (KillRequested || _host.ShouldKill(_running.ElapsedMilliseconds))
        {
            KillRequested = true;
            l.PushString(KillMessage);
            return 1;
        }
        return 0;
    }

    // ------------------------------------------------------------------ debugger (LuaDebugger)

    /// <summary>
    /// An error text as Redis's luaPushErrorBuff logs it: our texts carry their code ("ERR ...");
    /// Redis's plain messages have none, and its shared errors start with '-'.
    /// </summary>
    private static byte[] ErrorLogText(string error) =>
        Encoding.UTF8.GetBytes(error.StartsWith("ERR ", StringComparison.Ordinal) ? error[4..] : "-" + error);

    /// <summary>cs.ldb_hook(count_event, line, user_script): returns an error text to raise, or nothing.</summary>
    private int LdbHook(LuaState l)
    {
        var dbg = Debugger;
        if (dbg == null) return 0;
        bool count = l.ToBoolean(1);
        int line = (int)l.ToNumber(2);
        bool user = l.ToBoolean(3);
        l.SetTop(0);
        string? raise = dbg.OnHook(this, l, count, line, user);
        l.SetTop(0);
        if (raise == null) return 0;
        l.PushString("ERR " + raise);
        return 1;
    }

    /// <summary>redis.debug(...): "&lt;debug&gt; line N: v1, v2" in the debugger's log.</summary>
    private int DebugLog(LuaState l)
    {
        var dbg = Debugger;
        if (dbg == null) return 0;
        int argc = l.GetTop();
        var w = new List<byte>(Encoding.ASCII.GetBytes($"<debug> line {dbg.CurrentLine}: "));
        for (int i = 1; i <= argc; i++)
        {
            LuaDebugger.CatValue(w, l, i, 0);
            if (i != argc)
            {
                w.Add((byte)',');
                w.Add((byte)' ');
            }
        }
        dbg.Log(w.ToArray());
        return 0;
    }

    /// <summary>redis.breakpoint(): stop at the next line when debugging (true), else false.</summary>
    private int Breakpoint(LuaState l)
    {
        if (Debugger != null) Debugger.LuaBreakpoint = true;
        l.PushBoolean(Debugger != null);
        return 1;
    }

    /// <summary>Calls an api function on the given thread (the debugger may stop inside a coroutine).</summary>
    private bool CallApiOn(LuaState l, string name, int nargs, int nresults)
    {
        l.GetRef(_apiRef);
        l.GetField(-1, name);
        l.Remove(-2);
        l.Insert(-1 - nargs);
        if (l.PCall(nargs, nresults, 0) == LuaStatus.OK) return true;
        l.Pop(1);
        for (int i = 0; i < nresults; i++) l.PushNil();
        return false;
    }

    /// <summary>Pushes the stopped script's frames (see api.ldb_frames); returns how many.</summary>
    internal int PushDebugFrames(LuaState l, bool withLocals)
    {
        l.CheckStack(8);
        l.PushBoolean(withLocals);
        CallApiOn(l, "ldb_frames", 1, 1);
        if (l.Type(-1) != LuaType.Table)
        {
            l.Pop(1);
            l.NewTable();
        }
        return (int)l.ObjLen(-1);
    }

    internal static bool FrameIsUser(LuaState l, int frame)
    {
        l.GetField(frame, "user");
        bool user = l.ToBoolean(-1);
        l.Pop(1);
        return user;
    }

    internal void PushScriptGlobal(LuaState l, string name)
    {
        l.PushString(name);
        CallApiOn(l, "get_global", 1, 1);
    }

    /// <summary>
    /// The debugger's eval: the code as an expression ("return " prepended), else as statements,
    /// chunk "@ldb_eval", run in the script's globals. Leaves its one result on the stack.
    /// </summary>
    internal string? DebugEval(LuaState l, byte[] code, out bool hasValue)
    {
        hasValue = false;
        l.CheckStack(8);
        var expr = new byte[code.Length + 7];
        "return "u8.CopyTo(expr);
        code.CopyTo(expr, 7);
        if (l.LoadBuffer(RefuseBytecode(expr), "@ldb_eval") != LuaStatus.OK)
        {
            l.Pop(1);
            if (l.LoadBuffer(RefuseBytecode(code), "@ldb_eval") != LuaStatus.OK)
            {
                string err = l.ToStringUtf8(-1) ?? "unknown error";
                l.Pop(1);
                return err;
            }
        }
        l.GetRef(_envRef);
        l.SetFEnv(-2);
        var status = l.PCall(0, 1, 0);
        // A redis.call error inside the code could not be raised (hooks are off in a hook).
        CallApiOn(l, "take_pending", 0, 1);
        if (l.Type(-1) != LuaType.Nil)
        {
            string pendingError = ErrorText(l, -1);
            l.Pop(2);
            return pendingError;
        }
        l.Pop(1);
        if (status != LuaStatus.OK)
        {
            string err = ErrorText(l, -1);
            l.Pop(1);
            return err;
        }
        hasValue = true;
        return null;
    }

    private static string ErrorText(LuaState l, int idx)
    {
        if (l.Type(idx) == LuaType.Table && LuaConversion.TryGetStringField(l, idx, "err", out var e)) return Encoding.UTF8.GetString(e);
        return l.ToStringUtf8(idx) ?? "unknown error";
    }

    /// <summary>The debugger's redis command: redis.call with logging on, its result dropped.</summary>
    internal void DebugRedisCall(byte[][] argv)
    {
        var dbg = Debugger!;
        dbg.LogCommand(argv);
        var reply = _host.Call(argv, Resp, ReadOnlyRun, out string? scriptError);
        if (scriptError != null)
        {
            dbg.LogError(ErrorLogText(scriptError));
            return;
        }
        if (reply.Length > 0) dbg.LogReply(reply.Span);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Lua51.lua_close(_lua.Handle);
        NativeMemory.Free(_mem);
        _self.Free();
    }
}
