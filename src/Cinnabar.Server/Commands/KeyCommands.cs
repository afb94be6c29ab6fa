using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Generic keyspace commands (db.c, expire.c, object.c). Expiry commands are in
/// KeyCommands.Expire.cs, database-wide ones (FLUSH*, SWAPDB, MOVE, COPY) in KeyCommands.Db.cs.
/// </summary>
public sealed partial class KeyCommands : ICommandFamily
{
    private const string G = "generic";

    public void Register(CommandTable t)
    {
        t.Add("del", -2, "write", 1, -1, 1, "@keyspace @write @slow", Del, G, "Deletes one or more keys.", "1.0.0", "O(N)");
        t.Add("unlink", -2, "write fast", 1, -1, 1, "@keyspace @write @fast", Del, G, "Asynchronously deletes one or more keys.", "4.0.0", "O(N)");
        t.Add("exists", -2, "readonly fast", 1, -1, 1, "@keyspace @read @fast", Exists, G, "Determines whether one or more keys exist.", "1.0.0", "O(N)");
        t.Add("type", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", Type, G, "Determines the type of value stored at a key.");
        t.Add("rename", 3, "write", 1, 2, 1, "@keyspace @write @slow", Rename, G, "Renames a key and overwrites the destination.");
        t.Add("renamenx", 3, "write fast", 1, 2, 1, "@keyspace @write @fast", RenameNx, G, "Renames a key only when the target key name doesn't exist.");
        t.Add("keys", 2, "readonly", 0, 0, 0, "@keyspace @read @slow @dangerous", Keys, G, "Returns all key names that match a pattern.", "1.0.0", "O(N)");
        t.Add("scan", -2, "readonly", 0, 0, 0, "@keyspace @read @slow", Scan, G, "Iterates over the key names in the database.", "2.8.0", "O(N)");
        t.Add("randomkey", 1, "readonly", 0, 0, 0, "@keyspace @read @slow", RandomKey, G, "Returns a random key name from the database.");
        t.Add("dbsize", 1, "readonly fast", 0, 0, 0, "@keyspace @read @fast", DbSize, G, "Returns the number of keys in the database.");
        t.Add("touch", -2, "readonly fast", 1, -1, 1, "@keyspace @read @fast", Touch, G, "Returns the number of existing keys out of those specified after updating the time they were last accessed.", "3.2.1", "O(N)");
        RegisterExpire(t);
        RegisterDb(t);
        RegisterObject(t);
    }

    /// <summary>DEL and UNLINK (values are freed by the GC either way).</summary>
    private static void Del(CommandContext ctx)
    {
        long deleted = 0;
        var db = ctx.Db;
        bool lazy = ctx.ArgIs(0, "UNLINK") || ctx.Server.Config.LazyfreeLazyUserDel;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            var key = ctx.Arg(i);
            // A logically expired key is expired first, so it does not count as deleted.
            db.ExpireIfNeeded(key);
            if (db.Delete(key, out var removed))
            {
                if (lazy) ctx.Server.LazyFree.Release(removed!);
                ctx.KeyChanged(key, 'g', "del");
                deleted++;
            }
        }
        ctx.Reply.WriteInteger(deleted);
    }

    /// <summary>
    /// lookupKeyReadWithFlags(LOOKUP_NOTOUCH): expires and counts hits/misses like a read, but
    /// leaves the LRU/LFU data alone (EXISTS, TYPE, TTL and OBJECT must not refresh idle time).
    /// </summary>
    internal static RedisObject? LookupReadNoTouch(CommandContext ctx, ReadOnlySpan<byte> key)
    {
        var db = ctx.Db;
        RedisObject? o = null;
        if (!db.ExpireIfNeeded(key) && db.Dict.TryGetValue(key, out var found)) o = found;
        if (o == null) ctx.Keyspace.Misses++;
        else ctx.Keyspace.Hits++;
        return o;
    }

    private static void Exists(CommandContext ctx)
    {
        long count = 0;
        for (int i = 1; i < ctx.ArgCount; i++)
            if (LookupReadNoTouch(ctx, ctx.Arg(i)) != null) count++;
        ctx.Reply.WriteInteger(count);
    }

    private static void Touch(CommandContext ctx)
    {
        long count = 0;
        for (int i = 1; i < ctx.ArgCount; i++)
            if (ctx.Db.LookupRead(ctx.Arg(i)) != null) count++;
        ctx.Reply.WriteInteger(count);
    }

    private static void Type(CommandContext ctx)
    {
        var o = LookupReadNoTouch(ctx, ctx.Arg(1));
        ctx.Reply.WriteSimpleString(o == null ? "none" : RedisObject.TypeName(o.Type));
    }

    private static void Rename(CommandContext ctx) => RenameGeneric(ctx, nx: false);

    private static void RenameNx(CommandContext ctx) => RenameGeneric(ctx, nx: true);

    /// <summary>renameGenericCommand: the TTL moves with the value; renaming onto itself is a no-op.</summary>
    private static void RenameGeneric(CommandContext ctx, bool nx)
    {
        var src = ctx.Arg(1);
        var dst = ctx.Arg(2);
        var db = ctx.Db;
        var o = db.LookupWrite(src);
        if (o == null)
        {
            ctx.Error(Errors.NoSuchKey);
            return;
        }
        if (src.SequenceEqual(dst))
        {
            if (nx) ctx.Reply.WriteInteger(0);
            else ctx.Reply.WriteOk();
            return;
        }
        long expire = db.GetExpire(src);
        if (db.LookupWrite(dst) != null)
        {
            if (nx)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            db.Delete(dst);
        }
        uint lru = o.Lru;
        db.Delete(src);
        db.Add(ctx.ArgBytes(2), o);
        o.Lru = lru;
        if (expire != -1) db.SetExpire(dst, expire);
        ctx.KeyChanged(src, 'g', "rename_from");
        ctx.Server.SignalModified(db, dst);
        ctx.Notify('g', "rename_to", dst);
        if (nx) ctx.Reply.WriteInteger(1);
        else ctx.Reply.WriteOk();
    }

    private static void Keys(CommandContext ctx)
    {
        var pattern = ctx.Arg(1);
        bool all = pattern.Length == 1 && pattern[0] == '*';
        var db = ctx.Db;
        var dict = db.Dict;
        bool anyVolatile = db.Expires.Count > 0;
        long now = ctx.NowMs;
        var matches = new List<byte[]>();
        for (int i = dict.NextUsed(0); i >= 0; i = dict.NextUsed(i + 1))
        {
            byte[] key = dict.KeyAt(i);
            if (!all && !GlobMatcher.Match(pattern, key)) continue;
            if (ctx.Keyspace.HiddenSlots != null && ctx.Keyspace.IsHidden(key)) continue;
            // KEYS skips logically expired keys without deleting them (keyIsExpired).
            if (anyVolatile && db.Expires.TryGetValue(key, out long when) && when <= now) continue;
            matches.Add(key);
        }
        ctx.Reply.WriteArrayHeader(matches.Count);
        foreach (var k in matches) ctx.Reply.WriteBulk(k);
    }

    private static void Scan(CommandContext ctx)
    {
        if (!ScanSupport.TryParse(ctx, 1, allowType: true, out var options)) return;
        var db = ctx.Db;
        var dict = db.Dict;
        var found = new List<byte[]>();
        ulong next = ScanSupport.Walk(dict, options, i =>
        {
            byte[] key = dict.KeyAt(i);
            if (options.Type != null && RedisObject.TypeName(dict.ValueAt(i).Type) != options.Type) return;
            if (!ScanSupport.Matches(options, key)) return;
            if (ctx.Keyspace.HiddenSlots != null && ctx.Keyspace.IsHidden(key)) return;
            found.Add(key);
        });
        // Expired keys are dropped (and deleted) after the walk, as scanGenericCommand does.
        int n = 0;
        for (int i = 0; i < found.Count; i++)
        {
            if (db.ExpireIfNeeded(found[i])) continue;
            found[n++] = found[i];
        }
        ScanSupport.WriteCursor(ctx.Reply, next);
        ctx.Reply.WriteArrayHeader(n);
        for (int i = 0; i < n; i++) ctx.Reply.WriteBulk(found[i]);
    }

    /// <summary>dbRandomKey: expired keys met on the way are deleted; bounded when all keys are volatile.</summary>
    private static void RandomKey(CommandContext ctx)
    {
        var db = ctx.Db;
        int tries = 0;
        while (db.Dict.Count > 0)
        {
            int i = db.Dict.RandomIndex(ctx.Server.Random);
            if (i < 0) break;
            byte[] key = db.Dict.KeyAt(i);
            if (ctx.Keyspace.HiddenSlots != null && ctx.Keyspace.IsHidden(key))
            {
                // Keys being imported are not ours to show; give up when they are all there is.
                if (db.VisibleCount == 0 || ++tries >= 1000) break;
                continue;
            }
            if (db.Expires.Count > 0 && db.Expires.TryGetValue(key, out long when) && when <= ctx.NowMs)
            {
                // On a replica expired keys are not deleted: after 100 tries return one anyway.
                if (!ctx.Keyspace.ExpireOnAccess)
                {
                    if (db.Dict.Count == db.Expires.Count && ++tries >= 100)
                    {
                        ctx.Reply.WriteBulk(key);
                        return;
                    }
                    continue;
                }
                db.ExpireIfNeeded(key);
                continue;
            }
            ctx.Reply.WriteBulk(key);
            return;
        }
        ctx.Reply.WriteNull();
    }

    private static void DbSize(CommandContext ctx) => ctx.Reply.WriteInteger(ctx.Db.VisibleCount);
}
