using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// The `struct` library bundled with Redis (pack, unpack, size), with the same format language:
/// endianness `&lt;` `&gt;`, alignment `!n`, integers b B h H l L T i[n] I[n] (up to 32 bytes),
/// f d, padding x, strings s (zero-terminated) and c[n]. Native sizes are those of x86-64 Linux.
/// </summary>
internal static class LuaStruct
{
    private const int MaxIntSize = 32;
    private const int MaxAlign = 8;

    public static IEnumerable<(string, Func<LuaState, int>)> Functions =>
    [
        ("pack", Pack),
        ("unpack", Unpack),
        ("size", Size),
    ];

    private sealed class Header
    {
        public bool Little = true;
        public int Align = 1;
    }

    private static int GetNum(byte[] fmt, ref int p, int df)
    {
        if (p >= fmt.Length || !char.IsAsciiDigit((char)fmt[p])) return df;
        int a = 0;
        do
        {
            if (a > int.MaxValue / 10 || a * 10 > int.MaxValue - (fmt[p] - '0')) throw new LuaLibraryException("integral size overflow");
            a = a * 10 + fmt[p++] - '0';
        } while (p < fmt.Length && char.IsAsciiDigit((char)fmt[p]));
        return a;
    }

    private static long OptSize(char opt, byte[] fmt, ref int p)
    {
        switch (opt)
        {
            case 'B' or 'b': return 1;
            case 'H' or 'h': return 2;
            case 'L' or 'l' or 'T': return 8;
            case 'f': return 4;
            case 'd': return 8;
            case 'x': return 1;
            case 'c': return GetNum(fmt, ref p, 1);
            case 'i' or 'I':
            {
                int sz = GetNum(fmt, ref p, 4);
                if (sz > MaxIntSize) throw new LuaLibraryException($"integral size {sz} is larger than limit of {MaxIntSize}");
                return sz;
            }
            default: return 0;
        }
    }

    private static long ToAlign(long len, Header h, char opt, long size)
    {
        if (size == 0 || opt == 'c') return 0;
        if (size > h.Align) size = h.Align;
        return (size - (len & (size - 1))) & (size - 1);
    }

    private static void ControlOptions(char opt, byte[] fmt, ref int p, Header h, string fname)
    {
        switch (opt)
        {
            case ' ': return;
            case '>': h.Little = false; return;
            case '<': h.Little = true; return;
            case '!':
            {
                int a = GetNum(fmt, ref p, MaxAlign);
                if (a <= 0 || (a & (a - 1)) != 0) throw new LuaLibraryException($"alignment {a} is not a power of 2");
                h.Align = a;
                return;
            }
            default:
                throw LuaArgs.ArgError(1, fname, $"invalid format option '{opt}'");
        }
    }

    private static int Pack(LuaState l)
    {
        byte[] fmt = LuaArgs.CheckString(l, 1, "pack");
        var h = new Header();
        int arg = 2;
        long total = 0;
        var buf = new MemoryStream();
        int p = 0;
        while (p < fmt.Length && fmt[p] != 0)
        {
            char opt = (char)fmt[p++];
            long size = OptSize(opt, fmt, ref p);
            long toalign = ToAlign(total, h, opt, size);
            total += toalign;
            while (toalign-- > 0) buf.WriteByte(0);
            switch (opt)
            {
                case 'b' or 'B' or 'h' or 'H' or 'l' or 'L' or 'T' or 'i' or 'I':
                {
                    double n = LuaArgs.CheckNumber(l, arg++, "pack");
                    ulong value = n < 0 ? (ulong)(long)n : DoubleToULong(n);
                    var bytes = new byte[size];
                    for (int i = 0; i < size; i++)
                    {
                        bytes[h.Little ? i : (int)size - 1 - i] = (byte)(value & 0xff);
                        value = i < 8 ? value >> 8 : 0;
                    }
                    buf.Write(bytes);
                    break;
                }
                case 'x':
                    buf.WriteByte(0);
                    break;
                case 'f':
                {
                    var b = BitConverter.GetBytes((float)LuaArgs.CheckNumber(l, arg++, "pack"));
                    if (!h.Little) Array.Reverse(b);
                    buf.Write(b);
                    break;
                }
                case 'd':
                {
                    var b = BitConverter.GetBytes(LuaArgs.CheckNumber(l, arg++, "pack"));
                    if (!h.Little) Array.Reverse(b);
                    buf.Write(b);
                    break;
                }
                case 'c' or 's':
                {
                    byte[] s = LuaArgs.CheckString(l, arg++, "pack");
                    if (size == 0) size = s.Length;
                    if (s.Length < size) throw LuaArgs.ArgError(arg, "pack", "string too short");
                    buf.Write(s, 0, (int)size);
                    if (opt == 's')
                    {
                        buf.WriteByte(0);
                        size++;
                    }
                    break;
                }
                default:
                    ControlOptions(opt, fmt, ref p, h, "pack");
                    break;
            }
            total += size;
        }
        l.PushBuffer(buf.GetBuffer().AsSpan(0, (int)buf.Length));
        return 1;
    }

    private static ulong DoubleToULong(double n)
    {
        if (double.IsNaN(n) || n >= 18446744073709551616.0) return 0x8000000000000000;
        return (ulong)n;
    }

    private static double GetInteger(ReadOnlySpan<byte> b, bool little, bool signed, int size)
    {
        ulong v = 0;
        for (int k = 0; k < size; k++)
        {
            int i = little ? size - 1 - k : k;
            v = (v << 8) | b[i];
        }
        if (!signed) return v;
        ulong mask = ulong.MaxValue << ((size * 8 - 1) & 63);
        if ((v & mask) != 0) v |= mask;
        return (long)v;
    }

    private static int Unpack(LuaState l)
    {
        byte[] fmt = LuaArgs.CheckString(l, 1, "unpack");
        byte[] data = LuaArgs.CheckString(l, 2, "unpack");
        long ld = data.Length;
        long pos = LuaArgs.OptInteger(l, 3, "unpack", 1);
        if (pos <= 0) throw LuaArgs.ArgError(3, "unpack", "offset must be 1 or greater");
        pos--;
        var h = new Header();
        var results = new List<object>();
        int p = 0;
        while (p < fmt.Length && fmt[p] != 0)
        {
            char opt = (char)fmt[p++];
            long size = OptSize(opt, fmt, ref p);
            pos += ToAlign(pos, h, opt, size);
            if (!(size <= ld && pos <= ld - size)) throw LuaArgs.ArgError(2, "unpack", "data string too short");
            if (results.Count > 7000) throw new LuaLibraryException("stack overflow (too many results)");
            switch (opt)
            {
                case 'b' or 'B' or 'h' or 'H' or 'l' or 'L' or 'T' or 'i' or 'I':
                    results.Add(GetInteger(data.AsSpan((int)pos, (int)size), h.Little, char.IsLower(opt), (int)size));
                    break;
                case 'x':
                    break;
                case 'f':
                {
                    var b = data.AsSpan((int)pos, 4).ToArray();
                    if (!h.Little) Array.Reverse(b);
                    results.Add((double)BitConverter.ToSingle(b));
                    break;
                }
                case 'd':
                {
                    var b = data.AsSpan((int)pos, 8).ToArray();
                    if (!h.Little) Array.Reverse(b);
                    results.Add(BitConverter.ToDouble(b));
                    break;
                }
                case 'c':
                    if (size == 0)
                    {
                        if (results.Count == 0 || results[^1] is not double prev) throw new LuaLibraryException("format 'c0' needs a previous size");
                        size = (long)prev;
                        results.RemoveAt(results.Count - 1);
                        if (!(size <= ld && pos <= ld - size) || size < 0) throw LuaArgs.ArgError(2, "unpack", "data string too short");
                    }
                    results.Add(data.AsSpan((int)pos, (int)size).ToArray());
                    break;
                case 's':
                {
                    int e = Array.IndexOf(data, (byte)0, (int)pos);
                    if (e < 0) throw new LuaLibraryException("unfinished string in data");
                    size = e - pos + 1;
                    results.Add(data.AsSpan((int)pos, (int)size - 1).ToArray());
                    break;
                }
                default:
                    ControlOptions(opt, fmt, ref p, h, "unpack");
                    break;
            }
            pos += size;
        }
        l.SetTop(0);
        if (!l.CheckStack(results.Count + 2)) throw new LuaLibraryException("stack overflow (too many results)");
        foreach (var r in results)
        {
            if (r is double d) l.PushNumber(d);
            else l.PushBuffer((byte[])r);
        }
        l.PushNumber(pos + 1);
        return results.Count + 1;
    }

    private static int Size(LuaState l)
    {
        byte[] fmt = LuaArgs.CheckString(l, 1, "size");
        var h = new Header();
        long pos = 0;
        int p = 0;
        while (p < fmt.Length && fmt[p] != 0)
        {
            char opt = (char)fmt[p++];
            long size = OptSize(opt, fmt, ref p);
            pos += ToAlign(pos, h, opt, size);
            if (opt == 's') throw LuaArgs.ArgError(1, "size", "option 's' has no fixed size");
            if (opt == 'c' && size == 0) throw LuaArgs.ArgError(1, "size", "option 'c0' has no fixed size");
            if (!char.IsAsciiLetterOrDigit(opt)) ControlOptions(opt, fmt, ref p, h, "size");
            pos += size;
        }
        l.PushNumber(pos);
        return 1;
    }
}
