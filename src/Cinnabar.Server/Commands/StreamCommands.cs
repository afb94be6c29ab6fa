using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Stream commands (Redis 7.0's t_stream.c). Handlers use <see cref="StreamObject"/>'s API.
/// Consumer-group commands are in StreamCommands.Groups.cs, XINFO in StreamCommands.Info.cs.
/// </summary>
public sealed partial class StreamCommands : ICommandFamily
{
    private const string G = "stream";

    public void Register(CommandTable t)
    {
        t.Add("xadd", -5, "write denyoom fast", 1, 1, 1, "@write @stream @fast", XAdd, G, "Appends a new message to a stream. Creates the key if it doesn't exist.", "5.0.0");
        t.Add("xlen", 2, "readonly fast", 1, 1, 1, "@read @stream @fast", XLen, G, "Return the number of messages in a stream.", "5.0.0");
        t.Add("xrange", -4, "readonly", 1, 1, 1, "@read @stream @slow", XRange, G, "Returns the messages from a stream within a range of IDs.", "5.0.0", "O(N)");
        t.Add("xrevrange", -4, "readonly", 1, 1, 1, "@read @stream @slow", XRevRange, G, "Returns the messages from a stream within a range of IDs in reverse order.", "5.0.0", "O(N)");
        t.Add("xdel", -3, "write fast", 1, 1, 1, "@write @stream @fast", XDel, G, "Returns the number of messages after removing them from a stream.", "5.0.0");
        t.Add("xtrim", -4, "write", 1, 1, 1, "@write @stream @slow", XTrim, G, "Deletes messages from the beginning of a stream.", "5.0.0", "O(N)");
        t.Add("xread", -4, "readonly blocking movablekeys", 0, 0, 0, "@read @stream @slow @blocking", XRead, G, "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.", "5.0.0", "O(N)", keys: ReadKeys);
        t.Add("xsetid", -3, "write denyoom fast", 1, 1, 1, "@write @stream @fast", XSetId, G, "An internal command for replicating stream values.", "5.0.0");
        RegisterGroups(t);
        RegisterInfo(t);
    }

    // Keys of XREAD/XREADGROUP: the first half of the arguments after STREAMS.
    private static int[] ReadKeys(CommandArgs args)
    {
        for (int i = 1; i < args.Count; i++)
        {
            if (!System.Text.Ascii.EqualsIgnoreCase(args[i], "STREAMS"u8)) continue;
            int n = (args.Count - i - 1) / 2;
            var keys = new int[n];
            for (int k = 0; k < n; k++) keys[k] = i + 1 + k;
            return keys;
        }
        return [];
    }

    // ------------------------------------------------------------------ shared helpers

    private static bool TryGetStream(CommandContext ctx, int keyIndex, bool write, out StreamObject? s)
    {
        var o = write ? ctx.Db.LookupWrite(ctx.Arg(keyIndex)) : ctx.Db.LookupRead(ctx.Arg(keyIndex));
        s = o as StreamObject;
        if (o != null && s == null)
        {
            ctx.WrongType();
            return false;
        }
        return true;
    }

    // streamParseStrictIDOrReply: every ID argument except range bounds rejects "-" and "+".
    private static bool TryParseId(CommandContext ctx, int i, ulong missingSeq, out StreamId id)
    {
        if (!IsMinOrMax(ctx.Arg(i)) && StreamId.TryParse(ctx.Arg(i), missingSeq, out id)) return true;
        id = default;
        ctx.Error(Errors.StreamInvalidId);
        return false;
    }

    private static bool IsMinOrMax(ReadOnlySpan<byte> a) => a.Length == 1 && (a[0] == '-' || a[0] == '+');

    // XRANGE boundaries: "(" makes the range exclusive (streamParseIntervalIDOrReply).
    private static bool TryParseInterval(CommandContext ctx, int i, ulong missingSeq, bool isStart, out StreamId id, out bool empty)
    {
        empty = false;
        var a = ctx.Arg(i);
        if (a.Length > 1 && a[0] == '(')
        {
            if (!StreamId.TryParse(a[1..], missingSeq, out id) || a[1..].SequenceEqual("-"u8) || a[1..].SequenceEqual("+"u8))
            {
                ctx.Error(Errors.StreamInvalidId);
                return false;
            }
            if (isStart ? !id.TryIncrement(out id) : !id.TryDecrement(out id))
            {
                ctx.Error(isStart ? "ERR invalid start ID for the interval" : "ERR invalid end ID for the interval");
                return false;
            }
            return true;
        }
        if (StreamId.TryParse(a, missingSeq, out id)) return true;
        ctx.Error(Errors.StreamInvalidId);
        return false;
    }

    internal static void WriteId(RespWriter w, StreamId id)
    {
        Span<byte> tmp = stackalloc byte[48];
        w.WriteBulk(tmp[..id.Format(tmp)]);
    }

    internal static void WriteEntry(RespWriter w, StreamEntry e)
    {
        w.WriteArrayHeader(2);
        WriteId(w, e.Id);
        w.WriteArrayHeader(e.FieldsAndValues.Length);
        foreach (var x in e.FieldsAndValues) w.WriteBulk(x);
    }

    // ------------------------------------------------------------------ XADD / XTRIM

    private struct TrimArgs
    {
        public bool ByMaxLen, ByMinId, Approx, LimitGiven;
        public long MaxLen, Limit;
        public StreamId MinId;
        public int StrategyArgIndex; // index of the MAXLEN/MINID value
        public int LimitIndex;
    }

    /// <summary>streamParseAddOrTrimArgsOrReply: returns the index after the options, or -1 on error.</summary>
    private static int ParseTrimOptions(CommandContext ctx, bool xadd, ref TrimArgs a, out bool noMkStream)
    {
        noMkStream = false;
        int i = 2;
        for (; i < ctx.ArgCount; i++)
        {
            int more = ctx.ArgCount - 1 - i;
            var opt = ctx.Arg(i);
            if (xadd && opt.Length == 1 && opt[0] == '*') break;
            if (ctx.ArgIs(i, "MAXLEN") && more >= 1)
            {
                if (a.ByMinId || a.ByMaxLen) { ctx.Error(Errors.StreamMaxlenAndMinid); return -1; }
                a.ByMaxLen = true;
                i = ParseApprox(ctx, i, ref a);
                if (!ctx.TryGetLong(i, out a.MaxLen)) return -1;
                if (a.MaxLen < 0) { ctx.Error(Errors.StreamMaxlenNegative); return -1; }
                a.StrategyArgIndex = i;
            }
            else if (ctx.ArgIs(i, "MINID") && more >= 1)
            {
                if (a.ByMaxLen || a.ByMinId) { ctx.Error(Errors.StreamMaxlenAndMinid); return -1; }
                a.ByMinId = true;
                i = ParseApprox(ctx, i, ref a);
                if (!TryParseId(ctx, i, 0, out a.MinId)) return -1;
                a.StrategyArgIndex = i;
            }
            else if (ctx.ArgIs(i, "LIMIT") && more >= 1)
            {
                if (!ctx.TryGetLong(i + 1, out a.Limit)) return -1;
                if (a.Limit < 0) { ctx.Error(Errors.StreamLimitNegative); return -1; }
                a.LimitGiven = true;
                a.LimitIndex = ++i;
            }
            else if (xadd && ctx.ArgIs(i, "NOMKSTREAM")) noMkStream = true;
            else if (xadd) break; // the ID
            else { ctx.SyntaxError(); return -1; }
        }
        if (a.LimitGiven && !a.ByMaxLen && !a.ByMinId)
        {
            ctx.Error(Errors.StreamLimitWithoutStrategy);
            return -1;
        }
        if (a.LimitGiven && !a.Approx)
        {
            ctx.Error(Errors.StreamLimitWithoutApprox);
            return -1;
        }
        if (!a.LimitGiven && a.Approx)
            a.Limit = EncodingLimits.StreamNodeMaxEntries > 0 ? Math.Min(100L * EncodingLimits.StreamNodeMaxEntries, 1_000_000) : 10000;
        if (!a.Approx) a.Limit = 0;
        return i;
    }

    private static int ParseApprox(CommandContext ctx, int i, ref TrimArgs a)
    {
        var next = ctx.Arg(i + 1);
        if (ctx.ArgCount - 1 - i >= 2 && next.Length == 1 && (next[0] == '~' || next[0] == '='))
        {
            a.Approx = next[0] == '~';
            return i + 2;
        }
        return i + 1;
    }

    private static void XAdd(CommandContext ctx)
    {
        var trim = new TrimArgs();
        int idIndex = ParseTrimOptions(ctx, true, ref trim, out bool noMk);
        if (idIndex < 0) return;
        // As in Redis, the ID is parsed with the options, before the field count is checked.
        var idArg = idIndex < ctx.ArgCount ? ctx.Arg(idIndex) : "*"u8;
        bool auto = idArg.Length == 1 && idArg[0] == '*';
        StreamId id = default;
        bool seqGiven = true;
        if (!auto && (IsMinOrMax(idArg) || !StreamId.TryParse(idArg, 0, out id, true, out seqGiven)))
        {
            ctx.Error(Errors.StreamInvalidId);
            return;
        }
        // The ID and at least one field-value pair must follow, in pairs.
        int nFields = ctx.ArgCount - idIndex - 1;
        if (nFields < 2 || nFields % 2 != 0)
        {
            ctx.Error(Errors.WrongArity("xadd"));
            return;
        }
        if (!auto)
        {
            if (seqGiven && id.IsZero)
            {
                ctx.Error(Errors.StreamXaddIdZero);
                return;
            }
        }
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        if (s == null)
        {
            if (noMk)
            {
                ctx.Reply.WriteNull();
                return;
            }
            s = new StreamObject();
            ctx.Db.Add(ctx.ArgBytes(1), s);
        }
        if (s.LastId == StreamId.Max)
        {
            ctx.Error(Errors.StreamExhausted);
            return;
        }
        if (auto)
        {
            if (!s.TryNextId((ulong)ctx.NowMs, out id)) { ctx.Error(Errors.StreamExhausted); return; }
        }
        else if (!seqGiven)
        {
            // "ms-*": the next sequence within ms, or 0 when ms is ahead of the last ID.
            if (id.Ms == s.LastId.Ms)
            {
                if (s.LastId.Seq == ulong.MaxValue) { ctx.Error(Errors.StreamXaddIdSmaller); return; }
                id = new StreamId(id.Ms, s.LastId.Seq + 1);
            }
            else if (id.Ms < s.LastId.Ms) { ctx.Error(Errors.StreamXaddIdSmaller); return; }
        }
        if (id <= s.LastId)
        {
            ctx.Error(Errors.StreamXaddIdSmaller);
            return;
        }
        var fv = new byte[nFields][];
        for (int k = 0; k < nFields; k++) fv[k] = ctx.ArgBytes(idIndex + 1 + k);
        s.Append(id, fv);
        WriteId(ctx.Reply, id);
        ctx.KeyChanged(ctx.Arg(1), 't', "xadd");
        if (trim.ByMaxLen || trim.ByMinId)
        {
            if (s.Trim(trim.ByMaxLen, trim.MaxLen, trim.MinId, trim.Approx, trim.Limit) > 0)
                ctx.Notify('t', "xtrim", ctx.Arg(1));
        }
        if (ctx.Server.Propagator != null && (auto || !seqGiven || trim.Approx))
        {
            var argv = ctx.Args.ToOwnedArray();
            argv[idIndex] = id.ToBytes();
            ctx.PropagateAs(RewriteApproxTrim(argv, s, trim));
        }
    }

    // Like Redis's streamRewriteApproxSpecifier/streamRewriteTrimArgument: an approximate trim
    // is propagated as an exact one to the length (MAXLEN) or first ID (MINID) actually reached.
    private static byte[][] RewriteApproxTrim(byte[][] argv, StreamObject s, TrimArgs trim)
    {
        if (!trim.Approx) return argv;
        argv[trim.StrategyArgIndex - 1] = "="u8.ToArray();
        argv[trim.StrategyArgIndex] = trim.ByMaxLen ? SetObject.ToBytes(s.Length) : s.FirstId.ToBytes();
        if (!trim.LimitGiven) return argv;
        var list = new List<byte[]>(argv);
        list.RemoveRange(trim.LimitIndex - 1, 2);
        return list.ToArray();
    }

    private static void XTrim(CommandContext ctx)
    {
        var trim = new TrimArgs();
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        int end = ParseTrimOptions(ctx, false, ref trim, out _);
        if (end < 0) return;
        if (!trim.ByMaxLen && !trim.ByMinId)
        {
            ctx.SyntaxError();
            return;
        }
        if (s == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long deleted = s.Trim(trim.ByMaxLen, trim.MaxLen, trim.MinId, trim.Approx, trim.Limit);
        if (deleted > 0)
        {
            ctx.KeyChanged(ctx.Arg(1), 't', "xtrim");
            if (trim.Approx && ctx.Server.Propagator != null)
                ctx.PropagateAs(RewriteApproxTrim(ctx.Args.ToOwnedArray(), s, trim));
        }
        ctx.Reply.WriteInteger(deleted);
    }

    // ------------------------------------------------------------------ reads

    private static void XLen(CommandContext ctx)
    {
        if (!TryGetStream(ctx, 1, false, out var s)) return;
        ctx.Reply.WriteInteger(s?.Length ?? 0);
    }

    private static void XRange(CommandContext ctx) => RangeGeneric(ctx, false);

    private static void XRevRange(CommandContext ctx) => RangeGeneric(ctx, true);

    private static void RangeGeneric(CommandContext ctx, bool rev)
    {
        int startIdx = rev ? 3 : 2, endIdx = rev ? 2 : 3;
        if (!TryParseInterval(ctx, startIdx, 0, true, out var start, out _)) return;
        if (!TryParseInterval(ctx, endIdx, ulong.MaxValue, false, out var end, out _)) return;
        long count = -1;
        for (int i = 4; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "COUNT") && i + 1 < ctx.ArgCount)
            {
                if (!ctx.TryGetLong(i + 1, out count)) return;
                if (count < 0) count = 0;
                i++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (count == 0)
        {
            ctx.Reply.WriteNullArray();
            return;
        }
        if (!TryGetStream(ctx, 1, false, out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteArrayHeader(0);
            return;
        }
        WriteRange(ctx.Reply, s, start, end, rev, count);
    }

    private static void WriteRange(RespWriter w, StreamObject s, StreamId start, StreamId end, bool rev, long count)
    {
        var list = new List<StreamEntry>();
        foreach (var e in s.Range(start, end, rev))
        {
            list.Add(e);
            if (count > 0 && list.Count >= count) break;
        }
        w.WriteArrayHeader(list.Count);
        foreach (var e in list) WriteEntry(w, e);
    }

    private static void XDel(CommandContext ctx)
    {
        // All IDs are validated before deleting anything, as Redis does.
        var ids = new StreamId[ctx.ArgCount - 2];
        for (int i = 2; i < ctx.ArgCount; i++)
            if (!TryParseId(ctx, i, 0, out ids[i - 2])) return;
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        long deleted = 0;
        if (s != null)
            foreach (var id in ids)
                if (s.Delete(id)) deleted++;
        if (deleted > 0) ctx.KeyChanged(ctx.Arg(1), 't', "xdel");
        ctx.Reply.WriteInteger(deleted);
    }

    private static void XSetId(CommandContext ctx)
    {
        if (!TryParseId(ctx, 2, 0, out var id)) return;
        long entriesAdded = -1;
        StreamId maxDeleted = default;
        bool maxDeletedGiven = false;
        for (int i = 3; i < ctx.ArgCount; i++)
        {
            bool more = i + 1 < ctx.ArgCount;
            if (ctx.ArgIs(i, "ENTRIESADDED") && more)
            {
                if (!ctx.TryGetLong(++i, out entriesAdded)) return;
                if (entriesAdded < 0) { ctx.Error("ERR entries_added must be positive"); return; }
            }
            else if (ctx.ArgIs(i, "MAXDELETEDID") && more)
            {
                if (!TryParseId(ctx, ++i, 0, out maxDeleted)) return;
                if (id < maxDeleted) { ctx.Error(Errors.StreamSetIdMaxDeleted); return; }
                maxDeletedGiven = true;
            }
            else { ctx.SyntaxError(); return; }
        }
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        if (s == null) { ctx.Error(Errors.NoSuchKey); return; }
        if (s.Length > 0)
        {
            var last = s.LastEntry()!.Id;
            if (id < last) { ctx.Error(Errors.StreamSetIdSmaller); return; }
        }
        if (entriesAdded != -1 && s.Length > entriesAdded) { ctx.Error(Errors.StreamSetIdEntriesAdded); return; }
        s.LastId = id;
        if (entriesAdded != -1) s.EntriesAdded = entriesAdded;
        if (maxDeletedGiven) s.MaxDeletedId = maxDeleted;
        ctx.Reply.WriteOk();
        ctx.KeyChanged(ctx.Arg(1), 't', "xsetid");
    }
}

