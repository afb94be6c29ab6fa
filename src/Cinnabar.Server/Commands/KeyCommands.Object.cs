using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// OBJECT ENCODING|REFCOUNT|IDLETIME|FREQ|HELP (object.c). Lookups do not touch the access time.
public sealed partial class KeyCommands
{
    private static readonly string[] ObjectHelp =
    [
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ];

    private static void RegisterObject(CommandTable t)
    {
        var c = t.AddContainer("object", -2, G, "A container for object introspection commands.", "2.2.3");
        t.AddSub(c, "encoding", 3, "readonly", 2, 2, 1, "@keyspace @read @slow", ObjectEncoding, "Returns the internal encoding of a Redis object.", "2.2.3");
        t.AddSub(c, "refcount", 3, "readonly", 2, 2, 1, "@keyspace @read @slow", ObjectRefCount, "Returns the reference count of a value of a key.", "2.2.3");
        t.AddSub(c, "idletime", 3, "readonly", 2, 2, 1, "@keyspace @read @slow", ObjectIdleTime, "Returns the time since the last access to a Redis object.", "2.2.3");
        t.AddSub(c, "freq", 3, "readonly", 2, 2, 1, "@keyspace @read @slow", ObjectFreq, "Returns the logarithmic access frequency counter of a Redis object.", "4.0.0");
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, "@keyspace @slow", ObjectHelpCommand, "Returns helpful text about the different subcommands.", "6.2.0");
    }

    /// <summary>Looks the key up without updating its LRU/LFU data (LOOKUP_NOTOUCH); replies nil when missing.</summary>
    private static RedisObject? LookupNoTouch(CommandContext ctx)
    {
        var o = LookupReadNoTouch(ctx, ctx.Arg(2));
        if (o == null) ctx.Reply.WriteNull();
        return o;
    }

    private static void ObjectEncoding(CommandContext ctx)
    {
        var o = LookupNoTouch(ctx);
        if (o != null) ctx.Reply.WriteBulk(o.Encoding);
    }

    private static void ObjectRefCount(CommandContext ctx)
    {
        var o = LookupNoTouch(ctx);
        if (o == null) return;
        // Redis shares the integers 0..9999 (refcount INT_MAX) unless an LRU/LFU policy with
        // maxmemory forbids shared objects.
        var cfg = ctx.Server.Config;
        bool sharingAllowed = cfg.MaxMemory == 0 || !(cfg.MaxMemoryPolicy.Contains("lru", StringComparison.Ordinal) || cfg.MaxMemoryPolicy.Contains("lfu", StringComparison.Ordinal));
        bool shared = o is StringObject { IsInt: true } s && s.IntValue >= 0 && s.IntValue < 10000 && sharingAllowed;
        ctx.Reply.WriteInteger(shared ? int.MaxValue : 1);
    }

    private static void ObjectIdleTime(CommandContext ctx)
    {
        var o = LookupNoTouch(ctx);
        if (o == null) return;
        if (ctx.Keyspace.UseLfu)
        {
            ctx.Error(Errors.IdleTimeUnderLfu);
            return;
        }
        uint now = ctx.Keyspace.LruClock;
        long idleSeconds = now >= o.Lru ? now - o.Lru : now + (Lfu.LruClockMax - o.Lru);
        ctx.Reply.WriteInteger(idleSeconds);
    }

    private static void ObjectFreq(CommandContext ctx)
    {
        var o = LookupNoTouch(ctx);
        if (o == null) return;
        if (!ctx.Keyspace.UseLfu)
        {
            ctx.Error(Errors.FreqWithoutLfu);
            return;
        }
        ctx.Reply.WriteInteger(Lfu.Decayed(o.Lru, ctx.NowMs, ctx.Keyspace.LfuDecayTime));
    }

    private static void ObjectHelpCommand(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(ObjectHelp.Length);
        foreach (var line in ObjectHelp) ctx.Reply.WriteSimpleString(line);
    }
}
