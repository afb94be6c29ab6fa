using System.Globalization;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Score and range parsing for sorted sets. Redis parses scores with C's strtod, which accepts
/// more than .NET's parser (hex floats like 0x1p3, "infinity", leading blanks in ranges), and
/// it differs by caller: ZADD/WEIGHTS (getDoubleFromObject) reject leading blanks and overflow or
/// underflow to zero (ERANGE); score ranges (zslParseRange) take whatever strtod consumes fully.
/// </summary>
public sealed partial class SortedSetCommands
{
    /// <summary>A C strtod over the whole span. Returns false if strtod would not consume everything.</summary>
    internal static bool Strtod(ReadOnlySpan<byte> s, out double value, out bool rangeError)
    {
        value = 0;
        rangeError = false;
        int i = 0;
        while (i < s.Length && IsCSpace(s[i])) i++;
        int start = i;
        bool negative = false;
        if (i < s.Length && (s[i] == '+' || s[i] == '-'))
        {
            negative = s[i] == '-';
            i++;
        }
        var rest = s[i..];
        if (StartsWithIgnoreCase(rest, "infinity") || StartsWithIgnoreCase(rest, "inf"))
        {
            int len = StartsWithIgnoreCase(rest, "infinity") ? 8 : 3;
            value = negative ? double.NegativeInfinity : double.PositiveInfinity;
            return i + len == s.Length;
        }
        if (StartsWithIgnoreCase(rest, "nan"))
        {
            value = double.NaN;
            return i + 3 == s.Length;
        }
        if (rest.Length > 2 && rest[0] == '0' && (rest[1] | 0x20) == 'x' && IsHexDigitOrDotHex(rest[2..]))
            return ParseHex(rest[2..], negative, out value, out rangeError);
        // Decimal: digits [. digits] [e [sign] digits]; at least one mantissa digit.
        int p = i, digits = 0;
        bool nonZero = false;
        while (p < s.Length && char.IsAsciiDigit((char)s[p])) { nonZero |= s[p] != '0'; p++; digits++; }
        if (p < s.Length && s[p] == '.')
        {
            p++;
            while (p < s.Length && char.IsAsciiDigit((char)s[p])) { nonZero |= s[p] != '0'; p++; digits++; }
        }
        if (digits == 0)
        {
            // strtod consumed nothing: endptr = start of string; only an empty string is then "fully consumed".
            return s.Length == 0;
        }
        if (p < s.Length && (s[p] | 0x20) == 'e')
        {
            int q = p + 1;
            if (q < s.Length && (s[q] == '+' || s[q] == '-')) q++;
            if (q < s.Length && char.IsAsciiDigit((char)s[q]))
            {
                while (q < s.Length && char.IsAsciiDigit((char)s[q])) q++;
                p = q;
            }
        }
        if (p != s.Length) return false;
        Span<char> chars = s.Length - start <= 256 ? stackalloc char[s.Length - start] : new char[s.Length - start];
        for (int k = 0; k < chars.Length; k++) chars[k] = (char)s[start + k];
        if (!double.TryParse(chars, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return false;
        rangeError = double.IsInfinity(value) || (value == 0 && nonZero) || (value != 0 && Math.Abs(value) < double.Epsilon * 4503599627370496.0);
        return true;
    }

    private static bool IsHexDigitOrDotHex(ReadOnlySpan<byte> s) =>
        char.IsAsciiHexDigit((char)s[0]) || (s[0] == '.' && s.Length > 1 && char.IsAsciiHexDigit((char)s[1]));

    private static bool ParseHex(ReadOnlySpan<byte> s, bool negative, out double value, out bool rangeError)
    {
        value = 0;
        rangeError = false;
        double mant = 0;
        int exp = 0, p = 0;
        bool seenDot = false;
        for (; p < s.Length; p++)
        {
            byte c = s[p];
            if (c == '.' && !seenDot) { seenDot = true; continue; }
            if (!char.IsAsciiHexDigit((char)c)) break;
            mant = mant * 16 + HexValue(c);
            if (seenDot) exp -= 4;
        }
        if (p < s.Length && (s[p] | 0x20) == 'p')
        {
            int q = p + 1;
            bool eneg = false;
            if (q < s.Length && (s[q] == '+' || s[q] == '-')) { eneg = s[q] == '-'; q++; }
            if (q < s.Length && char.IsAsciiDigit((char)s[q]))
            {
                long e = 0;
                while (q < s.Length && char.IsAsciiDigit((char)s[q])) { e = Math.Min(100000, e * 10 + (s[q] - '0')); q++; }
                exp += (int)(eneg ? -e : e);
                p = q;
            }
        }
        if (p != s.Length) return false;
        value = Math.ScaleB(mant, exp);
        rangeError = double.IsInfinity(value) || (value == 0 && mant != 0);
        if (negative) value = -value;
        return true;
    }

    private static int HexValue(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    private static bool IsCSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';

    private static bool StartsWithIgnoreCase(ReadOnlySpan<byte> s, string prefix)
    {
        if (s.Length < prefix.Length) return false;
        for (int k = 0; k < prefix.Length; k++)
            if ((s[k] | 0x20) != prefix[k]) return false;
        return true;
    }

    /// <summary>Redis's getDoubleFromObject: what ZADD scores, ZINCRBY increments and WEIGHTS accept.</summary>
    internal static bool TryParseScore(ReadOnlySpan<byte> s, out double value)
    {
        // Fast path: canonical integers of up to 15 digits are exact doubles (strtod agrees).
        if (s.Length <= 15 && Cinnabar.Protocol.RequestParser.TryParseLong(s, out long l))
        {
            value = l;
            return true;
        }
        if (s.Length == 0 || IsCSpace(s[0])) { value = 0; return false; }
        if (!Strtod(s, out value, out bool rangeError)) return false;
        if (rangeError && (double.IsInfinity(value) || value == 0)) return false;
        return !double.IsNaN(value);
    }

    internal static bool TryGetScore(CommandContext ctx, int i, out double value, string error)
    {
        if (TryParseScore(ctx.Arg(i), out value)) return true;
        ctx.Error(error);
        return false;
    }

    /// <summary>One bound of a score range: "(x" exclusive, otherwise inclusive (zslParseRange).</summary>
    private static bool TryParseScoreBound(ReadOnlySpan<byte> s, out double value, out bool exclusive)
    {
        exclusive = s.Length > 0 && s[0] == '(';
        if (exclusive) s = s[1..];
        return Strtod(s, out value, out _) && !double.IsNaN(value);
    }

    internal static bool TryParseScoreRange(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out ScoreRange range)
    {
        range = default;
        if (!TryParseScoreBound(min, out double lo, out bool loEx) || !TryParseScoreBound(max, out double hi, out bool hiEx)) return false;
        range = new ScoreRange(lo, loEx, hi, hiEx);
        return true;
    }

    /// <summary>One bound of a lex range: "-" / "+" alone, or "[x" / "(x" (zslParseLexRangeItem).</summary>
    private static bool TryParseLexBound(ReadOnlySpan<byte> s, out byte[] value, out LexBound kind, out bool exclusive)
    {
        value = [];
        kind = LexBound.Value;
        exclusive = false;
        if (s.Length == 0) return false;
        switch (s[0])
        {
            case (byte)'+':
                kind = LexBound.PosInf;
                return s.Length == 1;
            case (byte)'-':
                kind = LexBound.NegInf;
                return s.Length == 1;
            case (byte)'(':
                exclusive = true;
                value = s[1..].ToArray();
                return true;
            case (byte)'[':
                value = s[1..].ToArray();
                return true;
            default:
                return false;
        }
    }

    internal static bool TryParseLexRange(ReadOnlySpan<byte> min, ReadOnlySpan<byte> max, out LexRange range)
    {
        range = default;
        if (!TryParseLexBound(min, out var lo, out var loKind, out bool loEx) || !TryParseLexBound(max, out var hi, out var hiKind, out bool hiEx)) return false;
        range = new LexRange(lo, loKind, loEx, hi, hiKind, hiEx);
        return true;
    }

    /// <summary>Blocking timeouts in seconds as Redis's getTimeoutFromObjectOrReply: double seconds, 0 = forever.</summary>
    internal static bool TryGetTimeoutMs(CommandContext ctx, int i, out long timeoutMs)
    {
        timeoutMs = 0;
        var s = ctx.Arg(i);
        if (s.Length == 0 || IsCSpace(s[0]) || !Strtod(s, out double seconds, out _) || double.IsNaN(seconds))
        {
            ctx.Error(Errors.TimeoutNotFloat);
            return false;
        }
        double ms = seconds * 1000.0;
        // Redis converts seconds * 1000 to a 64-bit integer; out of range (inf included) that
        // conversion yields LLONG_MIN on x86-64, so Redis reports "timeout is negative".
        if (ms >= 9.2233720368547758E18 || (ms < 0 && (long)ms < 0) || double.IsInfinity(ms))
        {
            ctx.Error(Errors.TimeoutNegative);
            return false;
        }
        timeoutMs = (long)ms;
        if (timeoutMs > 0 && timeoutMs > long.MaxValue - ctx.NowMs)
        {
            ctx.Error(Errors.TimeoutOutOfRange);
            return false;
        }
        return true;
    }

    /// <summary>
    /// A score as a listpack stores it (Redis 7.0 d2string): integral values within +-2^62 as
    /// integers, everything else as "%.17g". ZSCAN of a listpack shows this stored form.
    /// </summary>
    internal static string FormatListpackScore(double score)
    {
        if (score == Math.Floor(score) && score > -4611686018427387903.0 && score < 4611686018427387903.0)
            return ((long)score).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return NumberFormat.FormatDouble(score);
    }
}
