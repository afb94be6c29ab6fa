using Cinnabar.Protocol;
using Cinnabar.Scripting;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// SCRIPT DEBUG and the server's side of a Lua debugger session (Redis 7.0 eval.c:
/// ldbEnable/ldbStartSession/ldbEndSession). The session itself (stops, commands, log format)
/// is <see cref="LuaDebugger"/>; here the EVAL is wrapped: the connection is handed to the
/// session, the script runs under the exec lock, "&lt;endsession&gt;" is sent, and the client is
/// closed after its EVAL reply, in both modes, as Redis does.
/// SYNC: the server is blocked for the whole session and the script's changes stay.
/// YES: Redis runs the session in a forked child, so the dataset is untouched afterwards. We cannot
/// fork: the session runs in process (other clients wait, as in SYNC), its writes are neither
/// propagated nor notified, and an undo log of every key a write touches restores the dataset
/// when the session ends (<see cref="ScriptUndoLog"/>).
/// </summary>
internal static class ScriptDebugging
{
    public static void ScriptDebug(CommandContext ctx)
    {
        // clientHasPendingReplies: in a pipeline (or an EXEC) replies are owed before this one.
        if (ctx.Reply.Length > 0 || (ctx.Client.Flags & ClientFlags.Multi) != 0)
        {
            ctx.Error("ERR SCRIPT DEBUG must be called outside a pipeline");
            return;
        }
        LuaDebugMode mode;
        if (ctx.ArgIs(2, "NO")) mode = LuaDebugMode.Off;
        else if (ctx.ArgIs(2, "YES")) mode = LuaDebugMode.Yes;
        else if (ctx.ArgIs(2, "SYNC")) mode = LuaDebugMode.Sync;
        else
        {
            ctx.Error("ERR Use SCRIPT DEBUG YES/SYNC/NO");
            return;
        }
        // A client without a socket (AOF loading, a master link) has no one to debug with.
        if (ctx.Client.Socket != null && (ctx.Client.Flags & (ClientFlags.Master | ClientFlags.Lua)) == 0) ctx.Client.LuaDebug = mode;
        ctx.Reply.WriteOk();
    }

    /// <summary>evalGenericCommandWithDebugging: the whole EVAL (checks included) runs inside the session.</summary>
    public static void EvalWithDebugging(CommandContext ctx, Action<CommandContext> eval)
    {
        var client = ctx.Client;
        var server = ctx.Server;
        bool sync = client.LuaDebug == LuaDebugMode.Sync;
        var host = server.Scripting;
        server.Log.Warning(sync ? "Redis synchronous debugging eval session started" : "Redis forked for debugging eval");
        var channel = client.OpenLdbChannel();
        var debugger = new LuaDebugger(channel, ctx.Arg(1), server.Config.BusyReplyThresholdMs);
        var undo = sync ? null : new ScriptUndoLog(server);
        long dirtyBefore = server.Dirty;
        bool mutedBefore = server.Notifications.Muted;
        host.Debugger = debugger;
        host.Undo = undo;
        if (undo != null) server.Notifications.Muted = true;
        try
        {
            eval(ctx);
        }
        finally
        {
            host.Debugger = null;
            host.Undo = null;
            debugger.Log("<endsession>");
            debugger.SendLogs();
            if (undo != null)
            {
                undo.Rollback();
                server.Dirty = dirtyBefore;
                server.Notifications.Muted = mutedBefore;
                // Nothing of a rolled back session reaches the AOF or the replicas.
                ctx.PropagateOverride = new List<byte[][]>();
                server.Log.Warning("Lua debugging session child exiting");
            }
            else server.Log.Warning("Redis synchronous debugging eval session ended");
            // The end of the session is signalled by closing the connection after the EVAL reply.
            client.Flags |= ClientFlags.CloseAfterReply;
            client.LuaDebug = LuaDebugMode.Off;
        }
    }
}

/// <summary>
/// What a YES-mode debugging session changed, to put back when it ends: the first time a write
/// command of the script touches a key, the key's value (as a DUMP payload) and TTL, or its
/// absence. Commands whose keys cannot be told from their arguments alone (FLUSHALL, FLUSHDB,
/// SWAPDB, MOVE, COPY) save every key of every db once instead; the rollback then empties the dbs
/// and restores them. Runs under the exec lock.
/// </summary>
internal sealed class ScriptUndoLog(RedisServer server)
{
    private sealed record Saved(byte[]? Payload, long ExpireMs);

    private readonly Dictionary<int, ByteTable<Saved>> _saved = new();
    private bool _everything;

    /// <summary>Called before a write command of the debugged script runs in db <paramref name="db"/>.</summary>
    public void Record(int db, CommandDef cmd, CommandArgs args)
    {
        if (_everything) return;
        string name = (cmd.Parent?.Name ?? cmd.Name).ToLowerInvariant();
        int[] keys = name is "flushall" or "flushdb" or "swapdb" or "move" or "copy" ? [] : cmd.GetKeyIndexes(args);
        if (keys.Length == 0)
        {
            SaveEverything();
            return;
        }
        foreach (int k in keys)
        {
            if (k < args.Count) Save(db, args[k]);
        }
    }

    private void Save(int dbIndex, ReadOnlySpan<byte> key)
    {
        if (!_saved.TryGetValue(dbIndex, out var table)) _saved[dbIndex] = table = new ByteTable<Saved>();
        if (table.ContainsKey(key)) return;
        var db = server.Keyspace[dbIndex];
        Saved saved = db.Dict.TryGetValue(key, out var value)
            ? new Saved(PersistenceCommands.CreateDumpPayload(value, compress: false), db.GetExpire(key))
            : new Saved(null, -1);
        table.Set(key.ToArray(), saved);
    }

    private void SaveEverything()
    {
        for (int i = 0; i < server.Keyspace.Count; i++)
        {
            var keys = new List<byte[]>();
            foreach (var entry in server.Keyspace[i].Dict) keys.Add(entry.Key);
            foreach (var key in keys) Save(i, key);
        }
        _everything = true;
    }

    public void Rollback()
    {
        if (_everything)
        {
            for (int i = 0; i < server.Keyspace.Count; i++) server.Keyspace[i].Clear();
        }
        foreach (var (dbIndex, table) in _saved)
        {
            var db = server.Keyspace[dbIndex];
            foreach (var entry in table)
            {
                db.Delete(entry.Key);
                if (entry.Value.Payload == null) continue;
                var value = PersistenceCommands.ParseDumpPayload(entry.Value.Payload, out _);
                if (value == null) continue;
                db.Set(entry.Key, value);
                if (entry.Value.ExpireMs != -1) db.SetExpire(entry.Key, entry.Value.ExpireMs);
            }
        }
        _saved.Clear();
        _everything = false;
    }
}
