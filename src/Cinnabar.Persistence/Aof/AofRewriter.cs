using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Aof;

/// <summary>
/// The AOF base written as commands (aof-use-rdb-preamble no), as Redis 7.0's
/// rewriteAppendOnlyFileRio does: FUNCTION LOAD per library first, then per non-empty db a
/// SELECT and one rebuilding command per key (SET, RPUSH, SADD, HMSET, ZADD; collections in
/// batches of 64 items, AOF_REWRITE_ITEMS_PER_CMD), each followed by PEXPIREAT when the key
/// has a TTL. Streams become XADD per entry (or the XADD MAXLEN 0 trick when empty), XSETID
/// with ENTRIESADDED/MAXDELETEDID, XGROUP CREATE ... ENTRIESREAD per group, then per consumer
/// an XCLAIM ... JUSTID FORCE per pending entry or XGROUP CREATECONSUMER when it has none.
/// The walk uses the same point-in-time snapshots as RDB saves, taking the execution lock per
/// batch of keys and writing the buffered commands to the stream outside the lock.
/// </summary>
public static class AofRewriter
{
    public const int ItemsPerCommand = 64;
    private const int KeysPerStep = 256;

    /// <summary>
    /// Writes the commands that rebuild the snapshots. A <paramref name="delay"/> (rdb-key-save-delay)
    /// makes it go key by key and wait outside the lock; its cancellation ends the rewrite with
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static void Write(Stream output, IReadOnlyList<DbSnapshot> snapshots, object execLock, IReadOnlyList<byte[]> functionLibraries, Action? betweenSteps = null, KeySaveDelay? delay = null, SaveProgress? progress = null)
    {
        var w = new RespWriter(64 * 1024);
        try
        {
            foreach (var lib in functionLibraries)
            {
                w.WriteArrayHeader(3);
                w.WriteBulk("FUNCTION"u8);
                w.WriteBulk("LOAD"u8);
                w.WriteBulk(lib);
            }
            foreach (var snap in snapshots) WriteDb(output, w, snap, execLock, betweenSteps, delay, progress);
            Drain(output, w);
        }
        finally
        {
            lock (execLock)
            {
                foreach (var s in snapshots) s.Db.EndSnapshot(s);
            }
        }
    }

    private static void Drain(Stream output, RespWriter w)
    {
        if (w.Length == 0) return;
        output.Write(w.Written.Span);
        w.Clear();
    }

    private static void WriteDb(Stream output, RespWriter w, DbSnapshot snap, object execLock, Action? betweenSteps, KeySaveDelay? delay, SaveProgress? progress)
    {
        if (snap.KeyCount == 0)
        {
            lock (execLock) snap.Db.EndSnapshot(snap);
            return;
        }
        w.WriteArrayHeader(2);
        w.WriteBulk("SELECT"u8);
        w.WriteBulkInteger(snap.DbIndex);
        void Emit(byte[] key, RedisObject value, long expireMs) => WriteKey(w, key, value, expireMs);
        while (true)
        {
            int n;
            lock (execLock)
            {
                n = snap.Step(delay != null ? 1 : KeysPerStep, Emit);
                if (snap.TableDone) snap.Db.EndSnapshot(snap);
            }
            Drain(output, w);
            progress?.OnKeysSaved(n);
            if (n > 0) delay?.Pay(n);
            if (snap.TableDone) break;
            betweenSteps?.Invoke();
        }
        foreach (var (key, value, expire) in snap.TakePreserved())
        {
            WriteKey(w, key, value, expire);
            progress?.OnKeysSaved(1);
            if (w.Length >= 64 * 1024) Drain(output, w);
        }
    }

    /// <summary>The commands that rebuild one key (also used by tests).</summary>
    public static void WriteKey(RespWriter w, byte[] key, RedisObject value, long expireMs)
    {
        switch (value)
        {
            case StringObject s:
                w.WriteArrayHeader(3);
                w.WriteBulk("SET"u8);
                w.WriteBulk(key);
                if (s.IsInt) w.WriteBulkInteger(s.IntValue);
                else w.WriteBulk(s.GetBytes());
                break;
            case ListObject l:
                WriteBatched(w, "RPUSH"u8, key, l.Count, 1, l.Enumerate(), static (w, e) => w.WriteBulk(e));
                break;
            case SetObject set:
                WriteBatched(w, "SADD"u8, key, set.Count, 1, set.EnumerateMembers(), static (w, m) => w.WriteBulk(m));
                break;
            case HashObject h:
                WriteBatched(w, "HMSET"u8, key, h.Count, 2, HashPairs(h), static (w, p) =>
                {
                    w.WriteBulk(p.Field);
                    w.WriteBulk(p.Value);
                });
                break;
            case ZSetObject z:
                WriteBatched(w, "ZADD"u8, key, z.Count, 2, ZSetPairs(z), static (w, p) =>
                {
                    w.WriteBulk(ScoreText(p.Score));
                    w.WriteBulk(p.Member);
                });
                break;
            case StreamObject st:
                WriteStream(w, key, st);
                break;
            default:
                throw new NotSupportedException($"cannot rewrite {value.GetType().Name} to the AOF");
        }
        if (expireMs >= 0)
        {
            w.WriteArrayHeader(3);
            w.WriteBulk("PEXPIREAT"u8);
            w.WriteBulk(key);
            w.WriteBulkInteger(expireMs);
        }
    }

    private static void WriteBatched<T>(RespWriter w, ReadOnlySpan<byte> command, byte[] key, long count, int argsPerItem, IEnumerable<T> items, Action<RespWriter, T> writeItem)
    {
        long left = count;
        int inCommand = 0;
        foreach (var item in items)
        {
            if (inCommand == 0)
            {
                long n = Math.Min(left, ItemsPerCommand);
                w.WriteArrayHeader(2 + n * argsPerItem);
                w.WriteBulk(command);
                w.WriteBulk(key);
            }
            writeItem(w, item);
            left--;
            if (++inCommand == ItemsPerCommand) inCommand = 0;
        }
    }

    internal static IEnumerable<(byte[] Field, byte[] Value)> HashPairs(HashObject h)
    {
        for (int i = 0; i < h.PositionLimit; i++)
            if (h.TryGetAt(i, out var f, out var v)) yield return (f, v);
    }

    internal static IEnumerable<(byte[] Member, double Score)> ZSetPairs(ZSetObject z)
    {
        var it = z.Walk(0, reverse: false);
        while (it.MoveNext()) yield return (it.Member, it.Score);
    }

    /// <summary>rioWriteBulkDouble: "%.17g" (inf and -inf as printf spells them).</summary>
    public static string ScoreText(double v)
    {
        if (double.IsPositiveInfinity(v)) return "inf";
        if (double.IsNegativeInfinity(v)) return "-inf";
        return NumberFormat.FormatG(v, 17);
    }

    private static void WriteStream(RespWriter w, byte[] key, StreamObject s)
    {
        if (s.Length > 0)
        {
            foreach (var e in s.Range(StreamId.Zero, StreamId.Max, reverse: false))
            {
                w.WriteArrayHeader(3 + e.FieldsAndValues.Length);
                w.WriteBulk("XADD"u8);
                w.WriteBulk(key);
                w.WriteBulk(e.Id.ToBytes());
                foreach (var fv in e.FieldsAndValues) w.WriteBulk(fv);
            }
        }
        else
        {
            // An empty stream (everything deleted) is created with the XADD MAXLEN 0 trick.
            w.WriteArrayHeader(7);
            w.WriteBulk("XADD"u8);
            w.WriteBulk(key);
            w.WriteBulk("MAXLEN"u8);
            w.WriteBulk("0"u8);
            w.WriteBulk("0-1"u8);
            w.WriteBulk("x"u8);
            w.WriteBulk("y"u8);
        }
        // XSETID restores the last ID even when the tail entries were deleted.
        w.WriteArrayHeader(7);
        w.WriteBulk("XSETID"u8);
        w.WriteBulk(key);
        w.WriteBulk(s.LastId.ToBytes());
        w.WriteBulk("ENTRIESADDED"u8);
        w.WriteBulkInteger(s.EntriesAdded);
        w.WriteBulk("MAXDELETEDID"u8);
        w.WriteBulk(s.MaxDeletedId.ToBytes());
        foreach (var g in s.Groups.Values) WriteGroup(w, key, g);
    }

    private static void WriteGroup(RespWriter w, byte[] key, ConsumerGroup g)
    {
        w.WriteArrayHeader(7);
        w.WriteBulk("XGROUP"u8);
        w.WriteBulk("CREATE"u8);
        w.WriteBulk(key);
        w.WriteBulk(g.Name);
        w.WriteBulk(g.LastId.ToBytes());
        w.WriteBulk("ENTRIESREAD"u8);
        w.WriteBulkInteger(g.EntriesRead);
        foreach (var c in g.Consumers.Values)
        {
            if (c.Pel.Count == 0)
            {
                w.WriteArrayHeader(5);
                w.WriteBulk("XGROUP"u8);
                w.WriteBulk("CREATECONSUMER"u8);
                w.WriteBulk(key);
                w.WriteBulk(g.Name);
                w.WriteBulk(c.Name);
                continue;
            }
            foreach (var (id, p) in c.Pel)
            {
                w.WriteArrayHeader(12);
                w.WriteBulk("XCLAIM"u8);
                w.WriteBulk(key);
                w.WriteBulk(g.Name);
                w.WriteBulk(c.Name);
                w.WriteBulk("0"u8);
                w.WriteBulk(id.ToBytes());
                w.WriteBulk("TIME"u8);
                w.WriteBulkInteger(p.DeliveryTimeMs);
                w.WriteBulk("RETRYCOUNT"u8);
                w.WriteBulkInteger(p.DeliveryCount);
                w.WriteBulk("JUSTID"u8);
                w.WriteBulk("FORCE"u8);
            }
        }
    }
}
