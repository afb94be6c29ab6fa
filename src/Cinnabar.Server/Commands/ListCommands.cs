using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// List commands (t_list.c). Handlers use the <see cref="ListObject"/> API only. Argument
/// validation follows Redis's order (some commands parse numbers before looking the key up,
/// others after), because that order decides which error a client sees. Blocking variants
/// live in ListCommands.Blocking.cs.
/// </summary>
public sealed partial class ListCommands : ICommandFamily
{
    private const string G = "list";

    public void Register(CommandTable t)
    {
        t.Add("lpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", LPush, G, "Prepends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.");
        t.Add("rpush", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", RPush, G, "Appends one or more elements to a list. Creates the key if it doesn't exist.", "1.0.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.");
        t.Add("lpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", LPushX, G, "Prepends one or more elements to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.");
        t.Add("rpushx", -3, "write denyoom fast", 1, 1, 1, "@write @list @fast", RPushX, G, "Appends an element to a list only when the list exists.", "2.2.0", "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.");
        t.Add("lpop", -2, "write fast", 1, 1, 1, "@write @list @fast", LPop, G, "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned");
        t.Add("rpop", -2, "write fast", 1, 1, 1, "@write @list @fast", RPop, G, "Returns and removes the last elements of a list. Deletes the list if the last element was popped.", "1.0.0", "O(N) where N is the number of elements returned");
        t.Add("llen", 2, "readonly fast", 1, 1, 1, "@read @list @fast", LLen, G, "Returns the length of a list.");
        t.Add("lrange", 4, "readonly", 1, 1, 1, "@read @list @slow", LRange, G, "Returns a range of elements from a list.", "1.0.0", "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.");
        t.Add("lindex", 3, "readonly", 1, 1, 1, "@read @list @slow", LIndex, G, "Returns an element from a list by its index.", "1.0.0", "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).");
        t.Add("lset", 4, "write denyoom", 1, 1, 1, "@write @list @slow", LSet, G, "Sets the value of an element in a list by its index.", "1.0.0", "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).");
        t.Add("linsert", 5, "write denyoom", 1, 1, 1, "@write @list @slow", LInsert, G, "Inserts an element before or after another element in a list.", "2.2.0", "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).");
        t.Add("lrem", 4, "write", 1, 1, 1, "@write @list @slow", LRem, G, "Removes elements from a list. Deletes the list if the last element was removed.", "1.0.0", "O(N+M) where N is the length of the list and M is the number of elements removed.");
        t.Add("ltrim", 4, "write", 1, 1, 1, "@write @list @slow", LTrim, G, "Removes elements from both ends a list. Deletes the list if all elements were trimmed.", "1.0.0", "O(N) where N is the number of elements to be removed by the operation.");
        t.Add("lpos", -3, "readonly", 1, 1, 1, "@read @list @slow", LPos, G, "Returns the index of matching elements in a list.", "6.0.6", "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.");
        t.Add("lmove", 5, "write denyoom", 1, 2, 1, "@write @list @slow", LMove, G, "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.", "6.2.0");
        t.Add("rpoplpush", 3, "write denyoom", 1, 2, 1, "@write @list @slow", RPopLPush, G, "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.", "1.2.0");
        t.Add("lmpop", -4, "write", 0, 0, 0, "@write @list @slow", LMPop, G, "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", keys: args => NumKeysFinder(args, 1));
        RegisterBlocking(t);
    }

    // ---------------------------------------------------------------- helpers

    /// <summary>Looks up a list; false (WRONGTYPE written) when the key holds another type.</summary>
    internal static bool TryGetList(CommandContext ctx, ReadOnlySpan<byte> key, bool write, out ListObject? list)
    {
        var o = write ? ctx.Db.LookupWrite(key) : ctx.Db.LookupRead(key);
        list = o as ListObject;
        if (o == null || list != null) return true;
        ctx.WrongType();
        return false;
    }

    /// <summary>Deletes the key when a pop/trim left the list empty (Redis never keeps empty lists).</summary>
    private static void DeleteIfEmpty(CommandContext ctx, ReadOnlySpan<byte> key, ListObject list)
    {
        if (list.Count != 0) return;
        ctx.Db.Delete(key);
        ctx.Notify('g', "del", key);
    }

    /// <summary>Parses LEFT|RIGHT; writes a syntax error otherwise. True = left (head).</summary>
    private static bool TryGetSide(CommandContext ctx, int i, out bool left)
    {
        left = ctx.ArgIs(i, "LEFT");
        if (left || ctx.ArgIs(i, "RIGHT")) return true;
        ctx.SyntaxError();
        return false;
    }

    /// <summary>Key indexes of LMPOP/BLMPOP: numkeys at numKeysIndex, keys after it.</summary>
    private static int[] NumKeysFinder(CommandArgs args, int numKeysIndex)
    {
        if (args.Count <= numKeysIndex || !RequestParser.TryParseLong(args[numKeysIndex], out long n) || n <= 0 || n > args.Count - numKeysIndex - 1)
            return [];
        var keys = new int[n];
        for (int i = 0; i < n; i++) keys[i] = numKeysIndex + 1 + i;
        return keys;
    }

    // ---------------------------------------------------------------- push

    private static void LPush(CommandContext ctx) => Push(ctx, head: true, onlyIfExists: false);
    private static void RPush(CommandContext ctx) => Push(ctx, head: false, onlyIfExists: false);
    private static void LPushX(CommandContext ctx) => Push(ctx, head: true, onlyIfExists: true);
    private static void RPushX(CommandContext ctx) => Push(ctx, head: false, onlyIfExists: true);

    private static void Push(CommandContext ctx, bool head, bool onlyIfExists)
    {
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            if (onlyIfExists)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            list = new ListObject();
            ctx.Db.Add(ctx.ArgBytes(1), list);
        }
        for (int i = 2; i < ctx.ArgCount; i++) list.Push(ctx.Arg(i), head);
        ctx.Reply.WriteInteger(list.Count);
        ctx.KeyChanged(key, 'l', head ? "lpush" : "rpush");
    }

    // ---------------------------------------------------------------- pop

    private static void LPop(CommandContext ctx) => Pop(ctx, head: true);
    private static void RPop(CommandContext ctx) => Pop(ctx, head: false);

    private static void Pop(CommandContext ctx, bool head)
    {
        long count = 0;
        bool hasCount = ctx.ArgCount == 3;
        if (ctx.ArgCount > 3)
        {
            ctx.Error(Errors.WrongArity(ctx.Command.Name));
            return;
        }
        if (hasCount && (!RequestParser.TryParseLong(ctx.Arg(2), out count) || count < 0))
        {
            ctx.Error(Errors.MustBePositive);
            return;
        }
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            // With a count the "no such key" reply is a null array, without it a null bulk.
            if (hasCount) ctx.Reply.WriteNullArray();
            else ctx.Reply.WriteNull();
            return;
        }
        if (!hasCount)
        {
            ctx.Reply.WriteBulk(list.Pop(head)!);
        }
        else
        {
            if (count == 0)
            {
                ctx.Reply.WriteEmptyArray();
                return;
            }
            long n = Math.Min(count, list.Count);
            ctx.Reply.WriteArrayHeader(n);
            for (long i = 0; i < n; i++) ctx.Reply.WriteBulk(list.Pop(head)!);
        }
        ctx.KeyChanged(key, 'l', head ? "lpop" : "rpop");
        DeleteIfEmpty(ctx, key, list);
    }

    // ---------------------------------------------------------------- read

    private static void LLen(CommandContext ctx)
    {
        if (!TryGetList(ctx, ctx.Arg(1), write: false, out var list)) return;
        ctx.Reply.WriteInteger(list?.Count ?? 0);
    }

    private static void LRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        if (!TryGetList(ctx, ctx.Arg(1), write: false, out var list)) return;
        if (list == null)
        {
            ctx.Reply.WriteEmptyArray();
            return;
        }
        long len = list.Count;
        if (start < 0) start = Math.Max(0, len + start);
        if (end < 0) end = len + end;
        if (end >= len) end = len - 1;
        if (start > end || start >= len)
        {
            ctx.Reply.WriteEmptyArray();
            return;
        }
        long n = end - start + 1;
        ctx.Reply.WriteArrayHeader(n);
        var cursor = list.GetCursor((int)start);
        for (long i = 0; i < n && cursor.MoveNext(); i++) ctx.Reply.WriteBulk(cursor.Current);
    }

    private static void LIndex(CommandContext ctx)
    {
        if (!TryGetList(ctx, ctx.Arg(1), write: false, out var list)) return;
        if (list == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        if (!ctx.TryGetLong(2, out long index)) return;
        int i = list.Normalize(index);
        if (i < 0) ctx.Reply.WriteNull();
        else ctx.Reply.WriteBulk(list.Get(i));
    }

    // ---------------------------------------------------------------- modify in place

    private static void LSet(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        if (!ctx.TryGetLong(2, out long index)) return;
        int i = list.Normalize(index);
        if (i < 0)
        {
            ctx.Error(Errors.OutOfRange);
            return;
        }
        list.Set(i, ctx.Arg(3));
        ctx.Reply.WriteOk();
        ctx.KeyChanged(key, 'l', "lset");
    }

    private static void LInsert(CommandContext ctx)
    {
        bool before = ctx.ArgIs(2, "BEFORE");
        if (!before && !ctx.ArgIs(2, "AFTER"))
        {
            ctx.SyntaxError();
            return;
        }
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (!list.InsertRelative(ctx.Arg(3), ctx.Arg(4), before))
        {
            ctx.Reply.WriteInteger(-1);
            return;
        }
        ctx.Reply.WriteInteger(list.Count);
        ctx.KeyChanged(key, 'l', "linsert");
    }

    private static void LRem(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long count)) return;
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long removed = list.Remove(ctx.Arg(3), count);
        ctx.Reply.WriteInteger(removed);
        if (removed == 0) return;
        ctx.KeyChanged(key, 'l', "lrem");
        DeleteIfEmpty(ctx, key, list);
    }

    private static void LTrim(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        var key = ctx.Arg(1);
        if (!TryGetList(ctx, key, write: true, out var list)) return;
        if (list == null)
        {
            ctx.Reply.WriteOk();
            return;
        }
        long len = list.Count;
        if (start < 0) start = Math.Max(0, len + start);
        if (end < 0) end = len + end;
        long removeHead, removeTail;
        if (start > end || start >= len)
        {
            removeHead = len; // everything goes
            removeTail = 0;
        }
        else
        {
            if (end >= len) end = len - 1;
            removeHead = start;
            removeTail = len - end - 1;
        }
        list.RemoveHead((int)removeHead);
        list.RemoveTail((int)removeTail);
        ctx.Reply.WriteOk();
        // Redis notifies "ltrim" and signals the key even when nothing was trimmed, but only
        // counts removed elements as dirty (so a no-op LTRIM is not propagated).
        if (removeHead + removeTail > 0) ctx.KeyChanged(key, 'l', "ltrim");
        else
        {
            ctx.Server.SignalModified(ctx.Db, key);
            ctx.Notify('l', "ltrim", key);
        }
        DeleteIfEmpty(ctx, key, list);
    }

    // ---------------------------------------------------------------- LPOS

    private static void LPos(CommandContext ctx)
    {
        long rank = 1, count = -1, maxLen = 0;
        for (int j = 3; j < ctx.ArgCount; j++)
        {
            bool more = j + 1 < ctx.ArgCount;
            if (ctx.ArgIs(j, "RANK") && more)
            {
                if (!ctx.TryGetLong(++j, out rank)) return;
                if (rank == 0)
                {
                    ctx.Error(Errors.LposRankZero);
                    return;
                }
            }
            else if (ctx.ArgIs(j, "COUNT") && more)
            {
                // A non-integer gets the same message as a negative value (Redis's getPositiveLong).
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out count) || count < 0)
                {
                    ctx.Error(Errors.LposCountNegative);
                    return;
                }
            }
            else if (ctx.ArgIs(j, "MAXLEN") && more)
            {
                // A non-integer gets the same message as a negative value (Redis's getPositiveLong).
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out maxLen) || maxLen < 0)
                {
                    ctx.Error(Errors.LposMaxLenNegative);
                    return;
                }
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (!TryGetList(ctx, ctx.Arg(1), write: false, out var list)) return;
        bool arrayReply = count != -1;
        if (list == null)
        {
            if (arrayReply) ctx.Reply.WriteEmptyArray();
            else ctx.Reply.WriteNull();
            return;
        }
        WriteLPosMatches(ctx, list, ctx.Arg(2), rank, arrayReply ? count : 1, maxLen, arrayReply);
    }

    private static void WriteLPosMatches(CommandContext ctx, ListObject list, ReadOnlySpan<byte> element, long rank, long count, long maxLen, bool arrayReply)
    {
        bool forward = rank > 0;
        // Redis 7.0 negates a negative rank in place, so LLONG_MIN stays negative and every
        // match satisfies its skip test: it behaves as -1.
        long skip = rank == long.MinValue ? 0 : Math.Abs(rank) - 1;
        long limit = count == 0 ? long.MaxValue : count;
        long compared = 0, matches = 0;
        List<long>? found = arrayReply ? new List<long>() : null;
        long single = -1;
        var cursor = forward ? list.GetCursor(0) : list.GetReverseCursor(list.Count - 1);
        long index = forward ? 0 : list.Count - 1;
        while (cursor.MoveNext() && (maxLen == 0 || compared < maxLen))
        {
            compared++;
            if (element.SequenceEqual(cursor.Current))
            {
                if (matches++ >= skip)
                {
                    if (found != null) found.Add(index);
                    else single = index;
                    if (found == null || found.Count >= limit) break;
                }
            }
            index += forward ? 1 : -1;
        }
        if (found != null)
        {
            ctx.Reply.WriteArrayHeader(found.Count);
            foreach (long i in found) ctx.Reply.WriteInteger(i);
        }
        else if (single >= 0) ctx.Reply.WriteInteger(single);
        else ctx.Reply.WriteNull();
    }

    // ---------------------------------------------------------------- LMOVE / RPOPLPUSH / LMPOP

    private static void LMove(CommandContext ctx)
    {
        if (!TryGetSide(ctx, 3, out bool fromLeft) || !TryGetSide(ctx, 4, out bool toLeft)) return;
        Move(ctx, fromLeft, toLeft);
    }

    private static void RPopLPush(CommandContext ctx) => Move(ctx, fromLeft: false, toLeft: true);

    /// <summary>LMOVE/RPOPLPUSH: a missing source replies a null bulk and changes nothing.</summary>
    private static void Move(CommandContext ctx, bool fromLeft, bool toLeft)
    {
        if (!TryGetList(ctx, ctx.Arg(1), write: true, out var source)) return;
        if (source == null) ctx.Reply.WriteNull();
        else MoveFrom(ctx, source, fromLeft, toLeft, null);
    }

    /// <summary>
    /// Moves one element from an existing source list. The destination's type is checked before
    /// anything is popped; events follow Redis's order (push on dst, pop on src, then del).
    /// </summary>
    private static void MoveFrom(CommandContext ctx, ListObject source, bool fromLeft, bool toLeft, byte[]? propagateAs)
    {
        var src = ctx.Arg(1);
        var dst = ctx.Arg(2);
        if (!TryGetList(ctx, dst, write: true, out var dest)) return;
        var value = source.Pop(fromLeft)!;
        if (dest == null)
        {
            dest = new ListObject();
            ctx.Db.Add(ctx.ArgBytes(2), dest);
        }
        dest.Push(value, toLeft);
        ctx.KeyChanged(dst, 'l', toLeft ? "lpush" : "rpush");
        ctx.KeyChanged(src, 'l', fromLeft ? "lpop" : "rpop");
        DeleteIfEmpty(ctx, src, source);
        ctx.Reply.WriteBulk(value);
        if (propagateAs != null && ctx.Server.Propagator != null)
        {
            if (propagateAs.Length == 5) // LMOVE src dst from to
                ctx.PropagateAs(propagateAs, ctx.ArgBytes(1), ctx.ArgBytes(2), SideBytes(fromLeft), SideBytes(toLeft));
            else
                ctx.PropagateAs(propagateAs, ctx.ArgBytes(1), ctx.ArgBytes(2));
        }
    }

    private static byte[] SideBytes(bool left) => left ? "LEFT"u8.ToArray() : "RIGHT"u8.ToArray();

    /// <summary>Parsed LMPOP/BLMPOP arguments.</summary>
    private struct MPopArgs
    {
        public int FirstKey;
        public int NumKeys;
        public bool Left;
        public long Count;
    }

    /// <summary>Parses "numkeys key... LEFT|RIGHT [COUNT n]" starting at numKeysIndex.</summary>
    private static bool TryParseMPop(CommandContext ctx, int numKeysIndex, out MPopArgs a)
    {
        a = default;
        a.Count = -1;
        if (!RequestParser.TryParseLong(ctx.Arg(numKeysIndex), out long numKeys) || numKeys <= 0)
        {
            ctx.Error(Errors.NumKeysNotPositive);
            return false;
        }
        long whereIndex = numKeysIndex + numKeys + 1;
        if (whereIndex >= ctx.ArgCount)
        {
            ctx.SyntaxError();
            return false;
        }
        a.FirstKey = numKeysIndex + 1;
        a.NumKeys = (int)numKeys;
        if (!TryGetSide(ctx, (int)whereIndex, out a.Left)) return false;
        for (int j = (int)whereIndex + 1; j < ctx.ArgCount; j++)
        {
            if (a.Count == -1 && ctx.ArgIs(j, "COUNT") && j + 1 < ctx.ArgCount)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(++j), out a.Count) || a.Count <= 0)
                {
                    ctx.Error(Errors.CountNotPositive);
                    return false;
                }
            }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        if (a.Count == -1) a.Count = 1;
        return true;
    }

    private static void LMPop(CommandContext ctx)
    {
        if (!TryParseMPop(ctx, 1, out var a)) return;
        var served = TryMPop(ctx, a, skipWrongType: false);
        if (served == MPopResult.Empty) ctx.Reply.WriteNullArray();
    }

    private enum MPopResult { Served, Empty, Error }

    /// <summary>Pops from the first non-empty key; replies [key, [elements]] and propagates as [LR]POP key count.</summary>
    private static MPopResult TryMPop(CommandContext ctx, in MPopArgs a, bool skipWrongType)
    {
        for (int k = a.FirstKey; k < a.FirstKey + a.NumKeys; k++)
        {
            var o = ctx.Db.LookupWrite(ctx.Arg(k));
            if (o == null) continue;
            if (o is not ListObject list)
            {
                if (skipWrongType) continue;
                ctx.WrongType();
                return MPopResult.Error;
            }
            var key = ctx.Arg(k);
            long n = Math.Min(a.Count, list.Count);
            ctx.Reply.WriteArrayHeader(2);
            ctx.Reply.WriteBulk(key);
            ctx.Reply.WriteArrayHeader(n);
            for (long i = 0; i < n; i++) ctx.Reply.WriteBulk(list.Pop(a.Left)!);
            ctx.KeyChanged(key, 'l', a.Left ? "lpop" : "rpop");
            if (ctx.Server.Propagator != null)
                ctx.PropagateAs(a.Left ? "LPOP"u8.ToArray() : "RPOP"u8.ToArray(), ctx.ArgBytes(k), System.Text.Encoding.ASCII.GetBytes(n.ToString(System.Globalization.CultureInfo.InvariantCulture)));
            DeleteIfEmpty(ctx, key, list);
            return MPopResult.Served;
        }
        return MPopResult.Empty;
    }
}
