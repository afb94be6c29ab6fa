using System.Globalization;
using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// Number formatting as Redis does it with Lua 5.1 (every number is a double): redis.call
/// arguments use %.17g, and replies truncate to a 64-bit integer like a C cast.
/// </summary>
internal static class LuaNumbers
{
    /// <summary>C's "%.{digits}g".</summary>
    public static string FormatG(double d, int digits)
    {
        if (double.IsNaN(d)) return double.IsNegative(d) ? "-nan" : "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        string s = d.ToString("G" + digits, CultureInfo.InvariantCulture);
        int e = s.IndexOf('E');
        if (e < 0) return s;
        // .NET writes E+20 / E-05; C writes e+20 / e-05 (at least two exponent digits).
        string mant = s[..e];
        char sign = s[e + 1];
        string exp = s[(e + 2)..].TrimStart('0');
        if (exp.Length < 2) exp = exp.PadLeft(2, '0');
        return mant + "e" + sign + exp;
    }

    /// <summary>Argument of redis.call: %.17g, as Redis 7.0 formats numbers.</summary>
    public static byte[] ArgBytes(LuaState l, int index)
    {
        return System.Text.Encoding.ASCII.GetBytes(FormatG(l.ToNumber(index), 17));
    }

    /// <summary>Lua number to reply integer: the C cast (long long)d, which yields LLONG_MIN when out of range.</summary>
    public static long ToReplyInteger(LuaState l, int index)
    {
        double d = l.ToNumber(index);
        return ToReplyInteger(d);
    }

    public static long ToReplyInteger(double d)
    {
        if (double.IsNaN(d) || d >= 9.2233720368547758e18 || d < -9.2233720368547758e18) return long.MinValue;
        return (long)d;
    }
}
