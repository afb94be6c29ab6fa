using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>ZRANGE and its legacy forms, ZRANGESTORE, ZREMRANGEBY* (zrangeGenericCommand, zremrangeGenericCommand).</summary>
public sealed partial class SortedSetCommands
{
    private enum RangeType { Auto, Rank, Score, Lex }

    private enum Direction { Auto, Forward, Reverse }

    private void RegisterRange(CommandTable t)
    {
        const string LogNM = "O(log(N)+M)";
        t.Add("zrange", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Auto, Direction.Auto), G, "Returns members in a sorted set within a range of indexes.", "1.2.0", LogNM);
        t.Add("zrangestore", -5, "write denyoom", 1, 2, 1, "@write @sortedset @slow", ctx => ZRangeGeneric(ctx, 2, true, RangeType.Auto, Direction.Auto), G, "Stores a range of members from sorted set in a key.", "6.2.0", LogNM);
        t.Add("zrevrange", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Rank, Direction.Reverse), G, "Returns members in a sorted set within a range of indexes in reverse order.", "1.2.0", LogNM);
        t.Add("zrangebyscore", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Score, Direction.Forward), G, "Returns members in a sorted set within a range of scores.", "1.0.5", LogNM);
        t.Add("zrevrangebyscore", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Score, Direction.Reverse), G, "Returns members in a sorted set within a range of scores in reverse order.", "2.2.0", LogNM);
        t.Add("zrangebylex", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Lex, Direction.Forward), G, "Returns members in a sorted set within a lexicographical range.", "2.8.9", LogNM);
        t.Add("zrevrangebylex", -4, "readonly", 1, 1, 1, "@read @sortedset @slow", ctx => ZRangeGeneric(ctx, 1, false, RangeType.Lex, Direction.Reverse), G, "Returns members in a sorted set within a lexicographical range in reverse order.", "2.8.9", LogNM);
        t.Add("zremrangebyrank", 4, "write", 1, 1, 1, "@write @sortedset @slow", ctx => ZRemRange(ctx, RangeType.Rank), G, "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.", "2.0.0", LogNM);
        t.Add("zremrangebyscore", 4, "write", 1, 1, 1, "@write @sortedset @slow", ctx => ZRemRange(ctx, RangeType.Score), G, "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.", "1.2.0", LogNM);
        t.Add("zremrangebylex", 4, "write", 1, 1, 1, "@write @sortedset @slow", ctx => ZRemRange(ctx, RangeType.Lex), G, "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.", "2.8.9", LogNM);
    }

    private static void ZRangeGeneric(CommandContext ctx, int argStart, bool store, RangeType type, Direction direction)
    {
        int minIdx = argStart + 1, maxIdx = argStart + 2;
        bool withScores = false;
        long offset = 0, limit = -1;
        for (int j = argStart + 3; j < ctx.ArgCount; j++)
        {
            int left = ctx.ArgCount - j - 1;
            if (!store && ctx.ArgIs(j, "WITHSCORES")) withScores = true;
            else if (ctx.ArgIs(j, "LIMIT") && left >= 2)
            {
                if (!ctx.TryGetLong(j + 1, out offset) || !ctx.TryGetLong(j + 2, out limit)) return;
                j += 2;
            }
            else if (direction == Direction.Auto && ctx.ArgIs(j, "REV")) direction = Direction.Reverse;
            else if (type == RangeType.Auto && ctx.ArgIs(j, "BYLEX")) type = RangeType.Lex;
            else if (type == RangeType.Auto && ctx.ArgIs(j, "BYSCORE")) type = RangeType.Score;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (direction == Direction.Auto) direction = Direction.Forward;
        if (type == RangeType.Auto) type = RangeType.Rank;
        if (limit != -1 && type == RangeType.Rank)
        {
            ctx.Error(Errors.ZLimitNeedsByScoreOrLex);
            return;
        }
        if (withScores && type == RangeType.Lex)
        {
            ctx.Error(Errors.ZWithScoresByLex);
            return;
        }
        bool reverse = direction == Direction.Reverse;
        // Score and lex ranges are given as max, min when reversed.
        if (reverse && type != RangeType.Rank) (minIdx, maxIdx) = (maxIdx, minIdx);

        long start = 0, end = 0;
        ScoreRange scoreRange = default;
        LexRange lexRange = default;
        switch (type)
        {
            case RangeType.Rank:
                if (!ctx.TryGetLong(minIdx, out start) || !ctx.TryGetLong(maxIdx, out end)) return;
                break;
            case RangeType.Score:
                if (!TryParseScoreRange(ctx.Arg(minIdx), ctx.Arg(maxIdx), out scoreRange))
                {
                    ctx.Error(Errors.ZMinMaxNotFloat);
                    return;
                }
                break;
            default:
                if (!TryParseLexRange(ctx.Arg(minIdx), ctx.Arg(maxIdx), out lexRange))
                {
                    ctx.Error(Errors.ZMinMaxNotLex);
                    return;
                }
                break;
        }

        if (!TryGetZSet(ctx, ctx.Arg(argStart), write: false, out var z)) return;
        // The selected ranks, ascending: [first, first + count).
        long first = 0, count = 0;
        if (z != null)
        {
            if (type == RangeType.Rank) SelectRankRange(z.Count, start, end, reverse, out first, out count);
            else
            {
                var (lo, hi) = type == RangeType.Score ? z.RankRange(scoreRange) : z.RankRange(lexRange);
                ApplyLimit(z.Count, lo, hi, offset, limit, reverse, out first, out count);
            }
        }
        if (store) StoreRange(ctx, z, first, count);
        else
        {
            var w = ctx.Reply;
            WriteRangeHeader(w, count, withScores);
            if (count == 0) return;
            var walk = z!.Walk(reverse ? first + count - 1 : first, reverse);
            for (long i = 0; i < count && walk.MoveNext(); i++) WriteRangeItem(w, walk.Member, walk.Score, withScores);
        }
    }

    /// <summary>Redis's rank sanitising: negative indexes from the end, clamped; reverse ranks count from the top.</summary>
    private static void SelectRankRange(long length, long start, long end, bool reverse, out long first, out long count)
    {
        first = count = 0;
        if (start < 0) start += length;
        if (end < 0) end += length;
        if (start < 0) start = 0;
        if (start > end || start >= length) return;
        if (end >= length) end = length - 1;
        count = end - start + 1;
        first = reverse ? length - 1 - end : start;
    }

    /// <summary>
    /// LIMIT offset count over the rank interval [lo, hi): the offset skips from the walk's start
    /// (the top when reversed); a negative offset selects nothing and a negative count means all, as in Redis.
    /// </summary>
    private static void ApplyLimit(long length, long lo, long hi, long offset, long limit, bool reverse, out long first, out long count)
    {
        first = lo;
        count = 0;
        if (offset < 0 || (offset > 0 && offset >= length)) return;
        long available = hi - lo - offset;
        if (available <= 0) return;
        count = limit < 0 ? available : Math.Min(limit, available);
        first = reverse ? hi - offset - count : lo + offset;
    }

    private static void StoreRange(CommandContext ctx, ZSetObject? source, long first, long count)
    {
        var dst = ctx.Arg(1);
        if (count == 0)
        {
            ctx.Reply.WriteInteger(0);
            if (ctx.Db.Delete(dst)) ctx.KeyChanged(dst, 'g', "del");
            return;
        }
        var result = new ZSetObject(listpack: EncodingLimits.ZsetMaxListpackEntries > 0);
        var walk = source!.Walk(first, reverse: false);
        for (long i = 0; i < count && walk.MoveNext(); i++) result.Insert(walk.Member, walk.Score);
        ctx.Db.Set(dst, result);
        ctx.KeyChanged(dst, 'z', "zrangestore");
        ctx.Reply.WriteInteger(count);
    }

    private static void ZRemRange(CommandContext ctx, RangeType type)
    {
        long start = 0, end = 0;
        ScoreRange scoreRange = default;
        LexRange lexRange = default;
        switch (type)
        {
            case RangeType.Rank:
                if (!ctx.TryGetLong(2, out start) || !ctx.TryGetLong(3, out end)) return;
                break;
            case RangeType.Score:
                if (!TryParseScoreRange(ctx.Arg(2), ctx.Arg(3), out scoreRange))
                {
                    ctx.Error(Errors.ZMinMaxNotFloat);
                    return;
                }
                break;
            default:
                if (!TryParseLexRange(ctx.Arg(2), ctx.Arg(3), out lexRange))
                {
                    ctx.Error(Errors.ZMinMaxNotLex);
                    return;
                }
                break;
        }
        var key = ctx.Arg(1);
        if (!TryGetZSet(ctx, key, write: true, out var z)) return;
        if (z == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long first, count;
        if (type == RangeType.Rank) SelectRankRange(z.Count, start, end, false, out first, out count);
        else
        {
            var (lo, hi) = type == RangeType.Score ? z.RankRange(scoreRange) : z.RankRange(lexRange);
            first = lo;
            count = hi - lo;
        }
        if (count > 0)
        {
            z.RemoveRange(first, first + count - 1);
            ctx.Server.Dirty += count - 1;
            ctx.KeyChanged(key, 'z', type switch
            {
                RangeType.Rank => "zremrangebyrank",
                RangeType.Score => "zremrangebyscore",
                _ => "zremrangebylex",
            });
            DeleteIfEmpty(ctx, key, z);
        }
        ctx.Reply.WriteInteger(count);
    }
}
