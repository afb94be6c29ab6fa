using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Sorted set commands (t_zset.c). Handlers parse and validate everything before touching the
/// keyspace (Redis's "all or nothing" for ZADD), then call the <see cref="ZSetObject"/> API.
/// Range commands turn every range (rank, score, lex) into a rank interval in O(log n) and walk
/// it, so the reply length is known up front. Files: this one (single-key reads and writes),
/// .Range (ZRANGE family, ZREMRANGEBY*), .Pop (pops, blocking pops, ZRANDMEMBER), .SetOps
/// (ZUNION/ZINTER/ZDIFF[STORE], ZINTERCARD), .Parsing (strtod-compatible scores and ranges).
/// </summary>
public sealed partial class SortedSetCommands : ICommandFamily
{
    private const string G = "sorted-set";
    private const string LogN = "O(log(N))";

    public void Register(CommandTable t)
    {
        t.Add("zadd", -4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast", ZAdd, G, "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.", "1.2.0", LogN);
        t.Add("zincrby", 4, "write denyoom fast", 1, 1, 1, "@write @sortedset @fast", ZIncrBy, G, "Increments the score of a member in a sorted set.", "1.2.0", LogN);
        t.Add("zrem", -3, "write fast", 1, 1, 1, "@write @sortedset @fast", ZRem, G, "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.", "1.2.0", "O(M*log(N))");
        t.Add("zcard", 2, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZCard, G, "Returns the number of members in a sorted set.", "1.2.0");
        t.Add("zscore", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZScore, G, "Returns the score of a member in a sorted set.", "1.2.0");
        t.Add("zmscore", -3, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZMScore, G, "Returns the score of one or more members in a sorted set.", "6.2.0", "O(N)");
        t.Add("zrank", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZRank, G, "Returns the index of a member in a sorted set ordered by ascending scores.", "2.0.0", LogN);
        t.Add("zrevrank", 3, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZRevRank, G, "Returns the index of a member in a sorted set ordered by descending scores.", "2.0.0", LogN);
        t.Add("zcount", 4, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZCount, G, "Returns the count of members in a sorted set that have scores within a range.", "2.0.0", LogN);
        t.Add("zlexcount", 4, "readonly fast", 1, 1, 1, "@read @sortedset @fast", ZLexCount, G, "Returns the number of members in a sorted set within a lexicographical range.", "2.8.9", LogN);
        t.Add("zscan", -3, "readonly", 1, 1, 1, "@read @sortedset @slow", ZScan, G, "Iterates over members and scores of a sorted set.", "2.8.0");
        RegisterRange(t);
        RegisterPop(t);
        RegisterSetOps(t);
    }

    /// <summary>Looks up a sorted set; writes WRONGTYPE and returns false on another type.</summary>
    internal static bool TryGetZSet(CommandContext ctx, ReadOnlySpan<byte> key, bool write, out ZSetObject? zset)
    {
        var o = write ? ctx.Db.LookupWrite(key) : ctx.Db.LookupRead(key);
        zset = o as ZSetObject;
        if (o == null || zset != null) return true;
        ctx.WrongType();
        return false;
    }

    /// <summary>Deletes the key when the sorted set became empty, notifying "del" as Redis does.</summary>
    internal static void DeleteIfEmpty(CommandContext ctx, ReadOnlySpan<byte> key, ZSetObject z)
    {
        if (z.Count != 0) return;
        ctx.Db.Delete(key);
        ctx.Notify('g', "del", key);
    }

    [Flags]
    private enum ZAddFlags { None = 0, NX = 1, XX = 2, GT = 4, LT = 8, CH = 16, Incr = 32 }

    private static void ZAdd(CommandContext ctx) => ZAddGeneric(ctx, ZAddFlags.None);

    private static void ZIncrBy(CommandContext ctx) => ZAddGeneric(ctx, ZAddFlags.Incr);

    private static void ZAddGeneric(CommandContext ctx, ZAddFlags flags)
    {
        int scoreIdx = 2;
        while (scoreIdx < ctx.ArgCount)
        {
            if (ctx.ArgIs(scoreIdx, "NX")) flags |= ZAddFlags.NX;
            else if (ctx.ArgIs(scoreIdx, "XX")) flags |= ZAddFlags.XX;
            else if (ctx.ArgIs(scoreIdx, "GT")) flags |= ZAddFlags.GT;
            else if (ctx.ArgIs(scoreIdx, "LT")) flags |= ZAddFlags.LT;
            else if (ctx.ArgIs(scoreIdx, "CH")) flags |= ZAddFlags.CH;
            else if (ctx.ArgIs(scoreIdx, "INCR")) flags |= ZAddFlags.Incr;
            else break;
            scoreIdx++;
        }
        int elements = ctx.ArgCount - scoreIdx;
        if (elements == 0 || elements % 2 != 0)
        {
            ctx.SyntaxError();
            return;
        }
        elements /= 2;
        bool nx = (flags & ZAddFlags.NX) != 0, xx = (flags & ZAddFlags.XX) != 0;
        bool gt = (flags & ZAddFlags.GT) != 0, lt = (flags & ZAddFlags.LT) != 0;
        bool incr = (flags & ZAddFlags.Incr) != 0;
        if (nx && xx)
        {
            ctx.Error(Errors.ZAddXxNx);
            return;
        }
        if ((gt && nx) || (lt && nx) || (gt && lt))
        {
            ctx.Error(Errors.ZAddGtLtNx);
            return;
        }
        if (incr && elements > 1)
        {
            ctx.Error(Errors.ZAddIncrPair);
            return;
        }
        // Parse every score before changing anything: the command applies fully or not at all.
        Span<double> scores = elements <= 64 ? stackalloc double[elements] : new double[elements];
        for (int j = 0; j < elements; j++)
            if (!TryGetScore(ctx, scoreIdx + j * 2, out scores[j], Errors.NotFloat)) return;

        var key = ctx.Arg(1);
        if (!TryGetZSet(ctx, key, write: true, out var z)) return;
        long added = 0, updated = 0, processed = 0;
        double lastScore = 0;
        if (z == null)
        {
            if (xx)
            {
                WriteZAddReply(ctx, incr, processed, lastScore, 0);
                return;
            }
            z = ZSetObject.CreateFor(ctx.Arg(scoreIdx + 1).Length);
            ctx.Db.Add(ctx.ArgBytes(1), z);
        }
        for (int j = 0; j < elements; j++)
        {
            var member = ctx.Arg(scoreIdx + 1 + j * 2);
            double score = scores[j];
            if (z.TryGetScore(member, out double current))
            {
                if (nx) continue;
                if (incr)
                {
                    score += current;
                    if (double.IsNaN(score))
                    {
                        ctx.Error(Errors.ZScoreNaN);
                        FinishZAdd(ctx, z, added, updated, incr);
                        return;
                    }
                }
                if ((gt && score <= current) || (lt && score >= current)) continue;
                processed++;
                lastScore = score;
                if (score != current)
                {
                    z.UpdateScore(member, current, score);
                    updated++;
                }
            }
            else
            {
                if (xx) continue;
                z.Insert(member, score);
                added++;
                processed++;
                lastScore = score;
            }
        }
        FinishZAdd(ctx, z, added, updated, incr);
        WriteZAddReply(ctx, incr, processed, lastScore, (flags & ZAddFlags.CH) != 0 ? added + updated : added);
    }

    private static void FinishZAdd(CommandContext ctx, ZSetObject z, long added, long updated, bool incr)
    {
        var key = ctx.Arg(1);
        if (added + updated > 0)
        {
            ctx.Server.Dirty += added + updated - 1;
            ctx.KeyChanged(key, 'z', incr ? "zincr" : "zadd");
        }
        else if (z.Count == 0) ctx.Db.Delete(key);
    }

    private static void WriteZAddReply(CommandContext ctx, bool incr, long processed, double score, long count)
    {
        if (!incr) ctx.Reply.WriteInteger(count);
        else if (processed > 0) ctx.Reply.WriteDouble(score);
        else ctx.Reply.WriteNull();
    }

    private static void ZRem(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetZSet(ctx, key, write: true, out var z)) return;
        if (z == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long deleted = 0;
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (z.Remove(ctx.Arg(i))) deleted++;
            if (z.Count == 0) break;
        }
        if (deleted > 0)
        {
            ctx.Server.Dirty += deleted - 1;
            ctx.KeyChanged(key, 'z', "zrem");
            DeleteIfEmpty(ctx, key, z);
        }
        ctx.Reply.WriteInteger(deleted);
    }

    private static void ZCard(CommandContext ctx)
    {
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        ctx.Reply.WriteInteger(z?.Count ?? 0);
    }

    private static void ZScore(CommandContext ctx)
    {
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        if (z != null && z.TryGetScore(ctx.Arg(2), out double score)) ctx.Reply.WriteDouble(score);
        else ctx.Reply.WriteNull();
    }

    private static void ZMScore(CommandContext ctx)
    {
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (z != null && z.TryGetScore(ctx.Arg(i), out double score)) ctx.Reply.WriteDouble(score);
            else ctx.Reply.WriteNull();
        }
    }

    private static void ZRank(CommandContext ctx) => ZRankGeneric(ctx, reverse: false);

    private static void ZRevRank(CommandContext ctx) => ZRankGeneric(ctx, reverse: true);

    private static void ZRankGeneric(CommandContext ctx, bool reverse)
    {
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        long rank = z?.Rank(ctx.Arg(2)) ?? -1;
        if (rank < 0) ctx.Reply.WriteNull();
        else ctx.Reply.WriteInteger(reverse ? z!.Count - 1 - rank : rank);
    }

    private static void ZCount(CommandContext ctx)
    {
        if (!TryParseScoreRange(ctx.Arg(2), ctx.Arg(3), out var range))
        {
            ctx.Error(Errors.ZMinMaxNotFloat);
            return;
        }
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        WriteRangeCount(ctx, z == null ? (0, 0) : z.RankRange(range));
    }

    private static void ZLexCount(CommandContext ctx)
    {
        if (!TryParseLexRange(ctx.Arg(2), ctx.Arg(3), out var range))
        {
            ctx.Error(Errors.ZMinMaxNotLex);
            return;
        }
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        WriteRangeCount(ctx, z == null ? (0, 0) : z.RankRange(range));
    }

    /// <summary>ZCOUNT/ZLEXCOUNT reply: the number of ranks in [start, end).</summary>
    private static void WriteRangeCount(CommandContext ctx, (long Start, long End) ranks) =>
        ctx.Reply.WriteInteger(ranks.End - ranks.Start);

    private static void ZScan(CommandContext ctx)
    {
        if (!ScanSupport.TryParse(ctx, 2, allowType: false, out var options)) return;
        if (!TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        var w = ctx.Reply;
        if (z == null)
        {
            ScanSupport.WriteCursor(w, 0);
            w.WriteArrayHeader(0);
            return;
        }
        var items = new List<(byte[] Member, double Score)>();
        ulong next = 0;
        if (z.Dict is { } dict)
        {
            // skiplist: walk the member table with stable entry-index cursors.
            next = ScanSupport.Walk(dict, options, i =>
            {
                var m = dict.KeyAt(i);
                if (ScanSupport.Matches(options, m)) items.Add((m, dict.ValueAt(i)));
            });
        }
        else
        {
            // listpack: Redis returns the whole (small) set in one call with cursor 0.
            var walk = z.Walk(0, reverse: false);
            while (walk.MoveNext())
                if (ScanSupport.Matches(options, walk.Member)) items.Add((walk.Member, walk.Score));
        }
        ScanSupport.WriteCursor(w, next);
        w.WriteArrayHeader(items.Count * 2);
        bool listpack = z.IsListpack;
        foreach (var (member, score) in items)
        {
            w.WriteBulk(member);
            w.WriteBulk(listpack ? FormatListpackScore(score) : NumberFormat.FormatDouble(score));
        }
    }

    // ---------------------------------------------------------------- reply helpers

    /// <summary>
    /// Header of a member list: with scores RESP2 is flat [m, s, m, s], RESP3 nests [[m, s], ...]
    /// (Redis 7.0's ZRANGE/ZRANDMEMBER/ZUNION WITHSCORES shape).
    /// </summary>
    internal static void WriteRangeHeader(RespWriter w, long count, bool withScores) =>
        w.WriteArrayHeader(withScores && w.Protocol < 3 ? count * 2 : count);

    internal static void WriteRangeItem(RespWriter w, byte[] member, double score, bool withScores)
    {
        if (withScores && w.Protocol >= 3) w.WriteArrayHeader(2);
        w.WriteBulk(member);
        if (withScores) w.WriteDouble(score);
    }
}
