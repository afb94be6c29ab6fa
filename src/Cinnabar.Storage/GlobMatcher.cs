namespace Cinnabar.Storage;

/// <summary>Redis's stringmatchlen: * ? [abc] [^a] [a-z] and \ escapes, optionally case-insensitive.</summary>
public static class GlobMatcher
{
    public static bool Match(ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> s, bool ignoreCase = false)
    {
        bool skipLonger = false;
        return MatchImpl(pattern, s, ignoreCase, 0, ref skipLonger);
    }

    /// <summary>
    /// <paramref name="skipLonger"/>: set when a '*' tried every remaining suffix and failed. An
    /// enclosing '*' then stops too, since giving it more characters only leaves the inner one
    /// shorter suffixes (as Redis 7.0 prunes "a*a*a*...b"; without it the search is exponential).
    /// </summary>
    private static bool MatchImpl(ReadOnlySpan<byte> p, ReadOnlySpan<byte> s, bool nocase, int depth, ref bool skipLonger)
    {
        if (depth > 1000) return false;
        while (p.Length > 0 && s.Length > 0)
        {
            switch (p[0])
            {
                case (byte)'*':
                    while (p.Length > 1 && p[1] == (byte)'*') p = p[1..];
                    if (p.Length == 1) return true;
                    for (int i = 0; i <= s.Length; i++)
                    {
                        if (MatchImpl(p[1..], s[i..], nocase, depth + 1, ref skipLonger)) return true;
                        if (skipLonger) return false;
                    }
                    skipLonger = true;
                    return false;
                case (byte)'?':
                    s = s[1..];
                    break;
                case (byte)'[':
                {
                    p = p[1..];
                    bool not = p.Length > 0 && p[0] == (byte)'^';
                    if (not) p = p[1..];
                    bool match = false;
                    while (true)
                    {
                        if (p.Length == 0) break;
                        if (p[0] == (byte)'\\' && p.Length >= 2)
                        {
                            p = p[1..];
                            if (Eq(p[0], s[0], nocase)) match = true;
                        }
                        else if (p[0] == (byte)']') break;
                        else if (p.Length >= 3 && p[1] == (byte)'-')
                        {
                            int start = p[0], end = p[2], c = s[0];
                            if (start > end) (start, end) = (end, start);
                            if (nocase)
                            {
                                start = Lower((byte)start);
                                end = Lower((byte)end);
                                c = Lower((byte)c);
                            }
                            p = p[2..];
                            if (c >= start && c <= end) match = true;
                        }
                        else if (Eq(p[0], s[0], nocase)) match = true;
                        p = p[1..];
                    }
                    if (p.Length == 0)
                    {
                        // unterminated class: Redis treats the pattern end as the class end
                        if (not) match = !match;
                        if (!match) return false;
                        s = s[1..];
                        return s.Length == 0;
                    }
                    if (not) match = !match;
                    if (!match) return false;
                    s = s[1..];
                    break;
                }
                case (byte)'\\':
                    if (p.Length >= 2) p = p[1..];
                    if (!Eq(p[0], s[0], nocase)) return false;
                    s = s[1..];
                    break;
                default:
                    if (!Eq(p[0], s[0], nocase)) return false;
                    s = s[1..];
                    break;
            }
            p = p[1..];
            if (s.Length == 0)
            {
                while (p.Length > 0 && p[0] == (byte)'*') p = p[1..];
                break;
            }
        }
        return p.Length == 0 && s.Length == 0;
    }

    private static byte Lower(byte c) => c is >= (byte)'A' and <= (byte)'Z' ? (byte)(c + 32) : c;
    private static bool Eq(byte a, byte b, bool nocase) => nocase ? Lower(a) == Lower(b) : a == b;
}
