using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Set commands (Redis's t_set.c). Result sets of SUNION/SDIFF/SINTERSTORE start intset-encoded
/// as in Redis 7.0, so small integer results come back sorted exactly like Redis's replies.
/// </summary>
public sealed class SetCommands : ICommandFamily
{
    private const string G = "set";
    private const int SremBatch = 1024;

    public void Register(CommandTable t)
    {
        t.Add("sadd", -3, "write denyoom fast", 1, 1, 1, "@write @set @fast", SAdd, G, "Adds one or more members to a set. Creates the key if it doesn't exist.", "1.0.0", "O(N)");
        t.Add("srem", -3, "write fast", 1, 1, 1, "@write @set @fast", SRem, G, "Removes one or more members from a set. Deletes the set if the last member was removed.", "1.0.0", "O(N)");
        t.Add("scard", 2, "readonly fast", 1, 1, 1, "@read @set @fast", SCard, G, "Returns the number of members in a set.");
        t.Add("sismember", 3, "readonly fast", 1, 1, 1, "@read @set @fast", SIsMember, G, "Determines whether a member belongs to a set.");
        t.Add("smismember", -3, "readonly fast", 1, 1, 1, "@read @set @fast", SMIsMember, G, "Determines whether multiple members belong to a set.", "6.2.0", "O(N)");
        t.Add("smembers", 2, "readonly", 1, 1, 1, "@read @set @slow", SMembers, G, "Returns all members of a set.", "1.0.0", "O(N)");
        t.Add("srandmember", -2, "readonly", 1, 1, 1, "@read @set @slow", SRandMember, G, "Get one or multiple random members from a set", "1.0.0", "O(N)");
        t.Add("spop", -2, "write fast", 1, 1, 1, "@write @set @fast", SPop, G, "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.", "1.0.0", "O(N)");
        t.Add("smove", 4, "write fast", 1, 2, 1, "@write @set @fast", SMove, G, "Moves a member from one set to another.");
        t.Add("sinter", -2, "readonly", 1, -1, 1, "@read @set @slow", SInter, G, "Returns the intersect of multiple sets.", "1.0.0", "O(N*M)");
        t.Add("sintercard", -3, "readonly", 0, 0, 0, "@read @set @slow", SInterCard, G, "Returns the number of members of the intersect of multiple sets.", "7.0.0", "O(N*M)", keys: NumKeysFinder);
        t.Add("sunion", -2, "readonly", 1, -1, 1, "@read @set @slow", SUnion, G, "Returns the union of multiple sets.", "1.0.0", "O(N)");
        t.Add("sdiff", -2, "readonly", 1, -1, 1, "@read @set @slow", SDiff, G, "Returns the difference of multiple sets.", "1.0.0", "O(N)");
        t.Add("sinterstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow", SInterStore, G, "Stores the intersect of multiple sets in a key.", "1.0.0", "O(N*M)");
        t.Add("sunionstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow", SUnionStore, G, "Stores the union of multiple sets in a key.", "1.0.0", "O(N)");
        t.Add("sdiffstore", -3, "write denyoom", 1, -1, 1, "@write @set @slow", SDiffStore, G, "Stores the difference of multiple sets in a key.", "1.0.0", "O(N)");
        t.Add("sscan", -3, "readonly", 1, 1, 1, "@read @set @slow", SScan, G, "Iterates over members of a set.", "2.8.0", "O(N)");
    }

    /// <summary>Keys of "cmd numkeys key [key ...] ..." commands.</summary>
    private static int[] NumKeysFinder(CommandArgs args)
    {
        if (args.Count < 2 || !RequestParser.TryParseLong(args[1], out long n) || n <= 0 || n > args.Count - 2) return [];
        var r = new int[n];
        for (int i = 0; i < n; i++) r[i] = 2 + i;
        return r;
    }

    private static bool TryRead(CommandContext ctx, ReadOnlySpan<byte> key, out SetObject? set)
    {
        var o = ctx.Db.LookupRead(key);
        set = o as SetObject;
        if (o != null && set == null)
        {
            ctx.WrongType();
            return false;
        }
        return true;
    }

    private static void DeleteIfEmpty(CommandContext ctx, SetObject set, ReadOnlySpan<byte> key)
    {
        if (set.Count > 0) return;
        ctx.Db.Delete(key);
        ctx.Notify('g', "del", key);
    }

    private static void SAdd(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.Db.LookupWrite(key);
        SetObject set;
        if (o == null)
        {
            set = SetObject.CreateFor(ctx.Arg(2));
            ctx.Db.Add(ctx.ArgBytes(1), set);
        }
        else if (o is SetObject s) set = s;
        else
        {
            ctx.WrongType();
            return;
        }
        int added = 0;
        for (int i = 2; i < ctx.ArgCount; i++)
            if (set.Add(ctx.Arg(i))) added++;
        if (added > 0) ctx.KeyChanged(key, 's', "sadd");
        ctx.Reply.WriteInteger(added);
    }

    private static void SRem(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (o is not SetObject set)
        {
            ctx.WrongType();
            return;
        }
        int removed = 0;
        for (int i = 2; i < ctx.ArgCount && set.Count > 0; i++)
            if (set.Remove(ctx.Arg(i))) removed++;
        if (removed > 0)
        {
            ctx.KeyChanged(key, 's', "srem");
            DeleteIfEmpty(ctx, set, key);
        }
        ctx.Reply.WriteInteger(removed);
    }

    private static void SCard(CommandContext ctx)
    {
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        ctx.Reply.WriteInteger(set?.Count ?? 0);
    }

    private static void SIsMember(CommandContext ctx)
    {
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        ctx.Reply.WriteInteger(set != null && set.Contains(ctx.Arg(2)) ? 1 : 0);
    }

    private static void SMIsMember(CommandContext ctx)
    {
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++) ctx.Reply.WriteInteger(set != null && set.Contains(ctx.Arg(i)) ? 1 : 0);
    }

    private static void SMembers(CommandContext ctx)
    {
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        WriteSet(ctx.Reply, set);
    }

    private static void WriteSet(RespWriter w, SetObject? set)
    {
        if (set == null)
        {
            w.WriteSetHeader(0);
            return;
        }
        w.WriteSetHeader(set.Count);
        for (int p = 0; p < set.PositionLimit; p++)
            if (set.TryGetAt(p, out var m)) w.WriteBulk(m);
    }

    private static void SRandMember(CommandContext ctx)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.SyntaxError();
            return;
        }
        var rnd = ctx.Server.Random;
        if (ctx.ArgCount == 2)
        {
            if (!TryRead(ctx, ctx.Arg(1), out var one)) return;
            if (one == null) ctx.Reply.WriteNull();
            else
            {
                one.TryGetAt(one.RandomPosition(rnd), out var m);
                ctx.Reply.WriteBulk(m);
            }
            return;
        }
        if (!RandomCount.TryParse(ctx, 2, withValues: false, out long count)) return;
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        var w = ctx.Reply;
        if (set == null || count == 0)
        {
            w.WriteEmptyArray();
            return;
        }
        if (count < 0)
        {
            w.WriteArrayHeader(-count);
            for (long k = 0; k < -count; k++)
            {
                set.TryGetAt(set.RandomPosition(rnd), out var m);
                w.WriteBulk(m);
            }
            return;
        }
        if (count >= set.Count)
        {
            w.WriteArrayHeader(set.Count);
            for (int p = 0; p < set.PositionLimit; p++)
                if (set.TryGetAt(p, out var m)) w.WriteBulk(m);
            return;
        }
        var picked = RandomCount.PickDistinct(rnd, set.PositionLimit, (int)count, set.IsUsedAt, set.Count);
        w.WriteArrayHeader(picked.Count);
        foreach (int p in picked)
        {
            set.TryGetAt(p, out var m);
            w.WriteBulk(m);
        }
    }

    private static void SPop(CommandContext ctx)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.SyntaxError();
            return;
        }
        var key = ctx.Arg(1);
        if (ctx.ArgCount == 3)
        {
            SPopCount(ctx, key);
            return;
        }
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        if (o is not SetObject set)
        {
            ctx.WrongType();
            return;
        }
        set.TryGetAt(set.RandomPosition(ctx.Server.Random), out var member);
        set.Remove(member);
        ctx.KeyChanged(key, 's', "spop");
        // SPOP is random: replicas and the AOF get the member that was actually removed.
        if (ctx.Server.Propagator != null) ctx.PropagateAs("SREM"u8.ToArray(), ctx.ArgBytes(1), member);
        DeleteIfEmpty(ctx, set, key);
        ctx.Reply.WriteBulk(member);
    }

    private static void SPopCount(CommandContext ctx, ReadOnlySpan<byte> key)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long count) || count < 0)
        {
            ctx.Error(Errors.ValueOutOfRangePositive);
            return;
        }
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            ctx.Reply.WriteSetHeader(0);
            return;
        }
        if (o is not SetObject set)
        {
            ctx.WrongType();
            return;
        }
        if (count == 0)
        {
            ctx.Reply.WriteSetHeader(0);
            return;
        }
        var w = ctx.Reply;
        if (count >= set.Count)
        {
            // The whole set goes: reply with it in its order, delete the key, propagate a DEL.
            WriteSet(w, set);
            ctx.Db.Delete(key);
            ctx.KeyChanged(key, 's', "spop");
            ctx.Notify('g', "del", key);
            if (ctx.Server.Propagator != null) ctx.PropagateAs("DEL"u8.ToArray(), ctx.ArgBytes(1));
            return;
        }
        var picked = RandomCount.PickDistinct(ctx.Server.Random, set.PositionLimit, (int)count, set.IsUsedAt, set.Count);
        var members = new byte[picked.Count][];
        for (int i = 0; i < picked.Count; i++) set.TryGetAt(picked[i], out members[i]);
        w.WriteSetHeader(members.Length);
        foreach (var m in members)
        {
            set.Remove(m);
            w.WriteBulk(m);
        }
        ctx.KeyChanged(key, 's', "spop");
        if (ctx.Server.Propagator != null) PropagateSrem(ctx, members);
    }

    private static void PropagateSrem(CommandContext ctx, byte[][] members)
    {
        for (int start = 0; start < members.Length; start += SremBatch)
        {
            int n = Math.Min(SremBatch, members.Length - start);
            var argv = new byte[n + 2][];
            argv[0] = "SREM"u8.ToArray();
            argv[1] = ctx.ArgBytes(1);
            Array.Copy(members, start, argv, 2, n);
            ctx.PropagateAs(argv);
        }
    }

    private static void SMove(CommandContext ctx)
    {
        var srcKey = ctx.Arg(1);
        var dstKey = ctx.Arg(2);
        var member = ctx.Arg(3);
        var srcObj = ctx.Db.LookupWrite(srcKey);
        var dstObj = ctx.Db.LookupWrite(dstKey);
        if (srcObj == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (srcObj is not SetObject src || (dstObj != null && dstObj is not SetObject))
        {
            ctx.WrongType();
            return;
        }
        if (srcKey.SequenceEqual(dstKey))
        {
            ctx.Reply.WriteInteger(src.Contains(member) ? 1 : 0);
            return;
        }
        if (!src.Remove(member))
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        ctx.KeyChanged(srcKey, 's', "srem");
        DeleteIfEmpty(ctx, src, srcKey);
        var dst = dstObj as SetObject;
        if (dst == null)
        {
            dst = SetObject.CreateFor(member);
            ctx.Db.Add(ctx.ArgBytes(2), dst);
        }
        // Redis touches the destination (WATCH, sadd event) only when the member was added to it.
        if (dst.Add(member)) ctx.KeyChanged(dstKey, 's', "sadd");
        ctx.Reply.WriteInteger(1);
    }

    // ---------------------------------------------------------------- algebra

    /// <summary>Looks up every key as a set (missing = null); false after WRONGTYPE on any of them.</summary>
    private static bool TryLoadSets(CommandContext ctx, int first, int count, out SetObject?[] sets)
    {
        sets = new SetObject?[count];
        for (int i = 0; i < count; i++)
        {
            if (!TryRead(ctx, ctx.Arg(first + i), out var s)) return false;
            sets[i] = s;
        }
        return true;
    }

    /// <summary>
    /// Intersection in the order of the smallest set (sets sorted by size, stably, as Redis
    /// does), stopping after <paramref name="limit"/> members when it is positive.
    /// </summary>
    private static List<byte[]> Intersect(SetObject?[] sets, long limit)
    {
        var result = new List<byte[]>();
        foreach (var s in sets)
            if (s == null) return result;
        var ordered = new SetObject[sets.Length];
        for (int i = 0; i < sets.Length; i++) ordered[i] = sets[i]!;
        var sorted = ordered.Select((s, i) => (s, i)).OrderBy(x => x.s.Count).ThenBy(x => x.i).Select(x => x.s).ToArray();
        var smallest = sorted[0];
        for (int p = 0; p < smallest.PositionLimit; p++)
        {
            if (!smallest.TryGetAt(p, out var m)) continue;
            bool inAll = true;
            for (int j = 1; j < sorted.Length && inAll; j++)
                if (sorted[j] != smallest && !sorted[j].Contains(m)) inAll = false;
            if (!inAll) continue;
            result.Add(m);
            if (limit > 0 && result.Count >= limit) break;
        }
        return result;
    }

    private static SetObject Union(SetObject?[] sets)
    {
        var r = SetObject.CreateIntset();
        foreach (var s in sets)
        {
            if (s == null) continue;
            for (int p = 0; p < s.PositionLimit; p++)
                if (s.TryGetAt(p, out var m)) r.Add(m);
        }
        return r;
    }

    private static SetObject Difference(SetObject?[] sets)
    {
        var r = SetObject.CreateIntset();
        var first = sets[0];
        if (first == null) return r;
        for (int p = 0; p < first.PositionLimit; p++)
        {
            if (!first.TryGetAt(p, out var m)) continue;
            bool elsewhere = false;
            for (int j = 1; j < sets.Length && !elsewhere; j++)
                if (sets[j] != null && (sets[j] == first || sets[j]!.Contains(m))) elsewhere = true;
            if (!elsewhere) r.Add(m);
        }
        return r;
    }

    private static void SInter(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 1, ctx.ArgCount - 1, out var sets)) return;
        var members = Intersect(sets, 0);
        ctx.Reply.WriteSetHeader(members.Count);
        foreach (var m in members) ctx.Reply.WriteBulk(m);
    }

    private static void SInterCard(CommandContext ctx)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(1), out long numKeys) || numKeys <= 0)
        {
            ctx.Error("ERR numkeys should be greater than 0");
            return;
        }
        if (numKeys > ctx.ArgCount - 2)
        {
            ctx.Error("ERR Number of keys can't be greater than number of args");
            return;
        }
        long limit = 0;
        for (int i = 2 + (int)numKeys; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "LIMIT") && i + 1 < ctx.ArgCount)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(i + 1), out limit) || limit < 0)
                {
                    ctx.Error("ERR LIMIT can't be negative");
                    return;
                }
                i++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (!TryLoadSets(ctx, 2, (int)numKeys, out var sets)) return;
        ctx.Reply.WriteInteger(Intersect(sets, limit).Count);
    }

    private static void SUnion(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 1, ctx.ArgCount - 1, out var sets)) return;
        WriteSet(ctx.Reply, Union(sets));
    }

    private static void SDiff(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 1, ctx.ArgCount - 1, out var sets)) return;
        WriteSet(ctx.Reply, Difference(sets));
    }

    private static void SInterStore(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 2, ctx.ArgCount - 2, out var sets)) return;
        var r = SetObject.CreateIntset();
        foreach (var m in Intersect(sets, 0)) r.Add(m);
        Store(ctx, r, "sinterstore");
    }

    private static void SUnionStore(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 2, ctx.ArgCount - 2, out var sets)) return;
        Store(ctx, Union(sets), "sunionstore");
    }

    private static void SDiffStore(CommandContext ctx)
    {
        if (!TryLoadSets(ctx, 2, ctx.ArgCount - 2, out var sets)) return;
        Store(ctx, Difference(sets), "sdiffstore");
    }

    /// <summary>Stores a result set at argv[1] (overwriting any type, clearing its TTL); an empty result deletes the key.</summary>
    private static void Store(CommandContext ctx, SetObject result, string @event)
    {
        var dst = ctx.Arg(1);
        if (result.Count == 0)
        {
            if (ctx.Db.Delete(dst))
            {
                ctx.KeyChanged(dst, 'g', "del");
            }
            ctx.Reply.WriteInteger(0);
            return;
        }
        ctx.Db.Set(dst, result);
        ctx.KeyChanged(dst, 's', @event);
        ctx.Reply.WriteInteger(result.Count);
    }

    private static void SScan(CommandContext ctx)
    {
        if (!ScanSupport.TryParse(ctx, 2, allowType: false, out var options)) return;
        if (!TryRead(ctx, ctx.Arg(1), out var set)) return;
        var w = ctx.Reply;
        var items = new List<byte[]>();
        ulong next = 0;
        if (set != null && set.Table == null)
        {
            // Intsets are returned whole in one call, as Redis does for small encodings.
            for (int p = 0; p < set.PositionLimit; p++)
                if (set.TryGetAt(p, out var m) && ScanSupport.Matches(options, m)) items.Add(m);
        }
        else if (set != null)
        {
            var table = set.Table!;
            next = ScanSupport.Walk(table, options, i =>
            {
                var m = table.KeyAt(i);
                if (ScanSupport.Matches(options, m)) items.Add(m);
            });
        }
        ScanSupport.WriteCursor(w, next);
        w.WriteBulkArray(items);
    }
}
