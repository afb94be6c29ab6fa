using System.Globalization;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>The options shared by SCAN, HSCAN, SSCAN and ZSCAN.</summary>
public struct ScanOptions
{
    public ulong Cursor;
    public long Count;
    public byte[]? Match;
    public string? Type;
}

/// <summary>
/// Parsing and iteration for the SCAN family. Cursors are ByteTable entry indexes (+1 so 0 means
/// "start" and "done"), which stay valid while the table changes: an element present for the
/// whole iteration is returned exactly once (a stronger guarantee than Redis's at-least-once).
/// </summary>
public static class ScanSupport
{
    /// <summary>Parses "cursor [MATCH p] [COUNT n] [TYPE t]" starting at cursorIndex; writes the error and returns false on bad input.</summary>
    public static bool TryParse(CommandContext ctx, int cursorIndex, bool allowType, out ScanOptions options)
    {
        options = new ScanOptions { Count = 10 };
        if (!TryParseCursor(ctx.Arg(cursorIndex), out options.Cursor))
        {
            ctx.Error("ERR invalid cursor");
            return false;
        }
        for (int i = cursorIndex + 1; i < ctx.ArgCount; i++)
        {
            bool hasValue = i + 1 < ctx.ArgCount;
            if (ctx.ArgIs(i, "COUNT") && hasValue)
            {
                if (!ctx.TryGetLong(i + 1, out options.Count)) return false;
                if (options.Count < 1)
                {
                    ctx.SyntaxError();
                    return false;
                }
                i++;
            }
            else if (ctx.ArgIs(i, "MATCH") && hasValue)
            {
                options.Match = ctx.ArgBytes(i + 1);
                // "*" matches everything: skip matching altogether as Redis does.
                if (options.Match.Length == 1 && options.Match[0] == (byte)'*') options.Match = null;
                i++;
            }
            else if (allowType && ctx.ArgIs(i, "TYPE") && hasValue)
            {
                options.Type = ctx.ArgString(i + 1).ToLowerInvariant();
                i++;
            }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>Redis parses the cursor with strtoul: an optional sign is accepted and "-1" wraps to ULONG_MAX.</summary>
    private static bool TryParseCursor(ReadOnlySpan<byte> s, out ulong cursor)
    {
        bool negative = s.Length > 0 && s[0] == '-';
        if (s.Length > 0 && (s[0] == '-' || s[0] == '+')) s = s[1..];
        if (s.Length == 0 || !ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out cursor))
        {
            cursor = 0;
            return false;
        }
        if (negative) cursor = unchecked(0UL - cursor);
        return true;
    }

    /// <summary>
    /// Walks a table from the cursor, visiting at most options.Count used entries, and returns the
    /// next cursor (0 when the end was reached). <paramref name="visit"/> gets each entry index.
    /// </summary>
    public static ulong Walk<T>(ByteTable<T> table, in ScanOptions options, Action<int> visit)
    {
        if (options.Cursor > (ulong)table.Capacity) return 0;
        int i = (int)options.Cursor;
        long visited = 0;
        for (; i < table.Capacity && visited < options.Count; i++)
        {
            if (!table.IsUsed(i)) continue;
            visited++;
            visit(i);
        }
        return i >= table.Capacity ? 0 : (ulong)i;
    }

    public static bool Matches(in ScanOptions options, ReadOnlySpan<byte> name) =>
        options.Match == null || GlobMatcher.Match(options.Match, name);

    /// <summary>Writes the two-element SCAN reply header and cursor; the caller then writes the items array.</summary>
    public static void WriteCursor(RespWriter w, ulong cursor)
    {
        w.WriteArrayHeader(2);
        w.WriteBulk(cursor.ToString(CultureInfo.InvariantCulture));
    }
}
