using System.Globalization;

namespace Cinnabar.Protocol;

/// <summary>Number formatting and parsing with Redis's exact rules.</summary>
public static class NumberFormat
{
    /// <summary>Redis 7.0 addReplyDouble: "%.17g", with inf/-inf/nan spelled in lower case.</summary>
    public static string FormatDouble(double value)
    {
        if (double.IsPositiveInfinity(value)) return "inf";
        if (double.IsNegativeInfinity(value)) return "-inf";
        if (double.IsNaN(value)) return "nan";
        return FormatG(value, 17);
    }

    /// <summary>C's "%.{precision}g".</summary>
    public static string FormatG(double value, int precision)
    {
        if (value == 0) return (1 / value) < 0 ? "-0" : "0";
        string s = value.ToString("E" + (precision - 1), CultureInfo.InvariantCulture);
        int ePos = s.IndexOf('E');
        int exp = int.Parse(s.AsSpan(ePos + 1), CultureInfo.InvariantCulture);
        if (exp < -4 || exp >= precision)
        {
            string mant = TrimZeros(s[..ePos]);
            string sign = exp < 0 ? "-" : "+";
            int a = Math.Abs(exp);
            return mant + "e" + sign + (a < 10 ? "0" : "") + a.ToString(CultureInfo.InvariantCulture);
        }
        string f = value.ToString("F" + Math.Max(0, precision - 1 - exp), CultureInfo.InvariantCulture);
        return TrimZeros(f);
    }

    private static string TrimZeros(string s)
    {
        if (!s.Contains('.')) return s;
        s = s.TrimEnd('0');
        if (s.EndsWith('.')) s = s[..^1];
        return s;
    }

    /// <summary>
    /// Redis's long double formatting used by INCRBYFLOAT/HINCRBYFLOAT ("%.17Lf" then trimmed).
    /// We only have doubles; printing with 17 significant digits and trimming matches for the
    /// common values (e.g. 10.5, 5.0e3 -> 5000).
    /// </summary>
    public static string FormatHumanDouble(double value)
    {
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        // %.17Lf on long double keeps more digits than a double holds; "R" round-trip is the
        // shortest exact form, which is what users see from Redis for values like 3.0000000000000004
        string s = value.ToString("R", CultureInfo.InvariantCulture);
        if (s.Contains('E'))
        {
            s = value.ToString("F17", CultureInfo.InvariantCulture);
            if (s.Contains('.')) s = s.TrimEnd('0').TrimEnd('.');
        }
        if (s == "-0") s = "0";
        return s;
    }

    /// <summary>Parses a double as Redis's string2d/strtod: no spaces, inf/-inf accepted, nan rejected.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> s, out double value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 5120) return false;
        if (IsSpace(s[0]) || IsSpace(s[^1])) return false;
        Span<char> chars = s.Length <= 256 ? stackalloc char[s.Length] : new char[s.Length];
        for (int i = 0; i < s.Length; i++) chars[i] = (char)s[i];
        var lower = chars;
        if (EqualsIgnoreCase(lower, "inf") || EqualsIgnoreCase(lower, "+inf") || EqualsIgnoreCase(lower, "infinity") || EqualsIgnoreCase(lower, "+infinity"))
        {
            value = double.PositiveInfinity;
            return true;
        }
        if (EqualsIgnoreCase(lower, "-inf") || EqualsIgnoreCase(lower, "-infinity"))
        {
            value = double.NegativeInfinity;
            return true;
        }
        foreach (char c in chars)
        {
            if (!(char.IsAsciiDigit(c) || c is '.' or 'e' or 'E' or '-' or '+')) return false;
        }
        if (!double.TryParse(chars, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return false;
        return !double.IsNaN(value);
    }

    private static bool EqualsIgnoreCase(ReadOnlySpan<char> a, string b) => a.Equals(b, StringComparison.OrdinalIgnoreCase);
    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f';
}
