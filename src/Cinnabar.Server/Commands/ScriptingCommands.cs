using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Scripting;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// EVAL/EVALSHA/SCRIPT and FUNCTION/FCALL (Redis 7.0 eval.c, functions.c). The Lua engines live
/// in Cinnabar.Scripting and call back through <see cref="ScriptHost"/>, which runs commands on a
/// fake client flagged Lua after the checks Redis's scriptCall does. Scripts run atomically under
/// the exec lock; their write effects are propagated individually (wrapped in MULTI/EXEC when
/// more than one), since Redis 7.0 always replicates scripts by effects.
/// </summary>
public sealed class ScriptingCommands : ICommandFamily
{
    private const string G = "scripting";
    private const string EvalFlags = "noscript stale skip_monitor no_mandatory_keys";
    // EVAL, EVALSHA and FCALL may replicate (CLIENT PAUSE WRITE holds them); their _RO forms do not.
    private const string EvalWriteFlags = EvalFlags + " may_replicate";

    public void Register(CommandTable t)
    {
        t.Add("eval", -3, EvalWriteFlags, 0, 0, 0, "@slow @scripting", ctx => Eval(ctx, bySha: false, ro: false), G,
            "Executes a server-side Lua script.", "2.6.0", "Depends on the script that is executed.", keys: NumKeysAt2);
        t.Add("evalsha", -3, EvalWriteFlags, 0, 0, 0, "@slow @scripting", ctx => Eval(ctx, bySha: true, ro: false), G,
            "Executes a server-side Lua script by SHA1 digest.", "2.6.0", "Depends on the script that is executed.", keys: NumKeysAt2);
        t.Add("eval_ro", -3, "readonly " + EvalFlags, 0, 0, 0, "@slow @scripting", ctx => Eval(ctx, bySha: false, ro: true), G,
            "Executes a read-only server-side Lua script.", "7.0.0", "Depends on the script that is executed.", keys: NumKeysAt2);
        t.Add("evalsha_ro", -3, "readonly " + EvalFlags, 0, 0, 0, "@slow @scripting", ctx => Eval(ctx, bySha: true, ro: true), G,
            "Executes a read-only server-side Lua script by SHA1 digest.", "7.0.0", "Depends on the script that is executed.", keys: NumKeysAt2);
        t.Add("fcall", -3, EvalWriteFlags, 0, 0, 0, "@slow @scripting", ctx => FCall(ctx, ro: false), G,
            "Invokes a function.", "7.0.0", "Depends on the function that is executed.", keys: NumKeysAt2);
        t.Add("fcall_ro", -3, "readonly " + EvalFlags, 0, 0, 0, "@slow @scripting", ctx => FCall(ctx, ro: true), G,
            "Invokes a read-only function.", "7.0.0", "Depends on the function that is executed.", keys: NumKeysAt2);

        var s = t.AddContainer("script", -2, G, "A container for Lua scripts management commands.", "2.6.0");
        t.AddSub(s, "load", 3, "noscript stale", 0, 0, 0, "@slow @scripting", ScriptLoad, "Loads a server-side Lua script to the script cache.", "2.6.0", "O(N) with N being the length in bytes of the script body.");
        t.AddSub(s, "exists", -3, "noscript", 0, 0, 0, "@slow @scripting", ScriptExists, "Determines whether server-side Lua scripts exist in the script cache.", "2.6.0", "O(N) with N being the number of scripts to check.");
        t.AddSub(s, "flush", -2, "noscript", 0, 0, 0, "@slow @scripting", ScriptFlush, "Removes all server-side Lua scripts from the script cache.", "2.6.0", "O(N) with N being the number of scripts in cache");
        t.AddSub(s, "kill", 2, "noscript allow_busy", 0, 0, 0, "@slow @scripting", ctx => ctx.Error(Errors.NotBusy), "Terminates a server-side Lua script during execution.", "2.6.0");
        t.AddSub(s, "help", 2, "loading stale", 0, 0, 0, "@slow @scripting", ctx => WriteHelp(ctx, ScriptHelp), "Returns helpful text about the different subcommands.", "5.0.0");
        t.AddSub(s, "debug", 3, "noscript", 0, 0, 0, "@slow @scripting", ScriptDebugging.ScriptDebug, "Sets the debug mode of server-side Lua scripts.", "3.2.0");

        var f = t.AddContainer("function", -2, G, "A container for function commands.", "7.0.0");
        t.AddSub(f, "load", -3, "write denyoom noscript", 0, 0, 0, "@write @slow @scripting", FunctionLoad, "Creates a library.", "7.0.0", "O(1) (considering compilation time is redundant)");
        t.AddSub(f, "list", -2, "noscript", 0, 0, 0, "@slow @scripting", FunctionList, "Returns information about all libraries.", "7.0.0", "O(N) where N is the number of functions");
        t.AddSub(f, "delete", 3, "write noscript", 0, 0, 0, "@write @slow @scripting", FunctionDelete, "Deletes a library and its functions.", "7.0.0");
        t.AddSub(f, "flush", -2, "write noscript", 0, 0, 0, "@write @slow @scripting", FunctionFlush, "Deletes all libraries and functions.", "7.0.0", "O(N) where N is the number of functions deleted");
        t.AddSub(f, "dump", 2, "noscript", 0, 0, 0, "@slow @scripting", FunctionDump, "Dumps all libraries into a serialized binary payload.", "7.0.0", "O(N) where N is the number of functions");
        t.AddSub(f, "restore", -3, "write denyoom noscript", 0, 0, 0, "@write @slow @scripting", FunctionRestore, "Restores all libraries from a payload.", "7.0.0", "O(N) where N is the number of functions on the payload");
        t.AddSub(f, "stats", 2, "noscript allow_busy", 0, 0, 0, "@slow @scripting", FunctionStats, "Returns information about a function during execution.", "7.0.0");
        t.AddSub(f, "kill", 2, "noscript allow_busy", 0, 0, 0, "@slow @scripting", ctx => ctx.Error(Errors.NotBusy), "Terminates a function during execution.", "7.0.0");
        t.AddSub(f, "help", 2, "loading stale", 0, 0, 0, "@slow @scripting", ctx => WriteHelp(ctx, FunctionHelp), "Returns helpful text about the different subcommands.", "7.0.0");
    }

    /// <summary>Key positions of EVAL/FCALL: numkeys at argv[2], then that many keys.</summary>
    internal static int[] NumKeysAt2(CommandArgs args)
    {
        if (args.Count < 3 || !RequestParser.TryParseLong(args[2], out long n) || n <= 0 || n > args.Count - 3) return [];
        var keys = new int[n];
        for (int i = 0; i < n; i++) keys[i] = 3 + i;
        return keys;
    }

    /// <summary>Parses numkeys and splits keys/args; writes the error and returns false when invalid.</summary>
    private static bool TryKeysAndArgs(CommandContext ctx, out byte[][] keys, out byte[][] args, string? notIntegerError = null)
    {
        keys = args = [];
        long numKeys;
        if (notIntegerError == null)
        {
            if (!ctx.TryGetLong(2, out numKeys)) return false;
        }
        else if (!RequestParser.TryParseLong(ctx.Arg(2), out numKeys))
        {
            ctx.Error(notIntegerError);
            return false;
        }
        if (numKeys > ctx.ArgCount - 3)
        {
            ctx.Error(Errors.NumKeysTooBig);
            return false;
        }
        if (numKeys < 0)
        {
            ctx.Error(Errors.NumKeysNegative);
            return false;
        }
        keys = new byte[numKeys][];
        for (int i = 0; i < numKeys; i++) keys[i] = ctx.ArgBytes(3 + i);
        args = new byte[ctx.ArgCount - 3 - numKeys][];
        for (int i = 0; i < args.Length; i++) args[i] = ctx.ArgBytes(3 + (int)numKeys + i);
        return true;
    }

    // ------------------------------------------------------------------ EVAL

    private static void Eval(CommandContext ctx, bool bySha, bool ro)
    {
        if (ctx.Client.LuaDebug != LuaDebugMode.Off)
        {
            if (!bySha)
            {
                ScriptDebugging.EvalWithDebugging(ctx, c => EvalCore(c, bySha: false, ro));
                return;
            }
            // evalShaCommand: a sha of the wrong length is refused first.
            ctx.Error(ctx.Arg(1).Length != 40 ? Errors.NoScript : "ERR Please use EVAL instead of EVALSHA for debugging");
            return;
        }
        EvalCore(ctx, bySha, ro);
    }

    private static void EvalCore(CommandContext ctx, bool bySha, bool ro)
    {
        var host = ctx.Server.Scripting;
        string sha;
        if (bySha)
        {
            sha = ctx.ArgString(1).ToLowerInvariant();
            // A sha of the wrong length is refused first; otherwise numkeys is checked before the cache lookup.
            if (sha.Length != 40)
            {
                ctx.Error(Errors.NoScript);
                return;
            }
            if (!host.Scripts.ContainsKey(sha))
            {
                if (!TryKeysAndArgs(ctx, out _, out _)) return;
                ctx.Error(Errors.NoScript);
                return;
            }
        }
        else
        {
            sha = LuaEngine.Sha1Hex(ctx.Arg(1));
        }
        if (!TryKeysAndArgs(ctx, out var keys, out var args)) return;
        if (!host.Scripts.ContainsKey(sha))
        {
            string? err = host.CreateScript(ctx.ArgBytes(1), sha);
            if (err != null)
            {
                ctx.Error(err);
                return;
            }
        }
        var script = host.Scripts[sha];
        // On a stale replica only a script declaring allow-stale runs (Redis refuses the others,
        // eval-compatible scripts included, with MASTERDOWN).
        if (ctx.Server.RunningStale && (!script.HasShebang || (script.Flags & ScriptFlags.AllowStale) == 0))
        {
            ctx.Error(Errors.MasterDown);
            return;
        }
        if (ro && script.HasShebang && (script.Flags & ScriptFlags.NoWrites) == 0)
        {
            ctx.Error(Errors.ScriptWriteFlagWithRo);
            return;
        }
        if (ctx.Server.Cluster != null && (script.Flags & ScriptFlags.NoCluster) != 0)
        {
            ctx.Error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
            return;
        }
        bool readOnly = ro || (script.Flags & ScriptFlags.NoWrites) != 0;
        host.AllowOom = (script.Flags & ScriptFlags.AllowOom) != 0;
        host.AllowCrossSlot = !script.HasShebang || (script.Flags & ScriptFlags.AllowCrossSlotKeys) != 0;
        host.Run(ctx, host.EvalEngine, sha, keys, args, asFunction: false, readOnly, sha);
    }

    private static void ScriptLoad(CommandContext ctx)
    {
        var host = ctx.Server.Scripting;
        string sha = LuaEngine.Sha1Hex(ctx.Arg(2));
        if (!host.Scripts.ContainsKey(sha))
        {
            string? err = host.CreateScript(ctx.ArgBytes(2), sha);
            if (err != null)
            {
                ctx.Error(err);
                return;
            }
        }
        ctx.Reply.WriteBulk(sha);
    }

    private static void ScriptExists(CommandContext ctx)
    {
        var scripts = ctx.Server.Scripting.Scripts;
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++) ctx.Reply.WriteInteger(scripts.ContainsKey(ctx.ArgString(i)) ? 1 : 0);
    }

    private static void ScriptFlush(CommandContext ctx)
    {
        if (ctx.ArgCount > 3 || (ctx.ArgCount == 3 && !ctx.ArgIs(2, "SYNC") && !ctx.ArgIs(2, "ASYNC")))
        {
            ctx.Error(Errors.ScriptFlushOption);
            return;
        }
        ctx.Server.Scripting.FlushScripts();
        ctx.Reply.WriteOk();
    }

    private static readonly string[] ScriptHelp =
    [
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];

    private static void WriteHelp(CommandContext ctx, string[] lines) => ctx.Reply.WriteHelpLines(lines);

    // ------------------------------------------------------------------ FUNCTION / FCALL

    private static void FCall(CommandContext ctx, bool ro)
    {
        var host = ctx.Server.Scripting;
        string name = ctx.ArgString(1);
        if (!host.Functions.TryGetValue(name, out var fn))
        {
            ctx.Error(Errors.FunctionNotFound);
            return;
        }
        if (ctx.Server.RunningStale && !fn.Flags.Contains("allow-stale"))
        {
            ctx.Error(Errors.MasterDown);
            return;
        }
        if (!TryKeysAndArgs(ctx, out var keys, out var args, "ERR Bad number of keys provided")) return;
        bool noWrites = fn.Flags.Contains("no-writes");
        if (ro && !noWrites)
        {
            ctx.Error(Errors.ScriptWriteFlagWithRo);
            return;
        }
        if (ctx.Server.Cluster != null && fn.Flags.Contains("no-cluster"))
        {
            ctx.Error("ERR Can not run script on cluster, 'no-cluster' flag is set.");
            return;
        }
        host.AllowOom = fn.Flags.Contains("allow-oom");
        host.AllowCrossSlot = fn.Flags.Contains("allow-cross-slot-keys");
        host.Run(ctx, host.FunctionEngine, fn.Name, keys, args, asFunction: true, ro || noWrites, fn.Name);
    }

    private static void FunctionLoad(CommandContext ctx)
    {
        bool replace = false;
        int codeIdx = 2;
        while (codeIdx < ctx.ArgCount - 1)
        {
            if (!ctx.ArgIs(codeIdx, "REPLACE"))
            {
                ctx.Error("ERR Unknown option given: " + ctx.ArgString(codeIdx));
                return;
            }
            replace = true;
            codeIdx++;
        }
        string? err = ctx.Server.Scripting.LoadLibrary(ctx.ArgBytes(codeIdx), replace, out string? libName);
        if (err != null)
        {
            ctx.Error(err);
            return;
        }
        ctx.Dirty();
        ctx.Reply.WriteBulk(libName!);
    }

    private static void FunctionList(CommandContext ctx)
    {
        bool withCode = false;
        string? pattern = null;
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "WITHCODE") && !withCode) withCode = true;
            else if (ctx.ArgIs(i, "LIBRARYNAME") && pattern == null)
            {
                if (i + 1 >= ctx.ArgCount)
                {
                    ctx.Error(Errors.LibraryNameArgMissing);
                    return;
                }
                pattern = ctx.ArgString(++i);
            }
            else
            {
                ctx.Error("ERR Unknown argument " + ctx.ArgString(i));
                return;
            }
        }
        var libs = new List<Library>();
        foreach (var lib in ctx.Server.Scripting.Libraries.Values)
            if (pattern == null || GlobMatcher.Match(Encoding.UTF8.GetBytes(pattern), Encoding.UTF8.GetBytes(lib.Name), ignoreCase: false)) libs.Add(lib);
        var w = ctx.Reply;
        w.WriteArrayHeader(libs.Count);
        foreach (var lib in libs)
        {
            w.WriteMapHeader(withCode ? 4 : 3);
            w.WriteBulk("library_name");
            w.WriteBulk(lib.Name);
            w.WriteBulk("engine");
            w.WriteBulk("LUA");
            w.WriteBulk("functions");
            w.WriteArrayHeader(lib.Functions.Count);
            foreach (var fn in lib.Functions)
            {
                w.WriteMapHeader(3);
                w.WriteBulk("name");
                w.WriteBulk(fn.Name);
                w.WriteBulk("description");
                if (fn.Description == null) w.WriteNull();
                else w.WriteBulk(fn.Description);
                w.WriteBulk("flags");
                w.WriteSetHeader(fn.Flags.Length);
                foreach (var fl in fn.Flags) w.WriteSimpleString(fl);
            }
            if (withCode)
            {
                w.WriteBulk("library_code");
                w.WriteBulk(lib.Code);
            }
        }
    }

    private static void FunctionDelete(CommandContext ctx)
    {
        if (!ctx.Server.Scripting.DeleteLibrary(ctx.ArgString(2)))
        {
            ctx.Error(Errors.LibraryNotFound);
            return;
        }
        ctx.Dirty();
        ctx.Reply.WriteOk();
    }

    private static void FunctionFlush(CommandContext ctx)
    {
        // functionFlushCommand: more than one option is a subcommand syntax error.
        if (ctx.ArgCount > 3)
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), ctx.ArgString(0)));
            return;
        }
        if (ctx.ArgCount == 3 && !ctx.ArgIs(2, "SYNC") && !ctx.ArgIs(2, "ASYNC"))
        {
            ctx.Error(Errors.FunctionFlushOption);
            return;
        }
        ctx.Server.Scripting.FlushFunctions();
        ctx.Dirty();
        ctx.Reply.WriteOk();
    }

    private static void FunctionDump(CommandContext ctx) =>
        ctx.Reply.WriteBulk(FunctionPayload.Dump(ctx.Server.Scripting.Libraries.Values.Select(l => l.Code)));

    private static void FunctionRestore(CommandContext ctx)
    {
        string policy = "APPEND";
        if (ctx.ArgCount == 4)
        {
            if (ctx.ArgIs(3, "FLUSH")) policy = "FLUSH";
            else if (ctx.ArgIs(3, "APPEND")) policy = "APPEND";
            else if (ctx.ArgIs(3, "REPLACE")) policy = "REPLACE";
            else
            {
                ctx.Error(Errors.BadRestorePolicy);
                return;
            }
        }
        else if (ctx.ArgCount > 4)
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), "FUNCTION"));
            return;
        }
        var codes = FunctionPayload.Parse(ctx.Arg(2));
        if (codes == null)
        {
            ctx.Error(Errors.BadDumpPayload);
            return;
        }
        string? err = ctx.Server.Scripting.Restore(codes, policy);
        if (err != null)
        {
            ctx.Error(err);
            return;
        }
        ctx.Dirty();
        ctx.Reply.WriteOk();
    }

    private static void FunctionStats(CommandContext ctx) => WriteFunctionStats(ctx.Server.Scripting, ctx.Reply, null);

    /// <summary>FUNCTION STATS; while a script is busy it is answered without the exec lock, with the running script.</summary>
    internal static void WriteFunctionStats(ScriptHost host, RespWriter w, ScriptHost.BusyScriptInfo? running)
    {
        w.WriteMapHeader(2);
        w.WriteBulk("running_script");
        if (running == null) w.WriteNull();
        else
        {
            w.WriteMapHeader(3);
            w.WriteBulk("name");
            w.WriteBulk(running.Name);
            w.WriteBulk("command");
            w.WriteArrayHeader(running.Command.Length);
            foreach (var a in running.Command) w.WriteBulk(a);
            w.WriteBulk("duration_ms");
            w.WriteInteger(Environment.TickCount64 - running.StartMs);
        }
        w.WriteBulk("engines");
        w.WriteMapHeader(1);
        w.WriteBulk("LUA");
        w.WriteMapHeader(2);
        w.WriteBulk("libraries_count");
        w.WriteInteger(host.Libraries.Count);
        w.WriteBulk("functions_count");
        w.WriteInteger(host.Functions.Count);
    }

    private static readonly string[] FunctionHelp =
    [
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
}
