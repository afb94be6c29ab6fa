using System.Buffers.Binary;

namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Integrity checks of the packed encodings carried in RDB payloads, after Redis 7.0's
/// lpValidateIntegrity, ziplistValidateIntegrity, intsetValidateIntegrity and
/// zipmapValidateIntegrity. The shallow checks (header sizes, terminator) always run; the deep
/// ones (every entry's bounds, back-lengths, counts, order) run when sanitize-dump-payload asks
/// for them. Ziplists and zipmaps are always checked deeply, as Redis does, since they are
/// converted on load anyway. Our loaders decode every payload into our own structures, so a
/// payload that passes only the shallow checks can at worst fail to decode (an error), never
/// leave a broken value behind.
/// </summary>
public static class PayloadIntegrity
{
    private const int ListpackHeaderBytes = 6;
    private const byte ListpackEof = 0xFF;

    /// <summary>lpValidateIntegrity: header and terminator always; when deep, every entry.</summary>
    public static bool ListpackValid(ReadOnlySpan<byte> lp, bool deep)
    {
        if (lp.Length < ListpackHeaderBytes + 1) return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(lp) != (uint)lp.Length) return false;
        if (lp[^1] != ListpackEof) return false;
        if (!deep) return true;
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(lp[4..]);
        int p = ListpackHeaderBytes, count = 0;
        while (lp[p] != ListpackEof)
        {
            int next = ListpackEntryEnd(lp, p);
            if (next < 0 || next >= lp.Length) return false;
            p = next;
            count++;
        }
        if (p != lp.Length - 1) return false;
        return declared == 65535 || declared == count;
    }

    /// <summary>Offset just past the entry at p (including its back-length), or -1 when it does not fit or its back-length lies.</summary>
    private static int ListpackEntryEnd(ReadOnlySpan<byte> lp, int p)
    {
        long body = ListpackEncodedSize(lp, p);
        if (body < 0 || p + body > lp.Length - 1) return -1;
        int backlenBytes = Listpack.BacklenSize((int)body);
        long end = p + body + backlenBytes;
        if (end > lp.Length - 1) return -1;
        // The back-length is read right to left: 7 bits per byte, the high bit marks "more".
        long value = 0;
        int shift = 0, q = (int)end - 1, used = 0;
        while (true)
        {
            byte b = lp[q];
            value |= (long)(b & 127) << shift;
            used++;
            if ((b & 128) == 0) break;
            shift += 7;
            q--;
            if (used > 5 || q < p + body) return -1;
        }
        return value == body && used == backlenBytes ? (int)end : -1;
    }

    private static long ListpackEncodedSize(ReadOnlySpan<byte> lp, int p)
    {
        byte b = lp[p];
        int room = lp.Length - 1 - p;
        if ((b & 0x80) == 0) return 1;
        if ((b & 0xC0) == 0x80) return 1 + (b & 0x3F);
        if ((b & 0xE0) == 0xC0) return room < 2 ? -1 : 2;
        if ((b & 0xF0) == 0xE0) return room < 2 ? -1 : 2 + (((b & 0x0F) << 8) | lp[p + 1]);
        return b switch
        {
            0xF0 => room < 5 ? -1 : 5L + BinaryPrimitives.ReadUInt32LittleEndian(lp[(p + 1)..]),
            0xF1 => 3,
            0xF2 => 4,
            0xF3 => 5,
            0xF4 => 9,
            _ => -1,
        };
    }

    /// <summary>ziplistValidateIntegrity (always deep): zlbytes, zltail, every entry's prevlen and bounds, count.</summary>
    public static bool ZiplistValid(ReadOnlySpan<byte> zl)
    {
        const int header = 10;
        if (zl.Length < header + 1) return false;
        if (BinaryPrimitives.ReadUInt32LittleEndian(zl) != (uint)zl.Length) return false;
        if (zl[^1] != 0xFF) return false;
        uint tail = BinaryPrimitives.ReadUInt32LittleEndian(zl[4..]);
        int declared = BinaryPrimitives.ReadUInt16LittleEndian(zl[8..]);
        if (tail > (uint)(zl.Length - 1)) return false;
        int p = header, prevSize = 0, count = 0, last = header;
        while (zl[p] != 0xFF)
        {
            int start = p;
            int prevLen;
            if (zl[p] < 0xFE)
            {
                prevLen = zl[p];
                p += 1;
            }
            else
            {
                if (zl[p] == 0xFF || p + 5 >= zl.Length) return false;
                prevLen = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(zl[(p + 1)..]));
                p += 5;
            }
            if (prevLen != prevSize) return false;
            long body = ZiplistEncodedSize(zl, p);
            if (body < 0 || p + body > zl.Length - 1) return false;
            p += (int)body;
            prevSize = p - start;
            last = start;
            count++;
        }
        if (p != zl.Length - 1) return false;
        if (count > 0 ? tail != last : tail != header) return false;
        return declared == 65535 || declared == count;
    }

    private static long ZiplistEncodedSize(ReadOnlySpan<byte> zl, int p)
    {
        byte enc = zl[p];
        int room = zl.Length - 1 - p;
        switch (enc >> 6)
        {
            case 0: return 1 + (enc & 0x3F);
            case 1: return room < 2 ? -1 : 2 + (((enc & 0x3F) << 8) | zl[p + 1]);
            case 2: return room < 5 ? -1 : 5L + BinaryPrimitives.ReadUInt32BigEndian(zl[(p + 1)..]);
        }
        return enc switch
        {
            0xC0 => 3,
            0xD0 => 5,
            0xE0 => 9,
            0xF0 => 4,
            0xFE => 2,
            >= 0xF1 and <= 0xFD => 1,
            _ => -1,
        };
    }

    /// <summary>intsetValidateIntegrity: width and size always; ascending, duplicate-free order when deep.</summary>
    public static bool IntsetValid(ReadOnlySpan<byte> s, bool deep)
    {
        if (s.Length < 8) return false;
        uint width = BinaryPrimitives.ReadUInt32LittleEndian(s);
        uint count = BinaryPrimitives.ReadUInt32LittleEndian(s[4..]);
        if (width is not (2 or 4 or 8)) return false;
        if (count == 0 || 8 + (long)width * count != s.Length) return false;
        if (!deep) return true;
        long prev = 0;
        for (int i = 0; i < count; i++)
        {
            var e = s[(8 + i * (int)width)..];
            long v = width == 2 ? BinaryPrimitives.ReadInt16LittleEndian(e) : width == 4 ? BinaryPrimitives.ReadInt32LittleEndian(e) : BinaryPrimitives.ReadInt64LittleEndian(e);
            if (i > 0 && v <= prev) return false;
            prev = v;
        }
        return true;
    }
}
