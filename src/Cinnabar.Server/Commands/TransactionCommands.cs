using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

/// <summary>
/// MULTI/EXEC/DISCARD/WATCH/UNWATCH (Redis's multi.c). The dispatcher queues commands while the
/// Multi flag is set; EXEC replays the queue through <see cref="RedisServer.Call"/> under the
/// execution lock, so the transaction is atomic by construction. The Multi flag stays set while
/// queued commands run so blocking commands reply as on timeout instead of blocking.
/// </summary>
public sealed class TransactionCommands : ICommandFamily
{
    private const string G = "transactions";

    public void Register(CommandTable t)
    {
        t.Add("multi", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction", Multi, G, "Starts a transaction.", "1.2.0");
        t.Add("exec", 1, "noscript loading stale skip_slowlog", 0, 0, 0, "@slow @transaction", Exec, G, "Executes all commands in a transaction.", "1.2.0", "Depends on commands in the transaction");
        t.Add("discard", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction", Discard, G, "Discards a transaction.", "2.0.0", "O(N), when N is the number of queued commands");
        t.Add("watch", -2, "noscript loading stale fast allow_busy", 1, -1, 1, "@fast @transaction", Watch, G, "Monitors changes to keys to determine the execution of a transaction.", "2.2.0", "O(1) for every key.");
        t.Add("unwatch", 1, "noscript loading stale fast allow_busy", 0, 0, 0, "@fast @transaction", Unwatch, G, "Forgets about watched keys of a transaction.", "2.2.0");
    }

    private static void Multi(CommandContext ctx)
    {
        var c = ctx.Client;
        if ((c.Flags & ClientFlags.Multi) != 0)
        {
            ctx.Error(Errors.NestedMulti);
            return;
        }
        EnterMulti(c);
        ctx.Reply.WriteOk();
    }

    /// <summary>Starts queueing (MULTI; also accepted while a script is busy).</summary>
    internal static void EnterMulti(Client c)
    {
        c.Flags |= ClientFlags.Multi;
        c.MultiQueue?.Clear();
        c.MultiFlags = 0;
    }

    /// <summary>Leaves the MULTI state (Redis's discardTransaction without the unwatch).</summary>
    internal static void ResetMulti(Client c)
    {
        c.MultiQueue = null;
        c.MultiFlags = 0;
        c.Flags &= ~(ClientFlags.Multi | ClientFlags.DirtyExec | ClientFlags.DirtyCas);
    }

    private static void Discard(CommandContext ctx)
    {
        var c = ctx.Client;
        if ((c.Flags & ClientFlags.Multi) == 0)
        {
            ctx.Error(Errors.DiscardWithoutMulti);
            return;
        }
        ResetMulti(c);
        ctx.Server.UnwatchAll(c);
        ctx.Reply.WriteOk();
    }

    private static void Exec(CommandContext ctx)
    {
        var c = ctx.Client;
        var server = ctx.Server;
        if ((c.Flags & ClientFlags.Multi) == 0)
        {
            ctx.Error(Errors.ExecWithoutMulti);
            return;
        }
        if ((c.Flags & ClientFlags.DirtyExec) != 0)
        {
            ResetMulti(c);
            server.UnwatchAll(c);
            ctx.Error(Errors.ExecAbort);
            return;
        }
        if ((c.Flags & ClientFlags.DirtyCas) != 0 || WatchedKeyExpired(ctx))
        {
            ResetMulti(c);
            server.UnwatchAll(c);
            ctx.Reply.WriteNullArray();
            return;
        }
        // Unwatch first, as Redis does: the transaction's own writes must not flag this client.
        server.UnwatchAll(c);
        var queue = c.MultiQueue ?? new List<byte[][]>();
        c.MultiQueue = null;
        var execDef = ctx.Command;
        var execArgs = ctx.Args;
        ctx.Reply.WriteArrayHeader(queue.Count);
        // The transaction's writes reach replicas and the AOF as one unit: alone when there is
        // one, wrapped in MULTI ... EXEC when there are several, nothing when none changed data
        // (Redis 7.0's also_propagate). EXEC itself is never propagated.
        server.BeginAtomicPropagation();
        try
        {
            foreach (var argv in queue)
            {
                var args = new CommandArgs();
                args.SetOwned(argv);
                var def = server.Commands.Lookup(args[0]);
                if (def?.Subcommands != null) def = CommandTable.LookupSub(def, args[1]);
                if (def == null) continue;
                if (!c.AclUser.Unrestricted && server.Acl.CheckQueued(c, def, args) is { } denial)
                {
                    ctx.Error(denial);
                    continue;
                }
                server.Call(c, def, args);
            }
        }
        finally
        {
            server.EndAtomicPropagation();
        }
        ResetMulti(c);
        ctx.Args = execArgs;
        ctx.Command = execDef;
        ctx.Failed = false;
        ctx.PropagateOverride = new List<byte[][]>();
    }

    /// <summary>
    /// Redis 7.0 also aborts when a watched key expired after WATCH even if nothing deleted it
    /// yet (isWatchedKeyExpired). Keys still stored but past their TTL count as changed.
    /// </summary>
    private static bool WatchedKeyExpired(CommandContext ctx)
    {
        var watched = ctx.Client.Watched;
        if (watched == null) return false;
        foreach (var w in watched)
        {
            // Keys already expired when WATCHed don't count (isWatchedKeyExpired).
            if (!w.Expired && ctx.Server.IsLogicallyExpired(ctx.Keyspace[w.Db], w.Key)) return true;
        }
        return false;
    }

    private static void Watch(CommandContext ctx)
    {
        var c = ctx.Client;
        if ((c.Flags & ClientFlags.Multi) != 0)
        {
            ctx.Error(Errors.WatchInMulti);
            return;
        }
        for (int i = 1; i < ctx.ArgCount; i++) ctx.Server.Watch(c, ctx.Arg(i));
        ctx.Reply.WriteOk();
    }

    private static void Unwatch(CommandContext ctx)
    {
        ctx.Server.UnwatchAll(ctx.Client);
        ctx.Reply.WriteOk();
    }
}
