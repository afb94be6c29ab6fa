using System.Collections.Concurrent;
using System.Net.Sockets;

namespace Cinnabar.Server;

/// <summary>
/// Server-side state of the scripting subsystem. Scripts run under the exec lock; while one runs
/// longer than busy-reply-threshold, <see cref="ScriptBusy"/> is set so connections waiting for
/// the lock can answer -BUSY and accept SCRIPT KILL / FUNCTION KILL without the lock.
/// </summary>
public sealed partial class RedisServer
{
    private Commands.ScriptHost? _scripting;

    /// <summary>The scripting engines and caches, created on first use (Lua states are not free).</summary>
    internal Commands.ScriptHost Scripting => _scripting ??= new Commands.ScriptHost(this);

    /// <summary>The scripting host if a script or function has created it, else null: observers (INFO) must not create it.</summary>
    internal Commands.ScriptHost? ScriptingIfStarted => _scripting;

    /// <summary>True while a script has been running for longer than busy-reply-threshold.</summary>
    public volatile bool ScriptBusy;

    /// <summary>Set by SCRIPT KILL / FUNCTION KILL from another connection while a script is busy.</summary>
    public volatile bool ScriptKillRequested;

    /// <summary>
    /// Set by SIGTERM/SIGINT: a Lua debugger session blocked reading its client gives up (as
    /// Redis's read() returns on the signal), so the shutdown can take the exec lock.
    /// </summary>
    public volatile bool LdbInterrupt;

    /// <summary>True once the running script modified data: SCRIPT KILL then answers UNKILLABLE.</summary>
    public volatile bool ScriptWrote;

    /// <summary>
    /// scriptVerifyWriteCommandAllow's server-state checks for a script's first write: a read-only
    /// replica, a disk error (MISCONF), too few good replicas. caller is the client that ran the
    /// script (its master link is obeyed, as in Redis).
    /// </summary>
    internal string? ScriptWriteDenial(Client caller, CommandDef cmd)
    {
        if (IsReplica && Config.ReplicaReadOnly && (caller.Flags & ClientFlags.Master) == 0) return Errors.ReadOnlyReplica;
        return MisconfCheck(caller, cmd) ?? AofWriteCheck(caller, cmd) ?? ReplicationWriteCheck(caller, cmd);
    }

    /// <summary>The last command found the server out of memory (maxmemory) before it ran (pre_command_oom_state).</summary>
    public bool PreCommandOom;

    /// <summary>
    /// Runs on a connection's thread WITHOUT the exec lock while a script is busy (Redis's
    /// processEventsWhileBlocked): only SCRIPT KILL / FUNCTION KILL act; everything else gets -BUSY.
    /// </summary>
    internal void ExecuteWhileBusy(Client client, Protocol.CommandArgs args)
    {
        if (args.Count >= 2 && IsWord(args[0], "shutdown") && IsWord(args[1], "nosave"))
        {
            Log.Warning("Shutting down while a script is busy (SHUTDOWN NOSAVE).");
            Shutdown(false, now: true, force: true);
            return;
        }
        // processCommand checks loading before busy: while an AOF's slow script replays, clients
        // get -LOADING for what may not run during loading (DEBUG LOADAOF, startup).
        if (Rdb.Loading && Commands.Lookup(args[0]) is { } looked && !looked.Is(CommandFlags.Loading))
        {
            client.Reply.WriteError(Errors.Loading);
            return;
        }
        if (TryHelloWhileBusy(client, args)) return;
        bool function = IsWord(args[0], "function");
        if (args.Count == 2 && function && IsWord(args[1], "stats"))
        {
            Cinnabar.Server.Commands.ScriptingCommands.WriteFunctionStats(Scripting, client.Reply, Scripting.BusyScript);
            return;
        }
        bool kill = args.Count == 2 && (IsWord(args[0], "script") || function) && IsWord(args[1], "kill");
        if (!kill)
        {
            RejectWhileBusy(client, args);
            return;
        }
        // scriptKill: a master's script, one that wrote, or the other kind's KILL are refused.
        string? refusal = Scripting.RunningFromMaster ? Errors.UnkillableFromMaster
            : ScriptWrote ? Errors.Unkillable
            : Scripting.RunningIsFunction && !function ? Errors.BusyFunction
            : !Scripting.RunningIsFunction && function ? Errors.Busy
            : null;
        if (refusal != null)
        {
            client.Reply.WriteError(refusal);
            return;
        }
        ScriptKillRequested = true;
        client.Reply.WriteOk();
    }

    /// <summary>
    /// HELLO is allowed while busy (CMD_ALLOW_BUSY): a client can still switch protocol and set
    /// its name, which a script polling CLIENT LIST may be waiting for. Only client-local state
    /// changes, so it runs without the lock; HELLO AUTH (the shared ACL state) and HELLO inside
    /// MULTI (queued) are left to the -BUSY path.
    /// </summary>
    /// <summary>The -BUSY reply names the KILL that applies to what is running (slowevalerr / slowscripterr).</summary>
    private string BusyError => Scripting.RunningIsFunction ? Errors.BusyFunction : Errors.Busy;

    private bool TryHelloWhileBusy(Client client, Protocol.CommandArgs args)
    {
        if (!IsWord(args[0], "hello") || (client.Flags & ClientFlags.Multi) != 0) return false;
        for (int i = 1; i < args.Count; i++)
            if (IsWord(args[i], "auth")) return false;
        var hello = Commands.Lookup(args[0]);
        if (hello?.Handler == null) return false;
        var ctx = client.Context;
        ctx.Args = args;
        ctx.Command = hello;
        ctx.Failed = false;
        hello.Handler(ctx);
        return true;
    }

    /// <summary>
    /// MULTI and DISCARD are allowed while busy (CMD_ALLOW_BUSY), so a pipelined transaction is
    /// never half refused; any other command is refused with -BUSY and poisons an open
    /// transaction, and EXEC answers EXECABORT and leaves MULTI (rejectCommand/execCommandAbort).
    /// Only client-local state is touched here: the exec lock is held by the script. (WATCHes of
    /// a discarded transaction stay until the client's next EXEC/DISCARD/UNWATCH.)
    /// </summary>
    private void RejectWhileBusy(Client client, Protocol.CommandArgs args)
    {
        bool inMulti = (client.Flags & ClientFlags.Multi) != 0;
        if (args.Count == 1 && IsWord(args[0], "multi"))
        {
            if (inMulti) client.Reply.WriteError(Errors.NestedMulti);
            else
            {
                Cinnabar.Server.Commands.TransactionCommands.EnterMulti(client);
                client.Reply.WriteOk();
            }
            return;
        }
        if (args.Count == 1 && IsWord(args[0], "discard") && inMulti)
        {
            Cinnabar.Server.Commands.TransactionCommands.ResetMulti(client);
            client.Reply.WriteOk();
            return;
        }
        if (inMulti && args.Count == 1 && IsWord(args[0], "exec"))
        {
            Cinnabar.Server.Commands.TransactionCommands.ResetMulti(client);
            client.Reply.WriteError(Errors.ExecAbortBecause(BusyError));
            return;
        }
        if (inMulti) client.Flags |= ClientFlags.DirtyExec;
        client.Reply.WriteError(BusyError);
    }

    private readonly ConcurrentQueue<Client> _acceptedWhileBusy = new();

    /// <summary>
    /// A connection accepted while a script holds the lock: it runs at once (its commands get
    /// -BUSY) and joins the client table when the script ends (<see cref="DrainAcceptedWhileBusy"/>).
    /// </summary>
    private void AcceptWhileBusy(Socket socket)
    {
        var client = new Client(this, socket, Interlocked.Increment(ref _nextClientId)) { Authenticated = !AuthRequired };
        // Redis checks protected mode in the accept handler, which runs while a script is busy too.
        if (IsProtectedModeViolation(client))
        {
            Stats.RejectedConnections++;   // only the accept path writes it while the lock is held elsewhere
            try { socket.Send(System.Text.Encoding.ASCII.GetBytes(ProtectedModeMessage)); } catch (SocketException) { }
            socket.Dispose();
            return;
        }
        _acceptedWhileBusy.Enqueue(client);
        // Started inline, as OnAccepted does: a pool work item could wait behind pool threads
        // that are blocked on the lock for as long as the script runs.
        _ = client.RunAsync();
    }

    /// <summary>Called under the exec lock when a script ends.</summary>
    internal void DrainAcceptedWhileBusy()
    {
        CleanUpClosedClients();
        while (_acceptedWhileBusy.TryDequeue(out var c))
        {
            Stats.TotalConnections++;
            _clients[c.Id] = c;
        }
    }

    private static bool IsWord(ReadOnlySpan<byte> arg, string lower)
    {
        if (arg.Length != lower.Length) return false;
        for (int i = 0; i < arg.Length; i++)
            if ((arg[i] | 0x20) != lower[i]) return false;
        return true;
    }
}
