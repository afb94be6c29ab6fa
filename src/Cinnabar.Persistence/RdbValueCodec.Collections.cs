using Cinnabar.Persistence.Formats;
using Cinnabar.Protocol;
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
        Rdb.TypeHashListpack => ReadHashListpack(r),
        Rdb.TypeHashZiplist => HashFromPairs(Ziplist(r, type), IntegrityFailure(type)),
        Rdb.TypeHashZipmap => HashFromPairs(Zipmap(r), "Hash zipmap with dup elements, or big length"),
        Rdb.TypeSet => ReadSetTable(r),
        Rdb.TypeSetIntset => SetFromIntset(r),
        Rdb.TypeListQuicklist2 => ReadQuicklist(r, v2: true),
        Rdb.TypeListQuicklist => ReadQuicklist(r, v2: false),
        Rdb.TypeListZiplist => ListFrom(Ziplist(r, type)),
        Rdb.TypeList => ReadLinkedList(r),
        Rdb.TypeZSetListpack => ReadZSetListpack(r),
        Rdb.TypeZSetZiplist => ZSetFromPairs(Ziplist(r, type)),
        Rdb.TypeZSet2 => ReadZSet(r, binary: true),
        Rdb.TypeZSet => ReadZSet(r, binary: false),
        _ => TryReadExtra(r, type),
    };

    // Ziplists and zipmaps are always validated entry by entry before decoding (Redis converts
    // them on load and validates them deeply whatever sanitize-dump-payload says).
    private static List<byte[]> Ziplist(RdbReader r, byte type)
    {
        var blob = r.ReadString();
        if (!PayloadIntegrity.ZiplistValid(blob)) throw RdbCorrupt.Error(IntegrityFailure(type));
        return LegacyEncodings.DecodeZiplist(blob);
    }

    private static List<byte[]> Zipmap(RdbReader r)
    {
        var pairs = LegacyEncodings.DecodeZipmap(r.ReadString());
        if (pairs.Count == 0) throw RdbCorrupt.Error(IntegrityFailure(Rdb.TypeHashZipmap));
        return pairs;
    }

    /// <summary>A listpack payload passes the shallow checks, and the deep ones under sanitize-dump-payload.</summary>
    private static ReadOnlySpan<byte> CheckedListpack(RdbReader r, byte type)
    {
        var blob = r.ReadStringScratch(out int length);
        var span = blob.AsSpan(0, length);
        if (!PayloadIntegrity.ListpackValid(span, r.DeepIntegrity)) throw RdbCorrupt.Error(IntegrityFailure(type));
        return span;
    }

    // Other families (lists, sorted sets, streams) add themselves through these.
    private static partial byte? ExtraCollectionType(RedisObject value);
    private static partial bool TryWriteExtra(RdbWriter w, RedisObject value);
    private static partial RedisObject? TryReadExtra(RdbReader r, byte type);

    private static void WriteHash(RdbWriter w, HashObject h)
    {
        if (h.IsListpack)
        {
            var lp = w.ListpackScratch;
            lp.Reset();
            for (int i = 0; i < h.PositionLimit; i++)
            {
                if (!h.TryGetAt(i, out var f, out var v)) continue;
                lp.Add(f);
                lp.Add(v);
            }
            w.WriteString(lp.Finish());
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
            if (!h.Set(f, v)) throw RdbCorrupt.Error("Duplicate hash fields detected");
        }
        return h;
    }

    // Listpack payloads are decoded straight from the reader's scratch buffer: one allocation per element
    // kept, none for the payload or for integers formatted on the way.
    private static HashObject ReadHashListpack(RdbReader r)
    {
        var lp = new ListpackReader(CheckedListpack(r, Rdb.TypeHashListpack));
        var h = new HashObject(lp.HeaderCount == 65535 ? 0 : lp.HeaderCount / 2);
        if (lp.HeaderCount != 65535 && lp.HeaderCount / 2 > EncodingLimits.HashMaxListpackEntries) h.ConvertToHashtable();
        while (lp.Next(out var fs, out long fn, out bool fInt))
        {
            if (!lp.Next(out var vs, out long vn, out bool vInt)) throw new InvalidDataException("Hash listpack with odd number of elements");
            byte[] f = fInt ? Listpack.Num(fn) : fs.ToArray();
            byte[] v = vInt ? Listpack.Num(vn) : vs.ToArray();
            h.ConvertIfTooLong(Math.Max(f.Length, v.Length));
            if (!h.Set(f, v)) throw RdbCorrupt.Error("Hash listpack with dup elements");
        }
        return h;
    }

    private static ZSetObject ReadZSetListpack(RdbReader r)
    {
        var span = CheckedListpack(r, Rdb.TypeZSetListpack);
        // First pass: size and longest member decide the encoding, as for the other zset loaders.
        var scan = new ListpackReader(span);
        int items = 0, maxLen = 0;
        while (scan.Next(out var str, out long num, out bool isInt))
        {
            if ((items & 1) == 0) maxLen = Math.Max(maxLen, isInt ? DecimalLength(num) : str.Length);
            items++;
        }
        if (items % 2 != 0) throw new InvalidDataException("Zset listpack with odd number of elements");
        var z = NewZSet(items / 2, maxLen);
        var lp = new ListpackReader(span);
        var digits = new byte[20];
        while (lp.Next(out var ms, out long mn, out bool mInt))
        {
            lp.Next(out var ss, out long sn, out bool sInt);
            ReadOnlySpan<byte> member = ms;
            if (mInt)
            {
                System.Buffers.Text.Utf8Formatter.TryFormat(mn, digits, out int w);
                member = digits.AsSpan(0, w);
            }
            double score = sInt ? sn : ParseScore(ss);
            if (double.IsNaN(score)) throw RdbCorrupt.Error("Zset with NAN score detected");
            if (z.TryGetScore(member, out _)) throw RdbCorrupt.Error("Duplicate zset fields detected");
            z.Insert(member, score);
        }
        return z;
    }

    private static int DecimalLength(long v)
    {
        Span<byte> tmp = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(v, tmp, out int n);
        return n;
    }

    private static double ParseScore(ReadOnlySpan<byte> s)
    {
        if (Cinnabar.Protocol.NumberFormat.TryParseDouble(s, out double score)) return score;
        if (s.SequenceEqual("nan"u8)) return double.NaN;
        throw new InvalidDataException("Bad zset score");
    }

    private static HashObject HashFromPairs(List<byte[]> items, string duplicateReason)
    {
        if (items.Count % 2 != 0) throw new InvalidDataException("Hash listpack with odd number of elements");
        var h = new HashObject();
        if (items.Count / 2 > EncodingLimits.HashMaxListpackEntries) h.ConvertToHashtable();
        for (int i = 0; i < items.Count; i += 2)
        {
            h.ConvertIfTooLong(Math.Max(items[i].Length, items[i + 1].Length));
            if (!h.Set(items[i], items[i + 1])) throw RdbCorrupt.Error(duplicateReason);
        }
        return h;
    }

    private static void WriteSet(RdbWriter w, SetObject s)
    {
        if (s.Ints is { } ints)
        {
            w.WriteString(LegacyEncodings.EncodeIntset(ints));
            return;
        }
        w.WriteLength((ulong)s.Count);
        var table = s.Table!;
        for (int i = 0; i < table.Capacity; i++)
            if (table.IsUsed(i)) w.WriteString(table.KeyAt(i));
    }

    private static SetObject ReadSetTable(RdbReader r)
    {
        int n = r.ReadLengthInt();
        SetObject? s = null;
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            // Redis loads a set as intset when it is small enough and its first member is an integer.
            s ??= n <= EncodingLimits.SetMaxIntsetEntries && RequestParser.TryParseLong(m, out _) ? SetObject.CreateIntset() : SetObject.CreateHashtable(r.CapacityFor(n, 2));
            if (!s.Add(m)) throw RdbCorrupt.Error("Duplicate set members detected");
        }
        return s ?? SetObject.CreateHashtable();
    }

    private static SetObject SetFromIntset(RdbReader r)
    {
        var blob = r.ReadString();
        if (!PayloadIntegrity.IntsetValid(blob, r.DeepIntegrity)) throw RdbCorrupt.Error(IntegrityFailure(Rdb.TypeSetIntset));
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
        // Nodes split where RPUSH would have split them in Redis 7.0 (_quicklistNodeAllowInsert:
        // listpack bytes + element length + 8 against list-max-listpack-size), so a list built
        // by pushes serializes to the same bytes. Pass 1 counts the nodes (the count comes
        // first), pass 2 builds and writes each node.
        int nodes = 0, inNode = 0, bytes = EmptyListpackBytes;
        var it = l.GetCursor(0);
        while (it.MoveNext())
        {
            var e = it.Current;
            if (inNode > 0 && !NodeAllowsInsert(bytes, e.Length, inNode))
            {
                nodes++;
                inNode = 0;
                bytes = EmptyListpackBytes;
            }
            inNode++;
            bytes += ListpackBuilder.EntrySize(e);
        }
        if (inNode > 0) nodes++;
        w.WriteLength((ulong)nodes);
        var lp = w.ListpackScratch;
        lp.Reset();
        inNode = 0;
        it = l.GetCursor(0);
        while (it.MoveNext())
        {
            var e = it.Current;
            if (inNode > 0 && !NodeAllowsInsert(lp.Bytes, e.Length, inNode))
            {
                w.WriteLength(PackedNode);
                w.WriteString(lp.Finish());
                lp.Reset();
                inNode = 0;
            }
            lp.Add(e);
            inNode++;
        }
        if (inNode > 0)
        {
            w.WriteLength(PackedNode);
            w.WriteString(lp.Finish());
        }
    }

    private const int EmptyListpackBytes = 7;
    private const int SizeEstimateOverhead = 8;
    private const int SizeSafetyLimit = 8192;

    private static bool NodeAllowsInsert(int nodeBytes, int elementLength, int nodeCount)
    {
        int fill = EncodingLimits.ListMaxListpackSize;
        long newBytes = (long)nodeBytes + elementLength + SizeEstimateOverhead;
        if (fill < 0) return newBytes <= 4096L << Math.Min(4, -fill - 1);
        return newBytes <= SizeSafetyLimit && nodeCount + 1 <= fill;
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
            var blob = r.ReadStringScratch(out int length);
            var span = blob.AsSpan(0, length);
            if (length == 0) throw RdbCorrupt.Error("Quicklist integrity check failed.");
            if (container == PlainNode)
            {
                l.PushTail(span);
                continue;
            }
            if (container != PackedNode) throw RdbCorrupt.Error("Quicklist integrity check failed.");
            if (v2)
            {
                if (!PayloadIntegrity.ListpackValid(span, r.DeepIntegrity)) throw RdbCorrupt.Error("Listpack integrity check failed.");
                PushListpack(l, span);
                continue;
            }
            if (!PayloadIntegrity.ZiplistValid(span)) throw RdbCorrupt.Error("Ziplist integrity check failed.");
            foreach (var e in LegacyEncodings.DecodeZiplist(span)) l.PushTail(e);
        }
        return l;
    }

    private static void PushListpack(ListObject l, ReadOnlySpan<byte> lp)
    {
        var reader = new ListpackReader(lp);
        Span<byte> digits = stackalloc byte[20];
        while (reader.Next(out var str, out long num, out bool isInt))
        {
            if (!isInt)
            {
                l.PushTail(str);
                continue;
            }
            System.Buffers.Text.Utf8Formatter.TryFormat(num, digits, out int w);
            l.PushTail(digits[..w]);
        }
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
            var lp = w.ListpackScratch;
            lp.Reset();
            var it = z.Walk(0, reverse: false);
            while (it.MoveNext())
            {
                lp.Add(it.Member);
                double score = it.Score;
                // d2string's integer branch: a listpack integer, with no text on the way.
                if (score > -4503599627370495.0 && score < 4503599627370496.0 && score == Math.Floor(score)) lp.AddInt((long)score);
                else lp.Add(System.Text.Encoding.ASCII.GetBytes(ScoreText(score)));
            }
            w.WriteString(lp.Finish());
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
            if (double.IsNaN(score)) throw RdbCorrupt.Error("Zset with NAN score detected");
            if (z.TryGetScore(items[i], out _)) throw RdbCorrupt.Error(IntegrityFailure(Rdb.TypeZSetZiplist));
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
        var members = new List<(byte[], double)>(r.CapacityFor(n, 9));
        int maxLen = 0;
        for (int i = 0; i < n; i++)
        {
            var m = r.ReadString();
            double score = binary ? r.ReadDoubleBinary() : r.ReadDoubleString();
            if (double.IsNaN(score)) throw RdbCorrupt.Error("Zset with NAN score detected");
            maxLen = Math.Max(maxLen, m.Length);
            members.Add((m, score));
        }
        var z = NewZSet(n, maxLen);
        foreach (var (m, score) in members)
        {
            if (z.TryGetScore(m, out _)) throw RdbCorrupt.Error("Duplicate zset fields detected");
            z.Insert(m, score);
        }
        return z;
    }
}
