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
}
