using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD (zunionInterDiffGenericCommand).
/// Inputs may be sorted sets or plain sets (every set member scores 1). Union and intersection
/// visit inputs from the smallest to the largest, as Redis does, so floating-point sums add up in
/// the same order; a weighted score that is NaN (inf * 0) counts as 0, and so does a NaN sum.
/// </summary>
public sealed partial class SortedSetCommands
{
    private enum SetOp { Union, Inter, Diff }

    private enum Aggregate { Sum, Min, Max }

    private void RegisterSetOps(CommandTable t)
    {
        const string Cx = "O(N)+O(M*log(M))";
        t.Add("zunion", -3, "readonly", 0, 0, 0, "@read @sortedset @slow", ctx => SetOperation(ctx, SetOp.Union, store: false, cardOnly: false), G, "Returns the union of multiple sorted sets.", "6.2.0", Cx, NumKeysFinder(1));
        t.Add("zinter", -3, "readonly", 0, 0, 0, "@read @sortedset @slow", ctx => SetOperation(ctx, SetOp.Inter, store: false, cardOnly: false), G, "Returns the intersect of multiple sorted sets.", "6.2.0", Cx, NumKeysFinder(1));
        t.Add("zdiff", -3, "readonly", 0, 0, 0, "@read @sortedset @slow", ctx => SetOperation(ctx, SetOp.Diff, store: false, cardOnly: false), G, "Returns the difference between multiple sorted sets.", "6.2.0", "O(L + (N-K)log(N))", NumKeysFinder(1));
        t.Add("zintercard", -3, "readonly", 0, 0, 0, "@read @sortedset @slow", ctx => SetOperation(ctx, SetOp.Inter, store: false, cardOnly: true), G, "Returns the number of members of the intersect of multiple sorted sets.", "7.0.0", "O(N*K)", NumKeysFinder(1));
        t.Add("zunionstore", -4, "write denyoom", 1, 1, 1, "@write @sortedset @slow", ctx => SetOperation(ctx, SetOp.Union, store: true, cardOnly: false), G, "Stores the union of multiple sorted sets in a key.", "2.0.0", Cx, NumKeysFinder(2, 1));
        t.Add("zinterstore", -4, "write denyoom", 1, 1, 1, "@write @sortedset @slow", ctx => SetOperation(ctx, SetOp.Inter, store: true, cardOnly: false), G, "Stores the intersect of multiple sorted sets in a key.", "2.0.0", Cx, NumKeysFinder(2, 1));
        t.Add("zdiffstore", -4, "write denyoom", 1, 1, 1, "@write @sortedset @slow", ctx => SetOperation(ctx, SetOp.Diff, store: true, cardOnly: false), G, "Stores the difference of multiple sorted sets in a key.", "6.2.0", "O(L + (N-K)log(N))", NumKeysFinder(2, 1));
    }

    /// <summary>One input: a sorted set, a plain set (as a member table with score 1), or a missing key (empty).</summary>
    private sealed class Source
    {
        public ZSetObject? ZSet;
        public ByteTable<double>? Set;
        public double Weight = 1;
        public RedisObject? Identity;

        public long Count => ZSet?.Count ?? Set?.Count ?? 0;

        public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
        {
            if (ZSet != null) return ZSet.TryGetScore(member, out score);
            if (Set != null) return Set.TryGetValue(member, out score);
            score = 0;
            return false;
        }

        public IEnumerable<(byte[] Member, double Score)> Items()
        {
            if (ZSet != null)
            {
                var walk = ZSet.Walk(0, reverse: false);
                while (walk.MoveNext()) yield return (walk.Member, walk.Score);
            }
            else if (Set != null)
            {
                foreach (var kv in Set) yield return (kv.Key, kv.Value);
            }
        }
    }

    private static void SetOperation(CommandContext ctx, SetOp op, bool store, bool cardOnly)
    {
        int numKeysIdx = store ? 2 : 1;
        if (!ctx.TryGetLong(numKeysIdx, out long setNum)) return;
        if (setNum < 1)
        {
            ctx.Error(Errors.ZAtLeastOneKey(ctx.Command.Name));
            return;
        }
        if (setNum > ctx.ArgCount - (numKeysIdx + 1))
        {
            ctx.SyntaxError();
            return;
        }
        var sources = new Source[setNum];
        int j = numKeysIdx + 1;
        for (int i = 0; i < setNum; i++, j++)
        {
            var o = store ? ctx.Db.LookupWrite(ctx.Arg(j)) : ctx.Db.LookupRead(ctx.Arg(j));
            var src = new Source { Identity = o };
            if (o is ZSetObject z) src.ZSet = z;
            else if (o is ISetMembers set)
            {
                src.Set = new ByteTable<double>(set.Count);
                foreach (var m in set.EnumerateMembers()) src.Set.Set(m, 1.0);
            }
            else if (o != null)
            {
                ctx.WrongType();
                return;
            }
            sources[i] = src;
        }
        var aggregate = Aggregate.Sum;
        bool withScores = false;
        long limit = 0;
        while (j < ctx.ArgCount)
        {
            int remaining = ctx.ArgCount - j;
            if (op != SetOp.Diff && !cardOnly && remaining >= setNum + 1 && ctx.ArgIs(j, "WEIGHTS"))
            {
                j++;
                for (int i = 0; i < setNum; i++, j++)
                    if (!TryGetScore(ctx, j, out sources[i].Weight, Errors.WeightNotFloat)) return;
            }
            else if (op != SetOp.Diff && !cardOnly && remaining >= 2 && ctx.ArgIs(j, "AGGREGATE"))
            {
                j++;
                if (ctx.ArgIs(j, "SUM")) aggregate = Aggregate.Sum;
                else if (ctx.ArgIs(j, "MIN")) aggregate = Aggregate.Min;
                else if (ctx.ArgIs(j, "MAX")) aggregate = Aggregate.Max;
                else
                {
                    ctx.SyntaxError();
                    return;
                }
                j++;
            }
            else if (!store && !cardOnly && ctx.ArgIs(j, "WITHSCORES"))
            {
                j++;
                withScores = true;
            }
            else if (cardOnly && remaining >= 2 && ctx.ArgIs(j, "LIMIT"))
            {
                j++;
                // getPositiveLongFromObjectOrReply with a message: a non-number gets the same error.
                if (!RequestParser.TryParseLong(ctx.Arg(j), out limit) || limit < 0)
                {
                    ctx.Error(Errors.LimitNegative);
                    return;
                }
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }

        if (op != SetOp.Diff) Array.Sort(sources, static (a, b) => a.Count.CompareTo(b.Count));
        if (cardOnly)
        {
            ctx.Reply.WriteInteger(InterCard(sources, limit));
            return;
        }
        var result = new ZSetObject(listpack: false);
        switch (op)
        {
            case SetOp.Union: Union(sources, aggregate, result); break;
            case SetOp.Inter: Inter(sources, aggregate, result); break;
            default: Diff(sources, result); break;
        }
        if (store) StoreSetOpResult(ctx, op, result);
        else
        {
            var w = ctx.Reply;
            WriteRangeHeader(w, result.Count, withScores);
            var walk = result.Walk(0, reverse: false);
            while (walk.MoveNext()) WriteRangeItem(w, walk.Member, walk.Score, withScores);
        }
    }

    private static void StoreSetOpResult(CommandContext ctx, SetOp op, ZSetObject result)
    {
        var dst = ctx.Arg(1);
        if (result.Count == 0)
        {
            ctx.Reply.WriteInteger(0);
            if (ctx.Db.Delete(dst)) ctx.KeyChanged(dst, 'g', "del");
            return;
        }
        result.ShrinkIfSmall();
        ctx.Db.Set(dst, result);
        ctx.KeyChanged(dst, 'z', op switch
        {
            SetOp.Union => "zunionstore",
            SetOp.Inter => "zinterstore",
            _ => "zdiffstore",
        });
        ctx.Reply.WriteInteger(result.Count);
    }

    private static double Weighted(double score, double weight)
    {
        double v = score * weight;
        return double.IsNaN(v) ? 0 : v;
    }

    private static double Combine(double target, double value, Aggregate aggregate)
    {
        switch (aggregate)
        {
            case Aggregate.Sum:
                double sum = target + value;
                return double.IsNaN(sum) ? 0 : sum;
            case Aggregate.Min:
                return value < target ? value : target;
            default:
                return value > target ? value : target;
        }
    }

    private static void Union(Source[] sources, Aggregate aggregate, ZSetObject result)
    {
        var acc = new ByteTable<double>();
        foreach (var src in sources)
        {
            foreach (var (member, score) in src.Items())
            {
                double v = Weighted(score, src.Weight);
                ref double slot = ref acc.GetOrAddRef(member, member, out bool existed);
                slot = existed ? Combine(slot, v, aggregate) : v;
            }
        }
        foreach (var kv in acc) result.Insert(kv.Key, kv.Value);
    }

    private static void Inter(Source[] sources, Aggregate aggregate, ZSetObject result)
    {
        if (sources[0].Count == 0) return;
        foreach (var (member, score0) in sources[0].Items())
        {
            double score = Weighted(score0, sources[0].Weight);
            bool all = true;
            for (int j = 1; j < sources.Length; j++)
            {
                double value;
                if (sources[j].Identity == sources[0].Identity) value = score0;
                else if (!sources[j].TryGetScore(member, out value))
                {
                    all = false;
                    break;
                }
                score = Combine(score, value * sources[j].Weight, aggregate);
            }
            if (all) result.Insert(member, score);
        }
    }

    private static long InterCard(Source[] sources, long limit)
    {
        if (sources[0].Count == 0) return 0;
        long count = 0;
        foreach (var (member, _) in sources[0].Items())
        {
            bool all = true;
            for (int j = 1; j < sources.Length && all; j++)
                all = sources[j].Identity == sources[0].Identity || sources[j].TryGetScore(member, out _);
            if (!all) continue;
            count++;
            if (limit > 0 && count >= limit) break;
        }
        return count;
    }

    private static void Diff(Source[] sources, ZSetObject result)
    {
        foreach (var (member, score) in sources[0].Items())
        {
            bool found = false;
            for (int j = 1; j < sources.Length && !found; j++) found = sources[j].TryGetScore(member, out _);
            if (!found) result.Insert(member, score);
        }
    }
}
