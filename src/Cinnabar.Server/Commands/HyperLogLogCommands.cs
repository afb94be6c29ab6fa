using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// HyperLogLog commands (hyperloglog.c). Values are ordinary strings in Redis's byte format
/// (Storage.HyperLogLog); a write works on the string's bytes in place when the value is already
/// raw-encoded and keeps its length, otherwise it stores a new raw string (dbUnshareStringValue).
/// </summary>
public sealed class HyperLogLogCommands : ICommandFamily
{
    private const string G = "hyperloglog";

    public void Register(CommandTable t)
    {
        t.Add("pfadd", -2, "write denyoom fast", 1, 1, 1, "@write @hyperloglog @fast", PfAdd, G, "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.", "2.8.9", "O(1) to add every element.");
        t.Add("pfcount", -2, "readonly may_replicate", 1, -1, 1, "@read @hyperloglog @slow", PfCount, G, "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).", "2.8.9", "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.");
        t.Add("pfmerge", -2, "write denyoom", 1, -1, 1, "@write @hyperloglog @slow", PfMerge, G, "Merges one or more HyperLogLog values into a single key.", "2.8.9", "O(N) to merge N HyperLogLogs, but with high constant times.");
        t.Add("pfdebug", 3, "write denyoom admin", 2, 2, 1, "@write @hyperloglog @admin @slow @dangerous", PfDebug, G, "Internal commands for debugging HyperLogLog values.", "2.8.9", "N/A");
        t.Add("pfselftest", 1, "admin", 0, 0, 0, "@hyperloglog @admin @slow @dangerous", PfSelfTest, G, "An internal command for testing HyperLogLog values.", "2.8.9", "N/A");
    }

    /// <summary>A writable view of an HLL value's bytes.</summary>
    private struct Work
    {
        public StringObject Original;
        public byte[] Buf;
        public int Len;

        public static Work Of(StringObject s)
        {
            // Raw values are modified in place; others get their own copy (unshare -> raw).
            byte[] bytes = s.Encoding == "raw" && s.RawBytes != null ? s.RawBytes : (byte[])s.GetBytes().Clone();
            return new Work { Original = s, Buf = bytes, Len = bytes.Length };
        }

        public readonly Span<byte> Span => Buf.AsSpan(0, Len);

        /// <summary>Stores the result unless the original raw array was edited in place.</summary>
        public readonly void Commit(CommandContext ctx, ReadOnlySpan<byte> key)
        {
            if (ReferenceEquals(Buf, Original.RawBytes) && Len == Buf.Length && Original.Encoding == "raw") return;
            var exact = Len == Buf.Length ? Buf : Buf.AsSpan(0, Len).ToArray();
            ctx.Db.Set(key, StringObject.CreateRaw(exact), keepTtl: true);
        }
    }

    /// <summary>isHLLObjectOrReply: WRONGTYPE for other types, the HLL-specific WRONGTYPE for bad strings.</summary>
    private static bool CheckHll(CommandContext ctx, RedisObject o, out StringObject s)
    {
        s = null!;
        if (o is not StringObject so)
        {
            ctx.WrongType();
            return false;
        }
        if (so.RawBytes == null || !HyperLogLog.IsValid(so.RawBytes))
        {
            ctx.Error(Errors.HllInvalidValue);
            return false;
        }
        s = so;
        return true;
    }

    private static long SparseMax(CommandContext ctx) => ctx.Server.Config.HllSparseMaxBytes;

    private static void PfAdd(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var o = ctx.Db.LookupWrite(key);
        int updated = 0;
        Work w;
        if (o == null)
        {
            var empty = HyperLogLog.CreateEmpty();
            var created = StringObject.CreateRaw(empty);
            ctx.Db.Set(key, created);
            w = Work.Of(created);
            updated++;
        }
        else
        {
            if (!CheckHll(ctx, o, out var s)) return;
            w = Work.Of(s);
        }
        long max = SparseMax(ctx);
        for (int j = 2; j < ctx.ArgCount; j++)
        {
            int r = HyperLogLog.Add(ref w.Buf, ref w.Len, ctx.Arg(j), max);
            if (r == 1) updated++;
            else if (r < 0)
            {
                w.Commit(ctx, key);
                ctx.Error(Errors.HllCorrupted);
                return;
            }
        }
        if (updated > 0) HyperLogLog.InvalidateCache(w.Span);
        w.Commit(ctx, key);
        if (updated > 0)
        {
            ctx.KeyChanged(key, '$', "pfadd");
            ctx.Dirty(updated - 1);
        }
        ctx.Reply.WriteInteger(updated > 0 ? 1 : 0);
    }

    private static void PfCount(CommandContext ctx)
    {
        if (ctx.ArgCount > 2)
        {
            // Union of several keys into one-byte-per-register maxima; nothing is cached.
            var max = new byte[HyperLogLog.Registers];
            for (int j = 1; j < ctx.ArgCount; j++)
            {
                var o = ctx.Db.LookupRead(ctx.Arg(j));
                if (o == null) continue;
                if (!CheckHll(ctx, o, out var s)) return;
                if (!HyperLogLog.MergeInto(max, s.RawBytes)) 
                {
                    ctx.Error(Errors.HllCorrupted);
                    return;
                }
            }
            ctx.Reply.WriteInteger(HyperLogLog.CountRaw(max));
            return;
        }
        var key = ctx.Arg(1);
        var obj = ctx.Db.LookupWrite(key);
        if (obj == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (!CheckHll(ctx, obj, out var hs)) return;
        var w = Work.Of(hs);
        long card;
        if (HyperLogLog.CacheValid(w.Span))
        {
            card = HyperLogLog.CachedCardinality(w.Span);
            w.Commit(ctx, key);
        }
        else
        {
            if (!HyperLogLog.TryCount(w.Span, out card))
            {
                w.Commit(ctx, key);
                ctx.Error(Errors.HllCorrupted);
                return;
            }
            HyperLogLog.SetCachedCardinality(w.Span, card);
            w.Commit(ctx, key);
            // Redis signals the key and bumps dirty so the new cache propagates, without an event.
            ctx.Server.SignalModified(ctx.Db, key);
            ctx.Dirty();
        }
        ctx.Reply.WriteInteger(card);
    }

    private static void PfMerge(CommandContext ctx)
    {
        var max = new byte[HyperLogLog.Registers];
        bool useDense = false;
        for (int j = 1; j < ctx.ArgCount; j++)
        {
            var o = ctx.Db.LookupRead(ctx.Arg(j));
            if (o == null) continue;
            if (!CheckHll(ctx, o, out var s)) return;
            if (!HyperLogLog.IsSparse(s.RawBytes)) useDense = true;
            if (!HyperLogLog.MergeInto(max, s.RawBytes))
            {
                ctx.Error(Errors.HllCorrupted);
                return;
            }
        }
        var key = ctx.Arg(1);
        var dest = ctx.Db.LookupWrite(key);
        Work w;
        if (dest == null)
        {
            var created = StringObject.CreateRaw(HyperLogLog.CreateEmpty());
            ctx.Db.Set(key, created);
            w = Work.Of(created);
        }
        else w = Work.Of((StringObject)dest);
        if (useDense && !HyperLogLog.SparseToDense(ref w.Buf, ref w.Len))
        {
            ctx.Error(Errors.HllCorrupted);
            return;
        }
        long sparseMax = SparseMax(ctx);
        for (int j = 0; j < HyperLogLog.Registers; j++)
        {
            if (max[j] == 0) continue;
            if (w.Buf[4] == HyperLogLog.EncodingDense)
            {
                var regs = w.Buf.AsSpan(HyperLogLog.HeaderSize, HyperLogLog.DenseSize - HyperLogLog.HeaderSize);
                if (max[j] > HyperLogLog.GetDenseRegister(regs, j)) HyperLogLog.SetDenseRegister(regs, j, max[j]);
            }
            else HyperLogLog.SparseSet(ref w.Buf, ref w.Len, j, max[j], sparseMax);
        }
        HyperLogLog.InvalidateCache(w.Span);
        w.Commit(ctx, key);
        ctx.KeyChanged(key, '$', "pfadd");
        ctx.Reply.WriteOk();
    }

    private static void PfDebug(CommandContext ctx)
    {
        var key = ctx.Arg(2);
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            ctx.Error(Errors.HllNoKey);
            return;
        }
        if (!CheckHll(ctx, o, out var s)) return;
        var w = Work.Of(s);
        if (ctx.ArgIs(1, "GETREG"))
        {
            if (HyperLogLog.IsSparse(w.Span))
            {
                if (!HyperLogLog.SparseToDense(ref w.Buf, ref w.Len))
                {
                    w.Commit(ctx, key);
                    ctx.Error(Errors.HllCorrupted);
                    return;
                }
                ctx.Dirty();
            }
            w.Commit(ctx, key);
            var regs = w.Buf.AsSpan(HyperLogLog.HeaderSize, HyperLogLog.DenseSize - HyperLogLog.HeaderSize);
            ctx.Reply.WriteArrayHeader(HyperLogLog.Registers);
            for (int j = 0; j < HyperLogLog.Registers; j++) ctx.Reply.WriteInteger(HyperLogLog.GetDenseRegister(regs, j));
        }
        else if (ctx.ArgIs(1, "DECODE"))
        {
            w.Commit(ctx, key);
            if (!HyperLogLog.IsSparse(w.Span))
            {
                ctx.Error(Errors.HllNotSparse);
                return;
            }
            ctx.Reply.WriteBulk(HyperLogLog.DecodeSparse(w.Span));
        }
        else if (ctx.ArgIs(1, "ENCODING"))
        {
            w.Commit(ctx, key);
            ctx.Reply.WriteSimpleString(HyperLogLog.IsSparse(w.Span) ? "sparse" : "dense");
        }
        else if (ctx.ArgIs(1, "TODENSE"))
        {
            bool conv = false;
            if (HyperLogLog.IsSparse(w.Span))
            {
                if (!HyperLogLog.SparseToDense(ref w.Buf, ref w.Len))
                {
                    w.Commit(ctx, key);
                    ctx.Error(Errors.HllCorrupted);
                    return;
                }
                conv = true;
                ctx.Dirty();
            }
            w.Commit(ctx, key);
            ctx.Reply.WriteInteger(conv ? 1 : 0);
        }
        else
        {
            w.Commit(ctx, key);
            ctx.Error(string.Format(System.Globalization.CultureInfo.InvariantCulture, Errors.HllUnknownDebug, ctx.ArgString(1)));
        }
    }

    /// <summary>
    /// PFSELFTEST: checks the dense register packing with random values, then that the sparse and
    /// dense representations of the same adds give the same estimate within the expected error.
    /// </summary>
    private static void PfSelfTest(CommandContext ctx)
    {
        var rnd = new Random(1234);
        var regs = new byte[HyperLogLog.DenseSize - HyperLogLog.HeaderSize];
        var expect = new byte[HyperLogLog.Registers];
        for (int round = 0; round < 100; round++)
        {
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                expect[i] = (byte)rnd.Next(HyperLogLog.RegisterMax + 1);
                HyperLogLog.SetDenseRegister(regs, i, expect[i]);
            }
            for (int i = 0; i < HyperLogLog.Registers; i++)
            {
                if (HyperLogLog.GetDenseRegister(regs, i) != expect[i])
                {
                    ctx.Error("ERR TESTFAILED Register error at " + i);
                    return;
                }
            }
        }
        byte[] sparse = HyperLogLog.CreateEmpty();
        int slen = sparse.Length;
        byte[] dense = HyperLogLog.CreateEmpty();
        int dlen = dense.Length;
        HyperLogLog.SparseToDense(ref dense, ref dlen);
        Span<byte> ele = stackalloc byte[8];
        double relerr = 1.04 / Math.Sqrt(HyperLogLog.Registers);
        for (long j = 1; j <= 100000; j++)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(ele, j);
            HyperLogLog.Add(ref sparse, ref slen, ele, long.MaxValue);
            HyperLogLog.Add(ref dense, ref dlen, ele, long.MaxValue);
            if (j % 1000 != 0 && j != 10 && j != 100) continue;
            HyperLogLog.TryCount(sparse.AsSpan(0, slen), out long a);
            HyperLogLog.TryCount(dense.AsSpan(0, dlen), out long b);
            double maxerr = j <= 10 ? 1 : relerr * 6 * j;
            if (a != b || Math.Abs(b - j) > maxerr)
            {
                ctx.Error("ERR TESTFAILED Too big error. card:" + j + " error:" + Math.Abs(b - j));
                return;
            }
        }
        ctx.Reply.WriteOk();
    }
}
