using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// Commands spanning databases: COPY, MOVE, SWAPDB, FLUSHDB, FLUSHALL.
public sealed partial class KeyCommands
{
    private static void RegisterDb(CommandTable t)
    {
        t.Add("copy", -3, "write denyoom", 1, 2, 1, "@keyspace @write @slow", Copy, G, "Copies the value of a key to a new key.", "6.2.0", "O(N)");
        t.Add("move", 3, "write fast", 1, 1, 1, "@keyspace @write @fast", Move, G, "Moves a key to another database.");
        t.Add("swapdb", 3, "write fast", 0, 0, 0, "@keyspace @write @fast @dangerous", SwapDb, G, "Swaps two Redis databases.", "4.0.0", "O(N)");
        t.Add("flushdb", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", FlushDb, G, "Remove all keys from the current database.", "1.0.0", "O(N)");
        t.Add("flushall", -1, "write", 0, 0, 0, "@keyspace @write @slow @dangerous", FlushAll, G, "Removes all keys from all databases.", "1.0.0", "O(N)");
    }

    private static void NotifyInDb(CommandContext ctx, string @event, ReadOnlySpan<byte> key, int dbIndex)
    {
        if (ctx.Server.Notifications.Enabled) ctx.Server.Notifications.Notify('g', @event, key, dbIndex);
    }

    /// <summary>COPY source destination [DB index] [REPLACE]: a deep copy carrying the TTL.</summary>
    private static void Copy(CommandContext ctx)
    {
        var src = ctx.Db;
        var dst = src;
        bool replace = false;
        for (int j = 3; j < ctx.ArgCount; j++)
        {
            if (ctx.ArgIs(j, "REPLACE")) replace = true;
            else if (ctx.ArgIs(j, "DB") && j + 1 < ctx.ArgCount)
            {
                if (!ctx.TryGetInt(j + 1, out int id)) return;
                if (id < 0 || id >= ctx.Keyspace.Count)
                {
                    ctx.Error(Errors.DbIndexOutOfRange);
                    return;
                }
                dst = ctx.Keyspace[id];
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (ctx.Server.Config.ClusterEnabled && (src.Index != 0 || dst.Index != 0))
        {
            ctx.Error(Errors.CopyInCluster);
            return;
        }
        var key = ctx.Arg(1);
        var newKey = ctx.Arg(2);
        if (src == dst && key.SequenceEqual(newKey))
        {
            ctx.Error(Errors.SameObject);
            return;
        }
        var o = src.LookupRead(key);
        if (o == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long expire = src.GetExpire(key);
        if (dst.LookupWrite(newKey) != null)
        {
            if (!replace)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            dst.Delete(newKey);
        }
        dst.Add(ctx.ArgBytes(2), o.Clone());
        if (expire != -1) dst.SetExpire(newKey, expire);
        ctx.Server.SignalModified(dst, newKey);
        NotifyInDb(ctx, "copy_to", newKey, dst.Index);
        ctx.Dirty();
        ctx.Reply.WriteInteger(1);
    }

    /// <summary>MOVE key db: fails (0) when the key is missing or already exists in the target.</summary>
    private static void Move(CommandContext ctx)
    {
        if (ctx.Server.Config.ClusterEnabled)
        {
            ctx.Error(Errors.MoveInCluster);
            return;
        }
        var src = ctx.Db;
        if (!ctx.TryGetInt(2, out int id)) return;
        if (id < 0 || id >= ctx.Keyspace.Count)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        var dst = ctx.Keyspace[id];
        if (src == dst)
        {
            ctx.Error(Errors.SameObject);
            return;
        }
        var key = ctx.Arg(1);
        var o = src.LookupWrite(key);
        if (o == null || dst.LookupWrite(key) != null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        long expire = src.GetExpire(key);
        uint lru = o.Lru;
        src.Delete(key);
        dst.Add(ctx.ArgBytes(1), o);
        o.Lru = lru;
        if (expire != -1) dst.SetExpire(key, expire);
        ctx.Server.SignalModified(src, key);
        ctx.Server.SignalModified(dst, key);
        NotifyInDb(ctx, "move_from", key, src.Index);
        NotifyInDb(ctx, "move_to", key, dst.Index);
        ctx.Dirty();
        ctx.Reply.WriteInteger(1);
    }

    private static void SwapDb(CommandContext ctx)
    {
        if (ctx.Server.Config.ClusterEnabled)
        {
            ctx.Error(Errors.SwapDbInCluster);
            return;
        }
        if (!TryGetIntOr(ctx, 1, Errors.InvalidFirstDbIndex, out int a) || !TryGetIntOr(ctx, 2, Errors.InvalidSecondDbIndex, out int b)) return;
        if (a < 0 || a >= ctx.Keyspace.Count || b < 0 || b >= ctx.Keyspace.Count)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        if (a != b)
        {
            // WATCHed keys are touched if they exist in either db (touchAllWatchedKeysInDb(a, b)).
            ctx.Server.TouchWatchedKeysOnFlush(a, ctx.Keyspace[b]);
            ctx.Server.TouchWatchedKeysOnFlush(b, ctx.Keyspace[a]);
            ctx.Keyspace.SwapDb(a, b);
            ctx.Server.SignalReadyKeysAfterSwap(a, b);
        }
        ctx.Dirty();
        ctx.Reply.WriteOk();
    }

    private static bool TryGetIntOr(CommandContext ctx, int i, string error, out int value)
    {
        value = 0;
        if (!Protocol.RequestParser.TryParseLong(ctx.Arg(i), out long v) || v < int.MinValue || v > int.MaxValue)
        {
            ctx.Error(error);
            return false;
        }
        value = (int)v;
        return true;
    }

    /// <summary>FLUSHDB/FLUSHALL [ASYNC|SYNC] (getFlushCommandFlags).</summary>
    private static bool TryParseFlushFlags(CommandContext ctx)
    {
        if (ctx.ArgCount > 2 || (ctx.ArgCount == 2 && !ctx.ArgIs(1, "SYNC") && !ctx.ArgIs(1, "ASYNC")))
        {
            ctx.SyntaxError();
            return false;
        }
        return true;
    }

    private static void FlushDb(CommandContext ctx)
    {
        if (!TryParseFlushFlags(ctx)) return;
        long removed = FlushOne(ctx, ctx.Db);
        ctx.Dirty(removed);
        if (removed > 0 && !FlushesLazily(ctx)) RedisServer.ReclaimDroppedMemory();
        // Caches are not per database: every tracking client hears "all keys" (emptyData).
        ctx.Server.Tracking.InvalidateAllOnFlush();
        // Replicated and written to the AOF even when the db was already empty.
        ctx.ForcePropagation = true;
        ctx.Reply.WriteOk();
    }

    private static void FlushAll(CommandContext ctx)
    {
        if (!TryParseFlushFlags(ctx)) return;
        // flushAllDataAndResetRDB: a running BGSAVE would save data that no longer exists: kill it.
        ctx.Server.KillRdbChild();
        long removed = 0;
        for (int d = 0; d < ctx.Keyspace.Count; d++) removed += FlushOne(ctx, ctx.Keyspace[d]);
        ctx.Server.Tracking.InvalidateAllOnFlush();
        // One more change on top of the removed keys, so FLUSHALL reaches replicas and the AOF
        // even on an empty dataset (forceCommandPropagation).
        ctx.Dirty(removed + 1);
        if (removed > 0 && !FlushesLazily(ctx)) RedisServer.ReclaimDroppedMemory();
        // flushAllDataAndResetRDB: with save points configured, the empty dataset is saved at
        // once (rdb_changes_since_last_save drops to 0), so an old dump.rdb can't resurrect data.
        if (ctx.Server.SavePoints().Count > 0 && !ctx.Server.Rdb.BgsaveInProgress) ctx.Server.SaveRdbSync();
        ctx.Reply.WriteOk();
    }

    private static bool FlushesLazily(CommandContext ctx) =>
        ctx.ArgCount == 2 ? ctx.ArgIs(1, "ASYNC") : ctx.Server.Config.LazyfreeLazyUserFlush;

    private static long FlushOne(CommandContext ctx, Db db)
    {
        long n = db.Count;
        ctx.Server.TouchWatchedKeysOnFlush(db.Index, null);
        db.Clear();
        // FLUSHDB/FLUSHALL ASYNC, or lazyfree-lazy-user-flush without an explicit SYNC.
        if (FlushesLazily(ctx)) ctx.Server.LazyFree.ReleaseDatabase(n);
        ctx.Server.SignalBlockedKeysOfFlushedDb(db.Index);
        return n;
    }
}
