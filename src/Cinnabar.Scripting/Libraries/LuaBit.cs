using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// The `bit` library (LuaBitOp semantics, as bundled with Redis): numbers are taken modulo
/// 2^32 (rounded, as the 2^52+2^51 trick does) and results are signed 32-bit.
/// </summary>
internal static class LuaBit
{
    public static IEnumerable<(string, Func<LuaState, int>)> Functions =>
    [
        ("tobit", l => Ret(l, Arg(l, 1, "tobit"))),
        ("bnot", l => Ret(l, ~Arg(l, 1, "bnot"))),
        ("band", l => Fold(l, "band", (a, b) => a & b)),
        ("bor", l => Fold(l, "bor", (a, b) => a | b)),
        ("bxor", l => Fold(l, "bxor", (a, b) => a ^ b)),
        ("lshift", l => Shift(l, "lshift", (b, n) => b << n)),
        ("rshift", l => Shift(l, "rshift", (b, n) => b >> n)),
        ("arshift", l => Shift(l, "arshift", (b, n) => (uint)((int)b >> n))),
        ("rol", l => Shift(l, "rol", (b, n) => (b << n) | (b >> (32 - n)))),
        ("ror", l => Shift(l, "ror", (b, n) => (b << (32 - n)) | (b >> n))),
        ("bswap", l => Ret(l, System.Buffers.Binary.BinaryPrimitives.ReverseEndianness(Arg(l, 1, "bswap")))),
        ("tohex", ToHex),
    ];

    private static uint Arg(LuaState l, int idx, string fname)
    {
        double n = l.ToNumber(idx) + 6755399441055744.0;
        uint b = (uint)BitConverter.DoubleToUInt64Bits(n);
        if (b == 0 && !LuaArgs.IsNumber(l, idx)) throw LuaArgs.TypeError(l, idx, fname, "number");
        return b;
    }

    private static int Ret(LuaState l, uint b)
    {
        l.PushNumber((int)b);
        return 1;
    }

    private static int Fold(LuaState l, string fname, Func<uint, uint, uint> op)
    {
        uint b = Arg(l, 1, fname);
        for (int i = l.GetTop(); i > 1; i--) b = op(b, Arg(l, i, fname));
        return Ret(l, b);
    }

    private static int Shift(LuaState l, string fname, Func<uint, int, uint> op)
    {
        uint b = Arg(l, 1, fname);
        int n = (int)(Arg(l, 2, fname) & 31);
        return Ret(l, op(b, n));
    }

    private static int ToHex(LuaState l)
    {
        uint b = Arg(l, 1, "tohex");
        int n = l.Type(2) == LuaType.None ? 8 : (int)Arg(l, 2, "tohex");
        string digits = "0123456789abcdef";
        if (n < 0)
        {
            n = -n;
            digits = "0123456789ABCDEF";
        }
        if (n > 8) n = 8;
        var buf = new byte[Math.Max(0, n)];
        for (int i = n; --i >= 0;)
        {
            buf[i] = (byte)digits[(int)(b & 15)];
            b >>= 4;
        }
        l.PushBuffer(buf);
        return 1;
    }
}
