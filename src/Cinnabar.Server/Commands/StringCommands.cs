using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>String commands (t_string.c).</summary>
public sealed partial class StringCommands : ICommandFamily
{
    private const string G = "string";

    public void Register(CommandTable t)
    {
        t.Add("get", 2, "readonly fast", 1, 1, 1, "@read @string @fast", Get, G, "Returns the string value of a key.");
        t.Add("set", -3, "write denyoom", 1, 1, 1, "@write @string @slow", Set, G, "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.");
        RegisterMore(t);
    }

    partial void RegisterMore(CommandTable t);

    /// <summary>Looks up a string for reading; writes WRONGTYPE and returns false on another type.</summary>
    internal static bool TryGetString(CommandContext ctx, ReadOnlySpan<byte> key, out StringObject? value)
    {
        var o = ctx.Db.LookupRead(key);
        if (o == null)
        {
            value = null;
            return true;
        }
        if (o is StringObject s)
        {
            value = s;
            return true;
        }
        value = null;
        ctx.WrongType();
        return false;
    }

    private static void Get(CommandContext ctx)
    {
        if (!TryGetString(ctx, ctx.Arg(1), out var s)) return;
        if (s == null) ctx.Reply.WriteNull();
        else ctx.Reply.WriteString(s);
    }

    [Flags]
    private enum SetFlags { None = 0, NX = 1, XX = 2, Get = 4, KeepTtl = 8, EX = 16, PX = 32, EXAT = 64, PXAT = 128, Persist = 256 }

    private const SetFlags TimeFlags = SetFlags.EX | SetFlags.PX | SetFlags.EXAT | SetFlags.PXAT;

    /// <summary>
    /// Redis 7.0's parseExtendedStringArgumentsOrReply for SET and GETEX: an option may repeat
    /// (the last time value wins) but conflicting options are a syntax error.
    /// </summary>
    private static bool TryParseExtended(CommandContext ctx, int start, bool forGetEx, out SetFlags flags, out int expireIdx)
    {
        flags = SetFlags.None;
        expireIdx = 0;
        for (int i = start; i < ctx.ArgCount; i++)
        {
            bool hasNext = i + 1 < ctx.ArgCount;
            SetFlags time = ctx.ArgIs(i, "EX") ? SetFlags.EX : ctx.ArgIs(i, "PX") ? SetFlags.PX
                : ctx.ArgIs(i, "EXAT") ? SetFlags.EXAT : ctx.ArgIs(i, "PXAT") ? SetFlags.PXAT : SetFlags.None;
            if (!forGetEx && ctx.ArgIs(i, "NX") && (flags & SetFlags.XX) == 0) flags |= SetFlags.NX;
            else if (!forGetEx && ctx.ArgIs(i, "XX") && (flags & SetFlags.NX) == 0) flags |= SetFlags.XX;
            else if (!forGetEx && ctx.ArgIs(i, "GET")) flags |= SetFlags.Get;
            else if (!forGetEx && ctx.ArgIs(i, "KEEPTTL") && (flags & (TimeFlags | SetFlags.Persist)) == 0) flags |= SetFlags.KeepTtl;
            else if (forGetEx && ctx.ArgIs(i, "PERSIST") && (flags & (TimeFlags | SetFlags.KeepTtl)) == 0) flags |= SetFlags.Persist;
            else if (time != SetFlags.None && hasNext && (flags & (TimeFlags & ~time | SetFlags.KeepTtl | SetFlags.Persist)) == 0)
            {
                flags |= time;
                expireIdx = ++i;
            }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    /// <summary>SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ts|KEEPTTL].</summary>
    private static void Set(CommandContext ctx)
    {
        if (!TryParseExtended(ctx, 3, forGetEx: false, out var flags, out int expireIdx)) return;
        long expireArg;
        long whenMs = 0;
        if (expireIdx != 0)
        {
            if (!ctx.TryGetLong(expireIdx, out expireArg)) return;
            if (!Expiry.TryComputeAbsolute(ctx, expireArg, (flags & (SetFlags.EX | SetFlags.EXAT)) != 0, (flags & (SetFlags.EXAT | SetFlags.PXAT)) != 0, "set", out whenMs))
                return;
        }
        var key = ctx.Arg(1);
        var db = ctx.Db;
        var existing = db.LookupWrite(key);
        if ((flags & SetFlags.Get) != 0)
        {
            if (existing != null && existing is not StringObject)
            {
                ctx.WrongType();
                return;
            }
        }
        bool exists = existing != null;
        if (((flags & SetFlags.NX) != 0 && exists) || ((flags & SetFlags.XX) != 0 && !exists))
        {
            if ((flags & SetFlags.Get) != 0)
            {
                if (existing is StringObject old) ctx.Reply.WriteString(old);
                else ctx.Reply.WriteNull();
            }
            else ctx.Reply.WriteNull();
            return;
        }
        if ((flags & SetFlags.Get) != 0)
        {
            if (existing is StringObject old) ctx.Reply.WriteString(old);
            else ctx.Reply.WriteNull();
        }
        bool keepTtl = (flags & SetFlags.KeepTtl) != 0;
        // Overwriting a string with a same-length non-integer value reuses its buffer: the common
        // "SET existing-key new-value" allocates nothing (LookupWrite already did copy-on-write).
        if (existing is StringObject current && current.TryOverwriteInPlace(ctx.Arg(2)))
        {
            if (!keepTtl) db.RemoveExpire(key);
        }
        else db.Set(key, StringObject.Create(ctx.Arg(2)), keepTtl);
        if (expireIdx != 0)
        {
            db.SetExpire(key, whenMs);
            // Replicas and the AOF get an absolute time (Redis rewrites SET EX as SET PXAT).
            if (ctx.Server.Propagator != null)
                ctx.PropagateAs(RewriteSetWithPxat(ctx, whenMs));
        }
        else if ((flags & SetFlags.Get) != 0 && ctx.Server.Propagator != null)
            ctx.PropagateAs(SetWithoutGet(ctx));
        ctx.KeyChanged(key, '$', "set");
        if (expireIdx != 0) ctx.Notify('g', "expire", key);
        if ((flags & SetFlags.Get) == 0) ctx.Reply.WriteOk();
    }

    /// <summary>SET ... GET propagates without its GET arguments (the reply is the client's business).</summary>
    private static byte[][] SetWithoutGet(CommandContext ctx)
    {
        var list = new List<byte[]>(ctx.ArgCount);
        for (int i = 0; i < ctx.ArgCount; i++)
            if (i < 3 || !ctx.ArgIs(i, "GET")) list.Add(ctx.ArgBytes(i));
        return list.ToArray();
    }

    private static byte[][] RewriteSetWithPxat(CommandContext ctx, long whenMs)
    {
        var list = new List<byte[]> { "SET"u8.ToArray(), ctx.ArgBytes(1), ctx.ArgBytes(2) };
        for (int i = 3; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "EX") || ctx.ArgIs(i, "PX") || ctx.ArgIs(i, "EXAT") || ctx.ArgIs(i, "PXAT"))
            {
                i++;
                continue;
            }
            if (ctx.ArgIs(i, "GET")) continue;
            list.Add(ctx.ArgBytes(i));
        }
        list.Add("PXAT"u8.ToArray());
        list.Add(System.Text.Encoding.ASCII.GetBytes(whenMs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        return list.ToArray();
    }
}

/// <summary>Expire-time arithmetic shared by SET, GETEX, EXPIRE and friends.</summary>
public static class Expiry
{
    /// <summary>
    /// Converts a user-supplied expire (seconds or ms, relative or absolute) into unix ms, with
    /// Redis's validation: non-positive or overflowing values give "invalid expire time".
    /// </summary>
    public static bool TryComputeAbsolute(CommandContext ctx, long value, bool seconds, bool absolute, string command, out long whenMs)
    {
        whenMs = 0;
        if (value <= 0 || (seconds && value > long.MaxValue / 1000))
        {
            ctx.Error(Errors.InvalidExpireTime(command));
            return false;
        }
        long ms = seconds ? value * 1000 : value;
        if (!absolute)
        {
            if (ms > long.MaxValue - ctx.NowMs)
            {
                ctx.Error(Errors.InvalidExpireTime(command));
                return false;
            }
            ms += ctx.NowMs;
        }
        whenMs = ms;
        return true;
    }
}
