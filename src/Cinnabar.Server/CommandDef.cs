using Cinnabar.Protocol;

namespace Cinnabar.Server;

[Flags]
public enum CommandFlags : uint
{
    None = 0,
    Write = 1 << 0,
    ReadOnly = 1 << 1,
    DenyOom = 1 << 2,
    Admin = 1 << 3,
    PubSub = 1 << 4,
    NoScript = 1 << 5,
    Blocking = 1 << 6,
    Loading = 1 << 7,
    Stale = 1 << 8,
    SkipMonitor = 1 << 9,
    SkipSlowlog = 1 << 10,
    Fast = 1 << 11,
    NoAuth = 1 << 12,
    MayReplicate = 1 << 13,
    Sentinel = 1 << 14,
    OnlySentinel = 1 << 15,
    NoMandatoryKeys = 1 << 16,
    Protected = 1 << 17,
    NoAsyncLoading = 1 << 18,
    NoMulti = 1 << 19,
    MovableKeys = 1 << 20,
    AllowBusy = 1 << 21,
    /// <summary>Runs on an importing slot without ASKING (RESTORE-ASKING).</summary>
    Asking = 1 << 22,
}

/// <summary>A command handler. It reads ctx.Args and writes exactly one reply to ctx.Reply.</summary>
public delegate void CommandHandler(CommandContext ctx);

/// <summary>Returns the key argument indexes of a command whose keys are not a fixed range (EVAL, ZUNIONSTORE...).</summary>
public delegate int[] KeyFinder(CommandArgs args);

/// <summary>
/// One entry of the command table: everything Redis's command json describes that we serve
/// (arity, flags, key positions, ACL categories, docs) plus the handler. Declared once per
/// command in its family file; used for dispatch, COMMAND, key extraction and propagation.
/// </summary>
public sealed class CommandDef
{
    /// <summary>A copy with other flags, for checks only (EXEC judged by its queued commands).</summary>
    public CommandDef CloneWithFlags(CommandFlags flags)
    {
        var c = (CommandDef)MemberwiseClone();
        c.Flags = flags;
        return c;
    }

    public required string Name { get; init; }

    private int _scriptKind; // 0 not computed yet, 1 not a script call, 2 EVAL/EVALSHA/FCALL and their _RO forms

    /// <summary>EVAL, EVALSHA, FCALL and their read-only forms: checked by the declared flags of the script they run.</summary>
    public bool IsScriptCall
    {
        get
        {
            if (_scriptKind == 0) _scriptKind = Name is "eval" or "evalsha" or "eval_ro" or "evalsha_ro" or "fcall" or "fcall_ro" ? 2 : 1;
            return _scriptKind == 2;
        }
    }
    /// <summary>Redis arity: N = exactly N args (incl. name), -N = at least N.</summary>
    public required int Arity { get; init; }
    public CommandFlags Flags { get; set; }
    public int FirstKey { get; init; }
    public int LastKey { get; init; }
    public int Step { get; init; }
    public string[] AclCategories { get; set; } = [];
    public CommandHandler? Handler { get; set; }
    public KeyFinder? Keys { get; init; }
    public string Group { get; init; } = "generic";
    public string Since { get; init; } = "1.0.0";
    public string Summary { get; init; } = "";
    public string Complexity { get; init; } = "O(1)";
    public string[] Tips { get; set; } = [];
    /// <summary>Parent container for subcommands ("config" for "config|get").</summary>
    public CommandDef? Parent { get; set; }
    public Dictionary<string, CommandDef>? Subcommands { get; set; }
    /// <summary>ACL bookkeeping (Acl/AclManager): bit index in selectors' command bitmaps, category bits, key specs.</summary>
    public int AclId { get; internal set; } = -1;
    public ulong AclCategoryBits { get; internal set; }
    internal Acl.KeySpec[]? AclKeySpecs { get; set; }

    private string? _fullName;
    public string FullName => _fullName ??= Parent == null ? Name : Parent.Name + "|" + Name;

    // Statistics for INFO commandstats.
    public long Calls;
    public long MicrosecondsTotal;
    public long RejectedCalls;
    public long FailedCalls;
    /// <summary>Latency distribution since startup or CONFIG RESETSTAT (latency-tracking); null until called.</summary>
    public LatencyHistogram? LatencyHistogram;

    public bool Is(CommandFlags f) => (Flags & f) != 0;

    public bool ArityOk(int argc) => Arity >= 0 ? argc == Arity : argc >= -Arity;

    /// <summary>Key argument indexes for this invocation (COMMAND GETKEYS, cluster routing).</summary>
    public int[] GetKeyIndexes(CommandArgs args)
    {
        if (Keys != null) return Keys(args);
        if (FirstKey <= 0) return [];
        int last = LastKey < 0 ? args.Count + LastKey : LastKey;
        if (last >= args.Count) last = args.Count - 1;
        var list = new List<int>();
        for (int i = FirstKey; i <= last; i += Math.Max(Step, 1)) list.Add(i);
        return list.ToArray();
    }

    public static IReadOnlyList<string> FlagNames(CommandFlags f)
    {
        var names = new List<string>();
        void Add(CommandFlags flag, string name)
        {
            if ((f & flag) != 0) names.Add(name);
        }
        Add(CommandFlags.Write, "write");
        Add(CommandFlags.ReadOnly, "readonly");
        Add(CommandFlags.DenyOom, "denyoom");
        Add(CommandFlags.Admin, "admin");
        Add(CommandFlags.PubSub, "pubsub");
        Add(CommandFlags.NoScript, "noscript");
        Add(CommandFlags.Blocking, "blocking");
        Add(CommandFlags.Loading, "loading");
        Add(CommandFlags.Stale, "stale");
        Add(CommandFlags.SkipMonitor, "skip_monitor");
        Add(CommandFlags.SkipSlowlog, "skip_slowlog");
        Add(CommandFlags.Asking, "asking");
        Add(CommandFlags.Fast, "fast");
        Add(CommandFlags.NoAuth, "no_auth");
        // may_replicate is hidden from COMMAND INFO, as in Redis 7.0.
        Add(CommandFlags.NoMandatoryKeys, "no_mandatory_keys");
        Add(CommandFlags.NoAsyncLoading, "no_async_loading");
        Add(CommandFlags.NoMulti, "no_multi");
        Add(CommandFlags.MovableKeys, "movablekeys");
        Add(CommandFlags.AllowBusy, "allow_busy");
        return names;
    }

    public static CommandFlags ParseFlags(string spaceSeparated)
    {
        var f = CommandFlags.None;
        foreach (var word in spaceSeparated.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            f |= word switch
            {
                "write" => CommandFlags.Write,
                "readonly" => CommandFlags.ReadOnly,
                "denyoom" => CommandFlags.DenyOom,
                "admin" => CommandFlags.Admin,
                "pubsub" => CommandFlags.PubSub,
                "noscript" => CommandFlags.NoScript,
                "blocking" => CommandFlags.Blocking,
                "loading" => CommandFlags.Loading,
                "stale" => CommandFlags.Stale,
                "skip_monitor" => CommandFlags.SkipMonitor,
                "skip_slowlog" => CommandFlags.SkipSlowlog,
                "fast" => CommandFlags.Fast,
                "no_auth" => CommandFlags.NoAuth,
                "may_replicate" => CommandFlags.MayReplicate,
                "sentinel" => CommandFlags.Sentinel,
                "only_sentinel" => CommandFlags.OnlySentinel,
                "no_mandatory_keys" => CommandFlags.NoMandatoryKeys,
                "protected" => CommandFlags.Protected,
                "no_async_loading" => CommandFlags.NoAsyncLoading,
                "no_multi" => CommandFlags.NoMulti,
                "movablekeys" => CommandFlags.MovableKeys,
                "allow_busy" => CommandFlags.AllowBusy,
                "asking" => CommandFlags.Asking,
                _ => throw new ArgumentException("unknown command flag " + word),
            };
        }
        return f;
    }
}
