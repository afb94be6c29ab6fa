using System.Buffers.Binary;

namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Redis 7 listpack (listpack.c): 4-byte total length and 2-byte count (little endian), then
/// entries of [encoding+data][backlen], then 0xFF. Strings that parse as integers are stored as
/// the smallest integer encoding (7-bit uint, 13/16/24/32/64-bit signed), as Redis does.
/// Elements are returned as byte strings (integers formatted in decimal).
/// </summary>
public static class Listpack
{
    public static List<byte[]> Decode(ReadOnlySpan<byte> lp)
    {
        if (lp.Length < 7) throw new InvalidDataException("listpack too short");
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(lp);
        if (total != lp.Length) throw new InvalidDataException("listpack length mismatch");
        int count = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
        var result = new List<byte[]>(count == 65535 ? 16 : count);
        int p = 6;
        while (true)
        {
            if (p >= lp.Length) throw new InvalidDataException("listpack without terminator");
            byte b = lp[p];
            if (b == 0xFF) break;
            int start = p;
            byte[] value;
            if ((b & 0x80) == 0)
            {
                value = Num(b & 0x7F);
                p += 1;
            }
            else if ((b & 0xC0) == 0x80)
            {
                int len = b & 0x3F;
                value = lp.Slice(p + 1, len).ToArray();
                p += 1 + len;
            }
            else if ((b & 0xE0) == 0xC0)
            {
                int v = ((b & 0x1F) << 8) | lp[p + 1];
                if (v >= 1 << 12) v -= 1 << 13;
                value = Num(v);
                p += 2;
            }
            else if ((b & 0xF0) == 0xE0)
            {
                int len = ((b & 0x0F) << 8) | lp[p + 1];
                value = lp.Slice(p + 2, len).ToArray();
                p += 2 + len;
            }
            else
            {
                switch (b)
                {
                    case 0xF0:
                    {
                        int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(lp[(p + 1)..]);
                        value = lp.Slice(p + 5, len).ToArray();
                        p += 5 + len;
                        break;
                    }
                    case 0xF1:
                        value = Num(BinaryPrimitives.ReadInt16LittleEndian(lp[(p + 1)..]));
                        p += 3;
                        break;
                    case 0xF2:
                    {
                        int v = lp[p + 1] | (lp[p + 2] << 8) | (lp[p + 3] << 16);
                        if ((v & 0x800000) != 0) v -= 1 << 24;
                        value = Num(v);
                        p += 4;
                        break;
                    }
                    case 0xF3:
                        value = Num(BinaryPrimitives.ReadInt32LittleEndian(lp[(p + 1)..]));
                        p += 5;
                        break;
                    case 0xF4:
                        value = Num(BinaryPrimitives.ReadInt64LittleEndian(lp[(p + 1)..]));
                        p += 9;
                        break;
                    default:
                        throw new InvalidDataException($"bad listpack encoding 0x{b:x2}");
                }
            }
            p += BacklenSize(p - start);
            result.Add(value);
        }
        return result;
    }

    private static byte[] Num(long v) => System.Text.Encoding.ASCII.GetBytes(v.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static int BacklenSize(int l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;

    public static byte[] Encode(IReadOnlyList<byte[]> items)
    {
        var buf = new List<byte>(16 + items.Count * 8);
        buf.AddRange(new byte[6]);
        Span<byte> enc = stackalloc byte[16];
        foreach (var item in items)
        {
            int start = buf.Count;
            if (item.Length <= 20 && TryParseStrictLong(item, out long v))
            {
                int n = EncodeInt(v, enc);
                for (int i = 0; i < n; i++) buf.Add(enc[i]);
            }
            else if (item.Length < 64)
            {
                buf.Add((byte)(0x80 | item.Length));
                buf.AddRange(item);
            }
            else if (item.Length < 4096)
            {
                buf.Add((byte)(0xE0 | (item.Length >> 8)));
                buf.Add((byte)item.Length);
                buf.AddRange(item);
            }
            else
            {
                buf.Add(0xF0);
                BinaryPrimitives.WriteInt32LittleEndian(enc, item.Length);
                for (int i = 0; i < 4; i++) buf.Add(enc[i]);
                buf.AddRange(item);
            }
            WriteBacklen(buf, buf.Count - start);
        }
        buf.Add(0xFF);
        var result = buf.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(result, (uint)result.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(result.AsSpan(4), (ushort)Math.Min(items.Count, 65535));
        return result;
    }

    private static int EncodeInt(long v, Span<byte> o)
    {
        if (v >= 0 && v <= 127)
        {
            o[0] = (byte)v;
            return 1;
        }
        if (v >= -4096 && v <= 4095)
        {
            long u = v < 0 ? (1 << 13) + v : v;
            o[0] = (byte)(0xC0 | (u >> 8));
            o[1] = (byte)u;
            return 2;
        }
        if (v >= short.MinValue && v <= short.MaxValue)
        {
            o[0] = 0xF1;
            BinaryPrimitives.WriteInt16LittleEndian(o[1..], (short)v);
            return 3;
        }
        if (v >= -8388608 && v <= 8388607)
        {
            long u = v < 0 ? (1 << 24) + v : v;
            o[0] = 0xF2;
            o[1] = (byte)u;
            o[2] = (byte)(u >> 8);
            o[3] = (byte)(u >> 16);
            return 4;
        }
        if (v >= int.MinValue && v <= int.MaxValue)
        {
            o[0] = 0xF3;
            BinaryPrimitives.WriteInt32LittleEndian(o[1..], (int)v);
            return 5;
        }
        o[0] = 0xF4;
        BinaryPrimitives.WriteInt64LittleEndian(o[1..], v);
        return 9;
    }

    private static void WriteBacklen(List<byte> buf, int l)
    {
        if (l <= 127) buf.Add((byte)l);
        else if (l < 16383)
        {
            buf.Add((byte)(l >> 7));
            buf.Add((byte)((l & 127) | 128));
        }
        else if (l < 2097151)
        {
            buf.Add((byte)(l >> 14));
            buf.Add((byte)(((l >> 7) & 127) | 128));
            buf.Add((byte)((l & 127) | 128));
        }
        else if (l < 268435455)
        {
            buf.Add((byte)(l >> 21));
            buf.Add((byte)(((l >> 14) & 127) | 128));
            buf.Add((byte)(((l >> 7) & 127) | 128));
            buf.Add((byte)((l & 127) | 128));
        }
        else
        {
            buf.Add((byte)(l >> 28));
            buf.Add((byte)(((l >> 21) & 127) | 128));
            buf.Add((byte)(((l >> 14) & 127) | 128));
            buf.Add((byte)(((l >> 7) & 127) | 128));
            buf.Add((byte)((l & 127) | 128));
        }
    }

    /// <summary>Redis's string2ll rules (what lpStringToInt64 accepts).</summary>
    internal static bool TryParseStrictLong(ReadOnlySpan<byte> s, out long value) =>
        Cinnabar.Protocol.RequestParser.TryParseLong(s, out value);
}
