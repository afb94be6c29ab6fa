using System.Buffers.Binary;
using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// The `cmsgpack` library bundled with Redis: pack (tables nested deeper than 16 levels become
/// nil, so cycles terminate), unpack, unpack_one, unpack_limit. Tables are read raw.
/// </summary>
internal static class LuaMsgPack
{
    private const int MaxNesting = 16;
    private const int MaxDecodeDepth = 3000;
    private const string TooManyValues = "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

    public static IEnumerable<(string, Func<LuaState, int>)> Functions =>
    [
        ("pack", Pack),
        ("unpack", l => UnpackFull(l, 0, 0)),
        ("unpack_one", l =>
        {
            long offset = LuaArgs.OptInteger(l, 2, "unpack_one", 0);
            l.SetTop(1);
            return UnpackFull(l, 1, offset);
        }),
        ("unpack_limit", l =>
        {
            long limit = LuaArgs.CheckInteger(l, 2, "unpack_limit");
            long offset = LuaArgs.OptInteger(l, 3, "unpack_limit", 0);
            l.SetTop(1);
            return UnpackFull(l, limit, offset);
        }),
    ];

    // ------------------------------------------------------------------ pack

    private static int Pack(LuaState l)
    {
        int nargs = l.GetTop();
        if (nargs == 0) throw new LuaLibraryException("bad argument #0 to 'pack' (MessagePack pack needs input.)");
        var buf = new MemoryStream();
        for (int i = 1; i <= nargs; i++)
        {
            l.PushCopy(i);
            Encode(l, buf, 0);
        }
        l.SetTop(0);
        l.PushBuffer(buf.GetBuffer().AsSpan(0, (int)buf.Length));
        return 1;
    }

    /// <summary>Encodes the value on top of the stack and pops it.</summary>
    private static void Encode(LuaState l, MemoryStream buf, int level)
    {
        if (!l.CheckStack(4)) throw new LuaLibraryException("stack overflow (in function mp_encode_lua_table)");
        var t = l.Type(-1);
        if (t == LuaType.Table && level == MaxNesting) t = LuaType.Nil;
        switch (t)
        {
            case LuaType.String:
                EncodeBytes(buf, l.ToSpan(-1));
                break;
            case LuaType.Boolean:
                buf.WriteByte(l.ToBoolean(-1) ? (byte)0xc3 : (byte)0xc2);
                break;
            case LuaType.Number:
            {
                double n = l.ToNumber(-1);
                if (!double.IsInfinity(n) && !double.IsNaN(n) && n >= -9.2233720368547758e18 && n < 9.2233720368547758e18 && (long)n == n) EncodeInt(buf, (long)n);
                else EncodeDouble(buf, n);
                break;
            }
            case LuaType.Table:
                if (IsArray(l)) EncodeArray(l, buf, level);
                else EncodeMap(l, buf, level);
                break;
            default:
                buf.WriteByte(0xc0);
                break;
        }
        l.Pop(1);
    }

    private static bool IsArray(LuaState l)
    {
        long count = 0;
        double max = 0;
        int top = l.GetTop();
        l.PushNil();
        while (l.Next(top))
        {
            l.Pop(1);
            double n;
            if (l.Type(-1) != LuaType.Number || (n = l.ToNumber(-1)) <= 0 || n != Math.Floor(n) || n > int.MaxValue)
            {
                l.SetTop(top);
                return false;
            }
            if (n > max) max = n;
            count++;
        }
        l.SetTop(top);
        return max == count;
    }

    private static void EncodeArray(LuaState l, MemoryStream buf, int level)
    {
        long len = l.ObjLen(-1);
        WriteHeader(buf, len, 0x90, 0xdc, 0xdd);
        int table = l.GetTop();
        for (long j = 1; j <= len; j++)
        {
            l.RawGetInteger(table, (int)j);
            Encode(l, buf, level + 1);
        }
    }

    private static void EncodeMap(LuaState l, MemoryStream buf, int level)
    {
        int table = l.GetTop();
        long len = 0;
        l.PushNil();
        while (l.Next(table))
        {
            l.Pop(1);
            len++;
        }
        WriteHeader(buf, len, 0x80, 0xde, 0xdf);
        l.PushNil();
        while (l.Next(table))
        {
            l.PushCopy(-2);
            Encode(l, buf, level + 1);
            Encode(l, buf, level + 1);
        }
    }

    private static void WriteHeader(MemoryStream buf, long n, byte fix, byte b16, byte b32)
    {
        if (n <= 15) buf.WriteByte((byte)(fix | (n & 0xf)));
        else if (n <= 0xffff)
        {
            buf.WriteByte(b16);
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)n);
            buf.Write(b);
        }
        else
        {
            buf.WriteByte(b32);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, (uint)n);
            buf.Write(b);
        }
    }

    private static void EncodeBytes(MemoryStream buf, ReadOnlySpan<byte> s)
    {
        int len = s.Length;
        if (len < 32) buf.WriteByte((byte)(0xa0 | len));
        else if (len <= 0xff)
        {
            buf.WriteByte(0xd9);
            buf.WriteByte((byte)len);
        }
        else if (len <= 0xffff)
        {
            buf.WriteByte(0xda);
            buf.WriteByte((byte)(len >> 8));
            buf.WriteByte((byte)len);
        }
        else
        {
            buf.WriteByte(0xdb);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(b, (uint)len);
            buf.Write(b);
        }
        buf.Write(s);
    }

    private static void EncodeDouble(MemoryStream buf, double d)
    {
        float f = (float)d;
        if (d == f)
        {
            buf.WriteByte(0xca);
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteSingleBigEndian(b, f);
            buf.Write(b);
        }
        else
        {
            buf.WriteByte(0xcb);
            Span<byte> b = stackalloc byte[8];
            BinaryPrimitives.WriteDoubleBigEndian(b, d);
            buf.Write(b);
        }
    }

    private static void EncodeInt(MemoryStream buf, long n)
    {
        Span<byte> b = stackalloc byte[9];
        int len;
        if (n >= 0)
        {
            if (n <= 127) { b[0] = (byte)n; len = 1; }
            else if (n <= 0xff) { b[0] = 0xcc; b[1] = (byte)n; len = 2; }
            else if (n <= 0xffff) { b[0] = 0xcd; BinaryPrimitives.WriteUInt16BigEndian(b[1..], (ushort)n); len = 3; }
            else if (n <= 0xffffffffL) { b[0] = 0xce; BinaryPrimitives.WriteUInt32BigEndian(b[1..], (uint)n); len = 5; }
            else { b[0] = 0xcf; BinaryPrimitives.WriteUInt64BigEndian(b[1..], (ulong)n); len = 9; }
        }
        else
        {
            if (n >= -32) { b[0] = (byte)(sbyte)n; len = 1; }
            else if (n >= -128) { b[0] = 0xd0; b[1] = (byte)(sbyte)n; len = 2; }
            else if (n >= -32768) { b[0] = 0xd1; BinaryPrimitives.WriteInt16BigEndian(b[1..], (short)n); len = 3; }
            else if (n >= int.MinValue) { b[0] = 0xd2; BinaryPrimitives.WriteInt32BigEndian(b[1..], (int)n); len = 5; }
            else { b[0] = 0xd3; BinaryPrimitives.WriteInt64BigEndian(b[1..], n); len = 9; }
        }
        buf.Write(b[..len]);
    }

    // ------------------------------------------------------------------ unpack

    private sealed class MissingBytes : Exception;
    private sealed class BadFormat : Exception;

    private static int UnpackFull(LuaState l, long limit, long offset)
    {
        byte[] s = LuaArgs.CheckString(l, 1, limit == 0 && offset == 0 ? "unpack" : limit == 1 ? "unpack_one" : "unpack_limit");
        long len = s.Length;
        bool all = limit == 0 && offset == 0;
        if (offset < 0 || limit < 0) throw new LuaLibraryException($"Invalid request to unpack with offset of {(int)offset} and limit of {(int)len}.");
        if (offset > len) throw new LuaLibraryException($"Start offset {(int)offset} greater than input length {(int)len}.");
        if (all) limit = int.MaxValue;
        l.SetTop(0);
        int pos = (int)offset;
        int cnt = 0;
        try
        {
            for (; pos < len && cnt < limit; cnt++) Decode(l, s, ref pos);
        }
        catch (MissingBytes)
        {
            throw new LuaLibraryException("Missing bytes in input.");
        }
        catch (BadFormat)
        {
            throw new LuaLibraryException("Bad data format in input.");
        }
        if (!all)
        {
            if (!l.CheckStack(1)) throw new LuaLibraryException("stack overflow (in function mp_unpack_full)");
            l.PushNumber(pos >= len ? -1 : pos);
            l.Insert(1);
            cnt++;
        }
        return cnt;
    }

    private static void Need(byte[] s, int pos, long n)
    {
        if (s.Length - pos < n) throw new MissingBytes();
    }

    /// <summary>Pushes the value at pos. Nesting costs Lua stack slots, so garbage nesting ends in a stack error.</summary>
    private static void Decode(LuaState l, byte[] s, ref int pos, int depth = 0)
    {
        Need(s, pos, 1);
        // Bounds the C# recursion too (Redis's bound is its Lua stack, about the same depth).
        if (depth > MaxDecodeDepth || !l.CheckStack(1)) throw new LuaLibraryException(TooManyValues);
        byte c = s[pos];
        switch (c)
        {
            case 0xcc: Need(s, pos, 2); l.PushNumber(s[pos + 1]); pos += 2; return;
            case 0xd0: Need(s, pos, 2); l.PushNumber((sbyte)s[pos + 1]); pos += 2; return;
            case 0xcd: Need(s, pos, 3); l.PushNumber(BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(pos + 1))); pos += 3; return;
            case 0xd1: Need(s, pos, 3); l.PushNumber(BinaryPrimitives.ReadInt16BigEndian(s.AsSpan(pos + 1))); pos += 3; return;
            case 0xce: Need(s, pos, 5); l.PushNumber(BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(pos + 1))); pos += 5; return;
            case 0xd2: Need(s, pos, 5); l.PushNumber(BinaryPrimitives.ReadInt32BigEndian(s.AsSpan(pos + 1))); pos += 5; return;
            case 0xcf: Need(s, pos, 9); l.PushNumber(BinaryPrimitives.ReadUInt64BigEndian(s.AsSpan(pos + 1))); pos += 9; return;
            case 0xd3: Need(s, pos, 9); l.PushNumber(BinaryPrimitives.ReadInt64BigEndian(s.AsSpan(pos + 1))); pos += 9; return;
            case 0xc0: l.PushNil(); pos += 1; return;
            case 0xc3: l.PushBoolean(true); pos += 1; return;
            case 0xc2: l.PushBoolean(false); pos += 1; return;
            case 0xca: Need(s, pos, 5); l.PushNumber(BinaryPrimitives.ReadSingleBigEndian(s.AsSpan(pos + 1))); pos += 5; return;
            case 0xcb: Need(s, pos, 9); l.PushNumber(BinaryPrimitives.ReadDoubleBigEndian(s.AsSpan(pos + 1))); pos += 9; return;
            case 0xd9:
            {
                Need(s, pos, 2);
                int n = s[pos + 1];
                Need(s, pos, 2 + n);
                l.PushBuffer(s.AsSpan(pos + 2, n));
                pos += 2 + n;
                return;
            }
            case 0xda:
            {
                Need(s, pos, 3);
                int n = BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(pos + 1));
                Need(s, pos, 3 + n);
                l.PushBuffer(s.AsSpan(pos + 3, n));
                pos += 3 + n;
                return;
            }
            case 0xdb:
            {
                Need(s, pos, 5);
                long n = BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(pos + 1));
                pos += 5;
                Need(s, pos, n);
                l.PushBuffer(s.AsSpan(pos, (int)n));
                pos += (int)n;
                return;
            }
            case 0xdc: Need(s, pos, 3); { long n = BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(pos + 1)); pos += 3; DecodeArray(l, s, ref pos, n, depth); } return;
            case 0xdd: Need(s, pos, 5); { long n = BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(pos + 1)); pos += 5; DecodeArray(l, s, ref pos, n, depth); } return;
            case 0xde: Need(s, pos, 3); { long n = BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(pos + 1)); pos += 3; DecodeMap(l, s, ref pos, n, depth); } return;
            case 0xdf: Need(s, pos, 5); { long n = BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(pos + 1)); pos += 5; DecodeMap(l, s, ref pos, n, depth); } return;
        }
        if ((c & 0x80) == 0) { l.PushNumber(c); pos += 1; }
        else if ((c & 0xe0) == 0xe0) { l.PushNumber((sbyte)c); pos += 1; }
        else if ((c & 0xe0) == 0xa0)
        {
            int n = c & 0x1f;
            Need(s, pos, 1 + n);
            l.PushBuffer(s.AsSpan(pos + 1, n));
            pos += 1 + n;
        }
        else if ((c & 0xf0) == 0x90) { pos += 1; DecodeArray(l, s, ref pos, c & 0xf, depth); }
        else if ((c & 0xf0) == 0x80) { pos += 1; DecodeMap(l, s, ref pos, c & 0xf, depth); }
        else throw new BadFormat();
    }

    private static void DecodeArray(LuaState l, byte[] s, ref int pos, long n, int depth)
    {
        l.NewTable();
        if (!l.CheckStack(2)) throw new LuaLibraryException(TooManyValues);
        int table = l.GetTop();
        for (long i = 1; i <= n; i++)
        {
            Decode(l, s, ref pos, depth + 1);
            if (l.Type(-1) == LuaType.Nil) l.Pop(1);
            else l.RawSetInteger(table, (int)Math.Min(i, int.MaxValue));
        }
    }

    private static void DecodeMap(LuaState l, byte[] s, ref int pos, long n, int depth)
    {
        l.NewTable();
        int table = l.GetTop();
        for (long i = 0; i < n; i++)
        {
            Decode(l, s, ref pos, depth + 1);
            Decode(l, s, ref pos, depth + 1);
            var kt = l.Type(-2);
            if (kt == LuaType.Nil) throw new LuaLibraryException("table index is nil");
            if (kt == LuaType.Number && double.IsNaN(l.ToNumber(-2))) throw new LuaLibraryException("table index is NaN");
            l.RawSet(table);
        }
    }
}
