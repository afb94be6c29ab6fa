using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Decoders for the compact encodings older RDB versions wrote and Redis 7.0 still loads:
/// ziplist (lists/hashes/zsets before 7.0), intset (sets of integers; still written by 7.0),
/// and zipmap (hashes before 2.6).
/// </summary>
public static class LegacyEncodings
{
    public static List<byte[]> DecodeZiplist(ReadOnlySpan<byte> zl)
    {
        if (zl.Length < 11) throw new InvalidDataException("ziplist too short");
        var result = new List<byte[]>();
        int p = 10;
        while (p < zl.Length && zl[p] != 0xFF)
        {
            p += zl[p] == 0xFE ? 5 : 1; // prevlen
            byte enc = zl[p];
            switch (enc >> 6)
            {
                case 0:
                {
                    int len = enc & 0x3F;
                    result.Add(zl.Slice(p + 1, len).ToArray());
                    p += 1 + len;
                    continue;
                }
                case 1:
                {
                    int len = ((enc & 0x3F) << 8) | zl[p + 1];
                    result.Add(zl.Slice(p + 2, len).ToArray());
                    p += 2 + len;
                    continue;
                }
                case 2:
                {
                    int len = (int)BinaryPrimitives.ReadUInt32BigEndian(zl[(p + 1)..]);
                    result.Add(zl.Slice(p + 5, len).ToArray());
                    p += 5 + len;
                    continue;
                }
            }
            long v;
            switch (enc)
            {
                case 0xC0: v = BinaryPrimitives.ReadInt16LittleEndian(zl[(p + 1)..]); p += 3; break;
                case 0xD0: v = BinaryPrimitives.ReadInt32LittleEndian(zl[(p + 1)..]); p += 5; break;
                case 0xE0: v = BinaryPrimitives.ReadInt64LittleEndian(zl[(p + 1)..]); p += 9; break;
                case 0xF0:
                {
                    int x = zl[p + 1] | (zl[p + 2] << 8) | (zl[p + 3] << 16);
                    if ((x & 0x800000) != 0) x -= 1 << 24;
                    v = x;
                    p += 4;
                    break;
                }
                case 0xFE: v = (sbyte)zl[p + 1]; p += 2; break;
                default:
                    if (enc >= 0xF1 && enc <= 0xFD)
                    {
                        v = (enc & 0x0F) - 1;
                        p += 1;
                        break;
                    }
                    throw new InvalidDataException($"bad ziplist encoding 0x{enc:x2}");
            }
            result.Add(Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture)));
        }
        return result;
    }

    public static List<long> DecodeIntset(ReadOnlySpan<byte> s)
    {
        if (s.Length < 8) throw new InvalidDataException("intset too short");
        int width = (int)BinaryPrimitives.ReadUInt32LittleEndian(s);
        int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(s[4..]);
        if (width is not (2 or 4 or 8) || s.Length != 8 + (long)width * count) throw new InvalidDataException("bad intset");
        var result = new List<long>(count);
        for (int i = 0; i < count; i++)
        {
            var e = s[(8 + i * width)..];
            result.Add(width switch
            {
                2 => BinaryPrimitives.ReadInt16LittleEndian(e),
                4 => BinaryPrimitives.ReadInt32LittleEndian(e),
                _ => BinaryPrimitives.ReadInt64LittleEndian(e),
            });
        }
        return result;
    }

    /// <summary>Encodes a sorted set of integers as an intset with the smallest width that fits.</summary>
    public static byte[] EncodeIntset(IReadOnlyList<long> sorted)
    {
        int width = 2;
        foreach (var v in sorted)
        {
            if (v < int.MinValue || v > int.MaxValue) { width = 8; break; }
            if (v < short.MinValue || v > short.MaxValue) width = 4;
        }
        var buf = new byte[8 + width * sorted.Count];
        BinaryPrimitives.WriteUInt32LittleEndian(buf, (uint)width);
        BinaryPrimitives.WriteUInt32LittleEndian(buf.AsSpan(4), (uint)sorted.Count);
        for (int i = 0; i < sorted.Count; i++)
        {
            var e = buf.AsSpan(8 + i * width);
            if (width == 2) BinaryPrimitives.WriteInt16LittleEndian(e, (short)sorted[i]);
            else if (width == 4) BinaryPrimitives.WriteInt32LittleEndian(e, (int)sorted[i]);
            else BinaryPrimitives.WriteInt64LittleEndian(e, sorted[i]);
        }
        return buf;
    }

    /// <summary>Zipmap (hash encoding of Redis before 2.6): returns field, value, field, value ...</summary>
    public static List<byte[]> DecodeZipmap(ReadOnlySpan<byte> zm)
    {
        var result = new List<byte[]>();
        int p = 1;
        while (p < zm.Length && zm[p] != 0xFF)
        {
            int klen = ReadZipmapLen(zm, ref p);
            result.Add(zm.Slice(p, klen).ToArray());
            p += klen;
            int vlen = ReadZipmapLen(zm, ref p);
            int free = zm[p++];
            result.Add(zm.Slice(p, vlen).ToArray());
            p += vlen + free;
        }
        return result;
    }

    private static int ReadZipmapLen(ReadOnlySpan<byte> zm, ref int p)
    {
        int b = zm[p++];
        if (b < 254) return b;
        if (b == 254)
        {
            int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(zm[p..]);
            p += 4;
            return len;
        }
        throw new InvalidDataException("bad zipmap length");
    }
}
