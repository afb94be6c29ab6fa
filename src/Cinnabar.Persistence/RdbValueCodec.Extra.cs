using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

// Streams: RDB type 19 (STREAM_LISTPACKS_2) as Redis 7.0's rdbSaveObject writes it; reads 15 and 19.
// Layout: node count, then per node the 16-byte big-endian master ID and the node's listpack
// (master entry: count, deleted, num-fields, fields..., 0; then per entry: flags, ms-delta,
// seq-delta, [num-fields, field, value ... | values ...], lp-count); then length, last ID,
// first ID, max deleted ID, entries added (type 19 only), and the consumer groups with their
// PEL (ID, delivery ms, delivery count), entries-read (19 only) and consumers (name, seen ms, IDs).
public static partial class RdbValueCodec
{
    private const int FlagDeleted = 1;
    private const int FlagSameFields = 2;

    private static partial byte? ExtraCollectionType(RedisObject value) =>
        value is StreamObject ? Rdb.TypeStreamListpacks2 : null;

    private static partial bool TryWriteExtra(RdbWriter w, RedisObject value)
    {
        if (value is not StreamObject s) return false;
        WriteStream(w, s);
        return true;
    }

    private static partial RedisObject? TryReadExtra(RdbReader r, byte type) => type switch
    {
        Rdb.TypeStreamListpacks => ReadStream(r, false),
        Rdb.TypeStreamListpacks2 => ReadStream(r, true),
        _ => null,
    };

    private static byte[] Num(long v) => SetObject.ToBytes(v);

    private static void WriteStream(RdbWriter w, StreamObject s)
    {
        w.WriteLength((ulong)s.Nodes.Count);
        Span<byte> key = stackalloc byte[16];
        foreach (var node in s.Nodes)
        {
            node.MasterId.WriteBigEndian(key);
            w.WriteString(key);
            w.WriteString(EncodeNode(node));
        }
        w.WriteLength((ulong)s.Length);
        WriteIdLengths(w, s.LastId);
        WriteIdLengths(w, s.FirstId);
        WriteIdLengths(w, s.MaxDeletedId);
        w.WriteLength((ulong)s.EntriesAdded);
        w.WriteLength((ulong)s.Groups.Count);
        foreach (var g in s.Groups.Values)
        {
            w.WriteString(g.Name);
            WriteIdLengths(w, g.LastId);
            w.WriteLength(unchecked((ulong)g.EntriesRead));
            w.WriteLength((ulong)g.Pel.Count);
            foreach (var (id, p) in g.Pel)
            {
                id.WriteBigEndian(key);
                w.WriteBytes(key);
                w.WriteMillis(p.DeliveryTimeMs);
                w.WriteLength((ulong)p.DeliveryCount);
            }
            w.WriteLength((ulong)g.Consumers.Count);
            foreach (var c in g.Consumers.Values)
            {
                w.WriteString(c.Name);
                w.WriteMillis(c.SeenTimeMs);
                w.WriteLength((ulong)c.Pel.Count);
                foreach (var id in c.Pel.Keys)
                {
                    id.WriteBigEndian(key);
                    w.WriteBytes(key);
                }
            }
        }
    }

    private static void WriteIdLengths(RdbWriter w, StreamId id)
    {
        w.WriteLength(id.Ms);
        w.WriteLength(id.Seq);
    }

    private static byte[] EncodeNode(StreamNode node)
    {
        var items = new List<byte[]>(8 + node.Entries.Count * 8)
        {
            Num(node.LiveCount), Num(node.DeletedCount), Num(node.MasterFields.Length),
        };
        items.AddRange(node.MasterFields);
        items.Add(Num(0));
        foreach (var e in node.Entries)
        {
            int flags = (e.Deleted ? FlagDeleted : 0) | (e.SameFields ? FlagSameFields : 0);
            items.Add(Num(flags));
            items.Add(Num(unchecked((long)(e.Id.Ms - node.MasterId.Ms))));
            items.Add(Num(unchecked((long)(e.Id.Seq - node.MasterId.Seq))));
            int n = e.FieldsAndValues.Length / 2;
            if (e.SameFields)
            {
                for (int i = 0; i < n; i++) items.Add(e.FieldsAndValues[i * 2 + 1]);
                items.Add(Num(n + 3));
            }
            else
            {
                items.Add(Num(n));
                items.AddRange(e.FieldsAndValues);
                items.Add(Num(n * 2 + 4));
            }
        }
        return Listpack.Encode(items);
    }

    private const string StreamCorrupt = "Stream listpack integrity check failed.";

    // Stream listpacks hold integers as listpack integers; anything else in an integer slot is corrupt.
    private static long ParseNum(byte[] b)
    {
        if (!Cinnabar.Protocol.RequestParser.TryParseLong(b, out long v)) throw RdbCorrupt.Error(StreamCorrupt);
        return v;
    }

    private static StreamObject ReadStream(RdbReader r, bool v2)
    {
        var s = new StreamObject();
        ulong nodes = r.ReadLength();
        var previous = StreamId.Zero;
        bool any = false;
        long live = 0;
        for (ulong k = 0; k < nodes; k++)
        {
            var key = r.ReadString();
            if (key.Length != 16) throw RdbCorrupt.Error("Stream node key entry is not the size of a stream ID");
            var master = StreamId.ReadBigEndian(key);
            var blob = r.ReadStringScratch(out int length);
            var span = blob.AsSpan(0, length);
            if (!PayloadIntegrity.ListpackValid(span, r.DeepIntegrity)) throw RdbCorrupt.Error(StreamCorrupt);
            var items = Listpack.Decode(span);
            if (items.Count == 0) throw RdbCorrupt.Error("Empty listpack inside stream");
            if (any && master <= previous) throw RdbCorrupt.Error("Listpack re-added with existing key");
            var node = DecodeNode(master, items, ref previous, ref any);
            live += node.LiveCount;
            if (node.LiveCount > 0) s.Nodes.Add(node);
        }
        s.Length = (long)Math.Min(r.ReadLength(), long.MaxValue);
        // Every entry counted by the header exists, and IDs to come are above every stored one
        // (XADD * builds on LastId): checked always, since our stream code relies on both.
        if (s.Length != live) throw RdbCorrupt.Error("Stream length inconsistent with rax entries");
        s.LastId = new StreamId(r.ReadLength(), r.ReadLength());
        if (any && s.LastId < previous) throw RdbCorrupt.Error(StreamCorrupt);
        if (v2)
        {
            s.FirstId = new StreamId(r.ReadLength(), r.ReadLength());
            s.MaxDeletedId = new StreamId(r.ReadLength(), r.ReadLength());
            s.EntriesAdded = (long)Math.Min(r.ReadLength(), long.MaxValue);
        }
        else
        {
            s.EntriesAdded = s.Length;
            s.FirstId = s.FirstEntry()?.Id ?? StreamId.Zero;
        }
        ReadGroups(r, s, v2);
        return s;
    }

    private static void ReadGroups(RdbReader r, StreamObject s, bool v2)
    {
        ulong groups = r.ReadLength();
        Span<byte> raw = stackalloc byte[16];
        for (ulong gi = 0; gi < groups; gi++)
        {
            var name = r.ReadString();
            var lastId = new StreamId(r.ReadLength(), r.ReadLength());
            long entriesRead = v2 ? unchecked((long)r.ReadLength()) : s.EstimateDistanceFromFirstEverEntry(lastId);
            var g = new ConsumerGroup(name, lastId, entriesRead);
            if (!s.Groups.TryAdd(name, g))
                throw RdbCorrupt.Error($"Duplicated consumer group name {System.Text.Encoding.UTF8.GetString(name)}");
            ulong pel = r.ReadLength();
            for (ulong i = 0; i < pel; i++)
            {
                r.ReadExactly(raw);
                var id = StreamId.ReadBigEndian(raw);
                var entry = new PendingEntry { DeliveryTimeMs = r.ReadMillis(), DeliveryCount = (long)Math.Min(r.ReadLength(), long.MaxValue) };
                if (!g.Pel.TryAdd(id, entry)) throw RdbCorrupt.Error("Duplicated global PEL entry loading stream consumer group");
            }
            ulong consumers = r.ReadLength();
            for (ulong ci = 0; ci < consumers; ci++)
            {
                var cname = r.ReadString();
                var c = new StreamConsumer(cname, r.ReadMillis());
                if (!g.Consumers.TryAdd(cname, c)) throw RdbCorrupt.Error("Duplicate stream consumer detected.");
                ulong n = r.ReadLength();
                for (ulong i = 0; i < n; i++)
                {
                    r.ReadExactly(raw);
                    var id = StreamId.ReadBigEndian(raw);
                    if (!g.Pel.TryGetValue(id, out var p))
                        throw RdbCorrupt.Error("Consumer entry not found in group global PEL");
                    if (p.Consumer != null) throw RdbCorrupt.Error("Duplicated consumer PEL entry loading a stream consumer group");
                    p.Consumer = c;
                    c.Pel[id] = p;
                }
            }
            // Redis checks this only under deep sanitization (and crashes later otherwise); our
            // consumer-group commands rely on every pending entry having an owner, so always.
            foreach (var p in g.Pel.Values)
                if (p.Consumer == null) throw RdbCorrupt.Error("Stream CG PEL entry without consumer");
        }
    }

    /// <summary>
    /// One node's listpack: master entry (count, deleted, num-fields, fields, 0), then entries.
    /// Every count is checked against what is left before anything is allocated, each entry's
    /// lp-count must match its shape, and IDs must rise strictly (t_stream.c's
    /// streamValidateListpackIntegrity, always on here since decoding walks every entry anyway).
    /// </summary>
    private static StreamNode DecodeNode(StreamId master, List<byte[]> items, ref StreamId previous, ref bool any)
    {
        int p = 0;
        if (items.Count < 4) throw RdbCorrupt.Error(StreamCorrupt);
        long count = ParseNum(items[p++]);
        long deleted = ParseNum(items[p++]);
        long nMaster = ParseNum(items[p++]);
        if (nMaster < 0 || nMaster > items.Count - p - 1) throw RdbCorrupt.Error(StreamCorrupt);
        var masterFields = new byte[nMaster][];
        for (int i = 0; i < nMaster; i++) masterFields[i] = items[p++];
        if (ParseNum(items[p++]) != 0) throw RdbCorrupt.Error(StreamCorrupt);
        var node = new StreamNode(master, masterFields);
        while (p < items.Count)
        {
            if (items.Count - p < 3) throw RdbCorrupt.Error(StreamCorrupt);
            long flags = ParseNum(items[p++]);
            if ((flags & ~(long)(FlagDeleted | FlagSameFields)) != 0) throw RdbCorrupt.Error(StreamCorrupt);
            var id = new StreamId(unchecked(master.Ms + (ulong)ParseNum(items[p++])), unchecked(master.Seq + (ulong)ParseNum(items[p++])));
            if (id < master || (any && id <= previous)) throw RdbCorrupt.Error(StreamCorrupt);
            previous = id;
            any = true;
            bool same = (flags & FlagSameFields) != 0;
            byte[][] fv;
            long expectedLpCount;
            if (same)
            {
                if (nMaster > items.Count - p - 1) throw RdbCorrupt.Error(StreamCorrupt);
                fv = new byte[nMaster * 2][];
                for (int i = 0; i < nMaster; i++)
                {
                    fv[i * 2] = masterFields[i];
                    fv[i * 2 + 1] = items[p++];
                }
                expectedLpCount = nMaster + 3;
            }
            else
            {
                if (p >= items.Count) throw RdbCorrupt.Error(StreamCorrupt);
                long n = ParseNum(items[p++]);
                if (n < 0 || n > (items.Count - p - 1) / 2) throw RdbCorrupt.Error(StreamCorrupt);
                fv = new byte[n * 2][];
                for (int i = 0; i < n * 2; i++) fv[i] = items[p++];
                expectedLpCount = n * 2 + 4;
            }
            if (p >= items.Count || ParseNum(items[p++]) != expectedLpCount) throw RdbCorrupt.Error(StreamCorrupt);
            node.LoadEntry(new StreamEntry(id, fv), (flags & FlagDeleted) != 0, same);
        }
        if (node.LiveCount != count || node.DeletedCount != deleted) throw RdbCorrupt.Error(StreamCorrupt);
        return node;
    }
}
