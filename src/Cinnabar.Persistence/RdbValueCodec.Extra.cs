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

    private static long ParseNum(byte[] b) =>
        long.Parse(System.Text.Encoding.ASCII.GetString(b), System.Globalization.CultureInfo.InvariantCulture);

    private static StreamObject ReadStream(RdbReader r, bool v2)
    {
        var s = new StreamObject();
        ulong nodes = r.ReadLength();
        for (ulong k = 0; k < nodes; k++)
        {
            var key = r.ReadString();
            if (key.Length != 16) throw new InvalidDataException("Stream node key entry is not the size of a stream ID");
            var master = StreamId.ReadBigEndian(key);
            var items = Listpack.Decode(r.ReadString());
            if (items.Count == 0) throw new InvalidDataException("Empty listpack inside stream");
            DecodeNode(s, master, items);
        }
        s.Length = (long)r.ReadLength();
        s.LastId = new StreamId(r.ReadLength(), r.ReadLength());
        if (v2)
        {
            s.FirstId = new StreamId(r.ReadLength(), r.ReadLength());
            s.MaxDeletedId = new StreamId(r.ReadLength(), r.ReadLength());
            s.EntriesAdded = (long)r.ReadLength();
        }
        else
        {
            s.EntriesAdded = s.Length;
            s.FirstId = s.FirstEntry()?.Id ?? StreamId.Zero;
        }
        ulong groups = r.ReadLength();
        Span<byte> raw = stackalloc byte[16];
        for (ulong gi = 0; gi < groups; gi++)
        {
            var name = r.ReadString();
            var lastId = new StreamId(r.ReadLength(), r.ReadLength());
            long entriesRead = v2 ? unchecked((long)r.ReadLength()) : s.EstimateDistanceFromFirstEverEntry(lastId);
            var g = new ConsumerGroup(name, lastId, entriesRead);
            s.Groups[name] = g;
            ulong pel = r.ReadLength();
            for (ulong i = 0; i < pel; i++)
            {
                r.ReadExactly(raw);
                var id = StreamId.ReadBigEndian(raw);
                g.Pel[id] = new PendingEntry { DeliveryTimeMs = r.ReadMillis(), DeliveryCount = (long)r.ReadLength() };
            }
            ulong consumers = r.ReadLength();
            for (ulong ci = 0; ci < consumers; ci++)
            {
                var cname = r.ReadString();
                var c = new StreamConsumer(cname, r.ReadMillis());
                g.Consumers[cname] = c;
                ulong n = r.ReadLength();
                for (ulong i = 0; i < n; i++)
                {
                    r.ReadExactly(raw);
                    var id = StreamId.ReadBigEndian(raw);
                    if (!g.Pel.TryGetValue(id, out var p))
                        throw new InvalidDataException("Consumer entry not found in group global PEL");
                    p.Consumer = c;
                    c.Pel[id] = p;
                }
            }
        }
        return s;
    }

    private static void DecodeNode(StreamObject s, StreamId master, List<byte[]> items)
    {
        int p = 0;
        p++; // count (recomputed from flags)
        p++; // deleted
        int nMaster = (int)ParseNum(items[p++]);
        var masterFields = new byte[nMaster][];
        for (int i = 0; i < nMaster; i++) masterFields[i] = items[p++];
        p++; // master terminator
        var node = new StreamNode(master, masterFields);
        while (p < items.Count)
        {
            int flags = (int)ParseNum(items[p++]);
            var id = new StreamId(unchecked(master.Ms + (ulong)ParseNum(items[p++])), unchecked(master.Seq + (ulong)ParseNum(items[p++])));
            byte[][] fv;
            if ((flags & FlagSameFields) != 0)
            {
                fv = new byte[nMaster * 2][];
                for (int i = 0; i < nMaster; i++)
                {
                    fv[i * 2] = masterFields[i];
                    fv[i * 2 + 1] = items[p++];
                }
            }
            else
            {
                int n = (int)ParseNum(items[p++]);
                fv = new byte[n * 2][];
                for (int i = 0; i < n * 2; i++) fv[i] = items[p++];
            }
            p++; // lp-count
            node.LoadEntry(new StreamEntry(id, fv), (flags & FlagDeleted) != 0, (flags & FlagSameFields) != 0);
        }
        if (node.LiveCount > 0) s.Nodes.Add(node);
    }
}
