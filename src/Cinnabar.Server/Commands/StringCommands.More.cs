using System.Globalization;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// The rest of t_string.c: SETNX/SETEX/PSETEX, multi-key, GETSET/GETDEL/GETEX, APPEND, STRLEN,
// ranges and counters. LCS lives in StringCommands.Lcs.cs, INCRBYFLOAT in StringCommands.Float.cs.
public sealed partial class StringCommands
{
    partial void RegisterMore(CommandTable t)
    {
        t.Add("setnx", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", SetNx, G, "Set the string value of a key only when the key doesn't exist.");
        t.Add("setex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", SetEx, G, "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", "2.0.0");
        t.Add("psetex", 4, "write denyoom", 1, 1, 1, "@write @string @slow", PSetEx, G, "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", "2.6.0");
        t.Add("mget", -2, "readonly fast", 1, -1, 1, "@read @string @fast", MGet, G, "Atomically returns the string values of one or more keys.", "1.0.0", "O(N)");
        t.Add("mset", -3, "write denyoom", 1, -1, 2, "@write @string @slow", MSet, G, "Atomically creates or modifies the string values of one or more keys.", "1.0.1", "O(N)");
        t.Add("msetnx", -3, "write denyoom", 1, -1, 2, "@write @string @slow", MSetNx, G, "Atomically modifies the string values of one or more keys only when all keys don't exist.", "1.0.1", "O(N)");
        t.Add("getset", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", GetSet, G, "Returns the previous string value of a key after setting it to a new value.");
        t.Add("getdel", 2, "write fast", 1, 1, 1, "@write @string @fast", GetDel, G, "Returns the string value of a key after deleting the key.", "6.2.0");
        t.Add("getex", -2, "write fast", 1, 1, 1, "@write @string @fast", GetEx, G, "Returns the string value of a key after setting its expiration time.", "6.2.0");
        t.Add("append", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", Append, G, "Appends a string to the value of a key. Creates the key if it doesn't exist.", "2.0.0");
        t.Add("strlen", 2, "readonly fast", 1, 1, 1, "@read @string @fast", StrLen, G, "Returns the length of a string value.", "2.2.0");
        t.Add("incr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", Incr, G, "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.");
        t.Add("decr", 2, "write denyoom fast", 1, 1, 1, "@write @string @fast", Decr, G, "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.");
        t.Add("incrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", IncrBy, G, "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.");
        t.Add("decrby", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", DecrBy, G, "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.");
        t.Add("incrbyfloat", 3, "write denyoom fast", 1, 1, 1, "@write @string @fast", IncrByFloat, G, "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", "2.6.0");
        t.Add("getrange", 4, "readonly", 1, 1, 1, "@read @string @slow", GetRange, G, "Returns a substring of the string stored at a key.", "2.4.0", "O(N)");
        t.Add("substr", 4, "readonly", 1, 1, 1, "@read @string @slow", GetRange, G, "Returns a substring from a string value.", "1.0.0", "O(N)");
        t.Add("setrange", 4, "write denyoom", 1, 1, 1, "@write @string @slow", SetRange, G, "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", "2.2.0");
        t.Add("lcs", -3, "readonly", 1, 2, 1, "@read @string @slow", Lcs, G, "Finds the longest common substring.", "7.0.0", "O(N*M)");
    }

    private static void SetNx(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (ctx.Db.LookupWrite(key) != null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        ctx.Db.Set(key, StringObject.Create(ctx.Arg(2)));
        ctx.KeyChanged(key, '$', "set");
        ctx.Reply.WriteInteger(1);
    }

    private static void SetEx(CommandContext ctx) => SetWithExpire(ctx, seconds: true, "setex");

    private static void PSetEx(CommandContext ctx) => SetWithExpire(ctx, seconds: false, "psetex");

    /// <summary>SETEX/PSETEX key time value; propagated as SET key value PXAT ms like Redis 7.0.</summary>
    private static void SetWithExpire(CommandContext ctx, bool seconds, string name)
    {
        if (!ctx.TryGetLong(2, out long t)) return;
        if (!Expiry.TryComputeAbsolute(ctx, t, seconds, absolute: false, name, out long whenMs)) return;
        var key = ctx.Arg(1);
        ctx.Db.Set(key, StringObject.Create(ctx.Arg(3)));
        ctx.Db.SetExpire(key, whenMs);
        if (ctx.Server.Propagator != null)
            ctx.PropagateAs("SET"u8.ToArray(), ctx.ArgBytes(1), ctx.ArgBytes(3), "PXAT"u8.ToArray(), LongBytes(whenMs));
        ctx.KeyChanged(key, '$', "set");
        ctx.Notify('g', "expire", key);
        ctx.Reply.WriteOk();
    }

    internal static byte[] LongBytes(long v) => Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture));

    private static void MGet(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 1);
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            // Non-string values read as nil rather than WRONGTYPE (mgetCommand).
            if (ctx.Db.LookupRead(ctx.Arg(i)) is StringObject s) ctx.Reply.WriteString(s);
            else ctx.Reply.WriteNull();
        }
    }

    private static void MSet(CommandContext ctx) => MSetGeneric(ctx, nx: false);

    private static void MSetNx(CommandContext ctx) => MSetGeneric(ctx, nx: true);

    private static void MSetGeneric(CommandContext ctx, bool nx)
    {
        if ((ctx.ArgCount % 2) == 0)
        {
            ctx.Error(Errors.WrongArity(nx ? "msetnx" : "mset"));
            return;
        }
        if (nx)
        {
            for (int i = 1; i < ctx.ArgCount; i += 2)
            {
                if (ctx.Db.LookupWrite(ctx.Arg(i)) != null)
                {
                    ctx.Reply.WriteInteger(0);
                    return;
                }
            }
        }
        for (int i = 1; i < ctx.ArgCount; i += 2)
        {
            ctx.Db.Set(ctx.Arg(i), StringObject.Create(ctx.Arg(i + 1)));
            ctx.KeyChanged(ctx.Arg(i), '$', "set");
        }
        if (nx) ctx.Reply.WriteInteger(1);
        else ctx.Reply.WriteOk();
    }

    private static void GetSet(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var old)) return;
        if (old == null) ctx.Reply.WriteNull();
        else ctx.Reply.WriteString(old);
        ctx.Db.Set(key, StringObject.Create(ctx.Arg(2)));
        // Replicas and the AOF see a plain SET (getsetCommand rewrites its argv).
        if (ctx.Server.Propagator != null) ctx.PropagateAs("SET"u8.ToArray(), ctx.ArgBytes(1), ctx.ArgBytes(2));
        ctx.KeyChanged(key, '$', "set");
    }

    private static void GetDel(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        ctx.Reply.WriteString(s);
        ctx.Db.Delete(key);
        // Replicas and the AOF see a plain DEL (getdelCommand rewrites its argv).
        if (ctx.Server.Propagator != null) ctx.PropagateAs("DEL"u8.ToArray(), ctx.ArgBytes(1));
        ctx.KeyChanged(key, 'g', "del");
    }

    /// <summary>GETEX key [EX s|PX ms|EXAT ts|PXAT ts|PERSIST] (getexCommand).</summary>
    private static void GetEx(CommandContext ctx)
    {
        if (!TryParseExtended(ctx, 2, forGetEx: true, out var flags, out int expireIdx)) return;
        bool seconds = (flags & (SetFlags.EX | SetFlags.EXAT)) != 0;
        bool absolute = (flags & (SetFlags.EXAT | SetFlags.PXAT)) != 0;
        bool persist = (flags & SetFlags.Persist) != 0;
        long whenMs = 0;
        if (expireIdx != 0)
        {
            if (!ctx.TryGetLong(expireIdx, out long v)) return;
            if (!Expiry.TryComputeAbsolute(ctx, v, seconds, absolute, "getex", out whenMs)) return;
        }
        var key = ctx.Arg(1);
        if (!TryGetString(ctx, key, out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        ctx.Reply.WriteString(s);
        var db = ctx.Db;
        if (expireIdx != 0)
        {
            if (absolute && whenMs <= ctx.NowMs && ctx.Keyspace.ExpireOnAccess)
            {
                // An absolute time already in the past deletes the key, propagated as DEL.
                db.Delete(key);
                if (ctx.Server.Propagator != null) ctx.PropagateAs("DEL"u8.ToArray(), ctx.ArgBytes(1));
                ctx.KeyChanged(key, 'g', "del");
                return;
            }
            db.SetExpire(key, whenMs);
            if (ctx.Server.Propagator != null) ctx.PropagateAs("PEXPIREAT"u8.ToArray(), ctx.ArgBytes(1), LongBytes(whenMs));
            ctx.KeyChanged(key, 'g', "expire");
        }
        else if (persist && db.RemoveExpire(key))
        {
            if (ctx.Server.Propagator != null) ctx.PropagateAs("PERSIST"u8.ToArray(), ctx.ArgBytes(1));
            ctx.KeyChanged(key, 'g', "persist");
        }
    }

    /// <summary>checkStringLength: size + append must fit proto-max-bulk-len; an overflowing sum is too long too.</summary>
    private static bool CheckStringLength(CommandContext ctx, long size, long append)
    {
        long total = unchecked(size + append);
        if (total < size || total < append) total = long.MaxValue;
        return CheckStringLength(ctx, total);
    }

    private static bool CheckStringLength(CommandContext ctx, long size)
    {
        if ((size > ctx.Server.Config.ProtoMaxBulkLen && (ctx.Client.Flags & ClientFlags.Master) == 0) || size > Array.MaxLength)
        {
            ctx.Error(Errors.StringTooLong);
            return false;
        }
        return true;
    }

    private static void Append(CommandContext ctx)
    {
        var key = ctx.Arg(1);
        var db = ctx.Db;
        var o = db.LookupWrite(key);
        long newLength;
        if (o == null)
        {
            var created = StringObject.Create(ctx.Arg(2));
            db.Set(key, created);
            newLength = created.Length;
        }
        else
        {
            if (o is not StringObject s)
            {
                ctx.WrongType();
                return;
            }
            var add = ctx.Arg(2);
            int oldLength = s.Length;
            if (!CheckStringLength(ctx, (long)oldLength + add.Length)) return;
            var bytes = new byte[oldLength + add.Length];
            if (s.RawBytes is { } raw) raw.CopyTo(bytes, 0);
            else s.GetBytes().CopyTo(bytes, 0);
            add.CopyTo(bytes.AsSpan(oldLength));
            // Appending unshares the value: it becomes raw-encoded, TTL kept (dbUnshareStringValue).
            db.Set(key, StringObject.CreateRaw(bytes), keepTtl: true);
            newLength = bytes.Length;
        }
        ctx.KeyChanged(key, '$', "append");
        ctx.Reply.WriteInteger(newLength);
    }

    private static void StrLen(CommandContext ctx)
    {
        if (!TryGetString(ctx, ctx.Arg(1), out var s)) return;
        ctx.Reply.WriteInteger(s?.Length ?? 0);
    }

    private static void Incr(CommandContext ctx) => IncrDecr(ctx, 1);

    private static void Decr(CommandContext ctx) => IncrDecr(ctx, -1);

    private static void IncrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long by)) return;
        IncrDecr(ctx, by);
    }

    private static void DecrBy(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long by)) return;
        if (by == long.MinValue)
        {
            ctx.Error(Errors.DecrementOverflow);
            return;
        }
        IncrDecr(ctx, -by);
    }

    /// <summary>incrDecrCommand: int-encoded values are updated in place (the TTL stays).</summary>
    private static void IncrDecr(CommandContext ctx, long by)
    {
        var key = ctx.Arg(1);
        var db = ctx.Db;
        var o = db.LookupWrite(key);
        long value = 0;
        StringObject? s = null;
        if (o != null)
        {
            s = o as StringObject;
            if (s == null)
            {
                ctx.WrongType();
                return;
            }
            if (!s.TryGetLong(out value))
            {
                ctx.Error(Errors.NotInteger);
                return;
            }
        }
        if ((by < 0 && value < 0 && by < long.MinValue - value) || (by > 0 && value > 0 && by > long.MaxValue - value))
        {
            ctx.Error(Errors.Overflow);
            return;
        }
        value += by;
        if (s != null && s.IsInt) s.SetLong(value);
        else if (s != null) db.Set(key, StringObject.FromLong(value), keepTtl: true);
        else db.Set(key, StringObject.FromLong(value));
        ctx.KeyChanged(key, '$', "incrby");
        ctx.Reply.WriteInteger(value);
    }

    /// <summary>GETRANGE/SUBSTR key start end with Redis's clamping (getrangeCommand).</summary>
    private static void GetRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
        if (!TryGetString(ctx, ctx.Arg(1), out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteBulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        byte[] bytes = s.RawBytes ?? s.GetBytes();
        long len = bytes.Length;
        if (start < 0 && end < 0 && start > end)
        {
            ctx.Reply.WriteBulk(ReadOnlySpan<byte>.Empty);
            return;
        }
        if (start < 0) start += len;
        if (end < 0) end += len;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= len) end = len - 1;
        if (start > end || len == 0) ctx.Reply.WriteBulk(ReadOnlySpan<byte>.Empty);
        else ctx.Reply.WriteBulk(bytes.AsSpan((int)start, (int)(end - start + 1)));
    }

    private static void SetRange(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long offset)) return;
        if (offset < 0)
        {
            ctx.Error(Errors.OffsetOutOfRange);
            return;
        }
        var key = ctx.Arg(1);
        var value = ctx.Arg(3);
        var db = ctx.Db;
        var o = db.LookupWrite(key);
        if (o == null)
        {
            if (value.Length == 0)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            if (!CheckStringLength(ctx, offset, value.Length)) return;
            var bytes = new byte[offset + value.Length];
            value.CopyTo(bytes.AsSpan((int)offset));
            db.Set(key, StringObject.CreateRaw(bytes));
            ctx.KeyChanged(key, '$', "setrange");
            ctx.Reply.WriteInteger(bytes.Length);
            return;
        }
        if (o is not StringObject s)
        {
            ctx.WrongType();
            return;
        }
        int oldLength = s.Length;
        if (value.Length == 0)
        {
            ctx.Reply.WriteInteger(oldLength);
            return;
        }
        if (!CheckStringLength(ctx, offset, value.Length)) return;
        byte[] old = s.RawBytes ?? s.GetBytes();
        long newLength = Math.Max(oldLength, offset + value.Length);
        byte[] result = newLength == old.Length && s.Encoding == "raw" ? old : new byte[newLength];
        if (!ReferenceEquals(result, old)) old.CopyTo(result, 0);
        value.CopyTo(result.AsSpan((int)offset));
        db.Set(key, StringObject.CreateRaw(result), keepTtl: true);
        ctx.KeyChanged(key, '$', "setrange");
        ctx.Reply.WriteInteger(newLength);
    }
}
