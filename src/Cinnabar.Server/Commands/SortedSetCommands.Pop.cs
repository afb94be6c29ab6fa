using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// ZPOPMIN/ZPOPMAX, ZMPOP, the blocking BZPOPMIN/BZPOPMAX/BZMPOP and ZRANDMEMBER
/// (genericZpopCommand, blockingGenericZpopCommand, zrandmemberCommand). Reply shapes follow
/// Redis 7.0: ZPOP* flat in RESP2 or without COUNT, nested pairs with COUNT in RESP3; BZPOP* is
/// [key, member, score]; [B]ZMPOP is [key, [[member, score], ...]]. A served blocking pop is
/// propagated as ZPOPMIN/ZPOPMAX key [count], and ZMPOP as ZPOPMIN/ZPOPMAX key count.
/// </summary>
public sealed partial class SortedSetCommands
{
    private static readonly byte[] ZPopMinName = "ZPOPMIN"u8.ToArray();
    private static readonly byte[] ZPopMaxName = "ZPOPMAX"u8.ToArray();

    private void RegisterPop(CommandTable t)
    {
        const string LogNM = "O(log(N)*M)";
        t.Add("zpopmin", -2, "write fast", 1, 1, 1, "@write @sortedset @fast", ctx => ZPopMinMax(ctx, max: false), G, "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", LogNM);
        t.Add("zpopmax", -2, "write fast", 1, 1, 1, "@write @sortedset @fast", ctx => ZPopMinMax(ctx, max: true), G, "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.", "5.0.0", LogNM);
        t.Add("zmpop", -4, "write", 0, 0, 0, "@write @sortedset @slow", ctx => ZMPop(ctx, 1, blocking: false), G, "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.", "7.0.0", "O(K) + O(M*log(N))", NumKeysFinder(1));
        t.Add("bzpopmin", -3, "write noscript blocking fast", 1, -2, 1, "@write @sortedset @fast @blocking", ctx => BZPop(ctx, max: false), G, "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", LogN);
        t.Add("bzpopmax", -3, "write noscript blocking fast", 1, -2, 1, "@write @sortedset @fast @blocking", ctx => BZPop(ctx, max: true), G, "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise.  Deletes the sorted set if the last element was popped.", "5.0.0", LogN);
        t.Add("bzmpop", -5, "write blocking", 0, 0, 0, "@write @sortedset @slow @blocking", ctx => ZMPop(ctx, 2, blocking: true), G, "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", "O(K) + O(M*log(N))", NumKeysFinder(2));
        t.Add("zrandmember", -2, "readonly", 1, 1, 1, "@read @sortedset @slow", ZRandMember, G, "Returns one or more random members from a sorted set.", "6.2.0", "O(N)");
    }

    /// <summary>Key positions of "numkeys key [key ...]" commands (ZMPOP, ZUNION ...), for cluster routing and COMMAND GETKEYS.</summary>
    internal static KeyFinder NumKeysFinder(int numKeysIndex, int extraLeadingKey = 0) => args =>
    {
        if (args.Count <= numKeysIndex || !RequestParser.TryParseLong(args[numKeysIndex], out long n) || n < 1) return [];
        int count = (int)Math.Min(n, args.Count - numKeysIndex - 1);
        var keys = new int[count + extraLeadingKey];
        if (extraLeadingKey == 1) keys[0] = 1;
        for (int i = 0; i < count; i++) keys[extraLeadingKey + i] = numKeysIndex + 1 + i;
        return keys;
    };

    private static void ZPopMinMax(CommandContext ctx, bool max)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.SyntaxError();
            return;
        }
        long count = -1;
        if (ctx.ArgCount == 3)
        {
            // getPositiveLongFromObjectOrReply: a non-integer gets the same message as a negative.
            if (!RequestParser.TryParseLong(ctx.Arg(2), out count) || count < 0)
            {
                ctx.Error(Errors.ValueMustBePositive);
                return;
            }
        }
        bool nested = ctx.Reply.Protocol > 2 && count != -1;
        var key = ctx.Arg(1);
        if (!TryGetZSet(ctx, key, write: true, out var z)) return;
        if (z == null || count == 0)
        {
            ctx.Reply.WriteEmptyArray();
            return;
        }
        long n = Math.Min(count == -1 ? 1 : count, z.Count);
        ctx.Reply.WriteArrayHeader(nested ? n : n * 2);
        PopAndWrite(ctx, key, z, n, max, nested);
    }

    /// <summary>Pops n members from one end, writing each (nested as [m, s] or flat), then notifies and deletes an emptied key.</summary>
    private static void PopAndWrite(CommandContext ctx, ReadOnlySpan<byte> key, ZSetObject z, long n, bool max, bool nested)
    {
        var w = ctx.Reply;
        for (long i = 0; i < n; i++)
        {
            var (member, score) = z.At(max ? z.Count - 1 : 0);
            z.Remove(member);
            if (nested) w.WriteArrayHeader(2);
            w.WriteBulk(member);
            w.WriteDouble(score);
        }
        ctx.Server.Dirty += n - 1;
        ctx.KeyChanged(key, 'z', max ? "zpopmax" : "zpopmin");
        DeleteIfEmpty(ctx, key, z);
    }

    /// <summary>ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]; BZMPOP timeout numkeys ... (numKeysIndex 2).</summary>
    private static void ZMPop(CommandContext ctx, int numKeysIndex, bool blocking)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(numKeysIndex), out long numKeys) || numKeys < 1)
        {
            ctx.Error(Errors.NumKeysPositive);
            return;
        }
        long whereIdx = numKeysIndex + numKeys + 1;
        if (whereIdx >= ctx.ArgCount)
        {
            ctx.SyntaxError();
            return;
        }
        bool max;
        if (ctx.ArgIs((int)whereIdx, "MIN")) max = false;
        else if (ctx.ArgIs((int)whereIdx, "MAX")) max = true;
        else
        {
            ctx.SyntaxError();
            return;
        }
        long count = -1;
        for (int j = (int)whereIdx + 1; j < ctx.ArgCount; j++)
        {
            if (count == -1 && ctx.ArgIs(j, "COUNT") && j + 1 < ctx.ArgCount)
            {
                j++;
                if (!RequestParser.TryParseLong(ctx.Arg(j), out count) || count < 1)
                {
                    ctx.Error(Errors.CountPositive);
                    return;
                }
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (count == -1) count = 1;
        // BZMPOP reads its timeout only after the other arguments validated, as Redis does.
        long timeoutMs = 0;
        if (blocking && !TryGetTimeoutMs(ctx, 1, out timeoutMs)) return;
        int firstKey = numKeysIndex + 1;
        if (TryServePop(ctx, firstKey, (int)numKeys, max, count, multi: true)) return;
        if (blocking) BlockOrTimeout(ctx, firstKey, (int)numKeys, timeoutMs);
        else ctx.Reply.WriteNullArray();
    }

    /// <summary>BZPOPMIN/BZPOPMAX key [key ...] timeout.</summary>
    private static void BZPop(CommandContext ctx, bool max)
    {
        if (!TryGetTimeoutMs(ctx, ctx.ArgCount - 1, out long timeoutMs)) return;
        int keys = ctx.ArgCount - 2;
        if (TryServePop(ctx, 1, keys, max, -1, multi: false)) return;
        BlockOrTimeout(ctx, 1, keys, timeoutMs);
    }

    /// <summary>
    /// Pops from the first non-empty sorted set among the keys. Returns true when a reply was
    /// written (the pop, or WRONGTYPE for the first existing key of another type).
    /// </summary>
    private static bool TryServePop(CommandContext ctx, int firstKey, int keyCount, bool max, long count, bool multi)
    {
        for (int k = firstKey; k < firstKey + keyCount; k++)
        {
            var key = ctx.Arg(k);
            // A woken client is served only by a sorted set: another type under a watched key
            // leaves it blocked (Redis serves blocked clients by the ready key's type), no WRONGTYPE.
            if (ctx.RetryingBlocked && ctx.Db.LookupWrite(key) is { } o && o is not ZSetObject) continue;
            if (!TryGetZSet(ctx, key, write: true, out var z)) return true;
            if (z == null || z.Count == 0) continue;
            long n = Math.Min(count == -1 ? 1 : count, z.Count);
            var w = ctx.Reply;
            if (multi)
            {
                w.WriteArrayHeader(2);
                w.WriteBulk(key);
                w.WriteArrayHeader(n);
            }
            else
            {
                w.WriteArrayHeader(n * 2 + 1);
                w.WriteBulk(key);
            }
            if (ctx.Server.Propagator != null)
            {
                var name = max ? ZPopMaxName : ZPopMinName;
                // [B]ZMPOP propagates the number actually popped (Redis 7.0 rewrites it as ZPOPMIN/ZPOPMAX key n).
                long propagated = multi ? n : count;
                ctx.PropagateAs(count == -1 ? [name, key.ToArray()] : [name, key.ToArray(), CommandContext.Bytes(propagated.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
            }
            PopAndWrite(ctx, key, z, n, max, nested: multi);
            return true;
        }
        return false;
    }

    private static void BlockOrTimeout(CommandContext ctx, int firstKey, int keyCount, long timeoutMs)
    {
        // Inside MULTI or a script a blocking pop on empty keys answers as if it timed out.
        if ((ctx.Client.Flags & (ClientFlags.Multi | ClientFlags.Lua)) != 0)
        {
            ctx.Reply.WriteNullArray();
            return;
        }
        if (ctx.RetryingBlocked)
        {
            timeoutMs = ctx.BlockRemainingMs;
        }
        var keys = new byte[keyCount][];
        for (int i = 0; i < keyCount; i++) keys[i] = ctx.ArgBytes(firstKey + i);
        ctx.Server.Block(ctx, keys, timeoutMs, static w => w.WriteNullArray());
    }

    private static void ZRandMember(CommandContext ctx)
    {
        if (ctx.ArgCount >= 3)
        {
            if (!ctx.TryGetLong(2, out long l)) return;
            if (l == long.MinValue)
            {
                ctx.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
                return;
            }
            bool withScores = false;
            if (ctx.ArgCount > 4 || (ctx.ArgCount == 4 && !ctx.ArgIs(3, "WITHSCORES")))
            {
                ctx.SyntaxError();
                return;
            }
            if (ctx.ArgCount == 4)
            {
                withScores = true;
                if (l < -long.MaxValue / 2 || l > long.MaxValue / 2)
                {
                    ctx.Error(Errors.ValueOutOfRange);
                    return;
                }
            }
            ZRandMemberWithCount(ctx, l, withScores);
            return;
        }
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        if (z == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        ctx.Reply.WriteBulk(z.At(Random.Shared.NextInt64(z.Count)).Member);
    }

    private static void ZRandMemberWithCount(CommandContext ctx, long l, bool withScores)
    {
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        var w = ctx.Reply;
        if (z == null || l == 0)
        {
            w.WriteEmptyArray();
            return;
        }
        long size = z.Count;
        if (l < 0)
        {
            // Negative count: that many picks, repetitions allowed.
            long n = -l;
            WriteRangeHeader(w, n, withScores);
            for (long i = 0; i < n; i++)
            {
                var (m, s) = z.At(Random.Shared.NextInt64(size));
                WriteRangeItem(w, m, s, withScores);
            }
            return;
        }
        if (l >= size)
        {
            // The whole set, in Redis's iteration order for this case: from the highest score down.
            WriteRangeHeader(w, size, withScores);
            var walk = z.Walk(size - 1, reverse: true);
            while (walk.MoveNext()) WriteRangeItem(w, walk.Member, walk.Score, withScores);
            return;
        }
        // Distinct random members: a partial Fisher-Yates shuffle of ranks.
        var ranks = new long[size];
        for (long i = 0; i < size; i++) ranks[i] = i;
        WriteRangeHeader(w, l, withScores);
        for (long i = 0; i < l; i++)
        {
            long j = i + Random.Shared.NextInt64(size - i);
            (ranks[i], ranks[j]) = (ranks[j], ranks[i]);
            var (m, s) = z.At(ranks[i]);
            WriteRangeItem(w, m, s, withScores);
        }
    }
}
