using System.Globalization;
using System.Runtime.CompilerServices;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// DEBUG: a plain command (as in Redis) dispatching on its first argument. Subsystems add their
/// own subcommands (RELOAD, DIGEST ...) through <see cref="Subcommands"/> at startup.
/// Gated by enable-debug-command like Redis ("no" refuses, "local" only from loopback/unix);
/// when the directive is not declared the command is allowed.
/// </summary>
public sealed partial class DebugCommands : ICommandFamily
{
    /// <summary>Subcommand name (upper case) -> (minimum argument count including DEBUG and the name, handler).</summary>
    public static readonly Dictionary<string, (int MinArgs, CommandHandler Handler)> Subcommands = new(StringComparer.OrdinalIgnoreCase)
    {
        ["HELP"] = (2, Help),
        ["SLEEP"] = (3, Sleep),
        ["SET-ACTIVE-EXPIRE"] = (3, SetActiveExpire),
        ["PAUSE-CRON"] = (3, PauseCron),
        ["OBJECT"] = (3, Object),
        ["LOG"] = (3, LogLine),
        ["ERROR"] = (3, ctx => ctx.Error(ctx.ArgString(2))),
        ["CHANGE-REPL-ID"] = (2, ChangeReplId),
        ["RELOAD"] = (2, Reload),
        ["POPULATE"] = (3, Populate),
        ["DIGEST"] = (2, Digest),
        ["PROTOCOL"] = (3, ProtocolSample),
        ["DIGEST-VALUE"] = (2, DigestValue),
        ["CONFIG-REWRITE-FORCE-ALL"] = (2, ConfigRewriteForceAll),
        ["SEGFAULT"] = (2, CrashReport.DebugSegfault),
        ["AOF-FLUSH-SLEEP"] = (3, AofFlushSleep),
        ["REPLICATE"] = (3, Replicate),
    };

    /// <summary>DEBUG REPLICATE cmd [arg ...]: sends a command to the replicas only, unexecuted (Redis's test hook).</summary>
    private static void Replicate(CommandContext ctx)
    {
        var argv = new byte[ctx.ArgCount - 2][];
        for (int i = 2; i < ctx.ArgCount; i++) argv[i - 2] = ctx.Arg(i).ToArray();
        ctx.Server.PropagateToReplicasOnly(ctx.Client.DbIndex, argv);
        ctx.Reply.WriteOk();
    }

    /// <summary>DEBUG CONFIG-REWRITE-FORCE-ALL: CONFIG REWRITE writing every directive, defaults included.</summary>
    private static void ConfigRewriteForceAll(CommandContext ctx)
    {
        var config = ctx.Server.Config;
        string? err = config.ConfigFile == null ? "No such file or directory" : Cinnabar.Server.Config.ConfigRewrite.Rewrite(config, config.ConfigFile, forceAll: true);
        if (err != null) ctx.Error("ERR CONFIG-REWRITE-FORCE-ALL failed: " + err);
        else ctx.Reply.WriteOk();
    }

    /// <summary>DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: save the RDB, flush, load it back (persistence round trip).</summary>
    private static void Reload(CommandContext ctx)
    {
        bool save = true, flush = true, merge = false;
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "NOSAVE")) save = false;
            else if (ctx.ArgIs(i, "NOFLUSH")) flush = false;
            else if (ctx.ArgIs(i, "MERGE")) merge = true;
            else
            {
                ctx.Error("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.");
                return;
            }
        }
        var s = ctx.Server;
        if (save)
        {
            var err = s.SaveRdbSync();
            if (err != null)
            {
                ctx.Error(err);
                return;
            }
        }
        if (flush)
        {
            s.Keyspace.FlushAll();
            s.Tracking.InvalidateAllOnFlush();
            s.FlushFunctionsForReload();
        }
        // MERGE (RDBFLAGS_ALLOW_DUP) lets the file's functions replace loaded ones; NOFLUSH alone
        // fails on a library that exists. (Duplicate keys, where Redis stops the process, are merged.)
        if (s.ReloadRdb(replaceFunctions: flush || merge) != null)
        {
            ctx.Error("ERR Error trying to load the RDB dump");
            return;
        }
        s.Log.Notice("DB reloaded by DEBUG RELOAD");
        ctx.Reply.WriteOk();
    }

    /// <summary>DEBUG AOF-FLUSH-SLEEP &lt;microseconds&gt;: sleep before each AOF write (0 turns it off).</summary>
    private static void AofFlushSleep(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long us)) return;
        ctx.Server.AofFlushSleepMicros = Math.Max(0, us);
        ctx.Reply.WriteOk();
    }

    public void Register(CommandTable t)
    {
        t.Add("debug", -2, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", Debug, "server",
            "A container for debugging commands", "1.0.0", "Depends on subcommand.");
    }

    private const string NotAllowed = Errors.DebugNotAllowed;

    private static bool Allowed(CommandContext ctx)
    {
        string mode = ctx.Server.Config.Get("enable-debug-command");
        if (mode.Length == 0 || mode == "yes") return true;
        if (mode != "local") return false;
        var ip = ctx.Client.RemoteIp;
        return ip == null || System.Net.IPAddress.IsLoopback(ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip);
    }

    private static void Debug(CommandContext ctx)
    {
        if (!Allowed(ctx))
        {
            ctx.Error(NotAllowed);
            return;
        }
        string sub = ctx.ArgString(1);
        if (!Subcommands.TryGetValue(sub, out var entry) || ctx.ArgCount < entry.MinArgs)
        {
            ctx.Error(Errors.DebugWrongArguments(sub));
            return;
        }
        entry.Handler(ctx);
    }

    private static void Sleep(CommandContext ctx)
    {
        // Redis parses the seconds with strtod: garbage means 0. The whole server stalls, as in Redis.
        double.TryParse(ctx.ArgString(2), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds);
        if (seconds > 0) Thread.Sleep(TimeSpan.FromSeconds(Math.Min(seconds, int.MaxValue / 1000.0)));
        // Inside a script the clock stays at the script's start (Redis's script time snapshot):
        // keys do not expire in the middle of a script.
        if ((ctx.Client.Flags & ClientFlags.Lua) == 0) ctx.Server.UpdateCachedTime();
        ctx.Reply.WriteOk();
    }

    private static void SetActiveExpire(CommandContext ctx)
    {
        // Redis uses atoi: anything non-numeric disables.
        ctx.Server.Config.ActiveExpireEnabled = RequestParser.TryParseLong(ctx.Arg(2), out long v) && v != 0;
        ctx.Reply.WriteOk();
    }

    private static void PauseCron(CommandContext ctx)
    {
        ctx.Server.CronPaused = RequestParser.TryParseLong(ctx.Arg(2), out long v) && v != 0;
        ctx.Reply.WriteOk();
    }

    private static void LogLine(CommandContext ctx)
    {
        ctx.Server.Log.Warning("DEBUG LOG: " + ctx.ArgString(2));
        ctx.Reply.WriteOk();
    }

    private static void ChangeReplId(CommandContext ctx)
    {
        var r = ctx.Server.Repl;
        r.ReplId2 = r.ReplId;
        r.SecondReplOffset = r.MasterReplOffset + 1;
        r.ReplId = ReplicationState.NewReplId();
        ctx.Reply.WriteOk();
    }

    private static void Object(CommandContext ctx)
    {
        // debug.c finds the key in the dict directly: an expired key not yet deleted still answers.
        int slot = ctx.Db.Dict.FindIndex(ctx.Arg(2));
        var o = slot < 0 ? null : ctx.Db.Dict.ValueAt(slot);
        if (o == null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        var ks = ctx.Keyspace;
        long address = 0x7f0000000000L + ((long)RuntimeHelpers.GetHashCode(o) << 4);
        // Small integers are shared objects in Redis (refcount INT_MAX) unless maxmemory needs per-key LRU.
        bool shared = o is StringObject { IsInt: true } so && so.IntValue is >= 0 and < 10000
            && !ctx.Server.Config.MaxMemoryPolicy.Contains("lru", StringComparison.Ordinal) && !ctx.Server.Config.MaxMemoryPolicy.Contains("lfu", StringComparison.Ordinal);
        long idle = ks.UseLfu ? 0 : IdleSeconds(ks.LruClock, o.Lru);
        string text = string.Create(CultureInfo.InvariantCulture,
            $"Value at:0x{address:x} refcount:{(shared ? int.MaxValue : 1)} encoding:{o.Encoding} serializedlength:{SerializedLength(o)} lru:{o.Lru} lru_seconds_idle:{idle}");
        ctx.Reply.WriteSimpleString(text);
    }

    private static long IdleSeconds(uint now, uint lru) => now >= lru ? now - lru : (Lfu.LruClockMax - lru) + now;

    /// <summary>An estimate of the RDB payload length (exact for strings).</summary>
    private static long SerializedLength(RedisObject o)
    {
        if (o is StringObject s)
        {
            if (s.IsInt)
            {
                long v = s.IntValue;
                return v is >= -128 and <= 127 ? 2 : v is >= -32768 and <= 32767 ? 3 : v is >= int.MinValue and <= int.MaxValue ? 5 : LengthPrefixed(v.ToString(CultureInfo.InvariantCulture).Length);
            }
            return LengthPrefixed(s.Length);
        }
        return Math.Max(1, o.MemoryUsage(5) / 2);
    }

    private static long LengthPrefixed(long n) => n + (n < 64 ? 1 : n < 16384 ? 2 : 5);

    private static void Help(CommandContext ctx) => HelpText.Write(ctx,
        "DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANGE-REPL-ID",
        "    Change the replication IDs of the instance.",
        "    Dangerous: should be used only for testing the replication subsystem.",
        "ERROR <string>",
        "    Return a Redis protocol error with <string> as message. Useful for clients",
        "    unit tests to simulate Redis errors.",
        "LOG <message>",
        "    Write <message> to the server log.",
        "DIGEST",
        "    Output a hex signature representing the current DB content.",
        "DIGEST-VALUE <key> [<key> ...]",
        "    Output a hex signature of the values of all the specified keys.",
        "OBJECT <key>",
        "    Show low level info about `key` and associated value.",
        "POPULATE <count> [<prefix>] [<size>]",
        "    Create <count> string keys named key:<num>. If <prefix> is specified then",
        "    it is used instead of the 'key' prefix. These are not propagated to",
        "    replicas. Cluster slots are not respected so keys not belonging to the",
        "    current node can be created in cluster mode.",
        "SET-ACTIVE-EXPIRE <0|1>",
        "    Setting it to 0 disables expiry of volatile keys in the background.",
        "SLEEP <seconds>",
        "    Stop the server for <seconds>. Decimals allowed.");
}
