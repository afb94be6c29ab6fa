using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// XREAD/XREADGROUP (with blocking), XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.
public sealed partial class StreamCommands
{
    private static void RegisterGroups(CommandTable t)
    {
        t.Add("xreadgroup", -7, "write blocking movablekeys", 0, 0, 0, "@write @stream @slow @blocking", XReadGroup, G, "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.", "5.0.0", "O(M)", keys: ReadKeys);
        t.Add("xack", -4, "write fast", 1, 1, 1, "@write @stream @fast", XAck, G, "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.", "5.0.0");
        t.Add("xpending", -3, "readonly", 1, 1, 1, "@read @stream @slow", XPending, G, "Returns the information and entries from a stream consumer group's pending entries list.", "5.0.0", "O(N)");
        t.Add("xclaim", -6, "write fast", 1, 1, 1, "@write @stream @fast", XClaim, G, "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.", "5.0.0");
        t.Add("xautoclaim", -6, "write fast", 1, 1, 1, "@write @stream @fast", XAutoClaim, G, "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.", "6.2.0");
        var c = t.AddContainer("xgroup", -2, G, "A container for consumer groups commands.", "5.0.0");
        t.AddSub(c, "create", -5, "write denyoom", 2, 2, 1, "@write @stream @slow", GroupCreate, "Creates a consumer group.", "5.0.0");
        t.AddSub(c, "setid", -5, "write", 2, 2, 1, "@write @stream @slow", GroupSetId, "Sets the last-delivered ID of a consumer group.", "5.0.0");
        t.AddSub(c, "destroy", 4, "write", 2, 2, 1, "@write @stream @slow", GroupDestroy, "Destroys a consumer group.", "5.0.0");
        t.AddSub(c, "createconsumer", 5, "write denyoom", 2, 2, 1, "@write @stream @slow", GroupCreateConsumer, "Creates a consumer in a consumer group.", "6.2.0");
        t.AddSub(c, "delconsumer", 5, "write", 2, 2, 1, "@write @stream @slow", GroupDelConsumer, "Deletes a consumer from a consumer group.", "5.0.0");
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, "@stream @slow", GroupHelp, "Returns helpful text about the different subcommands.", "5.0.0");
    }

    private static readonly string[] GroupHelpLines =
    [
        "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CREATE <key> <groupname> <id|$> [option]",
        "    Create a new consumer group. Options are:",
        "    * MKSTREAM",
        "      Create the empty stream if it does not exist.",
        "    * ENTRIESREAD entries_read",
        "      Set the group's entries_read counter (internal use).",
        "CREATECONSUMER <key> <groupname> <consumer>",
        "    Create a new consumer in the specified group.",
        "DELCONSUMER <key> <groupname> <consumer>",
        "    Remove the specified consumer.",
        "DESTROY <key> <groupname>",
        "    Remove the specified group.",
        "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
        "    Set the current group ID and entries_read counter.",
        "HELP",
        "    Prints this help.",
    ];

    private static void GroupHelp(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(GroupHelpLines.Length);
        foreach (var l in GroupHelpLines) ctx.Reply.WriteSimpleString(l);
    }

    private static string Text(ReadOnlySpan<byte> b) => System.Text.Encoding.UTF8.GetString(b);

    // ------------------------------------------------------------------ XREAD / XREADGROUP

    private static void XRead(CommandContext ctx) => ReadGeneric(ctx, false);

    private static void XReadGroup(CommandContext ctx) => ReadGeneric(ctx, true);

    private static void ReadGeneric(CommandContext ctx, bool xreadgroup)
    {
        long count = 0, timeoutMs = -1;
        bool noAck = false;
        int streamsIdx = -1, groupIdx = -1;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            int more = ctx.ArgCount - i - 1;
            if (ctx.ArgIs(i, "BLOCK") && more > 0)
            {
                // Redis 7.0 refuses BLOCK from EVAL and FCALL outright (t_stream.c), rather than
                // running the read without blocking as it does inside MULTI.
                if ((ctx.Client.Flags & ClientFlags.Lua) != 0) { ctx.Error(Errors.StreamBlockFromScript(ctx.ArgString(0))); return; }
                i++;
                if (!Cinnabar.Protocol.RequestParser.TryParseLong(ctx.Arg(i), out timeoutMs)) { ctx.Error(Errors.StreamTimeoutNotInteger); return; }
                if (timeoutMs < 0) { ctx.Error(Errors.StreamTimeoutNegative); return; }
            }
            else if (ctx.ArgIs(i, "COUNT") && more > 0)
            {
                if (!ctx.TryGetLong(++i, out count)) return;
                if (count < 0) count = 0;
            }
            else if (ctx.ArgIs(i, "STREAMS") && more > 0)
            {
                streamsIdx = i + 1;
                break;
            }
            else if (ctx.ArgIs(i, "GROUP") && more >= 2)
            {
                if (!xreadgroup) { ctx.Error("ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead."); return; }
                groupIdx = i + 1;
                i += 2;
            }
            else if (ctx.ArgIs(i, "NOACK"))
            {
                if (!xreadgroup) { ctx.Error(Errors.StreamNoAckOnlyGroup); return; }
                noAck = true;
            }
            else { ctx.SyntaxError(); return; }
        }
        if (streamsIdx < 0) { ctx.SyntaxError(); return; }
        int nArgs = ctx.ArgCount - streamsIdx;
        if (nArgs % 2 != 0) { ctx.Error(Errors.StreamUnbalanced); return; }
        if (xreadgroup && groupIdx < 0) { ctx.Error("ERR Missing GROUP option for XREADGROUP"); return; }
        int n = nArgs / 2;
        var streams = new StreamObject?[n];
        var groups = xreadgroup ? new ConsumerGroup?[n] : null;
        var ids = new StreamId[n];
        var isNew = new bool[n]; // ">" for groups
        bool dollarSeen = false;
        for (int k = 0; k < n; k++)
        {
            int keyIdx = streamsIdx + k, idIdx = streamsIdx + n + k;
            if (ctx.RetryingBlocked)
            {
                // Woken while blocked (Redis 7.0's blocked-stream handling): a key that was deleted
                // or replaced by another type ends XREADGROUP with an UNBLOCKED error and is ignored
                // by XREAD, which keeps waiting; a destroyed group ends XREADGROUP with NOGROUP.
                streams[k] = ctx.Db.LookupRead(ctx.Arg(keyIdx)) as StreamObject;
                if (xreadgroup && streams[k] == null) { ctx.Error(Errors.StreamUnblockedKeyDeleted); return; }
            }
            else if (!TryGetStream(ctx, keyIdx, false, out streams[k])) return;
            if (xreadgroup)
            {
                var g = streams[k] == null ? null : streams[k]!.Groups.GetValueOrDefault(ctx.ArgBytes(groupIdx));
                if (g == null && ctx.RetryingBlocked) { ctx.Error(Errors.StreamUnblockedGroupDestroyed); return; }
                if (g == null) { ctx.Error(Errors.StreamNoGroupRead(ctx.ArgString(keyIdx), ctx.ArgString(groupIdx))); return; }
                groups![k] = g;
            }
            var a = ctx.Arg(idIdx);
            if (a.Length == 1 && a[0] == '$')
            {
                if (xreadgroup) { ctx.Error(Errors.StreamDollarInGroup); return; }
                ids[k] = streams[k]?.LastId ?? StreamId.Zero;
                dollarSeen = true;
            }
            else if (a.Length == 1 && a[0] == '>')
            {
                if (!xreadgroup) { ctx.Error(Errors.StreamGtOnlyInGroup); return; }
                isNew[k] = true;
                ids[k] = groups![k]!.LastId;
            }
            else if (!TryParseId(ctx, idIdx, 0, out ids[k])) return;
        }

        // Serve what is available; a consumer's history (explicit ID) always replies.
        int served = 0;
        var w = ctx.Reply;
        byte[]? consumerName = xreadgroup ? ctx.ArgBytes(groupIdx + 1) : null;
        for (int k = 0; k < n; k++)
        {
            var s = streams[k];
            if (s == null) continue;
            bool history = xreadgroup && !isNew[k];
            if (!history && !(s.LastId > ids[k] && s.Length > 0 && s.LastEntry()!.Id > ids[k])) continue;
            if (served == 0) StartReadReply(w, CountServable(streams, ids, isNew, xreadgroup));
            served++;
            if (w.Protocol < 3) w.WriteArrayHeader(2);
            w.WriteBulk(ctx.Arg(streamsIdx + k));
            if (!xreadgroup) { WriteFrom(w, s, ids[k], count); continue; }
            var g = groups![k]!;
            var consumer = GetConsumer(ctx, s, g, streamsIdx + k, groupIdx, consumerName!, propagateCreation: noAck);
            if (history) WriteHistory(ctx, s, g, consumer, ids[k], count, streamsIdx + k);
            else DeliverNew(ctx, s, g, consumer, count, noAck, streamsIdx + k);
        }
        if (served > 0) return;
        // Redis 7.0 creates the consumer only for a stream it serves: a read that returns nothing
        // (and a BLOCK that times out) leaves the group's consumers unchanged.
        if (timeoutMs < 0 || (ctx.Client.Flags & (ClientFlags.Multi | ClientFlags.Lua)) != 0)
        {
            w.WriteNullArray();
            return;
        }
        if (ctx.RetryingBlocked)
        {
            timeoutMs = ctx.BlockRemainingMs;
        }
        var keys = new byte[n][];
        for (int k = 0; k < n; k++) keys[k] = ctx.ArgBytes(streamsIdx + k);
        if (dollarSeen)
        {
            // "$" means the last ID when the command first blocked: park with concrete IDs.
            var argv = ctx.Args.ToOwnedArray();
            for (int k = 0; k < n; k++)
                if (argv[streamsIdx + n + k] is [(byte)'$']) argv[streamsIdx + n + k] = ids[k].ToBytes();
            ctx.Server.BlockWithArgv(ctx, argv, keys, timeoutMs, static r => r.WriteNullArray());
        }
        else ctx.Server.Block(ctx, keys, timeoutMs, static r => r.WriteNullArray());
    }

    private static int CountServable(StreamObject?[] streams, StreamId[] ids, bool[] isNew, bool xreadgroup)
    {
        int c = 0;
        for (int k = 0; k < streams.Length; k++)
        {
            var s = streams[k];
            if (s == null) continue;
            if ((xreadgroup && !isNew[k]) || (s.Length > 0 && s.LastEntry()!.Id > ids[k])) c++;
        }
        return c;
    }

    private static void StartReadReply(RespWriter w, int n)
    {
        if (w.Protocol >= 3) w.WriteMapHeader(n);
        else w.WriteArrayHeader(n);
    }

    private static void WriteFrom(RespWriter w, StreamObject s, StreamId after, long count)
    {
        if (!after.TryIncrement(out var start)) { w.WriteArrayHeader(0); return; }
        WriteRange(w, s, start, StreamId.Max, false, count);
    }

    /// <summary>
    /// XREADGROUP's implicit consumer creation reaches replicas only with NOACK (as XGROUP
    /// CREATECONSUMER); otherwise the XCLAIMs it propagates create the consumer there.
    /// </summary>
    private static StreamConsumer GetConsumer(CommandContext ctx, StreamObject s, ConsumerGroup g, int keyIdx, int groupIdx, byte[] name, bool propagateCreation)
    {
        var c = g.GetOrCreateConsumer(name, ctx.NowMs, out bool created);
        c.SeenTimeMs = ctx.NowMs;
        if (created)
        {
            ctx.Dirty();
            ctx.Notify('t', "xgroup-createconsumer", ctx.Arg(keyIdx));
            if (ctx.Server.Propagator != null && propagateCreation)
                ctx.PropagateAs(B("XGROUP"), B("CREATECONSUMER"), ctx.ArgBytes(keyIdx), ctx.ArgBytes(groupIdx), name);
            else ctx.PropagateOverride ??= new List<byte[][]>(); // never the XREADGROUP itself
        }
        return c;
    }

    private static byte[] B(string s) => System.Text.Encoding.ASCII.GetBytes(s);

    private static void DeliverNew(CommandContext ctx, StreamObject s, ConsumerGroup g, StreamConsumer consumer, long count, bool noAck, int keyIdx)
    {
        var list = new List<StreamEntry>();
        if (g.LastId.TryIncrement(out var start))
            foreach (var e in s.Range(start, StreamId.Max, false))
            {
                list.Add(e);
                if (count > 0 && list.Count >= count) break;
            }
        var w = ctx.Reply;
        w.WriteArrayHeader(list.Count);
        foreach (var e in list)
        {
            s.AdvanceGroup(g, e.Id);
            if (!noAck)
            {
                if (g.Pel.TryGetValue(e.Id, out var old)) old.Consumer.Pel.Remove(e.Id);
                var p = new PendingEntry { DeliveryTimeMs = ctx.NowMs, DeliveryCount = 1, Consumer = consumer };
                g.Pel[e.Id] = p;
                consumer.Pel[e.Id] = p;
                if (ctx.Server.Propagator != null) PropagateClaim(ctx, keyIdx, g, consumer, e.Id, p);
            }
            WriteEntry(w, e);
        }
        if (list.Count > 0)
        {
            ctx.Dirty();
            // Each XCLAIM carries LASTID; only NOACK reads (no XCLAIM) send the group's position (7.0.15).
            if (ctx.Server.Propagator != null && noAck) PropagateSetId(ctx, keyIdx, g);
        }
    }

    private static void WriteHistory(CommandContext ctx, StreamObject s, ConsumerGroup g, StreamConsumer consumer, StreamId after, long count, int keyIdx)
    {
        var ids = new List<StreamId>();
        foreach (var id in consumer.Pel.Keys)
        {
            if (id <= after) continue;
            ids.Add(id);
            if (count > 0 && ids.Count >= count) break;
        }
        var w = ctx.Reply;
        w.WriteArrayHeader(ids.Count);
        foreach (var id in ids)
        {
            var p = consumer.Pel[id];
            p.DeliveryCount++;
            p.DeliveryTimeMs = ctx.NowMs;
            var e = s.Find(id);
            if (e != null) WriteEntry(w, e);
            else
            {
                w.WriteArrayHeader(2);
                WriteId(w, id);
                w.WriteNullArray();
            }
            if (ctx.Server.Propagator != null) PropagateClaim(ctx, keyIdx, g, consumer, id, p);
        }
        if (ids.Count > 0) ctx.Dirty();
    }

    // Redis's streamPropagateXCLAIM: the effect of a delivery as an XCLAIM with FORCE/JUSTID.
    private static void PropagateClaim(CommandContext ctx, int keyIdx, ConsumerGroup g, StreamConsumer c, StreamId id, PendingEntry p)
    {
        ctx.PropagateAs(B("XCLAIM"), ctx.ArgBytes(keyIdx), g.Name, c.Name, B("0"), id.ToBytes(),
            B("TIME"), SetObject.ToBytes(p.DeliveryTimeMs), B("RETRYCOUNT"), SetObject.ToBytes(p.DeliveryCount),
            B("FORCE"), B("JUSTID"), B("LASTID"), g.LastId.ToBytes());
    }

    private static void PropagateSetId(CommandContext ctx, int keyIdx, ConsumerGroup g)
    {
        ctx.PropagateAs(B("XGROUP"), B("SETID"), ctx.ArgBytes(keyIdx), g.Name, g.LastId.ToBytes(), B("ENTRIESREAD"), SetObject.ToBytes(g.EntriesRead));
    }

    // ------------------------------------------------------------------ XGROUP

    // XGROUP CREATE parses its ID strictly; XGROUP SETID also takes "-" and "+" (Redis 7.0).
    private static bool TryGroupId(CommandContext ctx, int i, StreamObject? s, out StreamId id, bool strict = true)
    {
        var a = ctx.Arg(i);
        if (a.Length == 1 && a[0] == '$')
        {
            id = s?.LastId ?? StreamId.Zero;
            return true;
        }
        if (strict) return TryParseId(ctx, i, 0, out id);
        if (StreamId.TryParse(a, 0, out id)) return true;
        ctx.Error(Errors.StreamInvalidId);
        return false;
    }

    private static bool TryEntriesRead(CommandContext ctx, int i, out long v)
    {
        if (!ctx.TryGetLong(i, out v)) return false;
        if (v < 0 && v != StreamObject.InvalidEntriesRead) { ctx.Error(Errors.StreamEntriesReadInvalid); return false; }
        return true;
    }

    private static void GroupCreate(CommandContext ctx)
    {
        bool mkStream = false;
        long entriesRead = StreamObject.InvalidEntriesRead;
        for (int i = 5; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "MKSTREAM")) mkStream = true;
            else if (ctx.ArgIs(i, "ENTRIESREAD") && i + 1 < ctx.ArgCount)
            {
                if (!TryEntriesRead(ctx, ++i, out entriesRead)) return;
            }
            else { ctx.Error($"ERR unknown subcommand or wrong number of arguments for '{ctx.ArgString(1)}'. Try XGROUP HELP."); return; }
        }
        if (!TryGetStream(ctx, 2, true, out var s)) return;
        if (!TryGroupId(ctx, 4, s, out var id)) return;
        bool created = false;
        if (s == null)
        {
            if (!mkStream) { ctx.Error(Errors.StreamGroupNeedsKey); return; }
            s = new StreamObject();
            ctx.Db.Add(ctx.ArgBytes(2), s);
            created = true;
        }
        // As Redis 7.0: only a stream made by MKSTREAM counts as a modified key (WATCH, client
        // caches); group and consumer changes only dirty the dataset and notify.
        if (created) ctx.Server.SignalModified(ctx.Db, ctx.Arg(2));
        var name = ctx.ArgBytes(3);
        if (s.Groups.ContainsKey(name)) { ctx.Error(Errors.StreamBusyGroup); return; }
        s.Groups[name] = new ConsumerGroup(name, id, entriesRead);
        ctx.Reply.WriteOk();
        ctx.Dirty();
        ctx.Notify('t', "xgroup-create", ctx.Arg(2));
    }

    private static ConsumerGroup? FindGroup(CommandContext ctx, out StreamObject? s)
    {
        if (!TryGetStream(ctx, 2, true, out s)) return null;
        if (s == null) { ctx.Error(Errors.StreamGroupNeedsKey); return null; }
        var g = s.Groups.GetValueOrDefault(ctx.ArgBytes(3));
        if (g == null) ctx.Error(Errors.StreamNoGroupForKey(ctx.ArgString(2), ctx.ArgString(3)));
        return g;
    }

    private static void GroupSetId(CommandContext ctx)
    {
        long entriesRead = StreamObject.InvalidEntriesRead;
        if (ctx.ArgCount == 7 && ctx.ArgIs(5, "ENTRIESREAD"))
        {
            if (!TryEntriesRead(ctx, 6, out entriesRead)) return;
        }
        else if (ctx.ArgCount != 5)
        {
            ctx.Error($"ERR unknown subcommand or wrong number of arguments for '{ctx.ArgString(1)}'. Try XGROUP HELP.");
            return;
        }
        var g = FindGroup(ctx, out var s);
        if (g == null) return;
        if (!TryGroupId(ctx, 4, s, out var id, strict: false)) return;
        g.LastId = id;
        g.EntriesRead = entriesRead;
        ctx.Reply.WriteOk();
        ctx.Dirty();
        ctx.Notify('t', "xgroup-setid", ctx.Arg(2));
    }

    private static void GroupDestroy(CommandContext ctx)
    {
        if (!TryGetStream(ctx, 2, true, out var s)) return;
        if (s == null) { ctx.Error(Errors.StreamGroupNeedsKey); return; }
        if (s.Groups.Remove(ctx.ArgBytes(3)))
        {
            ctx.Reply.WriteInteger(1);
            ctx.Dirty();
            ctx.Notify('t', "xgroup-destroy", ctx.Arg(2));
            // XREADGROUP clients blocked on this group get -NOGROUP.
            ctx.Server.SignalKeyAsReady(ctx.Client.DbIndex, ctx.Arg(2));
        }
        else ctx.Reply.WriteInteger(0);
    }

    private static void GroupCreateConsumer(CommandContext ctx)
    {
        var g = FindGroup(ctx, out _);
        if (g == null) return;
        g.GetOrCreateConsumer(ctx.ArgBytes(4), ctx.NowMs, out bool created);
        ctx.Reply.WriteInteger(created ? 1 : 0);
        if (created)
        {
            ctx.Dirty();
            ctx.Notify('t', "xgroup-createconsumer", ctx.Arg(2));
        }
    }

    private static void GroupDelConsumer(CommandContext ctx)
    {
        var g = FindGroup(ctx, out _);
        if (g == null) return;
        int pending = g.DeleteConsumer(ctx.ArgBytes(4));
        ctx.Reply.WriteInteger(Math.Max(0, pending));
        if (pending >= 0)
        {
            ctx.Dirty();
            ctx.Notify('t', "xgroup-delconsumer", ctx.Arg(2));
        }
    }

    // ------------------------------------------------------------------ XACK / XPENDING

    private static void XAck(CommandContext ctx)
    {
        var ids = new StreamId[ctx.ArgCount - 3];
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        var g = s?.Groups.GetValueOrDefault(ctx.ArgBytes(2));
        for (int i = 3; i < ctx.ArgCount; i++)
            if (!TryParseId(ctx, i, 0, out ids[i - 3])) return;
        if (g == null) { ctx.Reply.WriteInteger(0); return; }
        long acked = 0;
        foreach (var id in ids)
        {
            if (!g.Pel.Remove(id, out var p)) continue;
            p.Consumer.Pel.Remove(id);
            acked++;
        }
        if (acked > 0) ctx.Dirty();
        ctx.Reply.WriteInteger(acked);
    }

    private static void XPending(CommandContext ctx)
    {
        bool extended = ctx.ArgCount > 3;
        long minIdle = 0, count = 0;
        StreamId start = StreamId.Zero, end = StreamId.Max;
        byte[]? consumerName = null;
        if (extended)
        {
            // Redis 7.0's xpendingCommand: 6 to 9 arguments; IDLE's value is read before the
            // argument count is checked, COUNT before the range; arguments after the consumer
            // name are ignored.
            if (ctx.ArgCount < 6 || ctx.ArgCount > 9) { ctx.SyntaxError(); return; }
            int i = 3;
            if (ctx.ArgIs(3, "IDLE"))
            {
                if (!ctx.TryGetLong(4, out minIdle)) return;
                if (ctx.ArgCount < 8) { ctx.SyntaxError(); return; }
                i = 5;
            }
            if (!ctx.TryGetLong(i + 2, out count)) return;
            if (count < 0) count = 0;
            if (!TryParseInterval(ctx, i, 0, true, out start, out _)) return;
            if (!TryParseInterval(ctx, i + 1, ulong.MaxValue, false, out end, out _)) return;
            if (i + 3 < ctx.ArgCount) consumerName = ctx.ArgBytes(i + 3);
        }
        if (!TryGetStream(ctx, 1, false, out var s)) return;
        var g = s?.Groups.GetValueOrDefault(ctx.ArgBytes(2));
        if (g == null) { ctx.Error(Errors.StreamNoGroup(ctx.ArgString(1), ctx.ArgString(2))); return; }
        var w = ctx.Reply;
        if (!extended)
        {
            w.WriteArrayHeader(4);
            w.WriteInteger(g.Pel.Count);
            if (g.Pel.Count == 0)
            {
                w.WriteNull();
                w.WriteNull();
                w.WriteNullArray();
                return;
            }
            WriteId(w, g.Pel.Keys.First());
            WriteId(w, g.Pel.Keys.Last());
            int withPending = 0;
            foreach (var c in g.Consumers.Values) if (c.Pel.Count > 0) withPending++;
            w.WriteArrayHeader(withPending);
            foreach (var c in g.Consumers.Values)
            {
                if (c.Pel.Count == 0) continue;
                w.WriteArrayHeader(2);
                w.WriteBulk(c.Name);
                w.WriteBulk(SetObject.ToBytes(c.Pel.Count));
            }
            return;
        }
        SortedDictionary<StreamId, PendingEntry>? pel = g.Pel;
        if (consumerName != null) pel = g.Consumers.GetValueOrDefault(consumerName)?.Pel;
        var rows = new List<KeyValuePair<StreamId, PendingEntry>>();
        if (pel != null && count > 0)
            foreach (var kv in pel)
            {
                if (kv.Key < start) continue;
                if (kv.Key > end) break;
                if (minIdle > 0 && ctx.NowMs - kv.Value.DeliveryTimeMs < minIdle) continue;
                rows.Add(kv);
                if (rows.Count >= count) break;
            }
        w.WriteArrayHeader(rows.Count);
        foreach (var (id, p) in rows)
        {
            w.WriteArrayHeader(4);
            WriteId(w, id);
            w.WriteBulk(p.Consumer.Name);
            w.WriteInteger(Math.Max(0, ctx.NowMs - p.DeliveryTimeMs));
            w.WriteInteger(p.DeliveryCount);
        }
    }

    // ------------------------------------------------------------------ XCLAIM / XAUTOCLAIM

    private static void XClaim(CommandContext ctx)
    {
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        var g = s?.Groups.GetValueOrDefault(ctx.ArgBytes(2));
        if (!RequestParser.TryParseLong(ctx.Arg(4), out long minIdle))
        {
            ctx.Error("ERR Invalid min-idle-time argument for XCLAIM");
            return;
        }
        if (minIdle < 0) minIdle = 0;
        var ids = new List<StreamId>();
        int j = 5;
        for (; j < ctx.ArgCount; j++)
        {
            if (IsMinOrMax(ctx.Arg(j)) || !StreamId.TryParse(ctx.Arg(j), 0, out var id)) break;
            ids.Add(id);
        }
        long deliveryTime = ctx.NowMs, retryCount = -1;
        bool force = false, justId = false;
        StreamId lastId = StreamId.Zero;
        for (; j < ctx.ArgCount; j++)
        {
            bool more = j + 1 < ctx.ArgCount;
            if (ctx.ArgIs(j, "FORCE")) force = true;
            else if (ctx.ArgIs(j, "JUSTID")) justId = true;
            else if (ctx.ArgIs(j, "IDLE") && more)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out long idle)) { ctx.Error("ERR Invalid IDLE option argument for XCLAIM"); return; }
                deliveryTime = ctx.NowMs - idle;
            }
            else if (ctx.ArgIs(j, "TIME") && more)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out deliveryTime)) { ctx.Error("ERR Invalid TIME option argument for XCLAIM"); return; }
            }
            else if (ctx.ArgIs(j, "RETRYCOUNT") && more)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out retryCount)) { ctx.Error("ERR Invalid RETRYCOUNT option argument for XCLAIM"); return; }
            }
            else if (ctx.ArgIs(j, "LASTID") && more)
            {
                if (!TryParseId(ctx, ++j, 0, out lastId)) return;
            }
            else { ctx.Error($"ERR Unrecognized XCLAIM option '{ctx.ArgString(j)}'"); return; }
        }
        if (g == null) { ctx.Error(Errors.StreamNoGroup(ctx.ArgString(1), ctx.ArgString(2))); return; }
        if (deliveryTime > ctx.NowMs) deliveryTime = ctx.NowMs;
        if (lastId > g.LastId) g.LastId = lastId;
        // Redis 7.0 looks the consumer up (creating it) only once it has something to claim.
        StreamConsumer? consumer = null;
        var claimed = new List<(StreamId Id, StreamEntry? E)>();
        foreach (var id in ids)
        {
            var e = s!.Find(id);
            g.Pel.TryGetValue(id, out var p);
            if (p == null && force && e != null)
            {
                consumer ??= ClaimingConsumer(ctx, g);
                p = new PendingEntry { DeliveryTimeMs = ctx.NowMs, DeliveryCount = 0, Consumer = consumer };
                g.Pel[id] = p;
                consumer.Pel[id] = p;
            }
            if (p == null) continue;
            if (e == null)
            {
                // The entry was deleted: drop it from the PEL (Redis 7.0 does this in XCLAIM), and
                // propagate an XCLAIM of it so that replicas drop it too.
                if (ctx.Server.Propagator != null) PropagateClaim(ctx, 1, g, p.Consumer, id, p);
                g.Pel.Remove(id);
                p.Consumer.Pel.Remove(id);
                ctx.Dirty();
                continue;
            }
            if (minIdle > 0 && ctx.NowMs - p.DeliveryTimeMs < minIdle) continue;
            consumer ??= ClaimingConsumer(ctx, g);
            if (p.Consumer != consumer)
            {
                p.Consumer.Pel.Remove(id);
                p.Consumer = consumer;
                consumer.Pel[id] = p;
            }
            p.DeliveryTimeMs = deliveryTime;
            if (retryCount >= 0) p.DeliveryCount = retryCount;
            else if (!justId) p.DeliveryCount++;
            claimed.Add((id, e));
            if (ctx.Server.Propagator != null) PropagateClaim(ctx, 1, g, consumer, id, p);
        }
        ctx.Reply.WriteArrayHeader(claimed.Count);
        foreach (var (id, e) in claimed)
        {
            if (justId) WriteId(ctx.Reply, id);
            else WriteEntry(ctx.Reply, e!);
        }
        ctx.Dirty();
    }

    private static StreamConsumer ClaimingConsumer(CommandContext ctx, ConsumerGroup g)
    {
        var c = g.GetOrCreateConsumer(ctx.ArgBytes(3), ctx.NowMs, out bool created);
        c.SeenTimeMs = ctx.NowMs;
        // streamCreateConsumer: a consumer made by XCLAIM/XAUTOCLAIM is a change of its own.
        if (created)
        {
            ctx.Dirty();
            ctx.Notify('t', "xgroup-createconsumer", ctx.Arg(1));
        }
        return c;
    }

    private static void XAutoClaim(CommandContext ctx)
    {
        if (!TryGetStream(ctx, 1, true, out var s)) return;
        var g = s?.Groups.GetValueOrDefault(ctx.ArgBytes(2));
        if (!ctx.TryGetLong(4, out long minIdle)) return;
        if (minIdle < 0) minIdle = 0;
        if (!TryParseInterval(ctx, 5, 0, true, out var start, out _)) return;
        long count = 100;
        bool justId = false;
        for (int j = 6; j < ctx.ArgCount; j++)
        {
            if (ctx.ArgIs(j, "COUNT") && j + 1 < ctx.ArgCount)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out count) || count < 1 || count > long.MaxValue / 10) { ctx.Error(Errors.StreamAutoclaimCount); return; }
            }
            else if (ctx.ArgIs(j, "JUSTID")) justId = true;
            else { ctx.SyntaxError(); return; }
        }
        if (g == null) { ctx.Error(Errors.StreamNoGroup(ctx.ArgString(1), ctx.ArgString(2))); return; }
        StreamConsumer? consumer = null;
        long attempts = count * 10;
        var claimed = new List<(StreamId, StreamEntry)>();
        var deleted = new List<StreamId>();
        StreamId next = StreamId.Zero;
        bool more = false;
        // Redis 7.0.15's xautoclaimCommand: at most COUNT*10 PEL entries are examined; a deleted
        // entry is dropped from the PEL (propagated as an XCLAIM of it) and, like a claimed one,
        // uses up one of COUNT. The cursor is the PEL entry after the last one examined.
        foreach (var (id, p) in g.Pel.ToArray())
        {
            if (id < start) continue;
            if (attempts-- == 0 || count == 0) { next = id; more = true; break; }
            var e = s!.Find(id);
            if (e == null)
            {
                if (ctx.Server.Propagator != null) PropagateClaim(ctx, 1, g, p.Consumer, id, p);
                g.Pel.Remove(id);
                p.Consumer.Pel.Remove(id);
                deleted.Add(id);
                count--;
                continue;
            }
            if (minIdle > 0 && ctx.NowMs - p.DeliveryTimeMs < minIdle) continue;
            consumer ??= ClaimingConsumer(ctx, g);
            if (p.Consumer != consumer)
            {
                p.Consumer.Pel.Remove(id);
                p.Consumer = consumer;
                consumer.Pel[id] = p;
            }
            p.DeliveryTimeMs = ctx.NowMs;
            if (!justId) p.DeliveryCount++;
            claimed.Add((id, e));
            count--;
            if (ctx.Server.Propagator != null) PropagateClaim(ctx, 1, g, consumer, id, p);
        }
        if (!more) next = StreamId.Zero;
        var w = ctx.Reply;
        w.WriteArrayHeader(3);
        WriteId(w, next);
        w.WriteArrayHeader(claimed.Count);
        foreach (var (id, e) in claimed)
        {
            if (justId) WriteId(w, id);
            else WriteEntry(w, e);
        }
        w.WriteArrayHeader(deleted.Count);
        foreach (var id in deleted) WriteId(w, id);
        ctx.Dirty();
    }
}
