using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

/// <summary>
/// The one place that maps values to RDB object encodings and back: used by SAVE/BGSAVE, the
/// AOF preamble, replication full syncs and DUMP/RESTORE/MIGRATE. Writes what Redis 7.0 writes
/// (string 0, list 18, set 11|2, zset 17|5, hash 16|4, stream 19); reads every type 7.0 loads.
/// Per-type parts live in RdbValueCodec.*.cs next to this file.
/// </summary>
public static partial class RdbValueCodec
{
    /// <summary>The RDB type byte this value is written with (depends on its current encoding).</summary>
    public static byte TypeOf(RedisObject value)
    {
        if (value is StringObject) return Rdb.TypeString;
        return CollectionType(value) ?? throw new NotSupportedException($"cannot serialize {value.GetType().Name}");
    }

    /// <summary>Writes the value body (after the type byte and, in files, the key).</summary>
    public static void WriteBody(RdbWriter w, RedisObject value)
    {
        if (value is StringObject s)
        {
            if (s.IsInt) w.WriteIntegerString(s.IntValue);
            else w.WriteString(s.RawBytes!);
            return;
        }
        WriteCollectionBody(w, value);
    }

    /// <summary>Writes the type byte and the value (DUMP payload layout).</summary>
    public static void Write(RdbWriter w, RedisObject value)
    {
        w.WriteByte(TypeOf(value));
        WriteBody(w, value);
    }

    /// <summary>
    /// Reads a value of the given RDB type byte. A corrupt value of any type fails with
    /// an <see cref="InvalidDataException"/> from <see cref="RdbCorrupt"/> carrying Redis's reason (whatever went wrong inside the
    /// decoder: a bad offset, an overflow, an impossible count), an empty collection with
    /// <see cref="RdbEmptyKeyException"/>, a truncated input with <see cref="EndOfStreamException"/>.
    /// Nothing else escapes, so every caller (RESTORE, file and replication loads) stays up.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static RedisObject Read(RdbReader r, byte type)
    {
        if (type == Rdb.TypeString) return StringObject.Create(r.ReadString());
        if (type is Rdb.TypeModule or Rdb.TypeModule2)
            throw RdbCorrupt.Error("The RDB file contains module data I can't load: no matching module type");
        RedisObject? o;
        try
        {
            o = TryReadCollection(r, type);
        }
        catch (Exception e) when (!RdbCorrupt.HasReason(e) && e is not IOException)
        {
            throw RdbCorrupt.Error(IntegrityFailure(type), e);
        }
        if (o == null) throw RdbCorrupt.Error($"Unknown RDB encoding type {type}");
        if (IsEmptyCollection(o)) throw new RdbEmptyKeyException();
        return o;
    }

    /// <summary>The reason Redis's loader logs when a payload of this type fails its checks.</summary>
    internal static string IntegrityFailure(byte type) => type switch
    {
        Rdb.TypeListQuicklist2 => "Listpack integrity check failed.",
        Rdb.TypeListQuicklist => "Ziplist integrity check failed.",
        Rdb.TypeListZiplist => "List ziplist integrity check failed.",
        Rdb.TypeHashZipmap => "Zipmap integrity check failed.",
        Rdb.TypeSetIntset => "Intset integrity check failed.",
        Rdb.TypeZSetZiplist => "Zset ziplist integrity check failed.",
        Rdb.TypeZSetListpack => "Zset listpack integrity check failed.",
        Rdb.TypeHashZiplist => "Hash ziplist integrity check failed.",
        Rdb.TypeHashListpack => "Hash listpack integrity check failed.",
        Rdb.TypeStreamListpacks or Rdb.TypeStreamListpacks2 => "Stream listpack integrity check failed.",
        _ => $"Bad data format in RDB type {type}",
    };

    // Redis refuses empty collections (RDB_LOAD_ERR_EMPTY_KEY); an empty stream is a valid value.
    private static bool IsEmptyCollection(RedisObject o) => o switch
    {
        HashObject h => h.Count == 0,
        SetObject s => s.Count == 0,
        ListObject l => l.Count == 0,
        ZSetObject z => z.Count == 0,
        _ => false,
    };

    public static bool IsValueType(byte t) => t <= Rdb.TypeModule2 || (t >= Rdb.TypeHashZipmap && t <= Rdb.TypeStreamListpacks2);

    // Implemented per type family as the types land (hash, list, set, zset, stream).
    private static partial byte? CollectionType(RedisObject value);
    private static partial void WriteCollectionBody(RdbWriter w, RedisObject value);
    private static partial RedisObject? TryReadCollection(RdbReader r, byte type);
}
