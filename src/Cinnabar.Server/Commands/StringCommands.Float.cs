using System.Globalization;
using System.Numerics;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// INCRBYFLOAT. Redis computes it in C `long double` (x87 80-bit extended precision on x86-64,
// 64-bit mantissa) and prints "%.17Lf" with trailing zeros trimmed. A .NET double differs in the
// visible digits (0.1 + 0.2 prints "0.3" in Redis, large values show binary noise, 1e400 is
// finite), so ExtendedFloat emulates that arithmetic exactly with BigInteger: correctly rounded
// parsing (strtold), one correctly rounded addition and exact decimal printing.
public sealed partial class StringCommands
{
    private static void IncrByFloat(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var db = ctx.Db;
        var o = db.LookupWrite(key);
        ExtendedFloat current = ExtendedFloat.Zero;
        if (o != null)
        {
            if (o is not StringObject s)
            {
                ctx.WrongType();
                return;
            }
            bool ok = s.IsInt ? (current = ExtendedFloat.FromLong(s.IntValue)).IsFinite : ExtendedFloat.TryParse(s.RawBytes!, out current);
            if (!ok)
            {
                ctx.Error(Errors.NotFloat);
                return;
            }
        }
        if (!ExtendedFloat.TryParse(ctx.Arg(2), out var incr))
        {
            ctx.Error(Errors.NotFloat);
            return;
        }
        var sum = ExtendedFloat.Add(current, incr);
        if (!sum.IsFinite)
        {
            ctx.Error(Errors.IncrFloatNaN);
            return;
        }
        byte[] text = Encoding.ASCII.GetBytes(sum.FormatHuman());
        // createStringObjectFromLongDouble makes a plain (embstr/raw) string, never int-encoded.
        db.Set(key, StringObject.CreateNoIntEncoding(text), keepTtl: true);
        ctx.KeyChanged(key, '$', "incrbyfloat");
        // Replicas and the AOF get the result, so float rounding can never diverge (SET ... KEEPTTL).
        if (ctx.Server.Propagator != null)
            ctx.PropagateAs("SET"u8.ToArray(), ctx.ArgBytes(1), text, "KEEPTTL"u8.ToArray());
        ctx.Reply.WriteBulk(text);
    }
}

/// <summary>
/// A finite x87 extended-precision value (sign, 64-bit mantissa, binary exponent) or infinity/NaN,
/// just enough to reproduce INCRBYFLOAT: value = (-1)^Negative * Mantissa * 2^Exponent.
/// </summary>
public readonly struct ExtendedFloat
{
    private const int MantissaBits = 64;
    // Largest finite: (2^64-1) * 2^(16383-63); smallest positive subnormal: 2^-16445.
    private const int MaxExponent = 16383 - 63;
    private const int MinExponent = -16445;
    private const int MaxChars = 5 * 1024; // MAX_LONG_DOUBLE_CHARS

    public readonly BigInteger Mantissa;
    public readonly int Exponent;
    public readonly bool Negative;
    private readonly byte _kind; // 0 finite, 1 infinite, 2 NaN

    private ExtendedFloat(BigInteger mantissa, int exponent, bool negative, byte kind = 0)
    {
        Mantissa = mantissa;
        Exponent = exponent;
        Negative = negative;
        _kind = kind;
    }

    public static ExtendedFloat Zero => new(BigInteger.Zero, 0, false);
    public bool IsFinite => _kind == 0;

    public static ExtendedFloat FromLong(long v) => Round(new BigInteger(v), 0);

    /// <summary>Exact value n * 2^exp rounded to nearest-even with a 64-bit mantissa.</summary>
    private static ExtendedFloat Round(BigInteger n, int exp) => RoundRational(n, BigInteger.One, exp);

    /// <summary>(num / den) * 2^exp rounded to a 64-bit mantissa, or infinity when out of range.</summary>
    private static ExtendedFloat RoundRational(BigInteger num, BigInteger den, int exp)
    {
        bool neg = num.Sign < 0;
        if (neg) num = -num;
        if (num.IsZero) return new ExtendedFloat(BigInteger.Zero, 0, neg);
        long shift = MantissaBits + 2 - (num.GetBitLength() - den.GetBitLength());
        BigInteger scaled = shift >= 0 ? num << (int)shift : num;
        BigInteger d = shift >= 0 ? den : den << (int)-shift;
        var q = BigInteger.DivRem(scaled, d, out var rem);
        long e = exp - shift;
        // q has 65..67 bits; keep 64, but never go below the subnormal exponent.
        long drop = q.GetBitLength() - MantissaBits;
        if (e + drop < MinExponent) drop = MinExponent - e;
        bool sticky = !rem.IsZero;
        if (drop > 0)
        {
            var mask = (BigInteger.One << (int)drop) - 1;
            var low = q & mask;
            q >>= (int)drop;
            e += drop;
            var half = BigInteger.One << (int)(drop - 1);
            if (low > half || (low == half && (sticky || !q.IsEven))) q += 1;
        }
        if (q.GetBitLength() > MantissaBits)
        {
            q >>= 1;
            e++;
        }
        if (q.IsZero) return new ExtendedFloat(BigInteger.Zero, 0, neg);
        if (e > MaxExponent) return new ExtendedFloat(BigInteger.Zero, 0, neg, 1);
        return new ExtendedFloat(q, (int)e, neg);
    }

    public static ExtendedFloat Add(ExtendedFloat a, ExtendedFloat b)
    {
        if (a._kind == 2 || b._kind == 2) return new ExtendedFloat(BigInteger.Zero, 0, false, 2);
        if (a._kind == 1 || b._kind == 1)
        {
            if (a._kind == 1 && b._kind == 1 && a.Negative != b.Negative) return new ExtendedFloat(BigInteger.Zero, 0, false, 2);
            return a._kind == 1 ? a : b;
        }
        if (a.Mantissa.IsZero && b.Mantissa.IsZero) return new ExtendedFloat(BigInteger.Zero, 0, a.Negative && b.Negative);
        if (a.Mantissa.IsZero) return b;
        if (b.Mantissa.IsZero) return a;
        int e = Math.Min(a.Exponent, b.Exponent);
        var x = (a.Negative ? -a.Mantissa : a.Mantissa) << (a.Exponent - e);
        var y = (b.Negative ? -b.Mantissa : b.Mantissa) << (b.Exponent - e);
        return Round(x + y, e);
    }

    /// <summary>strtold as used by Redis's string2ld: no surrounding spaces, no trailing junk, NaN and overflow/underflow rejected.</summary>
    public static bool TryParse(ReadOnlySpan<byte> s, out ExtendedFloat value)
    {
        value = Zero;
        if (s.Length == 0 || s.Length >= MaxChars) return false;
        int i = 0;
        bool neg = false;
        if (s[0] == '+' || s[0] == '-')
        {
            neg = s[0] == '-';
            i++;
        }
        var rest = s[i..];
        if (EqualsIgnoreCase(rest, "inf") || EqualsIgnoreCase(rest, "infinity"))
        {
            // Infinity parses (no ERANGE) and then makes INCRBYFLOAT fail with the NaN/Infinity error.
            value = new ExtendedFloat(BigInteger.Zero, 0, neg, 1);
            return true;
        }
        if (rest.Length > 2 && rest[0] == '0' && (rest[1] | 0x20) == 'x') return TryParseHex(rest[2..], neg, out value);
        BigInteger digits = BigInteger.Zero;
        int nDigits = 0, scale = 0;
        bool seenDot = false;
        int k = 0;
        for (; k < rest.Length; k++)
        {
            byte c = rest[k];
            if (c >= '0' && c <= '9')
            {
                digits = digits * 10 + (c - '0');
                nDigits++;
                if (seenDot) scale--;
            }
            else if (c == '.' && !seenDot) seenDot = true;
            else break;
        }
        if (nDigits == 0) return false;
        if (k < rest.Length)
        {
            if ((rest[k] | 0x20) != 'e' || !TryParseExponent(rest[(k + 1)..], out long exp10)) return false;
            if (digits.IsZero) exp10 = 0;
            if (exp10 > 6000) return false; // ERANGE overflow
            if (exp10 < -6000 - nDigits) return false; // ERANGE underflow to zero
            scale += (int)exp10;
        }
        if (neg) digits = -digits;
        value = scale >= 0
            ? Round(digits * BigInteger.Pow(10, scale), 0)
            : RoundRational(digits, BigInteger.Pow(10, -scale), 0);
        if (value._kind == 1) return false;
        if (value.Mantissa.IsZero && !digits.IsZero) return false;
        return true;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> s, bool neg, out ExtendedFloat value)
    {
        value = Zero;
        BigInteger digits = BigInteger.Zero;
        int n = 0;
        long exp2 = 0;
        bool seenDot = false;
        int k = 0;
        for (; k < s.Length; k++)
        {
            int v = HexValue(s[k]);
            if (v >= 0)
            {
                digits = (digits << 4) + v;
                n++;
                if (seenDot) exp2 -= 4;
            }
            else if (s[k] == '.' && !seenDot) seenDot = true;
            else break;
        }
        if (n == 0) return false;
        if (k < s.Length)
        {
            if ((s[k] | 0x20) != 'p' || !TryParseExponent(s[(k + 1)..], out long e)) return false;
            if (e > 20000 || e < -20000 - (4L * n)) return false;
            exp2 += e;
        }
        if (neg) digits = -digits;
        value = Round(digits, (int)exp2);
        if (value._kind == 1 || (value.Mantissa.IsZero && !digits.IsZero)) return false;
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        _ => -1,
    };

    private static bool TryParseExponent(ReadOnlySpan<byte> s, out long exp)
    {
        exp = 0;
        int i = 0;
        bool neg = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            neg = s[i] == '-';
            i++;
        }
        if (i == s.Length) return false;
        for (; i < s.Length; i++)
        {
            if (s[i] < '0' || s[i] > '9') return false;
            if (exp < 1_000_000_000) exp = exp * 10 + (s[i] - '0');
        }
        if (neg) exp = -exp;
        return true;
    }

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if ((a[i] | 0x20) != b[i]) return false;
        return true;
    }

    /// <summary>Redis's ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and dot removed, "-0" -> "0".</summary>
    public string FormatHuman()
    {
        const int fraction = 17;
        BigInteger scaled;
        var pow = BigInteger.Pow(10, fraction);
        if (Exponent >= 0) scaled = (Mantissa << Exponent) * pow;
        else
        {
            var den = BigInteger.One << -Exponent;
            scaled = BigInteger.DivRem(Mantissa * pow, den, out var rem);
            var twice = rem << 1;
            // printf rounds exact decimal expansions to nearest, ties to even.
            if (twice > den || (twice == den && !scaled.IsEven)) scaled += 1;
        }
        string digits = scaled.ToString(CultureInfo.InvariantCulture);
        if (digits.Length <= fraction) digits = new string('0', fraction + 1 - digits.Length) + digits;
        string text = (Negative ? "-" : "") + digits[..^fraction] + "." + digits[^fraction..];
        if (text.Length + 1 > MaxChars) return ""; // ld2string fails: Redis stores an empty string
        text = text.TrimEnd('0');
        if (text.EndsWith('.')) text = text[..^1];
        if (text == "-0") text = "0";
        return text;
    }
}
