using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// XINFO STREAM [FULL [COUNT n]] | GROUPS | CONSUMERS | HELP, in Redis 7.0's reply shapes.
public sealed partial class StreamCommands
{
    private static void RegisterInfo(CommandTable t)
    {
        var c = t.AddContainer("xinfo", -2, G, "A container for stream introspection commands.", "5.0.0");
        t.AddSub(c, "stream", -3, "readonly", 2, 2, 1, "@read @stream @slow", InfoStream, "Returns information about a stream.", "5.0.0");
        t.AddSub(c, "groups", 3, "readonly", 2, 2, 1, "@read @stream @slow", InfoGroups, "Returns a list of the consumer groups of a stream.", "5.0.0");
        t.AddSub(c, "consumers", 4, "readonly", 2, 2, 1, "@read @stream @slow", InfoConsumers, "Returns a list of the consumers in a consumer group.", "5.0.0");
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, "@stream @slow", InfoHelp, "Returns helpful text about the different subcommands.", "5.0.0");
    }

    private static readonly string[] InfoHelpLines =
    [
        "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CONSUMERS <key> <groupname>",
        "    Show consumers of <groupname>.",
        "GROUPS <key>",
        "    Show the stream consumer groups.",
        "STREAM <key> [FULL [COUNT <count>]",
        "    Show information about the stream.",
        "HELP",
        "    Prints this help.",
    ];

    private static void InfoHelp(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(InfoHelpLines.Length);
        foreach (var l in InfoHelpLines) ctx.Reply.WriteSimpleString(l);
    }

    private static StreamObject? InfoLookup(CommandContext ctx)
    {
        var o = ctx.Db.LookupRead(ctx.Arg(2));
        if (o == null) { ctx.Error(Errors.NoSuchKey); return null; }
        if (o is not StreamObject s) { ctx.WrongType(); return null; }
        return s;
    }

    private static void Key(RespWriter w, string k) => w.WriteBulk(System.Text.Encoding.ASCII.GetBytes(k));

    private static void WriteLag(RespWriter w, StreamObject s, ConsumerGroup g)
    {
        var lag = s.Lag(g);
        if (lag.HasValue) w.WriteInteger(lag.Value);
        else w.WriteNull();
    }

    private static void WriteEntriesRead(RespWriter w, ConsumerGroup g)
    {
        if (g.EntriesRead != StreamObject.InvalidEntriesRead) w.WriteInteger(g.EntriesRead);
        else w.WriteNull();
    }

    private static void InfoGroups(CommandContext ctx)
    {
        var s = InfoLookup(ctx);
        if (s == null) return;
        var w = ctx.Reply;
        w.WriteArrayHeader(s.Groups.Count);
        foreach (var g in s.Groups.Values)
        {
            w.WriteMapHeader(6);
            Key(w, "name"); w.WriteBulk(g.Name);
            Key(w, "consumers"); w.WriteInteger(g.Consumers.Count);
            Key(w, "pending"); w.WriteInteger(g.Pel.Count);
            Key(w, "last-delivered-id"); WriteId(w, g.LastId);
            Key(w, "entries-read"); WriteEntriesRead(w, g);
            Key(w, "lag"); WriteLag(w, s, g);
        }
    }

    private static void InfoConsumers(CommandContext ctx)
    {
        var s = InfoLookup(ctx);
        if (s == null) return;
        var g = s.Groups.GetValueOrDefault(ctx.ArgBytes(3));
        if (g == null) { ctx.Error(Errors.StreamNoGroupForKey(ctx.ArgString(2), ctx.ArgString(3))); return; }
        var w = ctx.Reply;
        w.WriteArrayHeader(g.Consumers.Count);
        foreach (var c in g.Consumers.Values)
        {
            w.WriteMapHeader(3);
            Key(w, "name"); w.WriteBulk(c.Name);
            Key(w, "pending"); w.WriteInteger(c.Pel.Count);
            Key(w, "idle"); w.WriteInteger(Math.Max(0, ctx.NowMs - c.SeenTimeMs));
        }
    }

    // Redis reports the node count of its radix tree (rax) keyed by the nodes' 16-byte big-endian
    // master IDs. A rax keeps the compressed-trie shape: a run of bytes shared by every key below
    // a point is one compressed node, a point where keys diverge is one branching node, and each
    // key ends in a leaf node; an empty rax is its root node alone. Counted over the sorted keys.
    private static long RaxNodes(StreamObject s)
    {
        int n = s.Nodes.Count;
        if (n == 0) return 1;
        var keys = new byte[n][];
        for (int i = 0; i < n; i++)
        {
            keys[i] = new byte[16];
            s.Nodes[i].MasterId.WriteBigEndian(keys[i]);
        }
        return RaxSubtree(keys, 0, n, 0);
    }

    private static long RaxSubtree(byte[][] keys, int lo, int hi, int depth)
    {
        if (depth == 16) return 1;
        // The keys are sorted: the prefix shared by the first and last is shared by all.
        int common = 0;
        while (depth + common < 16 && keys[lo][depth + common] == keys[hi - 1][depth + common]) common++;
        if (common > 0) return 1 + RaxSubtree(keys, lo, hi, depth + common);
        long total = 1;
        for (int i = lo; i < hi;)
        {
            int j = i + 1;
            while (j < hi && keys[j][depth] == keys[i][depth]) j++;
            total += RaxSubtree(keys, i, j, depth + 1);
            i = j;
        }
        return total;
    }

    private static void InfoStream(CommandContext ctx)
    {
        // Redis looks the key up first, then checks [FULL [COUNT n]].
        var s = InfoLookup(ctx);
        if (s == null) return;
        if (ctx.ArgCount > 3 && (!ctx.ArgIs(3, "FULL") || (ctx.ArgCount != 4 && (ctx.ArgCount != 6 || !ctx.ArgIs(4, "COUNT")))))
        {
            ctx.Error($"ERR unknown subcommand or wrong number of arguments for '{ctx.ArgString(1)}'. Try XINFO HELP.");
            return;
        }
        bool full = ctx.ArgCount > 3;
        long count = 10;
        if (ctx.ArgCount == 6)
        {
            if (!ctx.TryGetLong(5, out count)) return;
            if (count < 0) count = 10;
        }
        var w = ctx.Reply;
        w.WriteMapHeader(full ? 9 : 10);
        Key(w, "length"); w.WriteInteger(s.Length);
        Key(w, "radix-tree-keys"); w.WriteInteger(s.Nodes.Count);
        Key(w, "radix-tree-nodes"); w.WriteInteger(RaxNodes(s));
        Key(w, "last-generated-id"); WriteId(w, s.LastId);
        Key(w, "max-deleted-entry-id"); WriteId(w, s.MaxDeletedId);
        Key(w, "entries-added"); w.WriteInteger(s.EntriesAdded);
        Key(w, "recorded-first-entry-id"); WriteId(w, s.FirstId);
        if (!full)
        {
            Key(w, "groups"); w.WriteInteger(s.Groups.Count);
            Key(w, "first-entry"); WriteEntryOrNull(w, s.FirstEntry());
            Key(w, "last-entry"); WriteEntryOrNull(w, s.LastEntry());
            return;
        }
        Key(w, "entries");
        WriteRange(w, s, StreamId.Zero, StreamId.Max, false, count);
        Key(w, "groups");
        w.WriteArrayHeader(s.Groups.Count);
        foreach (var g in s.Groups.Values) WriteGroupFull(w, s, g, count);
    }

    private static void WriteEntryOrNull(RespWriter w, StreamEntry? e)
    {
        if (e == null) w.WriteNull();
        else WriteEntry(w, e);
    }

    private static void WriteGroupFull(RespWriter w, StreamObject s, ConsumerGroup g, long count)
    {
        w.WriteMapHeader(7);
        Key(w, "name"); w.WriteBulk(g.Name);
        Key(w, "last-delivered-id"); WriteId(w, g.LastId);
        Key(w, "entries-read"); WriteEntriesRead(w, g);
        Key(w, "lag"); WriteLag(w, s, g);
        Key(w, "pel-count"); w.WriteInteger(g.Pel.Count);
        Key(w, "pending");
        long n = count == 0 ? g.Pel.Count : Math.Min(count, g.Pel.Count);
        w.WriteArrayHeader(n);
        foreach (var (id, p) in g.Pel)
        {
            if (n-- == 0) break;
            w.WriteArrayHeader(4);
            WriteId(w, id);
            w.WriteBulk(p.Consumer.Name);
            w.WriteInteger(p.DeliveryTimeMs);
            w.WriteInteger(p.DeliveryCount);
        }
        Key(w, "consumers");
        w.WriteArrayHeader(g.Consumers.Count);
        foreach (var c in g.Consumers.Values)
        {
            w.WriteMapHeader(4);
            Key(w, "name"); w.WriteBulk(c.Name);
            Key(w, "seen-time"); w.WriteInteger(c.SeenTimeMs);
            Key(w, "pel-count"); w.WriteInteger(c.Pel.Count);
            Key(w, "pending");
            long m = count == 0 ? c.Pel.Count : Math.Min(count, c.Pel.Count);
            w.WriteArrayHeader(m);
            foreach (var (id, p) in c.Pel)
            {
                if (m-- == 0) break;
                w.WriteArrayHeader(3);
                WriteId(w, id);
                w.WriteInteger(p.DeliveryTimeMs);
                w.WriteInteger(p.DeliveryCount);
            }
        }
    }
}
