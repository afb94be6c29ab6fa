namespace Cinnabar.Server.Commands;

// EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT [NX|XX|GT|LT], TTL/PTTL/EXPIRETIME/PEXPIRETIME, PERSIST (expire.c).
public sealed partial class KeyCommands
{
    [Flags]
    private enum ExpireFlags { None = 0, NX = 1, XX = 2, GT = 4, LT = 8 }

    private static void RegisterExpire(CommandTable t)
    {
        t.Add("expire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", Expire, G, "Sets the expiration time of a key in seconds.");
        t.Add("pexpire", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", PExpire, G, "Sets the expiration time of a key in milliseconds.", "2.6.0");
        t.Add("expireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", ExpireAt, G, "Sets the expiration time of a key to a Unix timestamp.", "1.2.0");
        t.Add("pexpireat", -3, "write fast", 1, 1, 1, "@keyspace @write @fast", PExpireAt, G, "Sets the expiration time of a key to a Unix milliseconds timestamp.", "2.6.0");
        t.Add("ttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", Ttl, G, "Returns the expiration time in seconds of a key.");
        t.Add("pttl", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", PTtl, G, "Returns the expiration time in milliseconds of a key.", "2.6.0");
        t.Add("expiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", ExpireTime, G, "Returns the expiration time of a key as a Unix timestamp.", "7.0.0");
        t.Add("pexpiretime", 2, "readonly fast", 1, 1, 1, "@keyspace @read @fast", PExpireTime, G, "Returns the expiration time of a key as a Unix milliseconds timestamp.", "7.0.0");
        t.Add("persist", 2, "write fast", 1, 1, 1, "@keyspace @write @fast", Persist, G, "Removes the expiration time of a key.", "2.2.0");
    }

    private static void Expire(CommandContext ctx) => ExpireGeneric(ctx, ctx.NowMs, seconds: true, "expire");
    private static void PExpire(CommandContext ctx) => ExpireGeneric(ctx, ctx.NowMs, seconds: false, "pexpire");
    private static void ExpireAt(CommandContext ctx) => ExpireGeneric(ctx, 0, seconds: true, "expireat");
    private static void PExpireAt(CommandContext ctx) => ExpireGeneric(ctx, 0, seconds: false, "pexpireat");

    private static bool TryParseExpireFlags(CommandContext ctx, out ExpireFlags flags)
    {
        flags = ExpireFlags.None;
        for (int j = 3; j < ctx.ArgCount; j++)
        {
            if (ctx.ArgIs(j, "NX")) flags |= ExpireFlags.NX;
            else if (ctx.ArgIs(j, "XX")) flags |= ExpireFlags.XX;
            else if (ctx.ArgIs(j, "GT")) flags |= ExpireFlags.GT;
            else if (ctx.ArgIs(j, "LT")) flags |= ExpireFlags.LT;
            else
            {
                ctx.Error(Errors.UnsupportedOption(ctx.ArgString(j)));
                return false;
            }
        }
        if ((flags & ExpireFlags.NX) != 0 && (flags & (ExpireFlags.XX | ExpireFlags.GT | ExpireFlags.LT)) != 0)
        {
            ctx.Error(Errors.ExpireNxIncompatible);
            return false;
        }
        if ((flags & (ExpireFlags.GT | ExpireFlags.LT)) == (ExpireFlags.GT | ExpireFlags.LT))
        {
            ctx.Error(Errors.ExpireGtLtIncompatible);
            return false;
        }
        return true;
    }

    /// <summary>
    /// expireGenericCommand: negative times are allowed (the key is deleted, propagated as DEL);
    /// otherwise the absolute time is set and propagated as PEXPIREAT.
    /// </summary>
    private static void ExpireGeneric(CommandContext ctx, long baseMs, bool seconds, string name)
    {
        if (!TryParseExpireFlags(ctx, out var flags)) return;
        if (!ctx.TryGetLong(2, out long when)) return;
        if (seconds)
        {
            if (when > long.MaxValue / 1000 || when < long.MinValue / 1000)
            {
                ctx.Error(Errors.InvalidExpireTime(name));
                return;
            }
            when *= 1000;
        }
        if (when > long.MaxValue - baseMs)
        {
            ctx.Error(Errors.InvalidExpireTime(name));
            return;
        }
        when += baseMs;
        var key = ctx.Arg(1);
        var db = ctx.Db;
        if (db.LookupWrite(key) == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        if (flags != ExpireFlags.None)
        {
            long current = db.GetExpire(key);
            bool refuse = ((flags & ExpireFlags.NX) != 0 && current != -1)
                || ((flags & ExpireFlags.XX) != 0 && current == -1)
                // No TTL counts as infinite: GT always fails, LT succeeds.
                || ((flags & ExpireFlags.GT) != 0 && (current == -1 || when <= current))
                || ((flags & ExpireFlags.LT) != 0 && current != -1 && when >= current);
            if (refuse)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
        }
        if (when <= ctx.NowMs && ctx.Keyspace.ExpireOnAccess)
        {
            db.Delete(key);
            if (ctx.Server.Propagator != null) ctx.PropagateAs("DEL"u8.ToArray(), ctx.ArgBytes(1));
            ctx.KeyChanged(key, 'g', "del");
            ctx.Reply.WriteInteger(1);
            return;
        }
        db.SetExpire(key, when);
        if (ctx.Server.Propagator != null && (name != "pexpireat" || baseMs != 0))
        {
            var argv = new byte[ctx.ArgCount][];
            argv[0] = "PEXPIREAT"u8.ToArray();
            argv[1] = ctx.ArgBytes(1);
            argv[2] = StringCommands.LongBytes(when);
            for (int j = 3; j < ctx.ArgCount; j++) argv[j] = ctx.ArgBytes(j);
            ctx.PropagateAs(argv);
        }
        ctx.KeyChanged(key, 'g', "expire");
        ctx.Reply.WriteInteger(1);
    }

    private static void Ttl(CommandContext ctx) => TtlGeneric(ctx, ms: false, absolute: false);
    private static void PTtl(CommandContext ctx) => TtlGeneric(ctx, ms: true, absolute: false);
    private static void ExpireTime(CommandContext ctx) => TtlGeneric(ctx, ms: false, absolute: true);
    private static void PExpireTime(CommandContext ctx) => TtlGeneric(ctx, ms: true, absolute: true);

    /// <summary>ttlGenericCommand: -2 missing key, -1 no TTL; seconds are rounded to nearest.</summary>
    private static void TtlGeneric(CommandContext ctx, bool ms, bool absolute)
    {
        var key = ctx.Arg(1);
        if (LookupReadNoTouch(ctx, key) == null)
        {
            ctx.Reply.WriteInteger(-2);
            return;
        }
        long expire = ctx.Db.GetExpire(key);
        if (expire == -1)
        {
            ctx.Reply.WriteInteger(-1);
            return;
        }
        long ttl = absolute ? expire : Math.Max(0, expire - ctx.NowMs);
        ctx.Reply.WriteInteger(ms ? ttl : (ttl + 500) / 1000);
    }

    private static void Persist(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (ctx.Db.LookupWrite(key) == null || !ctx.Db.RemoveExpire(key))
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        ctx.KeyChanged(key, 'g', "persist");
        ctx.Reply.WriteInteger(1);
    }
}
