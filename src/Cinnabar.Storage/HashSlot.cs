using System.Runtime.CompilerServices;

namespace Cinnabar.Storage;

/// <summary>
/// Redis Cluster's key -> hash slot mapping (cluster spec "Keys distribution model"; keyHashSlot
/// in Redis 7.0's cluster.c): CRC16 of the key modulo 16384, where a key holding a '{' followed
/// later by a '}' with at least one byte between them hashes only those bytes (the hash tag), so
/// "{user1000}.following" and "{user1000}.followers" share a slot. "{}" or a '{' never closed
/// means the whole key is hashed.
/// The CRC is CRC-16/XMODEM (polynomial 0x1021, initial value 0, no reflection, no final xor),
/// the variant Redis's crc16.c implements: CRC16("123456789") = 0x31C3. Table-driven (tables
/// computed here from the polynomial), eight bytes per step.
/// </summary>
public static class HashSlot
{
    public const int Count = 16384;

    private const ushort Polynomial = 0x1021;

    // Slicing-by-8: Tables[k][x] is the CRC register after feeding byte x then k zero bytes
    // (Tables[0] is the classic byte table). Eight bytes then cost eight independent loads
    // instead of a chain of eight dependent ones; the register (16 bits) folds into the first
    // two of them. Byte at a time for the tail.
    private static readonly ushort[] Tables = BuildTables();

    private static ushort[] BuildTables()
    {
        var t = new ushort[8 * 256];
        for (int b = 0; b < 256; b++)
        {
            int crc = b << 8;
            for (int bit = 0; bit < 8; bit++)
                crc = (crc & 0x8000) != 0 ? (crc << 1) ^ Polynomial : crc << 1;
            t[b] = (ushort)crc;
        }
        for (int k = 1; k < 8; k++)
            for (int b = 0; b < 256; b++)
            {
                int prev = t[((k - 1) * 256) + b];
                t[(k * 256) + b] = (ushort)((prev << 8) ^ t[prev >> 8]);
            }
        return t;
    }

    public static ushort Crc16(ReadOnlySpan<byte> data)
    {
        var t = Tables;
        int crc = 0;
        while (data.Length >= 8)
        {
            crc = t[(7 * 256) + ((crc >> 8) ^ data[0])] ^ t[(6 * 256) + ((crc & 0xFF) ^ data[1])]
                ^ t[(5 * 256) + data[2]] ^ t[(4 * 256) + data[3]]
                ^ t[(3 * 256) + data[4]] ^ t[(2 * 256) + data[5]]
                ^ t[256 + data[6]] ^ t[data[7]];
            data = data[8..];
        }
        foreach (byte b in data)
            crc = (ushort)(crc << 8) ^ t[(byte)((crc >> 8) ^ b)];
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
