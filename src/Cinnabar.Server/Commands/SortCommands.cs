using System.Globalization;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// SORT and SORT_RO (sort.c). Elements of a list, set or sorted set are sorted numerically (by
/// their value or by the string at a BY pattern key, "*" replaced by the element, "->field"
/// reading a hash field) or bytewise with ALPHA; ties in numeric order fall back to comparing the
/// elements. A BY pattern without "*" means no sorting: lists and sorted sets keep their order
/// (DESC reverses it, LIMIT slices it), except that a set sorted into STORE is sorted with ALPHA
/// so the stored result is deterministic. GET patterns ("#" = the element) replace each element
/// in the output; STORE writes the result as a list (or deletes the destination when empty).
/// </summary>
public sealed class SortCommands : ICommandFamily
{
    private const string G = "generic";

    public void Register(CommandTable t)
    {
        t.Add("sort", -2, "write denyoom movablekeys", 1, 1, 1, "@write @set @sortedset @list @slow @dangerous", Sort, G, "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.", "1.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).", StoreKeys);
        t.Add("sort_ro", -2, "readonly movablekeys", 1, 1, 1, "@read @set @sortedset @list @slow @dangerous", SortRo, G, "Returns the sorted elements of a list, a set, or a sorted set.", "7.0.0", "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).");
    }

    // SORT's keys as Redis's sortGetKeys finds them: the sorted key, then the argument after the
    // last STORE (LIMIT skips two arguments, GET and BY one; an option is recognised only at j = 0
    // of its skip list, so STORE is matched before anything is skipped).
    private static int[] StoreKeys(CommandArgs args)
    {
        int store = -1;
        for (int i = 2; i < args.Count; i++)
        {
            if (AsciiEqualsIgnoreCase(args[i], "limit")) i += 2;
            else if (AsciiEqualsIgnoreCase(args[i], "store") && i + 1 < args.Count) store = i + 1;
            else if (AsciiEqualsIgnoreCase(args[i], "get") || AsciiEqualsIgnoreCase(args[i], "by")) i++;
        }
        return store > 0 ? [1, store] : [1];
    }

    private static bool AsciiEqualsIgnoreCase(ReadOnlySpan<byte> a, string lower)
    {
        if (a.Length != lower.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if ((a[i] | 0x20) != lower[i]) return false;
        return true;
    }

    private static void Sort(CommandContext ctx) => SortGeneric(ctx, readOnly: false);

    private static void SortRo(CommandContext ctx) => SortGeneric(ctx, readOnly: true);

    private sealed class Item
    {
        public required byte[] Value;
        public double Score;
        public byte[]? CmpObj;
    }

    private static void SortGeneric(CommandContext ctx, bool readOnly)
    {
        bool desc = false, alpha = false, dontSort = false;
        long limitStart = 0, limitCount = -1;
        byte[]? sortBy = null, storeKey = null;
        List<byte[]>? getOps = null;
        bool cluster = ctx.Server.Config.ClusterEnabled;
        for (int j = 2; j < ctx.ArgCount; j++)
        {
            int left = ctx.ArgCount - j - 1;
            if (ctx.ArgIs(j, "ASC")) desc = false;
            else if (ctx.ArgIs(j, "DESC")) desc = true;
            else if (ctx.ArgIs(j, "ALPHA")) alpha = true;
            else if (ctx.ArgIs(j, "LIMIT") && left >= 2)
            {
                if (!ctx.TryGetLong(j + 1, out limitStart) || !ctx.TryGetLong(j + 2, out limitCount)) return;
                j += 2;
            }
            else if (!readOnly && ctx.ArgIs(j, "STORE") && left >= 1)
            {
                storeKey = ctx.ArgBytes(j + 1);
                j++;
            }
            else if (ctx.ArgIs(j, "BY") && left >= 1)
            {
                sortBy = ctx.ArgBytes(j + 1);
                if (Array.IndexOf(sortBy, (byte)'*') < 0) dontSort = true;
                else if (cluster)
                {
                    ctx.Error(Errors.SortByCluster);
                    return;
                }
                else if (!FullKeyAccess(ctx))
                {
                    ctx.Error(Errors.SortByAcl);
                    return;
                }
                j++;
            }
            else if (ctx.ArgIs(j, "GET") && left >= 1)
            {
                if (cluster)
                {
                    ctx.Error(Errors.SortGetCluster);
                    return;
                }
                if (!FullKeyAccess(ctx))
                {
                    ctx.Error(Errors.SortGetAcl);
                    return;
                }
                (getOps ??= new List<byte[]>()).Add(ctx.ArgBytes(j + 1));
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }

        var sortVal = ctx.Db.LookupRead(ctx.Arg(1));
        if (sortVal != null && sortVal is not ListObject && sortVal is not SetObject && sortVal is not ZSetObject)
        {
            ctx.WrongType();
            return;
        }

        // Sets have no order of their own: a stored unsorted result, or one a script reads, is
        // sorted bytewise instead (sort.c), so replicas and AOF replays see the same order.
        if (dontSort && sortVal is SetObject && (storeKey != null || (ctx.Client.Flags & ClientFlags.Lua) != 0))
        {
            dontSort = false;
            alpha = true;
            sortBy = null;
        }

        long vectorLen = sortVal switch
        {
            ListObject l => l.Count,
            SetObject s => s.Count,
            ZSetObject z => z.Count,
            _ => 0,
        };

        // Redis 7.0.15 clamps both LIMIT arguments to the object size first (no overflow on huge counts).
        long start = Math.Min(Math.Max(limitStart, 0), vectorLen);
        limitCount = Math.Min(Math.Max(limitCount, -1), vectorLen);
        long end = limitCount < 0 ? vectorLen - 1 : start + limitCount - 1;
        if (start >= vectorLen)
        {
            start = vectorLen - 1;
            end = vectorLen - 2;
        }
        if (end >= vectorLen) end = vectorLen - 1;

        var vector = new List<Item>();
        if (sortVal is ListObject list)
        {
            if (dontSort)
            {
                if (end >= start)
                {
                    int count = (int)(end - start + 1);
                    var cur = desc ? list.GetReverseCursor((int)(list.Count - start - 1)) : list.GetCursor((int)start);
                    while (count-- > 0 && cur.MoveNext()) vector.Add(new Item { Value = cur.Current.ToArray() });
                    end -= start;
                    start = 0;
                }
            }
            else
            {
                var cur = list.GetCursor(0);
                while (cur.MoveNext()) vector.Add(new Item { Value = cur.Current.ToArray() });
            }
        }
        else if (sortVal is SetObject set)
        {
            foreach (var m in set.EnumerateMembers()) vector.Add(new Item { Value = m });
        }
        else if (sortVal is ZSetObject zset)
        {
            if (dontSort)
            {
                if (end >= start)
                {
                    long count = end - start + 1;
                    var w = zset.Walk(desc ? zset.Count - 1 - start : start, desc);
                    while (count-- > 0 && w.MoveNext()) vector.Add(new Item { Value = w.Member });
                    end -= start;
                    start = 0;
                }
            }
            else
            {
                var w = zset.Walk(0, false);
                while (w.MoveNext()) vector.Add(new Item { Value = w.Member });
            }
        }

        bool conversionError = false;
        if (!dontSort)
        {
            foreach (var item in vector)
            {
                byte[]? byVal;
                if (sortBy != null)
                {
                    byVal = LookupByPattern(ctx, sortBy, item.Value);
                    if (byVal == null) continue;
                }
                else byVal = item.Value;
                if (alpha)
                {
                    if (sortBy != null) item.CmpObj = byVal;
                }
                else if (!TryStrtod(byVal, out item.Score)) conversionError = true;
            }
            bool byPattern = sortBy != null;
            Comparison<Item> cmp = (a, b) =>
            {
                int c;
                if (!alpha)
                {
                    c = a.Score > b.Score ? 1 : a.Score < b.Score ? -1 : a.Value.AsSpan().SequenceCompareTo(b.Value);
                }
                else if (byPattern)
                {
                    if (a.CmpObj == null || b.CmpObj == null) c = a.CmpObj == b.CmpObj ? 0 : a.CmpObj == null ? -1 : 1;
                    else c = a.CmpObj.AsSpan().SequenceCompareTo(b.CmpObj);
                }
                else c = a.Value.AsSpan().SequenceCompareTo(b.Value);
                c = Math.Sign(c);
                return desc ? -c : c;
            };
            vector.Sort(cmp);
        }

        long outputLen = (getOps?.Count ?? 1) * (end - start + 1);
        if (conversionError)
        {
            ctx.Error(Errors.SortScoreNotDouble);
            return;
        }
        if (storeKey == null)
        {
            ctx.Reply.WriteArrayHeader(outputLen);
            for (long j = start; j <= end; j++)
            {
                var item = vector[(int)j];
                if (getOps == null)
                {
                    ctx.Reply.WriteBulk(item.Value);
                    continue;
                }
                foreach (var pattern in getOps)
                {
                    var v = LookupByPattern(ctx, pattern, item.Value);
                    if (v == null) ctx.Reply.WriteNull();
                    else ctx.Reply.WriteBulk(v);
                }
            }
            return;
        }

        var result = new ListObject();
        for (long j = start; j <= end; j++)
        {
            var item = vector[(int)j];
            if (getOps == null)
            {
                result.PushTail(item.Value);
                continue;
            }
            foreach (var pattern in getOps) result.PushTail(LookupByPattern(ctx, pattern, item.Value) ?? []);
        }
        if (outputLen > 0)
        {
            ctx.Db.Set(storeKey, result);
            ctx.KeyChanged(storeKey, 'l', "sortstore");
            ctx.Dirty(outputLen - 1);
        }
        else if (ctx.Db.Delete(storeKey))
        {
            ctx.KeyChanged(storeKey, 'g', "del");
        }
        ctx.Reply.WriteInteger(outputLen);
    }

    /// <summary>
    /// lookupKeyByPattern: "#" is the element itself; otherwise the first "*" is replaced by the
    /// element and a following "->field" (non-empty) reads that hash field. Missing keys, wrong
    /// types and patterns without "*" give null.
    /// </summary>
    private static byte[]? LookupByPattern(CommandContext ctx, byte[] pattern, byte[] subst)
    {
        if (pattern.Length == 1 && pattern[0] == (byte)'#') return subst;
        int star = Array.IndexOf(pattern, (byte)'*');
        if (star < 0) return null;
        int arrow = pattern.AsSpan(star + 1).IndexOf("->"u8);
        int fieldStart = -1;
        if (arrow >= 0 && star + 1 + arrow + 2 < pattern.Length) fieldStart = star + 1 + arrow + 2;
        int postfixEnd = fieldStart >= 0 ? fieldStart - 2 : pattern.Length;
        var key = new byte[star + subst.Length + (postfixEnd - star - 1)];
        pattern.AsSpan(0, star).CopyTo(key);
        subst.CopyTo(key, star);
        pattern.AsSpan(star + 1, postfixEnd - star - 1).CopyTo(key.AsSpan(star + subst.Length));
        var o = ctx.Db.LookupRead(key);
        if (o == null) return null;
        if (fieldStart >= 0) return o is HashObject h ? h.Get(pattern.AsSpan(fieldStart)) : null;
        return o is StringObject s ? s.RawBytes ?? s.GetBytes() : null;
    }

    /// <summary>strtod with Redis's checks: the whole string must parse (leading spaces allowed), no overflow/underflow, no NaN.</summary>
    private static bool TryStrtod(byte[] bytes, out double value)
    {
        value = 0;
        int i = 0;
        while (i < bytes.Length && (bytes[i] == ' ' || (bytes[i] >= '\t' && bytes[i] <= '\r'))) i++;
        if (i == bytes.Length) return true; // nothing parsed: strtod returns 0 and the end is the terminator
        var text = System.Text.Encoding.ASCII.GetString(bytes, i, bytes.Length - i);
        string t = text.TrimStart('+', '-');
        bool neg = text.StartsWith('-');
        if (t.Equals("inf", StringComparison.OrdinalIgnoreCase) || t.Equals("infinity", StringComparison.OrdinalIgnoreCase))
        {
            if (text.Length - t.Length > 1) return false;
            value = neg ? double.NegativeInfinity : double.PositiveInfinity;
            return true;
        }
        if (t.Length == 0 || !(char.IsAsciiDigit(t[0]) || t[0] == '.')) return false;
        if (text.Length - t.Length > 1) return false;
        if (t.Length > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X'))
        {
            // strtod also reads hexadecimal (integers handled here).
            if (!ulong.TryParse(t.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex)) return false;
            value = neg ? -(double)hex : hex;
            return true;
        }
        if (!double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value))
            return false;
        if (double.IsInfinity(value)) return false; // ERANGE overflow
        if (value == 0)
        {
            // Underflow is ERANGE too: a zero result from non-zero mantissa digits.
            int e = t.IndexOfAny(['e', 'E']);
            var mant = e >= 0 ? t[..e] : t;
            foreach (char c in mant)
                if (c >= '1' && c <= '9') return false;
        }
        return true;
    }

    // BY and GET read arbitrary keys: Redis wants read access to every key (ACLUserCheckCmdWithUnrestrictedKeyAccess).
    private static bool FullKeyAccess(CommandContext ctx) =>
        ctx.Client.AclUser.Unrestricted || ctx.Server.Acl.UserHasUnrestrictedKeyAccess(ctx.Client.AclUser, ctx.Command, ctx.Args, Acl.KeySpecFlags.Access);
}
