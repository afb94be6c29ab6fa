using System.Runtime.CompilerServices;

namespace Cinnabar.Storage;

/// <summary>
/// Redis Cluster's key -> hash slot mapping (cluster spec "Keys distribution model"; keyHashSlot
/// in Redis 7.0's cluster.c): CRC16 of the key modulo 16384, where a key holding a '{' followed
/// later by a '}' with at least one byte between them hashes only those bytes (the hash tag), so
/// "{user1000}.following" and "{user1000}.followers" share a slot. "{}" or a '{' never closed
/// means the whole key is hashed.
/// The CRC is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final xor),
/// the variant Redis's crc16.c implements: CRC16("123456789") = 0x31C3. Table-driven, one byte
/// per step; the table is computed here from the polynomial.
/// </summary>
public static class HashSlot
{
    public const int Count = 16384;

    private const ushort Polynomial = 0x1021;
    private static readonly ushort[] Table = BuildTable();

    private static ushort[] BuildTable()
    {
        var table = new ushort[256];
        for (int b = 0; b < 256; b++)
        {
            int crc = b << 8;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ Polynomial : crc << 1;
            table[b] = (ushort)crc;
        }
        return table;
    }

    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        var table = Table;
        int crc = 0;
        foreach (byte b in data)
            crc = (ushort)(crc << 8) ^ table[(byte)((crc >> 8) ^ b)];
        return (ushort)crc;
    }

    /// <summary>The hash slot (0..16383) of <paramref name="key"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Of(ReadOnlySpan<byte> key) => Crc16(HashedPart(key)) & (Count - 1);

    /// <summary>The bytes that decide the slot: the hash tag when there is a non-empty one, else the whole key.</summary>
    public static ReadOnlySpan<byte> HashedPart(ReadOnlySpan<byte> key)
    {
        int open = key.IndexOf((byte)'{');
        if (open < 0) return key;
        int close = key[(open + 1)..].IndexOf((byte)'}');
        // No '}' after the '{', or "{}" (nothing between): the whole key.
        if (close <= 0) return key;
        return key.Slice(open + 1, close);
    }
}
