namespace Cinnabar.Scripting;

/// <summary>
/// FUNCTION DUMP / RESTORE payload, as Redis 7.0 writes it: for each library the RDB opcode
/// FUNCTION2 (245) and the library code as an RDB string, then the RDB version (10, 2 bytes LE)
/// and the CRC-64 (Jones, reflected) of everything before, 8 bytes LE. We write plain strings;
/// we read plain and LZF-compressed strings (what Redis writes for long code).
/// </summary>
public static class FunctionPayload
{
    private const byte OpcodeFunction2 = 245;
    private const ushort RdbVersion = 10;

    public static byte[] Dump(IEnumerable<byte[]> libraryCodes)
    {
        var ms = new MemoryStream();
        foreach (var code in libraryCodes)
        {
            ms.WriteByte(OpcodeFunction2);
            WriteLength(ms, (ulong)code.Length);
            ms.Write(code);
        }
        ms.WriteByte((byte)(RdbVersion & 0xff));
        ms.WriteByte((byte)(RdbVersion >> 8));
        ulong crc = Crc64(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        for (int i = 0; i < 8; i++) ms.WriteByte((byte)(crc >> (8 * i)));
        return ms.ToArray();
    }

    /// <summary>Returns the library codes, or null when the version/checksum/format is wrong.</summary>
    public static List<byte[]>? Parse(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 10) return null;
        int footer = payload.Length - 10;
        ushort version = (ushort)(payload[footer] | payload[footer + 1] << 8);
        if (version > RdbVersion) return null;
        ulong crc = 0;
        for (int i = 0; i < 8; i++) crc |= (ulong)payload[footer + 2 + i] << (8 * i);
        if (crc != 0 && crc != Crc64(payload[..(footer + 2)])) return null;
        var codes = new List<byte[]>();
        int pos = 0;
        while (pos < footer)
        {
            if (payload[pos++] != OpcodeFunction2) return null;
            var code = ReadString(payload, ref pos);
            if (code == null) return null;
            codes.Add(code);
        }
        return pos == footer ? codes : null;
    }

    private static void WriteLength(Stream s, ulong len)
    {
        if (len < 64) s.WriteByte((byte)len);
        else if (len < 16384)
        {
            s.WriteByte((byte)(0x40 | (len >> 8)));
            s.WriteByte((byte)len);
        }
        else
        {
            s.WriteByte(0x80);
            for (int i = 3; i >= 0; i--) s.WriteByte((byte)(len >> (8 * i)));
        }
    }

    private static long ReadLength(ReadOnlySpan<byte> p, ref int pos, out bool encoded)
    {
        encoded = false;
        if (pos >= p.Length) return -1;
        byte b = p[pos++];
        switch (b >> 6)
        {
            case 0: return b & 0x3f;
            case 1:
                if (pos >= p.Length) return -1;
                return ((b & 0x3f) << 8) | p[pos++];
            case 2:
                if (b == 0x80)
                {
                    if (pos + 4 > p.Length) return -1;
                    long v = 0;
                    for (int i = 0; i < 4; i++) v = (v << 8) | p[pos++];
                    return v;
                }
                if (b == 0x81)
                {
                    if (pos + 8 > p.Length) return -1;
                    long v = 0;
                    for (int i = 0; i < 8; i++) v = (v << 8) | p[pos++];
                    return v;
                }
                return -1;
            default:
                encoded = true;
                return b & 0x3f;
        }
    }

    private static byte[]? ReadString(ReadOnlySpan<byte> p, ref int pos)
    {
        long len = ReadLength(p, ref pos, out bool encoded);
        if (len < 0) return null;
        if (!encoded)
        {
            if (pos + len > p.Length) return null;
            var s = p.Slice(pos, (int)len).ToArray();
            pos += (int)len;
            return s;
        }
        if (len != 3) return null; // only LZF (integer encodings never hold code)
        long clen = ReadLength(p, ref pos, out _);
        long ulen = ReadLength(p, ref pos, out _);
        if (clen < 0 || ulen < 0 || pos + clen > p.Length) return null;
        var output = new byte[ulen];
        if (!LzfDecompress(p.Slice(pos, (int)clen), output)) return null;
        pos += (int)clen;
        return output;
    }

    /// <summary>LZF decompression (the format of liblzf used by RDB).</summary>
    internal static bool LzfDecompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int n = ctrl + 1;
                if (op + n > output.Length || ip + n > input.Length) return false;
                input.Slice(ip, n).CopyTo(output[op..]);
                ip += n;
                op += n;
            }
            else
            {
                int len = ctrl >> 5;
                int back = op - ((ctrl & 0x1f) << 8) - 1;
                if (len == 7)
                {
                    if (ip >= input.Length) return false;
                    len += input[ip++];
                }
                if (ip >= input.Length) return false;
                back -= input[ip++];
                len += 2;
                if (back < 0 || op + len > output.Length) return false;
                for (int i = 0; i < len; i++) output[op++] = output[back++];
            }
        }
        return op == output.Length;
    }

    private static readonly ulong[] s_table = BuildTable();

    private static ulong[] BuildTable()
    {
        const ulong poly = 0x95ac9329ac4bc9b5; // Jones polynomial 0xad93d23594c935a9, bit-reversed
        var t = new ulong[256];
        for (ulong i = 0; i < 256; i++)
        {
            ulong crc = i;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ poly : crc >> 1;
            t[i] = crc;
        }
        return t;
    }

    public static ulong Crc64(ReadOnlySpan<byte> data)
    {
        ulong crc = 0;
        foreach (byte b in data) crc = s_table[(byte)(crc ^ b)] ^ (crc >> 8);
        return crc;
    }
}
