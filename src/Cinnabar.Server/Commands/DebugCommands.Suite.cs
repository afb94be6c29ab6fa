using Cinnabar.Protocol;
using System.Globalization;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// DEBUG subcommands Redis 7.0's own test suite relies on (QUICKLIST-PACKED-THRESHOLD, HTSTATS,
/// HTSTATS-KEY, LOADAOF), with debug.c's replies and error strings.
/// </summary>
public sealed partial class DebugCommands
{
    static DebugCommands()
    {
        Subcommands["QUICKLIST-PACKED-THRESHOLD"] = (3, QuicklistPackedThreshold);
        Subcommands["HTSTATS"] = (3, HtStats);
        Subcommands["HTSTATS-KEY"] = (3, HtStatsKey);
        Subcommands["LOADAOF"] = (2, LoadAof);
        Subcommands["SET-SKIP-CHECKSUM-VALIDATION"] = (3, SetSkipChecksumValidation);
        Subcommands["REPLYBUFFER"] = (4, ReplyBuffer);
        Subcommands["SET-DISABLE-DENY-SCRIPTS"] = (3, SetDisableDenyScripts);
    }

    /// <summary>DEBUG SET-DISABLE-DENY-SCRIPTS 0|1: lets scripts call noscript commands (atoi semantics, as debug.c).</summary>
    private static void SetDisableDenyScripts(CommandContext ctx)
    {
        ctx.Server.Scripting.DisableDenyScripts = RequestParser.TryParseLong(ctx.Arg(2), out long v) && v != 0;
        ctx.Reply.WriteOk();
    }

    /// <summary>DEBUG SET-SKIP-CHECKSUM-VALIDATION 0|1: RESTORE stops checking DUMP payloads' CRC (atoi semantics).</summary>
    private static void SetSkipChecksumValidation(CommandContext ctx)
    {
        PersistenceCommands.SkipChecksumValidation = RequestParser.TryParseLong(ctx.Arg(2), out long v) && v != 0;
        ctx.Reply.WriteOk();
    }

    /// <summary>
    /// DEBUG QUICKLIST-PACKED-THRESHOLD size: the element size from which Redis stores a list element
    /// in a "plain" quicklist node of its own. 0 restores the default (1 GiB); more than 4 GiB - 1 MiB is refused.
    /// </summary>
    private static void QuicklistPackedThreshold(CommandContext ctx)
    {
        if (ctx.ArgCount != 3 || !Config.ServerConfig.TryParseMemory(ctx.ArgString(2), out long size) || size > (1L << 32) - (1 << 20))
        {
            ctx.Error("ERR argument must be a memory value bigger than 1 and smaller than 4gb");
            return;
        }
        EncodingLimits.ListPackedThreshold = size == 0 ? 1 << 30 : size;
        ctx.Reply.WriteOk();
    }

    /// <summary>
    /// DEBUG HTSTATS dbid: dictGetStats of the database's key table then of its expires table,
    /// each under its "[Dictionary HT]" / "[Expires HT]" heading (debug.c). The numbers are those
    /// of Cinnabar's own tables (<see cref="ByteTable{TValue}"/>: power-of-two bucket arrays with
    /// chains, grown at once rather than rehashed incrementally, so there is never a table 1).
    /// Redis 7.0 takes exactly one argument (the "full" option came in 7.2).
    /// </summary>
    private static void HtStats(CommandContext ctx)
    {
        if (ctx.ArgCount != 3)
        {
            ctx.Error(Errors.DebugWrongArguments(ctx.ArgString(1)));
            return;
        }
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long dbid))
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        if (dbid < 0 || dbid >= ctx.Keyspace.Count)
        {
            ctx.Error("ERR Out of range database");
            return;
        }
        var db = ctx.Keyspace[(int)dbid];
        string text = "[Dictionary HT]\n" + FormatDictStats(db.Dict.ChainStats(), db.Dict.Count)
            + "[Expires HT]\n" + FormatDictStats(db.Expires.ChainStats(), db.Expires.Count);
        ctx.Reply.WriteVerbatim(text);
    }

    /// <summary>DEBUG HTSTATS-KEY key: dictGetStats of a hashtable-encoded set/hash or a skiplist zset's dict.</summary>
    private static void HtStatsKey(CommandContext ctx)
    {
        if (ctx.ArgCount != 3)
        {
            ctx.Error(Errors.DebugWrongArguments(ctx.ArgString(1)));
            return;
        }
        var o = ctx.Db.Lookup(ctx.Arg(2));
        if (o == null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        (int TableSize, int Slots, int MaxChain, long[] Distribution)? stats = o switch
        {
            SetObject { Table: { } t } => t.ChainStats(),
            HashObject { Table: { } t } => t.ChainStats(),
            ZSetObject { Dict: { } t } => t.ChainStats(),
            _ => null,
        };
        long count = o switch { SetObject s => s.Count, HashObject h => h.Count, ZSetObject z => z.Count, _ => 0 };
        if (stats == null)
        {
            ctx.Error("ERR The value stored at the specified key is not represented using an hash table");
            return;
        }
        ctx.Reply.WriteVerbatim(FormatDictStats(stats.Value, count));
    }

    /// <summary>The text of Redis's _dictGetStatsHt for the main table (Cinnabar's tables rehash at once).</summary>
    private static string FormatDictStats((int TableSize, int Slots, int MaxChain, long[] Distribution) s, long count)
    {
        if (count == 0) return "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n";
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        long totChain = 0;
        for (int i = 1; i < s.Distribution.Length; i++) totChain += s.Distribution[i] * i;
        sb.Append(inv, $"Hash table 0 stats (main hash table):\n table size: {s.TableSize}\n number of elements: {count}\n");
        sb.Append(inv, $" different slots: {s.Slots}\n max chain length: {s.MaxChain}\n");
        sb.Append(inv, $" avg chain length (counted): {(float)totChain / s.Slots:F2}\n avg chain length (computed): {(float)count / s.Slots:F2}\n");
        sb.Append(" Chain length distribution:\n");
        for (int i = 0; i < s.Distribution.Length - 1; i++)
        {
            if (s.Distribution[i] == 0) continue;
            sb.Append(inv, $"   {i}: {s.Distribution[i]} ({(float)s.Distribution[i] / s.TableSize * 100:F2}%)\n");
        }
        return sb.ToString();
    }

    /// <summary>
    /// DEBUG LOADAOF: flush the AOF, empty the dataset and load it back from the AOF files. Like
    /// Redis, the reload is neither propagated nor counted as changes.
    /// </summary>
    private static void LoadAof(CommandContext ctx)
    {
        var err = ctx.Server.DebugLoadAof();
        if (err != null)
        {
            ctx.Error(err);
            return;
        }
        ctx.Reply.WriteOk();
    }
}
