using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Blocking list commands. A handler first tries to serve like its non-blocking twin; when no
/// key has data it parks the client with <see cref="RedisServer.Block"/>. When a watched key is
/// signalled, the server re-runs the handler (ctx.RetryingBlocked) which serves or blocks again
/// with the time left. A served blocking pop propagates as its effect (BLPOP -> LPOP, BLMOVE ->
/// LMOVE, BLMPOP -> LPOP key count), as Redis 7.0 does. Inside MULTI/EXEC or a script the
/// command never blocks and replies as on timeout (null array).
/// </summary>
public sealed partial class ListCommands
{
    private static readonly Action<Protocol.RespWriter> TimeoutReply = static w => w.WriteNullArray();

    private static void RegisterBlocking(CommandTable t)
    {
        t.Add("blpop", -3, "write noscript blocking", 1, -2, 1, "@write @list @slow @blocking", BLPop, G, "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.");
        t.Add("brpop", -3, "write noscript blocking", 1, -2, 1, "@write @list @slow @blocking", BRPop, G, "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.");
        t.Add("blmove", 6, "write denyoom noscript blocking", 1, 2, 1, "@write @list @slow @blocking", BLMove, G, "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0");
        t.Add("brpoplpush", 4, "write denyoom noscript blocking", 1, 2, 1, "@write @list @slow @blocking", BRPopLPush, G, "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0");
        t.Add("blmpop", -5, "write blocking", 0, 0, 0, "@write @list @slow @blocking", BLMPop, G, "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.", keys: args => NumKeysFinder(args, 2));
    }

    /// <summary>
    /// Redis's timeout argument: seconds as a float, converted to ms rounding up. Values whose ms
    /// do not fit a signed 64-bit integer (including inf) end up negative in Redis 7.0, hence
    /// "timeout is negative" for them too. A tiny negative such as -0.0001 rounds to 0 (forever).
    /// </summary>
    internal static bool TryGetTimeoutMs(CommandContext ctx, int i, out long timeoutMs)
    {
        timeoutMs = 0;
        if (!Protocol.NumberFormat.TryParseDouble(ctx.Arg(i), out double seconds))
        {
            ctx.Error(Errors.TimeoutNotFloat);
            return false;
        }
        double ms = Math.Ceiling(seconds * 1000.0);
        if (!(ms >= 0 && ms < 9.2233720368547758e18))
        {
            ctx.Error(Errors.TimeoutNegative);
            return false;
        }
        timeoutMs = (long)ms;
        return true;
    }

    private static bool MayBlock(CommandContext ctx) => (ctx.Client.Flags & (ClientFlags.Multi | ClientFlags.Lua)) == 0;

    /// <summary>Blocks on the keys at [first, first+count) or, where blocking is not allowed, replies as on timeout.</summary>
    private static void BlockOn(CommandContext ctx, int first, int count, long timeoutMs)
    {
        if (!MayBlock(ctx))
        {
            TimeoutReply(ctx.Reply);
            return;
        }
        // A key named twice (BLPOP k k 0) is waited on once, as Redis does.
        var keys = new List<byte[]>(count);
        for (int i = 0; i < count; i++)
        {
            var k = ctx.Arg(first + i);
            bool seen = false;
            foreach (var prev in keys) seen |= k.SequenceEqual(prev);
            if (!seen) keys.Add(k.ToArray());
        }
        ctx.Server.Block(ctx, keys.ToArray(), ctx.RetryingBlocked ? ctx.BlockRemainingMs : timeoutMs, TimeoutReply);
    }

    /// <summary>
    /// Looks up a key a blocked command waits on. A first attempt reports WRONGTYPE; a retry
    /// treats a key of another type as empty (Redis only serves blocked clients from lists).
    /// </summary>
    private static bool TryGetWaitedList(CommandContext ctx, int argIndex, out ListObject? list)
    {
        var o = ctx.Db.LookupWrite(ctx.Arg(argIndex));
        list = o as ListObject;
        if (o == null || list != null || ctx.RetryingBlocked)
            return true;
        ctx.WrongType();
        return false;
    }

    private static void BLPop(CommandContext ctx) => BPop(ctx, head: true);
    private static void BRPop(CommandContext ctx) => BPop(ctx, head: false);

    private static void BPop(CommandContext ctx, bool head)
    {
        if (!TryGetTimeoutMs(ctx, ctx.ArgCount - 1, out long timeoutMs)) return;
        for (int k = 1; k < ctx.ArgCount - 1; k++)
        {
            if (!TryGetWaitedList(ctx, k, out var list)) return;
            if (list == null || list.Count == 0) continue;
            var key = ctx.Arg(k);
            ctx.Reply.WriteArrayHeader(2);
            ctx.Reply.WriteBulk(key);
            ctx.Reply.WriteBulk(list.Pop(head)!);
            ctx.KeyChanged(key, 'l', head ? "lpop" : "rpop");
            DeleteIfEmpty(ctx, key, list);
            if (ctx.Server.Propagator != null) ctx.PropagateAs(head ? "LPOP"u8.ToArray() : "RPOP"u8.ToArray(), ctx.ArgBytes(k));
            return;
        }
        BlockOn(ctx, 1, ctx.ArgCount - 2, timeoutMs);
    }

    private static void BLMove(CommandContext ctx)
    {
        if (!TryGetSide(ctx, 3, out bool fromLeft) || !TryGetSide(ctx, 4, out bool toLeft)) return;
        BMove(ctx, fromLeft, toLeft, 5, "LMOVE"u8.ToArray());
    }

    private static void BRPopLPush(CommandContext ctx) => BMove(ctx, fromLeft: false, toLeft: true, 3, "RPOPLPUSH"u8.ToArray());

    private static void BMove(CommandContext ctx, bool fromLeft, bool toLeft, int timeoutIndex, byte[] propagateAs)
    {
        if (!TryGetTimeoutMs(ctx, timeoutIndex, out long timeoutMs)) return;
        if (!TryGetWaitedList(ctx, 1, out var source)) return;
        if (source == null || source.Count == 0)
        {
            BlockOn(ctx, 1, 1, timeoutMs);
            return;
        }
        MoveFrom(ctx, source, fromLeft, toLeft, propagateAs);
    }

    private static void BLMPop(CommandContext ctx)
    {
        // Redis parses numkeys, keys, side and COUNT before the timeout.
        if (!TryParseMPop(ctx, 2, out var a) || !TryGetTimeoutMs(ctx, 1, out long timeoutMs)) return;
        var result = TryMPop(ctx, a, skipWrongType: ctx.RetryingBlocked);
        if (result == MPopResult.Empty) BlockOn(ctx, a.FirstKey, a.NumKeys, timeoutMs);
    }
}
