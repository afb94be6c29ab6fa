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

    /// <summary>Reads a value of the given RDB type byte.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public static RedisObject Read(RdbReader r, byte type)
    {
        if (type == Rdb.TypeString) return StringObject.Create(r.ReadString());
        if (type is Rdb.TypeModule or Rdb.TypeModule2)
            throw new InvalidDataException("The RDB file contains module data I can't load: no matching module type");
        var o = TryReadCollection(r, type);
        return o ?? throw new InvalidDataException($"Unknown RDB encoding type {type}");
    }

    public static bool IsValueType(byte t) => t <= Rdb.TypeModule2 || (t >= Rdb.TypeHashZipmap && t <= Rdb.TypeStreamListpacks2);

    // Implemented per type family as the types land (hash, list, set, zset, stream).
    private static partial byte? CollectionType(RedisObject value);
    private static partial void WriteCollectionBody(RdbWriter w, RedisObject value);
    private static partial RedisObject? TryReadCollection(RdbReader r, byte type);
}
