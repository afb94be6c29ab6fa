using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

// Collection types: the type byte follows the value's encoding as Redis 7.0 writes it; loading
// rebuilds our encodings with the same thresholds Redis applies when loading.
public static partial class RdbValueCodec
{
    private static partial byte? CollectionType(RedisObject value) => value switch
    {
        HashObject h => h.IsListpack ? Rdb.TypeHashListpack : Rdb.TypeHash,
        SetObject s => s.IsIntset ? Rdb.TypeSetIntset : Rdb.TypeSet,
        ListObject => Rdb.TypeListQuicklist2,
        ZSetObject z => z.IsListpack ? Rdb.TypeZSetListpack : Rdb.TypeZSet2,
        _ => ExtraCollectionType(value),
    };

    private static partial void WriteCollectionBody(RdbWriter w, RedisObject value)
    {
        switch (value)
        {
            case HashObject h:
                WriteHash(w, h);
                return;
            case SetObject s:
                WriteSet(w, s);
                return;
            case ListObject l:
                WriteList(w, l);
                return;
            case ZSetObject z:
                WriteZSet(w, z);
                return;
            default:
                if (!TryWriteExtra(w, value)) throw new NotSupportedException($"cannot serialize {value.GetType().Name}");
                return;
        }
    }

    private static partial RedisObject? TryReadCollection(RdbReader r, byte type) => type switch
    {
        Rdb.TypeHash => ReadHashTable(r),
        Rdb.TypeHashListpack => HashFromPairs(Listpack.Decode(r.ReadString())),
        Rdb.TypeHashZiplist => HashFromPairs(LegacyEncodings.DecodeZiplist(r.ReadString())),
        Rdb.TypeHashZipmap => HashFromPairs(LegacyEncodings.DecodeZipmap(r.ReadString())),
        Rdb.TypeSet => ReadSetTable(r),
        Rdb.TypeSetIntset => SetFromIntset(r.ReadString()),
        Rdb.TypeListQuicklist2 => ReadQuicklist(r, v2: true),
        Rdb.TypeListQuicklist => ReadQuicklist(r, v2: false),
        Rdb.TypeListZiplist => ListFrom(LegacyEncodings.DecodeZiplist(r.ReadString())),
        Rdb.TypeList => ReadLinkedList(r),
        Rdb.TypeZSetListpack => ZSetFromPairs(Listpack.Decode(r.ReadString())),
        Rdb.TypeZSetZiplist => ZSetFromPairs(LegacyEncodings.DecodeZiplist(r.ReadString())),
        Rdb.TypeZSet2 => ReadZSet(r, binary: true),
        Rdb.TypeZSet => ReadZSet(r, binary: false),
        _ => TryReadExtra(r, type),
    };

    // Other families (lists, sorted sets, streams) add themselves through these.
    private static partial byte? ExtraCollectionType(RedisObject value);
    private static partial bool TryWriteExtra(RdbWriter w, RedisObject value);
    private static partial RedisObject? TryReadExtra(RdbReader r, byte type);

    private static void WriteHash(RdbWriter w, HashObject h)
    {
        if (h.IsListpack)
        {
            var items = new List<byte[]>(h.Count * 2);
            for (int i = 0; i < h.PositionLimit; i++)
            {
                if (!h.TryGetAt(i, out var f, out var v)) continue;
                items.Add(f);
                items.Add(v);
            }
            w.WriteString(Listpack.Encode(items));
            return;
        }
        w.WriteLength((ulong)h.Count);
        for (int i = 0; i < h.PositionLimit; i++)
        {
            if (!h.TryGetAt(i, out var f, out var v)) continue;
            w.WriteString(f);
            w.WriteString(v);
        }
    }

    private static HashObject ReadHashTable(RdbReader r)
    {
        int n = r.ReadLengthInt();
        var h = new HashObject();
        if (n > EncodingLimits.HashMaxListpackEntries) h.ConvertToHashtable();
        for (int i = 0; i < n; i++)
        {
            var f = r.ReadString();
            var v = r.ReadString();
            h.ConvertIfTooLong(Math.Max(f.Length, v.Length));
            if (!h.Set(f, v)) throw new InvalidDataException("Duplicate hash fields detected");
        }
        return h;
    }

    private static HashObject HashFromPairs(List<byte[]> items)
    {
        if (items.Count % 2 != 0) throw new InvalidDataException("Hash listpack with odd number of elements");
        var h = new HashObject();
        if (items.Count / 2 > EncodingLimits.HashMaxListpackEntries) h.ConvertToHashtable();
        for (int i = 0; i < items.Count; i += 2)
        {
            h.ConvertIfTooLong(Math.Max(items[i].Length, items[i + 1].Length));
            if (!h.Set(items[i], items[i + 1])) throw new InvalidDataException("Duplicate hash fields detected");
        }
        return h;
    }

    private static void WriteSet(RdbWriter w, SetObject s)
    {
        if (s.IsIntset)
        {
            var values = new List<long>(s.Count);
            foreach (var m in s.EnumerateMembers()) values.Add(long.Parse(System.Text.Encoding.ASCII.GetString(m), System.Globalization.CultureInfo.InvariantCulture));
            values.Sort();
            w.WriteString(LegacyEncodings.EncodeIntset(values));
            return;
        }
        w.WriteLength((ulong)s.Count);
        foreach (var m in s.EnumerateMembers()) w.WriteString(m);
    }

    private static SetObject ReadSetTable(RdbReader r)
    {
        int n = r.ReadLengthInt();
        SetObject? s = null;
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            // Redis loads a set as intset when it is small enough and its first member is an integer.
            s ??= n <= EncodingLimits.SetMaxIntsetEntries ? SetObject.CreateFor(m) : SetObject.CreateHashtable(n);
            if (!s.Add(m)) throw new InvalidDataException("Duplicate set members detected");
        }
        return s ?? SetObject.CreateHashtable();
    }

    private static SetObject SetFromIntset(byte[] blob)
    {
        var values = LegacyEncodings.DecodeIntset(blob);
        var s = values.Count <= EncodingLimits.SetMaxIntsetEntries ? SetObject.CreateIntset() : SetObject.CreateHashtable(values.Count);
        foreach (var v in values) s.Add(SetObject.ToBytes(v));
        return s;
    }

    // Lists: Redis 7.0 writes a quicklist of listpack nodes (type 18). Node size follows
    // list-max-listpack-size as Redis fills nodes (8 KiB by default), so small lists produce the
    // same single-node payload as Redis.
    private const int PackedNode = 2;
    private const int PlainNode = 1;

    private static void WriteList(RdbWriter w, ListObject l)
    {
        var nodes = new List<List<byte[]>>();
        var current = new List<byte[]>();
        int bytes = 0;
        int limit = EncodingLimits.ListMaxListpackSize;
        int maxBytes = limit < 0 ? 4096 << Math.Min(4, -limit - 1) : int.MaxValue;
        int maxCount = limit > 0 ? limit : int.MaxValue;
        foreach (var e in l.Enumerate())
        {
            int size = e.Length + 11;
            if (current.Count > 0 && (current.Count + 1 > maxCount || bytes + size > maxBytes))
            {
                nodes.Add(current);
                current = new List<byte[]>();
                bytes = 0;
            }
            current.Add(e);
            bytes += size;
        }
        if (current.Count > 0) nodes.Add(current);
        w.WriteLength((ulong)nodes.Count);
        foreach (var node in nodes)
        {
            w.WriteLength(PackedNode);
            w.WriteString(Listpack.Encode(node));
        }
    }

    private static ListObject ListFrom(IEnumerable<byte[]> items)
    {
        var l = new ListObject();
        foreach (var e in items) l.PushTail(e);
        return l;
    }

    private static ListObject ReadQuicklist(RdbReader r, bool v2)
    {
        int nodes = r.ReadLengthInt();
        var l = new ListObject();
        for (int i = 0; i < nodes; i++)
        {
            int container = v2 ? r.ReadLengthInt() : PackedNode;
            var blob = r.ReadString();
            if (container == PlainNode)
            {
                l.PushTail(blob);
                continue;
            }
            if (container != PackedNode) throw new InvalidDataException("Quicklist integrity check failed.");
            var items = v2 ? Listpack.Decode(blob) : LegacyEncodings.DecodeZiplist(blob);
            foreach (var e in items) l.PushTail(e);
        }
        return l;
    }

    private static ListObject ReadLinkedList(RdbReader r)
    {
        int n = r.ReadLengthInt();
        var l = new ListObject();
        for (int i = 0; i < n; i++) l.PushTail(r.ReadString());
        return l;
    }

    // Sorted sets: listpack of member/score pairs (scores as Redis's d2string text, integers as
    // listpack integers) or, for skiplists, type 5 with binary doubles written from the highest
    // element down, as Redis does.
    private static void WriteZSet(RdbWriter w, ZSetObject z)
    {
        if (z.IsListpack)
        {
            var items = new List<byte[]>((int)z.Count * 2);
            var it = z.Walk(0, reverse: false);
            while (it.MoveNext())
            {
                items.Add(it.Member);
                items.Add(System.Text.Encoding.ASCII.GetBytes(ScoreText(it.Score)));
            }
            w.WriteString(Listpack.Encode(items));
            return;
        }
        w.WriteLength((ulong)z.Count);
        // Tail to head, as Redis writes a skiplist so that loading inserts at the head.
        var rev = z.Walk(z.Count - 1, reverse: true);
        while (rev.MoveNext())
        {
            w.WriteString(rev.Member);
            w.WriteDoubleBinary(rev.Score);
        }
    }

    /// <summary>Redis 7.0's d2string: integral values in (-2^52, 2^52) as integers, else %.17g.</summary>
    internal static string ScoreText(double v)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        if (v > -4503599627370495.0 && v < 4503599627370496.0 && v == Math.Floor(v))
            return ((long)v).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Cinnabar.Protocol.NumberFormat.FormatG(v, 17);
    }

    private static ZSetObject NewZSet(long count, int maxMemberLength) =>
        new(count <= EncodingLimits.ZsetMaxListpackEntries && maxMemberLength <= EncodingLimits.ZsetMaxListpackValue);

    private static ZSetObject ZSetFromPairs(List<byte[]> items)
    {
        if (items.Count % 2 != 0) throw new InvalidDataException("Zset listpack with odd number of elements");
        int maxLen = 0;
        for (int i = 0; i < items.Count; i += 2) maxLen = Math.Max(maxLen, items[i].Length);
        var z = NewZSet(items.Count / 2, maxLen);
        for (int i = 0; i < items.Count; i += 2)
        {
            if (!Cinnabar.Protocol.NumberFormat.TryParseDouble(items[i + 1], out double score) && !TryParseSpecial(items[i + 1], out score))
                throw new InvalidDataException("Bad zset score");
            if (z.TryGetScore(items[i], out _)) throw new InvalidDataException("Duplicate zset fields detected");
            z.Insert(items[i], score);
        }
        return z;
    }

    private static bool TryParseSpecial(byte[] s, out double v)
    {
        string t = System.Text.Encoding.ASCII.GetString(s);
        v = t == "nan" ? double.NaN : 0;
        return t == "nan";
    }

    private static ZSetObject ReadZSet(RdbReader r, bool binary)
    {
        int n = r.ReadLengthInt();
        var members = new List<(byte[], double)>(n);
        int maxLen = 0;
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            double score = binary ? r.ReadDoubleBinary() : r.ReadDoubleString();
            if (double.IsNaN(score)) throw new InvalidDataException("Zset with NAN score detected");
            maxLen = Math.Max(maxLen, m.Length);
            members.Add((m, score));
        }
        var z = NewZSet(n, maxLen);
        foreach (var (m, score) in members)
        {
            if (z.TryGetScore(m, out _)) throw new InvalidDataException("Duplicate zset fields detected");
            z.Insert(m, score);
        }
        return z;
    }
}
