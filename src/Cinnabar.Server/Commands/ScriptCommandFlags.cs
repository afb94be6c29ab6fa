using System.Collections.Concurrent;
using Cinnabar.Protocol;
using Cinnabar.Scripting;

namespace Cinnabar.Server.Commands;

/// <summary>
/// The flags a script declares stand in for EVAL's, EVALSHA's and FCALL's own when the server
/// checks a command before running or queueing it (Redis's evalGetCommandFlags /
/// fcallGetCommandFlags and scriptFlagsToCmdFlags): a script with a shebang, or any function, is
/// a write unless it declares no-writes, deny-oom unless it declares allow-oom or no-writes, and
/// stale only with allow-stale. A script without a shebang (or not found) keeps the command's flags.
/// </summary>
internal static class ScriptCommandFlags
{
    // A handful of variants at most (six script commands x a few flag combinations).
    private static readonly ConcurrentDictionary<(CommandDef, CommandFlags), CommandDef> Variants = new();

    /// <summary>cmd itself, or a copy carrying the flags the script it runs declares.</summary>
    public static CommandDef ForChecks(ScriptHost host, CommandDef cmd, CommandArgs args)
    {
        if (args.Count < 2) return cmd;
        ScriptFlags? declared = Declared(host, cmd, args);
        if (declared is not { } f) return cmd;
        var flags = cmd.Flags & ~(CommandFlags.Stale | CommandFlags.DenyOom | CommandFlags.Write | CommandFlags.MayReplicate);
        if ((f & (ScriptFlags.AllowOom | ScriptFlags.NoWrites)) == 0) flags |= CommandFlags.DenyOom;
        if ((f & ScriptFlags.NoWrites) == 0) flags |= CommandFlags.Write;
        if ((f & ScriptFlags.AllowStale) != 0) flags |= CommandFlags.Stale;
        return Variants.GetOrAdd((cmd, flags), static k => k.Item1.CloneWithFlags(k.Item2));
    }

    private static ScriptFlags? Declared(ScriptHost host, CommandDef cmd, CommandArgs args)
    {
        switch (cmd.Name)
        {
            case "eval" or "eval_ro":
            {
                var body = args[1];
                if (host.Scripts.TryGetValue(LuaEngine.Sha1Hex(body), out var cached)) return cached.HasShebang ? cached.Flags : null;
                return body.Length >= 2 && body[0] == '#' && body[1] == '!' ? ShebangFlags(body) : null;
            }
            case "evalsha" or "evalsha_ro":
                return host.Scripts.TryGetValue(args.GetString(1).ToLowerInvariant(), out var info) && info.HasShebang ? info.Flags : null;
            case "fcall" or "fcall_ro":
                return host.Functions.TryGetValue(args.GetString(1), out var fn) ? FunctionFlags(fn.Flags) : null;
        }
        return null;
    }

    private static ScriptFlags FunctionFlags(string[] names)
    {
        var f = ScriptFlags.None;
        foreach (var n in names) f |= Parse(n);
        return f;
    }

    /// <summary>The flags of a not yet cached script's shebang line (unknown words are left to EVAL to refuse).</summary>
    private static ScriptFlags ShebangFlags(ReadOnlySpan<byte> body)
    {
        int nl = body.IndexOf((byte)'\n');
        string line = System.Text.Encoding.UTF8.GetString(nl < 0 ? body : body[..nl]);
        var f = ScriptFlags.None;
        foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!part.StartsWith("flags=", StringComparison.Ordinal)) continue;
            foreach (var n in part[6..].Split(',', StringSplitOptions.RemoveEmptyEntries)) f |= Parse(n);
        }
        return f;
    }

    private static ScriptFlags Parse(string name) => name switch
    {
        "no-writes" => ScriptFlags.NoWrites,
        "allow-oom" => ScriptFlags.AllowOom,
        "allow-stale" => ScriptFlags.AllowStale,
        "no-cluster" => ScriptFlags.NoCluster,
        "allow-cross-slot-keys" => ScriptFlags.AllowCrossSlotKeys,
        _ => ScriptFlags.None,
    };
}
