using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Scripting;

namespace Cinnabar.Server.Commands;

[Flags]
internal enum ScriptFlags { None = 0, NoWrites = 1, AllowOom = 2, AllowStale = 4, NoCluster = 8, AllowCrossSlotKeys = 16 }

internal sealed record ScriptInfo(byte[] Body, ScriptFlags Flags, bool HasShebang);

internal sealed class FunctionInfo
{
    public required string Name { get; init; }
    public string? Description { get; init; }
    public required string[] Flags { get; init; }
    public required Library Library { get; init; }
}

internal sealed class Library
{
    public required string Name { get; init; }
    public required byte[] Code { get; init; }
    public List<FunctionInfo> Functions { get; } = new();
}

/// <summary>
/// The server's side of scripting: script cache, function libraries, and the
/// <see cref="IScriptHost"/> the Lua engines call back into. redis.call runs on one fake client
/// (flag Lua) whose db follows the caller's at script start (SELECT inside a script only lasts
/// for the script, as in Redis 7.0).
/// </summary>
internal sealed class ScriptHost : IScriptHost
{
    private readonly RedisServer _server;
    private readonly Client _fake;
    private Client? _caller;
    private readonly CommandArgs _args = new();
    private readonly List<(int Db, byte[][] Argv, PropagationTargets Targets)> _effects = new();
    private LuaEngine? _running;
    private LuaEngine? _evalEngine;
    /// <summary>The slot the running script's keys are confined to (original_c->slot), -1 until known.</summary>
    private int _scriptSlot = -1;
    private LuaEngine? _functionEngine;

    public ScriptHost(RedisServer server)
    {
        _server = server;
        _fake = server.CreateFakeClient();
        _fake.Flags |= ClientFlags.Lua;
    }

    public Dictionary<string, ScriptInfo> Scripts { get; } = new(StringComparer.Ordinal);
    // Library and function names are case-insensitive, as in Redis.
    public Dictionary<string, Library> Libraries { get; } = new(StringComparer.OrdinalIgnoreCase);
    public Dictionary<string, FunctionInfo> Functions { get; } = new(StringComparer.OrdinalIgnoreCase);
    public LuaEngine EvalEngine => _evalEngine ??= new LuaEngine(this);
    public LuaEngine FunctionEngine => _functionEngine ??= new LuaEngine(this, functionsMode: true);
    public string? RunningName { get; private set; }

    /// <summary>The running script is a function (FCALL), not an EVAL script: decides which KILL applies.</summary>
    public bool RunningIsFunction { get; private set; }

    /// <summary>The running script was sent by our master: it cannot be killed.</summary>
    public bool RunningFromMaster { get; private set; }

    private Protocol.CommandArgs? _callerArgs;
    private long _runStartMs;
    // Captured on the script's thread when it turns busy, for FUNCTION STATS answered without the lock.
    private volatile BusyScriptInfo? _busyInfo;

    /// <summary>What FUNCTION STATS reports about a busy script (name, the caller's command, start time).</summary>
    public sealed record BusyScriptInfo(string Name, byte[][] Command, long StartMs);

    /// <summary>The busy script's description, or null; safe to read without the exec lock.</summary>
    public BusyScriptInfo? BusyScript => _server.ScriptBusy ? _busyInfo : null;

    /// <summary>INFO memory: bytes held by the eval and function Lua states, and cache sizes.</summary>
    public (long LuaEval, long LuaFunctions, int CachedScripts, int Functions, int Libraries) MemoryStats() =>
        (_evalEngine?.UsedMemory ?? 0, _functionEngine?.UsedMemory ?? 0, Scripts.Count, Functions.Count, Libraries.Count);

    /// <summary>The Lua debugger session the next EVAL runs under (SCRIPT DEBUG), or null.</summary>
    public LuaDebugger? Debugger { get; set; }

    /// <summary>A YES-mode debugger session's undo log: writes are recorded and not propagated.</summary>
    public ScriptUndoLog? Undo { get; set; }

    /// <summary>The running script declared allow-oom (shebang flag or function flag).</summary>
    public bool AllowOom { get; set; }
    /// <summary>SCRIPT_ALLOW_CROSS_SLOT: eval scripts without a shebang, or the allow-cross-slot-keys flag.</summary>
    public bool AllowCrossSlot { get; set; }

    /// <summary>DEBUG SET-DISABLE-DENY-SCRIPTS: scripts may call noscript commands (server.script_disable_deny_script).</summary>
    public bool DisableDenyScripts { get; set; }

    // ------------------------------------------------------------------ EVAL scripts

    /// <summary>Parses the shebang, compiles and caches a script. Returns an error reply text or null.</summary>
    public string? CreateScript(byte[] body, string sha)
    {
        var flags = ScriptFlags.None;
        bool shebang = body.Length >= 2 && body[0] == '#' && body[1] == '!';
        byte[] source = body;
        if (shebang)
        {
            int nl = Array.IndexOf(body, (byte)'\n');
            string line = Encoding.UTF8.GetString(body, 0, nl < 0 ? body.Length : nl);
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0 || parts[0] != "#!lua") return "ERR Unexpected engine in script shebang: " + (parts.Length > 0 ? parts[0] : line);
            for (int i = 1; i < parts.Length; i++)
            {
                if (!parts[i].StartsWith("flags=", StringComparison.Ordinal)) return "ERR Unknown lua shebang option: " + parts[i];
                foreach (var f in parts[i][6..].Split(',', StringSplitOptions.RemoveEmptyEntries))
                {
                    var flag = ParseFlag(f);
                    if (flag == null) return "ERR Unexpected flag in script shebang: " + f;
                    flags |= flag.Value;
                }
            }
            // Keep line numbers: the shebang line becomes a Lua comment.
            source = (byte[])body.Clone();
            source[0] = (byte)'-';
            source[1] = (byte)'-';
        }
        string? err = EvalEngine.CompileScript(sha, source);
        if (err != null) return "ERR Error compiling script (new function): " + err;
        Scripts[sha] = new ScriptInfo(body, flags, shebang);
        return null;
    }

    private static ScriptFlags? ParseFlag(string f) => f switch
    {
        "no-writes" => ScriptFlags.NoWrites,
        "allow-oom" => ScriptFlags.AllowOom,
        "allow-stale" => ScriptFlags.AllowStale,
        "no-cluster" => ScriptFlags.NoCluster,
        "allow-cross-slot-keys" => ScriptFlags.AllowCrossSlotKeys,
        _ => null,
    };

    public void FlushScripts()
    {
        Scripts.Clear();
        _evalEngine?.Dispose();
        _evalEngine = null;
    }

    // ------------------------------------------------------------------ running

    /// <summary>Runs a script or function for ctx's client and writes its reply (or error).</summary>
    public void Run(CommandContext ctx, LuaEngine engine, string name, byte[][] keys, byte[][] args, bool asFunction, bool readOnly, string errorName)
    {
        _fake.DbIndex = ctx.Client.DbIndex;
        // redis.call runs as the caller's ACL user (scriptCall checks its permissions).
        Cinnabar.Server.Acl.AclManager.SetClientUser(_fake, ctx.Client.AclUser);
        _caller = ctx.Client;
        _scriptSlot = _server.Cluster?.Router.CurrentSlot ?? -1;
        _effects.Clear();
        RunningName = name;
        RunningIsFunction = asFunction;
        RunningFromMaster = (ctx.Client.Flags & ClientFlags.Master) != 0;
        _callerArgs = ctx.Args;
        _runStartMs = Environment.TickCount64;
        _running = engine;
        _server.ScriptWrote = false;
        _server.ScriptKillRequested = false;
        engine.KillMessage = asFunction ? "ERR Script killed by user with FUNCTION KILL..." : "ERR Script killed by user with SCRIPT KILL...";
        string? error;
        // Only EVAL scripts are debugged (FCALL ignores SCRIPT DEBUG, as in Redis).
        engine.Debugger = asFunction ? null : Debugger;
        try
        {
            error = engine.Run(name, keys, args, asFunction, readOnly, ctx.Reply, errorName);
        }
        finally
        {
            engine.Debugger = null;
            RunningName = null;
            _callerArgs = null;
            _busyInfo = null;
            _running = null;
            AllowOom = false;
            _server.ScriptBusy = false;
            _server.ScriptKillRequested = false;
            _server.DrainAcceptedWhileBusy();
        }
        if (error != null)
        {
            // A command's error the script passed on was counted when the command failed.
            if (engine.LastErrorCounted) ctx.ErrorCountedAlready(error);
            else ctx.Error(error);
        }
        PropagateEffects(ctx);
    }

    private void PropagateEffects(CommandContext ctx)
    {
        // The script's own argv is never propagated: only its effects (Redis 7.0).
        ctx.PropagateOverride = new List<byte[][]>();
        if (_effects.Count == 0 || _server.Propagator == null) return;
        // One atomic unit (MULTI/EXEC when more than one effect); inside EXEC it joins the transaction's unit.
        _server.BeginAtomicPropagation();
        try
        {
            foreach (var (d, argv, targets) in _effects) _server.PropagateTo(d, argv, targets);
        }
        finally
        {
            _server.EndAtomicPropagation();
        }
        _effects.Clear();
    }

    public ReadOnlyMemory<byte> Call(byte[][] argv, int resp, bool readOnlyScript, out string? scriptError)
    {
        var reply = CallChecked(argv, resp, readOnlyScript, out scriptError);
        // A refused call counts in the error statistics now (afterErrorReply in scriptCall); the
        // script's final error reply then does not count it again.
        if (scriptError != null) _server.Stats.CountError(scriptError);
        return reply;
    }

    private ReadOnlyMemory<byte> CallChecked(byte[][] argv, int resp, bool readOnlyScript, out string? scriptError)
    {
        scriptError = null;
        var cmd = _server.Commands.Lookup(argv[0]);
        if (cmd != null && cmd.Subcommands != null)
        {
            if (argv.Length < 2)
            {
                scriptError = Errors.ScriptWrongArity;
                return default;
            }
            cmd = CommandTable.LookupSub(cmd, argv[1]);
        }
        if (cmd == null)
        {
            scriptError = Errors.ScriptUnknownCommand;
            return default;
        }
        if (!cmd.ArityOk(argv.Length))
        {
            return Reject(cmd, Errors.ScriptWrongArity, out scriptError);
        }
        if (!DisableDenyScripts && (cmd.Is(CommandFlags.NoScript) || (cmd.Parent?.Is(CommandFlags.NoScript) ?? false)))
        {
            return Reject(cmd, Errors.ScriptNotAllowed, out scriptError);
        }
        // scriptVerifyAllowStale: an allow-stale script on a stale replica runs stale commands only.
        if (_server.RunningStale && !cmd.Is(CommandFlags.Stale))
        {
            return Reject(cmd, Errors.ScriptStaleReplica, out scriptError);
        }
        _args.SetOwned(argv);
        if (!_fake.AclUser.Unrestricted && _server.Acl.CheckScriptCall(_fake, _caller ?? _fake, cmd, _args) is { } aclError)
        {
            return Reject(cmd, aclError, out scriptError);
        }
        if (readOnlyScript && cmd.Is(CommandFlags.Write | CommandFlags.MayReplicate))
        {
            return Reject(cmd, Errors.ScriptWriteInReadOnly, out scriptError);
        }
        // Until the script has written, a write may still be refused on the server's state (it
        // cannot be stopped half way once it wrote).
        if (cmd.Is(CommandFlags.Write) && !_server.ScriptWrote && _server.ScriptWriteDenial(_caller ?? _fake, cmd) is { } writeError)
        {
            return Reject(cmd, writeError, out scriptError);
        }
        // scriptVerifyOOM: when the server was out of memory as the script started, its deny-oom
        // commands fail until it has written something (it cannot stop half way), unless it
        // declared allow-oom.
        if (!AllowOom && _server.Config.MaxMemory > 0 && _server.PreCommandOom && !_server.ScriptWrote && cmd.Is(CommandFlags.DenyOom))
        {
            return Reject(cmd, Errors.Oom, out scriptError);
        }
        // From here on the script counts as having written (SCRIPT_WRITE_DIRTY): SCRIPT KILL
        // answers UNKILLABLE and the OOM check above no longer stops it.
        if (cmd.Is(CommandFlags.Write)) _server.ScriptWrote = true;
        int ignoredSlot = -1;
        if (_server.Cluster != null && _caller != null &&
            _server.Cluster.Router.CheckScriptCall(_caller, _fake, cmd, _args, ref AllowCrossSlot ? ref ignoredSlot : ref _scriptSlot) is { } clusterError)
        {
            return Reject(cmd, clusterError, out scriptError);
        }
        _fake.Reply.Clear();
        _fake.Reply.Protocol = resp;
        _args.SetOwned(argv);
        if (Undo != null && cmd.Is(CommandFlags.Write)) Undo.Record(_fake.DbIndex, cmd, _args);
        long dirtyBefore = _server.Dirty;
        _server.Call(_fake, cmd, _args);
        if (_server.Dirty != dirtyBefore && Undo != null) _server.ScriptWrote = true;
        else if (_server.Dirty != dirtyBefore)
        {
            _server.ScriptWrote = true;
            // redis.set_repl(REPL_NONE) drops the effect; REPL_AOF / REPL_REPLICA send it to one side only.
            var targets = (PropagationTargets)(_running?.ReplFlags ?? 3);
            if (_server.Propagator != null && targets != PropagationTargets.None)
            {
                var over = _fake.Context.PropagateOverride;
                if (over != null)
                {
                    foreach (var a in over) _effects.Add((_fake.DbIndex, a, targets));
                }
                else _effects.Add((_fake.DbIndex, argv, targets));
            }
        }
        return _fake.Reply.Written;
    }

    /// <summary>A command the script may not run counts as rejected (incrCommandStatsOnError in scriptCall).</summary>
    private static ReadOnlyMemory<byte> Reject(CommandDef cmd, string error, out string? scriptError)
    {
        cmd.RejectedCalls++;
        scriptError = error;
        return default;
    }

    public void Log(int level, string message) => _server.Log.Write(level, message);

    public bool? AclCheckCommand(byte[][] argv)
    {
        var cmd = _server.Commands.Lookup(argv[0]);
        if (cmd?.Subcommands != null && argv.Length >= 2) cmd = CommandTable.LookupSub(cmd, argv[1]);
        if (cmd == null) return null;
        var args = new CommandArgs();
        args.SetOwned(argv);
        return _server.Acl.Check((_caller ?? _fake).AclUser, cmd, args, out _) == Acl.AclResult.Ok;
    }

    public bool ShouldKill(long elapsedMs)
    {
        long threshold = _server.Config.BusyReplyThresholdMs;
        if (threshold > 0 && elapsedMs >= threshold && !_server.ScriptBusy)
        {
            // Eval scripts are reported by their internal function name, f_<sha1> (Redis's funcname).
            if (RunningName != null && _callerArgs != null)
                _busyInfo = new BusyScriptInfo(RunningIsFunction ? RunningName : "f_" + RunningName, _callerArgs.ToOwnedArray(), _runStartMs);
            _server.ScriptBusy = true;
            _server.Log.Warning($"Slow script detected: still in execution after {elapsedMs} milliseconds. You can try killing the script using the SCRIPT KILL command.");
        }
        return _server.ScriptKillRequested;
    }

    // ------------------------------------------------------------------ functions

    /// <summary>FUNCTION LOAD: returns an error reply text, or null with the library name.</summary>
    public string? LoadLibrary(byte[] code, bool replace, out string? libName)
    {
        libName = null;
        string? err = ParseLibraryShebang(code, out string name);
        if (err != null) return err;
        if (Libraries.TryGetValue(name, out var existing) && !replace) return $"ERR Library '{name}' already exists";
        var engine = FunctionEngine;
        // The shebang line becomes a Lua comment, keeping line numbers.
        var source = (byte[])code.Clone();
        source[0] = (byte)'-';
        source[1] = (byte)'-';
        string? runErr = engine.LoadLibrary(source, out var registered, out string? compileErr);
        if (compileErr != null) return "ERR Error compiling function: " + compileErr;
        if (runErr != null) return "ERR Error registering functions: " + runErr;
        if (registered.Count == 0)
        {
            engine.CommitFunctions(false);
            return Errors.NoFunctionsRegistered;
        }
        foreach (var r in registered)
        {
            if (Functions.TryGetValue(r.Name, out var other) && other.Library != existing)
            {
                engine.CommitFunctions(false);
                return $"ERR Function {r.Name} already exists";
            }
        }
        if (existing != null) RemoveLibrary(existing);
        engine.CommitFunctions(true);
        var lib = new Library { Name = name, Code = code };
        foreach (var r in registered)
        {
            var fi = new FunctionInfo { Name = r.Name, Description = r.Description, Flags = r.Flags, Library = lib };
            lib.Functions.Add(fi);
            Functions[r.Name] = fi;
        }
        Libraries[name] = lib;
        libName = name;
        return null;
    }

    /// <summary>
    /// functionExtractLibMetaData: the first line, split as sdssplitargs does (quotes allowed), is
    /// "#!engine" then name=... (once); then the name is checked, then the engine looked up.
    /// </summary>
    private static string? ParseLibraryShebang(byte[] code, out string name)
    {
        name = "";
        if (code.Length < 2 || code[0] != '#' || code[1] != '!') return Errors.LibraryMissingMetadata;
        int nl = Array.IndexOf(code, (byte)'\n');
        if (nl < 0) return Errors.LibraryInvalidMetadata;
        var parts = Cinnabar.Protocol.ArgSplitter.Split(code.AsSpan(0, nl));
        if (parts == null || parts.Count == 0) return Errors.LibraryInvalidMetadata;
        string engine = Encoding.UTF8.GetString(parts[0].AsSpan(Math.Min(2, parts[0].Length)));
        string? found = null;
        for (int i = 1; i < parts.Count; i++)
        {
            string part = Encoding.UTF8.GetString(parts[i]);
            if (!part.StartsWith("name=", StringComparison.OrdinalIgnoreCase)) return "ERR Invalid metadata value given: " + part;
            if (found != null) return Errors.LibraryNameGivenTwice;
            found = part[5..];
        }
        if (found == null) return Errors.LibraryNameMissing;
        if (found.Length == 0 || !found.All(c => char.IsAsciiLetterOrDigit(c) || c == '_')) return Errors.LibraryNameInvalid;
        if (!engine.Equals("lua", StringComparison.OrdinalIgnoreCase)) return $"ERR Engine '{engine}' not found";
        name = found;
        return null;
    }

    private void RemoveLibrary(Library lib)
    {
        foreach (var f in lib.Functions)
        {
            Functions.Remove(f.Name);
            _functionEngine?.RemoveCallable(f.Name);
        }
        Libraries.Remove(lib.Name);
    }

    public bool DeleteLibrary(string name)
    {
        if (!Libraries.TryGetValue(name, out var lib)) return false;
        RemoveLibrary(lib);
        return true;
    }

    public void FlushFunctions()
    {
        Libraries.Clear();
        Functions.Clear();
        _functionEngine?.Dispose();
        _functionEngine = null;
    }

    /// <summary>FUNCTION RESTORE with policy FLUSH, APPEND or REPLACE. All or nothing.</summary>
    public string? Restore(List<byte[]> codes, string policy)
    {
        var saved = Libraries.Values.Select(l => l.Code).ToList();
        if (policy == "FLUSH") FlushFunctions();
        foreach (var code in codes)
        {
            string? err = LoadLibrary(code, policy == "REPLACE", out _);
            if (err != null)
            {
                // RESTORE words the collision without quotes: "ERR Library dl already exists".
                if (err.StartsWith("ERR Library '", StringComparison.Ordinal)) err = err.Replace("'", "", StringComparison.Ordinal);
                // Put back what was there before the restore.
                FlushFunctions();
                foreach (var c in saved) LoadLibrary(c, true, out _);
                return err;
            }
        }
        return null;
    }
}
