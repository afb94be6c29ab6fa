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
        var reader = new ListpackReader(lp);
        var result = new List<byte[]>(reader.HeaderCount == 65535 ? 16 : reader.HeaderCount);
        while (reader.Next(out var str, out long num, out bool isInt)) result.Add(isInt ? Num(num) : str.ToArray());
        return result;
    }

    internal static byte[] Num(long v)
    {
        Span<byte> tmp = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(v, tmp, out int n);
        return tmp[..n].ToArray();
    }

    internal static int BacklenSize(int l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;

    public static byte[] Encode(IReadOnlyList<byte[]> items)
    {
        var b = new ListpackBuilder();
        foreach (var item in items) b.Add(item);
        return b.Finish().ToArray();
    }

    internal static int EncodeInt(long v, Span<byte> o)
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

    internal static int WriteBacklen(Span<byte> o, int l)
    {
        int n = BacklenSize(l);
        // Big-endian 7-bit groups, the high bit set on all but the first byte (listpack.c lpEncodeBacklen).
        for (int i = n - 1; i >= 0; i--)
        {
            o[i] = (byte)((l & 127) | (i == 0 ? 0 : 128));
            l >>= 7;
        }
        return n;
    }

    /// <summary>Redis's string2ll rules (what lpStringToInt64 accepts).</summary>
    internal static bool TryParseStrictLong(ReadOnlySpan<byte> s, out long value) =>
        Cinnabar.Protocol.RequestParser.TryParseLong(s, out value);
}

/// <summary>
/// Walks a listpack's entries without allocating: each is either a string (a slice of the
/// listpack) or an integer. Loading uses it to build values straight from RDB payloads.
/// </summary>
public ref struct ListpackReader
{
    private readonly ReadOnlySpan<byte> _lp;
    private int _p;

    public ListpackReader(ReadOnlySpan<byte> lp)
    {
        if (lp.Length < 7) throw new InvalidDataException("listpack too short");
        uint total = BinaryPrimitives.ReadUInt32LittleEndian(lp);
        if (total != lp.Length) throw new InvalidDataException("listpack length mismatch");
        HeaderCount = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
        _lp = lp;
        _p = 6;
    }

    /// <summary>The element count from the header (65535 means "count them").</summary>
    public int HeaderCount { get; }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public bool Next(out ReadOnlySpan<byte> str, out long num, out bool isInt)
    {
        var lp = _lp;
        int p = _p;
        if (p >= lp.Length) throw new InvalidDataException("listpack without terminator");
        byte b = lp[p];
        str = default;
        num = 0;
        isInt = true;
        if (b == 0xFF) return false;
        int start = p;
        if ((b & 0x80) == 0)
        {
            num = b & 0x7F;
            p += 1;
        }
        else if ((b & 0xC0) == 0x80)
        {
            int len = b & 0x3F;
            str = lp.Slice(p + 1, len);
            isInt = false;
            p += 1 + len;
        }
        else if ((b & 0xE0) == 0xC0)
        {
            int v = ((b & 0x1F) << 8) | lp[p + 1];
            if (v >= 1 << 12) v -= 1 << 13;
            num = v;
            p += 2;
        }
        else if ((b & 0xF0) == 0xE0)
        {
            int len = ((b & 0x0F) << 8) | lp[p + 1];
            str = lp.Slice(p + 2, len);
            isInt = false;
            p += 2 + len;
        }
        else
        {
            switch (b)
            {
                case 0xF0:
                {
                    int len = (int)BinaryPrimitives.ReadUInt32LittleEndian(lp[(p + 1)..]);
                    str = lp.Slice(p + 5, len);
                    isInt = false;
                    p += 5 + len;
                    break;
                }
                case 0xF1:
                    num = BinaryPrimitives.ReadInt16LittleEndian(lp[(p + 1)..]);
                    p += 3;
                    break;
                case 0xF2:
                {
                    int v = lp[p + 1] | (lp[p + 2] << 8) | (lp[p + 3] << 16);
                    if ((v & 0x800000) != 0) v -= 1 << 24;
                    num = v;
                    p += 4;
                    break;
                }
                case 0xF3:
                    num = BinaryPrimitives.ReadInt32LittleEndian(lp[(p + 1)..]);
                    p += 5;
                    break;
                case 0xF4:
                    num = BinaryPrimitives.ReadInt64LittleEndian(lp[(p + 1)..]);
                    p += 9;
                    break;
                default:
                    throw new InvalidDataException($"bad listpack encoding 0x{b:x2}");
            }
        }
        _p = p + Listpack.BacklenSize(p - start);
        return true;
    }
}

/// <summary>
/// Builds a listpack in a reusable buffer (one per writer), so serializing a hash, zset or list
/// node allocates nothing. Strings that parse as integers get the integer encodings, as
/// Redis's lpAppend does.
/// </summary>
public sealed class ListpackBuilder
{
    private byte[] _buf = new byte[256];
    private int _len = 6;
    private int _count;

    public int Count => _count;

    /// <summary>Size of the listpack if finished now.</summary>
    public int Bytes => _len + 1;

    public void Reset()
    {
        _len = 6;
        _count = 0;
    }

    private Span<byte> Room(int need)
    {
        if (_len + need > _buf.Length) Array.Resize(ref _buf, Math.Max(_len + need, _buf.Length * 2));
        return _buf.AsSpan(_len);
    }

    public void Add(ReadOnlySpan<byte> item)
    {
        if (item.Length <= 20 && Listpack.TryParseStrictLong(item, out long v))
        {
            AddInt(v);
            return;
        }
        int header = item.Length < 64 ? 1 : item.Length < 4096 ? 2 : 5;
        int entry = header + item.Length;
        var o = Room(entry + 5);
        if (header == 1) o[0] = (byte)(0x80 | item.Length);
        else if (header == 2)
        {
            o[0] = (byte)(0xE0 | (item.Length >> 8));
            o[1] = (byte)item.Length;
        }
        else
        {
            o[0] = 0xF0;
            BinaryPrimitives.WriteInt32LittleEndian(o[1..], item.Length);
        }
        item.CopyTo(o[header..]);
        _len += entry + Listpack.WriteBacklen(o[entry..], entry);
        _count++;
    }

    /// <summary>Bytes an element takes in a listpack (encoding, data and backlen).</summary>
    public static int EntrySize(ReadOnlySpan<byte> item)
    {
        int n;
        if (item.Length <= 20 && Listpack.TryParseStrictLong(item, out long v))
        {
            Span<byte> tmp = stackalloc byte[9];
            n = Listpack.EncodeInt(v, tmp);
        }
        else n = (item.Length < 64 ? 1 : item.Length < 4096 ? 2 : 5) + item.Length;
        return n + Listpack.BacklenSize(n);
    }

    public void AddInt(long v)
    {
        var o = Room(16);
        int n = Listpack.EncodeInt(v, o);
        _len += n + Listpack.WriteBacklen(o[n..], n);
        _count++;
    }

    /// <summary>Terminates the listpack and fills in its header; valid until the next Reset.</summary>
    public ReadOnlySpan<byte> Finish()
    {
        Room(1)[0] = 0xFF;
        _len++;
        BinaryPrimitives.WriteUInt32LittleEndian(_buf, (uint)_len);
        BinaryPrimitives.WriteUInt16LittleEndian(_buf.AsSpan(4), (ushort)Math.Min(_count, 65535));
        var result = _buf.AsSpan(0, _len);
        return result;
    }
}
