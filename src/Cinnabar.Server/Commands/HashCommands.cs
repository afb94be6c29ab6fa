using System.Globalization;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>Hash commands (Redis's t_hash.c). Handlers use <see cref="HashObject"/>'s API only.</summary>
public sealed class HashCommands : ICommandFamily
{
    private const string G = "hash";

    public void Register(CommandTable t)
    {
        t.Add("hset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", HSet, G, "Creates or modifies the value of a field in a hash.", "2.0.0", "O(1) for each field/value pair added");
        t.Add("hsetnx", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", HSetNx, G, "Sets the value of a field in a hash only when the field doesn't exist.", "2.0.0");
        t.Add("hmset", -4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", HMSet, G, "Sets the values of multiple fields.", "2.0.0", "O(N)");
        t.Add("hget", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", HGet, G, "Returns the value of a field in a hash.", "2.0.0");
        t.Add("hmget", -3, "readonly fast", 1, 1, 1, "@read @hash @fast", HMGet, G, "Returns the values of all fields in a hash.", "2.0.0", "O(N)");
        t.Add("hgetall", 2, "readonly", 1, 1, 1, "@read @hash @slow", HGetAll, G, "Returns all fields and values in a hash.", "2.0.0", "O(N)");
        t.Add("hkeys", 2, "readonly", 1, 1, 1, "@read @hash @slow", HKeys, G, "Returns all fields in a hash.", "2.0.0", "O(N)");
        t.Add("hvals", 2, "readonly", 1, 1, 1, "@read @hash @slow", HVals, G, "Returns all values in a hash.", "2.0.0", "O(N)");
        t.Add("hdel", -3, "write fast", 1, 1, 1, "@write @hash @fast", HDel, G, "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.", "2.0.0", "O(N)");
        t.Add("hlen", 2, "readonly fast", 1, 1, 1, "@read @hash @fast", HLen, G, "Returns the number of fields in a hash.", "2.0.0");
        t.Add("hstrlen", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", HStrLen, G, "Returns the length of the value of a field.", "3.2.0");
        t.Add("hexists", 3, "readonly fast", 1, 1, 1, "@read @hash @fast", HExists, G, "Determines whether a field exists in a hash.", "2.0.0");
        t.Add("hincrby", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", HIncrBy, G, "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.", "2.0.0");
        t.Add("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, "@write @hash @fast", HIncrByFloat, G, "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.", "2.6.0");
        t.Add("hrandfield", -2, "readonly", 1, 1, 1, "@read @hash @slow", HRandField, G, "Returns one or more random fields from a hash.", "6.2.0", "O(N)");
        t.Add("hscan", -3, "readonly", 1, 1, 1, "@read @hash @slow", HScan, G, "Iterates over fields and values of a hash.", "2.8.0", "O(N)");
    }

    /// <summary>Looks up a hash for reading; writes WRONGTYPE and returns false for other types.</summary>
    private static bool TryRead(CommandContext ctx, out HashObject? hash)
    {
        var o = ctx.Db.LookupRead(ctx.Arg(1));
        hash = o as HashObject;
        if (o != null && hash == null)
        {
            ctx.WrongType();
            return false;
        }
        return true;
    }

    /// <summary>Looks up a hash for writing, creating it when missing (Redis's hashTypeLookupWriteOrCreate).</summary>
    private static HashObject? GetOrCreate(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            var h = new HashObject();
            ctx.Db.Add(ctx.ArgBytes(1), h);
            return h;
        }
        if (o is HashObject hash) return hash;
        ctx.WrongType();
        return null;
    }

    private static int SetPairs(CommandContext ctx, HashObject h)
    {
        // Redis converts up front when any argument is longer than hash-max-listpack-value.
        for (int i = 2; i < ctx.ArgCount; i++) h.ConvertIfTooLong(ctx.Arg(i).Length);
        int created = 0;
        for (int i = 2; i < ctx.ArgCount; i += 2)
            if (h.Set(ctx.ArgBytes(i), ctx.ArgBytes(i + 1))) created++;
        return created;
    }

    private static void HSet(CommandContext ctx)
    {
        if (ctx.ArgCount % 2 != 0)
        {
            ctx.Error(Errors.WrongArity("hset"));
            return;
        }
        var h = GetOrCreate(ctx);
        if (h == null) return;
        int created = SetPairs(ctx, h);
        ctx.KeyChanged(ctx.Arg(1), 'h', "hset");
        ctx.Reply.WriteInteger(created);
    }

    private static void HMSet(CommandContext ctx)
    {
        if (ctx.ArgCount % 2 != 0)
        {
            ctx.Error(Errors.WrongArity("hmset"));
            return;
        }
        var h = GetOrCreate(ctx);
        if (h == null) return;
        SetPairs(ctx, h);
        ctx.KeyChanged(ctx.Arg(1), 'h', "hset");
        ctx.Reply.WriteOk();
    }

    private static void HSetNx(CommandContext ctx)
    {
        var h = GetOrCreate(ctx);
        if (h == null) return;
        if (h.Exists(ctx.Arg(2)))
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        h.ConvertIfTooLong(ctx.Arg(2).Length);
        h.ConvertIfTooLong(ctx.Arg(3).Length);
        h.Set(ctx.ArgBytes(2), ctx.ArgBytes(3));
        ctx.KeyChanged(ctx.Arg(1), 'h', "hset");
        ctx.Reply.WriteInteger(1);
    }

    private static void HGet(CommandContext ctx)
    {
        if (!TryRead(ctx, out var h)) return;
        ctx.Reply.WriteBulkOrNull(h?.Get(ctx.Arg(2)));
    }

    private static void HMGet(CommandContext ctx)
    {
        if (!TryRead(ctx, out var h)) return;
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++) ctx.Reply.WriteBulkOrNull(h?.Get(ctx.Arg(i)));
    }

    private static void HGetAll(CommandContext ctx) => WriteAll(ctx, fields: true, values: true);
    private static void HKeys(CommandContext ctx) => WriteAll(ctx, fields: true, values: false);
    private static void HVals(CommandContext ctx) => WriteAll(ctx, fields: false, values: true);

    private static void WriteAll(CommandContext ctx, bool fields, bool values)
    {
        if (!TryRead(ctx, out var h)) return;
        var w = ctx.Reply;
        if (h == null)
        {
            if (fields && values) w.WriteMapHeader(0);
            else w.WriteEmptyArray();
            return;
        }
        if (fields && values) w.WriteMapHeader(h.Count);
        else w.WriteArrayHeader(h.Count);
        for (int p = 0; p < h.PositionLimit; p++)
        {
            if (!h.TryGetAt(p, out var f, out var v)) continue;
            if (fields) w.WriteBulk(f);
            if (values) w.WriteBulk(v);
        }
    }

    private static void HDel(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (o is not HashObject h)
        {
            ctx.WrongType();
            return;
        }
        int deleted = 0;
        bool keyRemoved = false;
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (!h.Delete(ctx.Arg(i))) continue;
            deleted++;
            if (h.Count == 0)
            {
                ctx.Db.Delete(key);
                keyRemoved = true;
                break;
            }
        }
        if (deleted > 0)
        {
            ctx.KeyChanged(key, 'h', "hdel");
            if (keyRemoved) ctx.Notify('g', "del", key);
        }
        ctx.Reply.WriteInteger(deleted);
    }

    private static void HLen(CommandContext ctx)
    {
        if (!TryRead(ctx, out var h)) return;
        ctx.Reply.WriteInteger(h?.Count ?? 0);
    }

    private static void HStrLen(CommandContext ctx)
    {
        if (!TryRead(ctx, out var h)) return;
        ctx.Reply.WriteInteger(h?.Get(ctx.Arg(2))?.Length ?? 0);
    }

    private static void HExists(CommandContext ctx)
    {
        if (!TryRead(ctx, out var h)) return;
        ctx.Reply.WriteInteger(h != null && h.Exists(ctx.Arg(2)) ? 1 : 0);
    }

    private static void HIncrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(3, out long incr)) return;
        var h = GetOrCreate(ctx);
        if (h == null) return;
        long current = 0;
        var old = h.Get(ctx.Arg(2));
        if (old != null && !RequestParser.TryParseLong(old, out current))
        {
            ctx.Error(Errors.HashValueNotInteger);
            return;
        }
        if ((incr < 0 && current < 0 && incr < long.MinValue - current) ||
            (incr > 0 && current > 0 && incr > long.MaxValue - current))
        {
            ctx.Error(Errors.Overflow);
            return;
        }
        long result = current + incr;
        h.Set(ctx.ArgBytes(2), Encoding.ASCII.GetBytes(result.ToString(CultureInfo.InvariantCulture)));
        ctx.KeyChanged(ctx.Arg(1), 'h', "hincrby");
        ctx.Reply.WriteInteger(result);
    }

    private static void HIncrByFloat(CommandContext ctx)
    {
        if (!ctx.TryGetDouble(3, out double incr)) return;
        if (double.IsInfinity(incr))
        {
            ctx.Error(Errors.ValueNaNOrInfinity);
            return;
        }
        var h = GetOrCreate(ctx);
        if (h == null) return;
        double current = 0;
        var old = h.Get(ctx.Arg(2));
        if (old != null && !NumberFormat.TryParseDouble(old, out current))
        {
            ctx.Error(Errors.HashValueNotFloat);
            return;
        }
        double result = current + incr;
        if (double.IsNaN(result) || double.IsInfinity(result))
        {
            ctx.Error(Errors.IncrFloatNaN);
            return;
        }
        var text = Encoding.ASCII.GetBytes(NumberFormat.FormatHumanDouble(result));
        var field = ctx.ArgBytes(2);
        h.Set(field, text);
        ctx.KeyChanged(ctx.Arg(1), 'h', "hincrbyfloat");
        ctx.Reply.WriteBulk(text);
        // The float arithmetic is not replayed: replicas and the AOF get the resulting value.
        if (ctx.Server.Propagator != null) ctx.PropagateAs("HSET"u8.ToArray(), ctx.ArgBytes(1), field, text);
    }

    private static void HRandField(CommandContext ctx)
    {
        if (ctx.ArgCount == 2)
        {
            if (!TryRead(ctx, out var one)) return;
            if (one == null)
            {
                ctx.Reply.WriteNull();
                return;
            }
            one.TryGetAt(one.RandomPosition(ctx.Server.Random), out var f, out _);
            ctx.Reply.WriteBulk(f);
            return;
        }
        bool withValues = false;
        if (ctx.ArgCount == 4 && ctx.ArgIs(3, "WITHVALUES")) withValues = true;
        else if (ctx.ArgCount > 3)
        {
            ctx.SyntaxError();
            return;
        }
        if (!RandomCount.TryParse(ctx, 2, withValues, out long count)) return;
        if (!TryRead(ctx, out var h)) return;
        if (h == null || count == 0)
        {
            ctx.Reply.WriteEmptyArray();
            return;
        }
        var w = ctx.Reply;
        bool pairs = withValues && w.Protocol >= 3;
        var rnd = ctx.Server.Random;
        if (count < 0)
        {
            // Negative count: repetitions allowed, exactly -count picks.
            long n = -count;
            w.WriteArrayHeader(withValues && !pairs ? n * 2 : n);
            for (long k = 0; k < n; k++)
            {
                // A huge count stops once the output passed the client's limit (the client is closed).
                if ((k & 1023) == 1023 && ctx.Server.EnforceOutputLimit(ctx.Client)) return;
                h.TryGetAt(h.RandomPosition(rnd), out var f, out var v);
                WriteFieldValue(w, f, v, withValues, pairs);
            }
            return;
        }
        if (count >= h.Count)
        {
            // The whole hash, in its own order.
            w.WriteArrayHeader(withValues && !pairs ? h.Count * 2L : h.Count);
            for (int p = 0; p < h.PositionLimit; p++)
                if (h.TryGetAt(p, out var f, out var v)) WriteFieldValue(w, f, v, withValues, pairs);
            return;
        }
        var picked = RandomCount.PickDistinct(rnd, h.PositionLimit, (int)count, p => h.TryGetAt(p, out _, out _), h.Count);
        w.WriteArrayHeader(withValues && !pairs ? count * 2 : count);
        foreach (int p in picked)
        {
            h.TryGetAt(p, out var f, out var v);
            WriteFieldValue(w, f, v, withValues, pairs);
        }
    }

    private static void WriteFieldValue(RespWriter w, byte[] f, byte[] v, bool withValues, bool pairs)
    {
        if (pairs) w.WriteArrayHeader(2);
        w.WriteBulk(f);
        if (withValues) w.WriteBulk(v);
    }

    private static void HScan(CommandContext ctx)
    {
        if (!ScanSupport.TryParse(ctx, 2, allowType: false, out var options)) return;
        if (!TryRead(ctx, out var h)) return;
        var w = ctx.Reply;
        if (h == null)
        {
            ScanSupport.WriteCursor(w, 0);
            w.WriteEmptyArray();
            return;
        }
        var items = new List<byte[]>();
        ulong next = 0;
        if (h.Table == null)
        {
            // Listpack-encoded hashes are returned whole in one call, as Redis does.
            for (int p = 0; p < h.PositionLimit; p++)
            {
                h.TryGetAt(p, out var f, out var v);
                if (!ScanSupport.Matches(options, f)) continue;
                items.Add(f);
                items.Add(v);
            }
        }
        else
        {
            var table = h.Table;
            next = ScanSupport.Walk(table, options, i =>
            {
                var f = table.KeyAt(i);
                if (!ScanSupport.Matches(options, f)) return;
                items.Add(f);
                items.Add(table.ValueAt(i));
            });
        }
        ScanSupport.WriteCursor(w, next);
        w.WriteBulkArray(items);
    }
}

/// <summary>Count parsing and distinct sampling shared by HRANDFIELD, SRANDMEMBER and ZRANDMEMBER.</summary>
public static class RandomCount
{
    /// <summary>Parses the count as Redis does (range -LONG_MAX..LONG_MAX; with values, -LONG_MAX/2).</summary>
    public static bool TryParse(CommandContext ctx, int index, bool withValues, out long count)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(index), out count))
        {
            ctx.Error(Errors.NotInteger);
            return false;
        }
        if (count == long.MinValue)
        {
            ctx.Error("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
            return false;
        }
        if (withValues && count < -long.MaxValue / 2)
        {
            ctx.Error("ERR value is out of range");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Picks <paramref name="count"/> distinct used positions out of [0, limit) (count &lt; used).
    /// When the sample is large relative to the collection, it removes random positions from
    /// the full set instead, as Redis's "case 3" does.
    /// </summary>
    public static List<int> PickDistinct(Random rnd, int limit, int count, Func<int, bool> isUsed, int used)
    {
        var all = new List<int>(used);
        for (int p = 0; p < limit; p++) if (isUsed(p)) all.Add(p);
        // Partial Fisher-Yates shuffle over the used positions.
        for (int i = 0; i < count; i++)
        {
            int j = rnd.Next(i, all.Count);
            (all[i], all[j]) = (all[j], all[i]);
        }
        all.RemoveRange(count, all.Count - count);
        return all;
    }
}
