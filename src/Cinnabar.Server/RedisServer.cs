using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;
using Cinnabar.Storage;

namespace Cinnabar.Server;

/// <summary>Receives every successful write as a command, for the AOF and the replication stream.</summary>
public interface IPropagationSink
{
    void Propagate(int dbIndex, CommandArgs argv);
    void Propagate(int dbIndex, byte[][] argv);
}

/// <summary>
/// The server: owns the keyspace, the command table, the clients and the timers, and runs
/// commands. Execution is single-writer: every command runs while holding <see cref="ExecLock"/>,
/// which a client takes once per received batch. Blocking commands are parked and re-executed
/// when a key they wait on is signalled ready (after the batch that made it ready).
/// </summary>
public sealed partial class RedisServer : IKeyspaceEvents
{
    public readonly object ExecLock = new();
    private readonly List<Socket> _listeners = new();
    private readonly Dictionary<long, Client> _clients = new();
    private readonly Dictionary<(int Db, string Key), LinkedList<Client>> _blockedByKey = new();
    private readonly HashSet<(int Db, string Key)> _readyKeys = new();
    private readonly ByteTable<List<Client>>[] _watched;
    private int _watchedCount;
    private long _nextClientId;
    private CronThread? _cron;
    private readonly Stopwatch _uptime = Stopwatch.StartNew();
    private readonly CancellationTokenSource _shutdown = new();

    public RedisServer(ServerConfig config, Log? log = null)
    {
        Config = config;
        Log = log ?? new Log();
        Keyspace = new Keyspace(config.Databases) { Events = this };
        Commands = config.SentinelMode ? Cinnabar.Server.Sentinel.SentinelCommands.CreateTable() : CommandTable.CreateDefault();
        foreach (var (oldName, newName) in config.RenamedCommands)
            if (Commands.Rename(oldName, newName) is { } renameError) Log.Warning($"rename-command {oldName}: {renameError}");
        Acl = new Acl.AclManager(this);
        PubSub = new PubSub();
        Notifications = new Notifications(this);
        Notifications.Configure(config.NotifyKeyspaceEvents);
        Tracking = new Tracking.ClientTracking(this);
        _watched = new ByteTable<List<Client>>[config.Databases];
        for (int i = 0; i < _watched.Length; i++) _watched[i] = new ByteTable<List<Client>>();
        RunId = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
        config.Changed += OnConfigChanged;
        OomScoreAdjuster.IsReplica = () => IsReplica;
        ApplyLfuSettings();
        // Redis's processCommand order: MISCONF, NOREPLICAS/READONLY, MASTERDOWN, LOADING, async LOADING.
        PreconditionChecks.Add(MisconfCheck);
        PreconditionChecks.Add(AofWriteCheck);
        PreconditionChecks.Add(ReplicationWriteCheck);
        PreconditionChecks.Add(ReplicaReplyGuard.KeyspaceCheck);
        PreconditionChecks.Add(MasterDownCheck);
        PreconditionChecks.Add(LoadingCheck);
        PreconditionChecks.Add(AsyncLoadingCheck);
        UpdateCachedTime();
    }

    public ServerConfig Config { get; }
    /// <summary>Cluster mode (cluster-enabled yes): the node's bus, state machine and routing; null otherwise.</summary>
    public Cluster.ClusterService? Cluster { get; set; }
    public Sentinel.SentinelService? Sentinel { get; set; }
    public Log Log { get; }
    public Keyspace Keyspace { get; }
    public CommandTable Commands { get; }
    public Acl.AclManager Acl { get; }
    public PubSub PubSub { get; }
    /// <summary>Background reclaiming of large deleted values (UNLINK, FLUSHDB ASYNC).</summary>
    public LazyFree LazyFree { get; } = new();
    /// <summary>Client memory accounting and maxmemory-clients (ClientEviction.cs).</summary>
    public ClientEviction ClientMemory => _clientMemory ??= new ClientEviction(this);
    private ClientEviction? _clientMemory;
    public Notifications Notifications { get; }
    /// <summary>CLIENT TRACKING: who may cache which keys, and their invalidations.</summary>
    public Tracking.ClientTracking Tracking { get; }
    public Stats Stats { get; } = new();
    public string RunId { get; }
    public long Dirty;
    public Random Random { get; } = new();
    public string RoleName { get; set; } = "master";
    public IPropagationSink? Propagator { get; set; }
    public long StartTimeMs { get; } = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    public long UptimeSeconds => (long)_uptime.Elapsed.TotalSeconds;
    public List<Client> Monitors { get; } = new();
    public bool AuthRequired => Acl.AuthRequired;
    public int ClientCount => _clients.Count;
    public IEnumerable<Client> Clients => _clients.Values;
    public int BlockedClientCount { get; private set; }
    public bool ShuttingDown => _shutdown.IsCancellationRequested;
    public Task Stopped => _stoppedTcs.Task;
    private readonly TaskCompletionSource _stoppedTcs = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Hooks for subsystems (persistence, replication) run by the cron under the lock.</summary>
    public event Action<long>? CronTick;

    /// <summary>Hooks run before the process exits on SHUTDOWN; returning an error aborts the shutdown.</summary>
    public Func<bool, string?>? BeforeShutdown { get; set; }

    public void UpdateCachedTime() => Keyspace.NowMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private void OnConfigChanged(string name, string value)
    {
        Cluster?.OnConfigChanged(name);
        switch (name)
        {
            case "aof-disable-auto-gc":
                if (value == "no") DeleteAofHistory();
                break;
            case "notify-keyspace-events": Notifications.Configure(value); break;
            case "loglevel": Log.SetLevel(value); break;
            case "hz": _cron?.Change(1000 / Config.Hz); break;
            case "maxmemory-policy" or "lfu-log-factor" or "lfu-decay-time": ApplyLfuSettings(); break;
            case "appendonly": SetAppendOnly(value == "yes"); break;
            case "client-output-buffer-limit": OnOutputLimitConfigChanged(); break;
            case "maxmemory": OnMaxMemoryChanged(); ClientMemory.EvictIfNeeded(); break;
            case "maxmemory-clients": ClientMemory.EvictIfNeeded(); break;
            // resizeReplicationBacklog: at once, keeping the most recent history that fits.
            case "repl-backlog-size": Repl.Backlog?.Resize(BacklogSize); break;
            // applyWatchdogPeriod: armed at once, not at the next cron.
            case "watchdog-period": _watchdog.Schedule(WatchdogPeriodMs()); break;
        }
    }

    private void ApplyLfuSettings()
    {
        Keyspace.UseLfu = Config.MaxMemoryPolicy.Contains("lfu", StringComparison.Ordinal);
        Keyspace.LfuLogFactor = Config.LfuLogFactor;
        Keyspace.LfuDecayTime = Config.LfuDecayTime;
    }

    // ---------------------------------------------------------------- listening

    public void Start()
    {
        if (Config.Port != 0) ListenTcp();
        if (Config.UnixSocket.Length > 0) ListenUnix();
        _cron = new CronThread(Cron, 1000 / Config.Hz);
    }

    public IReadOnlyList<EndPoint> LocalEndPoints => _listeners.Select(l => l.LocalEndPoint!).ToList();

    private void ListenTcp()
    {
        foreach (var raw in Config.Bind)
        {
            var (ip, optional, addr) = BindAddress.Parse(raw);
            try
            {
                var s = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (ip.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = false;
                s.Bind(new IPEndPoint(ip, Config.Port));
                s.Listen(Config.TcpBacklog);
                _listeners.Add(s);
                _ = AcceptLoopAsync(s);
            }
            catch (SocketException e)
            {
                if (optional && e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported) continue;
                Log.Warning($"Warning: Could not create server TCP listening socket {addr}:{Config.Port}: {e.Message}");
                throw new InvalidOperationException($"Failed listening on port {Config.Port} (tcp), aborting.", e);
            }
        }
    }

    private void ListenUnix()
    {
        string path = Config.UnixSocket;
        try { File.Delete(path); } catch (IOException) { }
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        s.Bind(new UnixDomainSocketEndPoint(path));
        s.Listen(Config.TcpBacklog);
        if (Config.UnixSocketPerm != 0 && !OperatingSystem.IsWindows())
            File.SetUnixFileMode(path, (UnixFileMode)Config.UnixSocketPerm);
        _listeners.Add(s);
        Log.Notice($"The server is now ready to accept connections at {path}");
        _ = AcceptLoopAsync(s);
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_shutdown.IsCancellationRequested)
        {
            Socket socket;
            try { socket = await listener.AcceptAsync(_shutdown.Token).ConfigureAwait(false); }
            catch (OperationCanceledException) { return; }
            catch (ObjectDisposedException) { return; }
            catch (SocketException) { continue; }
            if (socket.AddressFamily != AddressFamily.Unix)
            {
                socket.NoDelay = true;
                if (Config.TcpKeepAliveSeconds > 0)
                {
                    socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
                    try { socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)Config.TcpKeepAliveSeconds); }
                    catch (SocketException) { }
                }
            }
            OnAccepted(socket);
        }
    }

    private void OnAccepted(Socket socket)
    {
        Client client;
        // A script running past busy-reply-threshold holds the lock: accept anyway (RedisServer.Scripting).
        while (!Monitor.TryEnter(ExecLock, 50))
        {
            if (ScriptBusy)
            {
                AcceptWhileBusy(socket);
                return;
            }
        }
        try
        {
            client = new Client(this, socket, Interlocked.Increment(ref _nextClientId));
            client.Authenticated = !AuthRequired;
            string? refusal = null;
            if (_clients.Count >= Config.MaxClients) refusal = "-ERR max number of clients reached\r\n";
            else if (IsProtectedModeViolation(client)) refusal = ProtectedModeMessage;
            if (refusal != null)
            {
                Stats.RejectedConnections++;
                try { socket.Send(Encoding.ASCII.GetBytes(refusal)); } catch (SocketException) { }
                socket.Dispose();
                return;
            }
            Stats.TotalConnections++;   // Redis counts a connection once it passed these checks
            _clients[client.Id] = client;
        }
        finally
        {
            Monitor.Exit(ExecLock);
        }
        // Started inline: with inline socket completions (and one engine thread, see the launcher)
        // the accept loop and every client loop run on the socket engine thread, so commands from
        // different connections execute in the order they arrived, as in Redis's event loop. A
        // loop started on a pool thread races the others while that thread is descheduled.
        // Scripts, the only commands that may run long and must not stall I/O, hop to the pool.
        _ = client.RunAsync();
    }

    private bool IsProtectedModeViolation(Client c) =>
        IsProtectedModeViolation(Config.ProtectedMode, Acl.DefaultUser.NoPass, c.RemoteIp, (c.Flags & ClientFlags.Unix) != 0);

    /// <summary>
    /// Redis 7.0's protected mode (networking.c clientAcceptHandler): with protected-mode on and
    /// the default user passwordless ("nopass"), only clients from 127.0.0.1, ::1 or the unix
    /// socket are accepted, whatever `bind` says (7.0 dropped 6.x's "default bind only" condition).
    /// Like islocalClient, other 127.0.0.0/8 addresses are not local.
    /// </summary>
    public static bool IsProtectedModeViolation(bool protectedMode, bool defaultUserNoPass, IPAddress? remoteIp, bool unix)
    {
        if (!protectedMode || !defaultUserNoPass) return false;
        if (unix || remoteIp == null) return false;
        var ip = remoteIp.IsIPv4MappedToIPv6 ? remoteIp.MapToIPv4() : remoteIp;
        return !(ip.Equals(IPAddress.Loopback) || ip.Equals(IPAddress.IPv6Loopback));
    }

    private static readonly string ProtectedModeMessage = "-" + Errors.ProtectedMode + "\r\n";

    /// <summary>Forgets a closed client (idempotent: CLIENT KILL runs it at once, the client loop again on exit).</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<Client> _closedWhileLocked = new();

    /// <summary>
    /// Runs on the socket engine thread, which must never wait for the lock: a busy script holds
    /// it, and waiting would stall every connection (no -BUSY, no SCRIPT KILL). When the lock is
    /// taken, the cleanup is queued for the next holder (<see cref="CleanUpClosedClients"/>).
    /// </summary>
    internal void OnClientClosed(Client c)
    {
        if (!Monitor.TryEnter(ExecLock))
        {
            _closedWhileLocked.Enqueue(c);
            return;
        }
        try
        {
            CleanUpClosedClients();
            CleanUpClient(c);
        }
        finally
        {
            Monitor.Exit(ExecLock);
        }
    }

    /// <summary>Lock held: finishes the cleanup of clients that closed while the lock was taken.</summary>
    internal void CleanUpClosedClients()
    {
        while (_closedWhileLocked.TryDequeue(out var c)) CleanUpClient(c);
    }

    /// <summary>Lock held: removes a client the server just closed at once (Redis's freeClient), so CLIENT LIST no longer shows it.</summary>
    internal void RemoveClosedClient(Client c) => CleanUpClient(c);

    private void CleanUpClient(Client c)
    {
        {
            if (c.CleanedUp) return;
            c.CleanedUp = true;
            _clients.Remove(c.Id);
            ClientMemory.Remove(c);
            if (c.BlockState != null) Unblock(c, timedOut: false, write: false);
            UnwatchAll(c);
            PubSub.RemoveClient(c);
            Tracking.Disable(c);
            Monitors.Remove(c);
            OnReplicaClosed(c);
            ClientClosed?.Invoke(c);
        }
    }

    /// <summary>Raised under the lock when a client disconnects (replication cleans up its replicas).</summary>
    public event Action<Client>? ClientClosed;

    public Client? FindClient(long id) => _clients.TryGetValue(id, out var c) ? c : null;

    /// <summary>Creates a client with no socket (scripts, AOF loading, the master link).</summary>
    public Client CreateFakeClient() => new(this, null, Interlocked.Increment(ref _nextClientId)) { Authenticated = true, AclUser = Acl.SuperUser, User = Acl.SuperUser.Name };

    // ---------------------------------------------------------------- execution

    private static readonly HashSet<string> MultiPassThrough = new(StringComparer.Ordinal) { "exec", "discard", "multi", "watch", "quit", "reset" };
    private static readonly HashSet<string> SubscriptionCommands = new(StringComparer.Ordinal)
        { "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe" };
    private static readonly HashSet<string> SubscribedAllowed = new(StringComparer.Ordinal)
        { "subscribe", "ssubscribe", "unsubscribe", "sunsubscribe", "psubscribe", "punsubscribe", "ping", "quit", "reset" };

    /// <summary>Runs one command for a client (lock held). Handles lookup, arity, auth, MULTI queueing and stats.</summary>
    public void Execute(Client client, CommandArgs args)
    {
        // A replica's link carries no replies (_addReplyToBufferOrList): see ReplicaReplyGuard.
        if (!ReplicaReplyGuard.Watches(client))
        {
            ExecuteUnguarded(client, args);
            return;
        }
        long outputBefore = client.Reply.Length - client.ReplStreamBytes;
        ExecuteUnguarded(client, args);
        ReplicaReplyGuard.AfterCommand(this, client, args, outputBefore);
    }

    private void ExecuteUnguarded(Client client, CommandArgs args)
    {
        var ctx = client.Context;
        ctx.Args = args;
        ctx.Failed = false;
        var cmd = Commands.Lookup(args[0]);
        if (cmd == null)
        {
            RejectCommand(client, UnknownCommandError(args), null);
            return;
        }
        if (cmd.Subcommands != null)
        {
            if (args.Count < 2)
            {
                // A container with its own handler (COMMAND) also runs without a subcommand.
                if (cmd.Handler != null) goto run;
                RejectCommand(client, Errors.WrongArity(cmd.Name), cmd);
                return;
            }
            var sub = CommandTable.LookupSub(cmd, args[1]);
            if (sub == null)
            {
                RejectCommand(client, Errors.UnknownSubcommand(args.GetString(1), cmd.Name), null);
                return;
            }
            cmd = sub;
        }
    run:
        if (!cmd.ArityOk(args.Count))
        {
            RejectCommand(client, cmd.Parent != null ? Errors.WrongSubcommandArity(cmd.Parent.Name, cmd.Name) : Errors.WrongArity(cmd.Name), cmd);
            return;
        }
        if (!client.Authenticated && !cmd.Is(CommandFlags.NoAuth) && AuthRequired)
        {
            RejectCommand(client, Errors.NoAuth, cmd);
            return;
        }
        bool queue = (client.Flags & ClientFlags.Multi) != 0 && !MultiPassThrough.Contains(cmd.Parent?.Name ?? cmd.Name);
        if (queue && cmd.Is(CommandFlags.NoMulti))
        {
            RejectCommand(client, "ERR Command not allowed inside a transaction", cmd);
            return;
        }
        // ACL: one flag test for a user with every permission (the default user as shipped).
        if (!client.AclUser.Unrestricted)
        {
            string? aclDenial = Acl.CheckCommand(client, cmd, args);
            if (aclDenial != null)
            {
                RejectCommand(client, aclDenial, cmd);
                return;
            }
        }
        if (Cluster != null && Cluster.Router.Check(client, cmd, args) is { } redirect)
        {
            // A redirected EXEC discards the transaction and answers with the redirection itself.
            if (cmd is { Name: "exec", Parent: null } && (client.Flags & ClientFlags.Multi) != 0)
            {
                Cinnabar.Server.Commands.TransactionCommands.ResetMulti(client);
                UnwatchAll(client);
                cmd.RejectedCalls++;
                client.Context.Error(redirect);
                return;
            }
            RejectCommand(client, redirect, cmd);
            return;
        }
        if (client.SubscriptionCount > 0 && client.Reply.Protocol == 2 && !SubscribedAllowed.Contains(cmd.Name))
        {
            RejectCommand(client, $"ERR Can't execute '{cmd.FullName}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context", cmd);
            return;
        }
        // As Redis's processCommand: a command inside MULTI passes the same checks (OOM,
        // READONLY, MASTERDOWN, LOADING...) before it is queued; a refusal aborts the EXEC.
        // A script's declared flags (shebang, function flags) stand in for the command's own here.
        var checkedCmd = cmd.IsScriptCall ? Cinnabar.Server.Commands.ScriptCommandFlags.ForChecks(Scripting, cmd, args) : cmd;
        string? denial = CheckPreconditions(client, checkedCmd);
        if (denial != null)
        {
            RejectCommand(client, denial, cmd);
            return;
        }
        if (queue)
        {
            QueueMulti(client, args);
            client.MultiFlags |= checkedCmd.Flags;
            return;
        }
        if (Cluster is { SlotStatsEnabled: true } cluster)
        {
            cluster.CallCounted(client, cmd, args);
            return;
        }
        Call(client, cmd, args);
    }

    /// <summary>Write/OOM/readonly checks; subsystems extend this (replication, cluster).</summary>
    private string? CheckPreconditions(Client client, CommandDef cmd)
    {
        // EXEC is checked as a write (OOM, READONLY, NOREPLICAS, MISCONF) when a queued command
        // is one: the server's state may have changed since queueing (processCommand's is_write_command).
        if (cmd.Name == "exec" && cmd.Parent == null && (client.Flags & ClientFlags.Multi) != 0)
        {
            var extra = client.MultiFlags & (CommandFlags.Write | CommandFlags.DenyOom);
            if (extra != 0) cmd = ExecVariant(cmd, extra);
        }
        // processCommand evicts before any command once maxmemory is set (so a read can evict too,
        // and tracking clients hear of it before the reply); only deny-oom commands, and anything
        // but EXEC/DISCARD/QUIT/RESET queued inside MULTI, are refused when that fails.
        // The outcome is kept for scripts (pre_command_oom_state): their first write is refused then.
        PreCommandOom = Config.MaxMemory > 0 && (client.Flags & ClientFlags.Master) == 0 && !PerformEvictions();
        if (PreCommandOom)
        {
            bool queueing = (client.Flags & ClientFlags.Multi) != 0 && cmd.Parent == null
                && cmd.Name is not ("exec" or "discard" or "quit" or "reset");
            if (cmd.Is(CommandFlags.DenyOom) || queueing) return Errors.Oom;
        }
        // processCommand keeps the client side caching table within tracking-table-max-keys.
        if (Tracking.TrackingClients > 0) Tracking.EnforceLimit();
        foreach (var check in PreconditionChecks)
        {
            var err = check(client, cmd);
            if (err != null) return err;
        }
        return null;
    }

    private readonly Dictionary<CommandFlags, CommandDef> _execVariants = new();

    private CommandDef ExecVariant(CommandDef exec, CommandFlags extra)
    {
        if (!_execVariants.TryGetValue(extra, out var v))
        {
            v = exec.CloneWithFlags(exec.Flags | extra);
            _execVariants[extra] = v;
        }
        return v;
    }

    /// <summary>Additional per-command checks installed by subsystems (read-only replica, cluster redirection...).</summary>
    public List<Func<Client, CommandDef, string?>> PreconditionChecks { get; } = new();

    /// <summary>Refuses a command; rejected_calls is counted on the resolved (sub)command, as Redis does.</summary>
    private void RejectCommand(Client client, string error, CommandDef? cmd)
    {
        if ((client.Flags & ClientFlags.Multi) != 0) client.Flags |= ClientFlags.DirtyExec;
        if (cmd != null) cmd.RejectedCalls++;
        if (cmd is { Name: "exec", Parent: null } && (client.Flags & ClientFlags.Multi) != 0)
        {
            // execCommandAbort: a refused EXEC ends the transaction and names the reason.
            Cinnabar.Server.Commands.TransactionCommands.ResetMulti(client);
            UnwatchAll(client);
            client.Context.Error(Errors.ExecAbortBecause(error));
            return;
        }
        client.Context.Error(error);
    }

    private static string UnknownCommandError(CommandArgs args)
    {
        var sb = new StringBuilder();
        for (int i = 1; i < args.Count && sb.Length < 128; i++)
        {
            string a = Encoding.UTF8.GetString(args[i]);
            int room = 128 - sb.Length;
            sb.Append('\'').Append(a.Length > room ? a[..room] : a).Append("' ");
        }
        return Errors.UnknownCommand(args.GetString(0), sb.ToString());
    }

    /// <summary>Runs a command's handler with stats, slowlog, monitors and propagation.</summary>
    public void Call(Client client, CommandDef cmd, CommandArgs args)
    {
        var ctx = client.Context;
        ctx.Args = args;
        ctx.Command = cmd;
        ctx.Failed = false;
        ctx.PropagateOverride = null;
        ctx.ForcePropagation = false;
        long dirtyBefore = Dirty;
        long start = Stopwatch.GetTimestamp();
        // Scripts are flagged skip_monitor but show themselves before the commands they run
        // (evalCommand/fcallCommandGeneric feed monitors explicitly); other commands are shown
        // after they ran, as Redis's call() does (EXEC after the commands of its transaction).
        bool isScript = cmd.IsScriptCall;
        if (Monitors.Count > 0 && isScript) FeedMonitors(client, args);
        int replyStart = client.Reply.Length;
        client.LastCommand = cmd.FullName;
        var outerClient = Tracking.EnterCall(client);
        try
        {
            cmd.Handler!(ctx);
        }
        catch (Exception e)
        {
            // A bug must cost one command, never the connection or the process.
            Log.Warning($"Internal error executing '{cmd.FullName}': {e}");
            client.Reply.Truncate(replyStart);
            ctx.Error("ERR internal error executing '" + cmd.FullName + "': " + e.Message.Replace('\r', ' ').Replace('\n', ' '));
        }
        long micros = (long)Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        if (Monitors.Count > 0 && !isScript && !cmd.Is(CommandFlags.SkipMonitor | CommandFlags.Admin))
            FeedMonitors(client, args);
        // CLIENT REPLY OFF|SKIP: drop this command's reply (SKIP only once); CLIENT REPLY itself
        // sets the mode and writes nothing (or +OK for ON).
        // Pub/sub confirmations are pushes and bypass CLIENT REPLY OFF/SKIP (CLIENT_PUSHING).
        if (client.ReplyMode != ReplyMode.On && !(cmd.Name == "reply" && cmd.Parent?.Name == "client") && !SubscriptionCommands.Contains(cmd.Name))
        {
            client.Reply.Truncate(replyStart);
            if (client.ReplyMode == ReplyMode.Skip) client.ReplyMode = ReplyMode.On;
        }
        // Client side caching: remember what a read served, then (outermost call only) send the
        // invalidations held for this client after its reply.
        if (cmd.Is(CommandFlags.ReadOnly) && Tracking.TrackingClients > 0) Tracking.AfterReadOnlyCommand(client, cmd);
        Tracking.ExitCall(outerClient);
        // Redis counts a command that blocked once, when it completes (served, timed out or unblocked).
        if (client.BlockState == null)
        {
            cmd.Calls++;
            cmd.MicrosecondsTotal += micros;
            if (ctx.Failed) cmd.FailedCalls++;
            if (Config.LatencyTracking) (cmd.LatencyHistogram ??= new LatencyHistogram()).Record(micros * 1000);
        }
        Stats.TotalCommands++;
        if (micros >= Config.SlowlogLogSlowerThanUs && Config.SlowlogLogSlowerThanUs >= 0 && !cmd.Is(CommandFlags.SkipSlowlog))
            SlowlogAdd(client, args, micros);
        if (Config.LatencyMonitorThresholdMs > 0 && micros / 1000 >= Config.LatencyMonitorThresholdMs)
            LatencyAdd(cmd.Is(CommandFlags.Fast) ? "fast-command" : "command", micros / 1000);
        if (Dirty != dirtyBefore && IsReplica && (client.Flags & ClientFlags.Master) == 0 && cmd.Is(CommandFlags.Write))
            RememberReplicaKeysWithExpire(client, cmd, args);
        if ((Dirty != dirtyBefore || ctx.ForcePropagation) && Propagator != null && (client.Flags & ClientFlags.Lua) == 0)
        {
            _propagatingFromMaster = (client.Flags & ClientFlags.Master) != 0;
            PropagateCommand(client.DbIndex, ctx, args);
            _propagatingFromMaster = false;
        }
    }

    private void PropagateCommand(int db, CommandContext ctx, CommandArgs args)
    {
        if (ctx.PropagateOverride != null)
        {
            foreach (var argv in ctx.PropagateOverride) Propagator!.Propagate(db, argv);
        }
        else Propagator!.Propagate(db, args);
    }

    /// <summary>Propagates an explicit command (expiry DELs, effects of scripts).</summary>
    public void Propagate(int db, params byte[][] argv) => Propagator?.Propagate(db, argv);

    private void FeedMonitors(Client client, CommandArgs args)
    {
        var sb = new StringBuilder();
        long us = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        sb.Append(us / 1_000_000).Append('.').Append((us % 1_000_000).ToString("D6", System.Globalization.CultureInfo.InvariantCulture));
        sb.Append(" [").Append(client.DbIndex).Append(' ');
        sb.Append((client.Flags & ClientFlags.Lua) != 0 ? "lua" : (client.Flags & ClientFlags.Unix) != 0 ? "unix:" + Config.UnixSocket : client.Address);
        sb.Append(']');
        // Passwords and other secrets show as "(redacted)", as in the slow log (redactClientCommandArgument).
        for (int i = 0; i < args.Count; i++)
            sb.Append(' ').Append(Acl.IsRedacted(client.Context.Command, args, i) ? "\"(redacted)\"" : ArgSplitter.Repr(args[i]));
        var line = Encoding.UTF8.GetBytes(sb.ToString());
        foreach (var m in Monitors)
        {
            if (m == client) continue;
            lock (m.OutputLock) m.Reply.WriteSimpleString(line);
            m.ScheduleFlush();
        }
    }

    // ---------------------------------------------------------------- MULTI / WATCH

    private static void QueueMulti(Client client, CommandArgs args)
    {
        (client.MultiQueue ??= new List<byte[][]>()).Add(args.ToOwnedArray());
        client.Reply.WriteRaw("+QUEUED\r\n"u8);
    }

    public void Watch(Client c, ReadOnlySpan<byte> key)
    {
        c.Watched ??= new List<WatchedKey>();
        foreach (var w in c.Watched)
            if (w.Db == c.DbIndex && key.SequenceEqual(w.Key)) return;
        var owned = key.ToArray();
        // A key already past its TTL is remembered as such: its later deletion is no change (Redis 7.0).
        c.Watched.Add(new WatchedKey(c.DbIndex, owned) { Expired = IsLogicallyExpired(Keyspace[c.DbIndex], key) });
        ref var list = ref _watched[c.DbIndex].GetOrAddRef(key, owned, out _);
        (list ??= new List<Client>()).Add(c);
        _watchedCount++;
    }

    /// <summary>keyIsExpired: stored, with a TTL in the past (whether or not it was deleted yet).</summary>
    internal bool IsLogicallyExpired(Db db, ReadOnlySpan<byte> key)
    {
        if (db.Expires.Count == 0 || !db.Dict.ContainsKey(key)) return false;
        long when = db.GetExpire(key);
        return when >= 0 && when <= Keyspace.NowMs;
    }

    public void UnwatchAll(Client c)
    {
        if (c.Watched == null) return;
        foreach (var w in c.Watched)
        {
            if (!_watched[w.Db].TryGetValue(w.Key, out var list)) continue;
            list.Remove(c);
            _watchedCount--;
            if (list.Count == 0) _watched[w.Db].Remove(w.Key);
        }
        c.Watched = null;
        c.Flags &= ~ClientFlags.DirtyCas;
    }

    private static WatchedKey? FindWatched(Client c, int db, ReadOnlySpan<byte> key)
    {
        if (c.Watched == null) return null;
        foreach (var w in c.Watched)
            if (w.Db == db && key.SequenceEqual(w.Key)) return w;
        return null;
    }

    /// <summary>Redis's signalModifiedKey: invalidates WATCHes and client caches, wakes clients blocked on the key.</summary>
    public void SignalModified(Db db, ReadOnlySpan<byte> key) => SignalModified(db, key, Tracking.ExecutingClient);

    /// <summary><paramref name="modifier"/>: the client that changed the key, null for expiry and eviction.</summary>
    public void SignalModified(Db db, ReadOnlySpan<byte> key, Client? modifier)
    {
        if (Tracking.Active) Tracking.InvalidateKey(modifier, key);
        if (_watchedCount > 0 && _watched[db.Index].TryGetValue(key, out var list))
        {
            foreach (var c in list)
            {
                // touchWatchedKey: a key that was already expired when watched and is now gone
                // (expired and deleted) is logically unchanged; it is no longer "expired" either.
                var w = FindWatched(c, db.Index, key);
                if (w is { Expired: true } && !db.Dict.ContainsKey(key))
                {
                    w.Expired = false;
                    continue;
                }
                c.Flags |= ClientFlags.DirtyCas;
            }
        }
        if (_blockedByKey.Count > 0) SignalKeyAsReady(db.Index, key);
    }

    // ---------------------------------------------------------------- blocking

    /// <summary>
    /// Parks the current client until one of <paramref name="keys"/> is signalled ready or the
    /// timeout passes. The handler must not write a reply; it will be re-executed when a key is ready.
    /// </summary>
    public void Block(CommandContext ctx, byte[][] keys, long timeoutMs, Action<RespWriter> onTimeout)
    {
        var c = ctx.Client;
        var state = new BlockedState
        {
            Argv = ctx.Args.ToOwnedArray(),
            DbIndex = c.DbIndex,
            Keys = keys,
            DeadlineMs = timeoutMs > 0 ? Keyspace.NowMs + Math.Min(timeoutMs, long.MaxValue - Keyspace.NowMs) : 0,
            OnTimeout = onTimeout,
            BlockedAtMs = Keyspace.NowMs,
        };
        c.EnterBlocked(state);
        BlockedClientCount++;
        foreach (var k in keys)
        {
            var id = (c.DbIndex, PubSub.Key(k));
            if (!_blockedByKey.TryGetValue(id, out var list)) _blockedByKey[id] = list = new LinkedList<Client>();
            list.AddLast(c);
        }
        if (timeoutMs > 0)
            state.Timer = new Timer(_ => OnBlockTimeout(c, state), null, Math.Min(timeoutMs, MaxTimerDueMs), Timeout.Infinite);
    }

    private const long MaxTimerDueMs = 0xFFFFFFFE;

    private void OnBlockTimeout(Client c, BlockedState state)
    {
        lock (ExecLock)
        {
            if (c.BlockState != state) return;
            UpdateCachedTime();
            // Timers cannot wait longer than ~49 days: re-arm until the real deadline.
            if (state.DeadlineMs > Keyspace.NowMs)
            {
                state.Timer?.Change(Math.Min(state.DeadlineMs - Keyspace.NowMs, MaxTimerDueMs), Timeout.Infinite);
                return;
            }
            Unblock(c, timedOut: true, write: true);
        }
    }

    /// <summary>Leaves the blocked state; when timed out writes the command's timeout reply.</summary>
    public void Unblock(Client c, bool timedOut, bool write, string? error = null)
    {
        var state = c.BlockState;
        if (state == null) return;
        state.Timer?.Dispose();
        foreach (var k in state.Keys)
        {
            var id = (state.DbIndex, PubSub.Key(k));
            if (_blockedByKey.TryGetValue(id, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _blockedByKey.Remove(id);
            }
        }
        BlockedClientCount--;
        if (write)
        {
            lock (c.OutputLock)
            {
                if (error != null) c.Context.Error(error);
                else if (timedOut) state.OnTimeout(c.Reply);
            }
            // updateStatsOnUnblock: the blocked command's one call, failed when unblocked with an error.
            if (Commands.Lookup(state.Argv[0]) is { } def)
            {
                def.Calls++;
                if (error != null) def.FailedCalls++;
                if (Config.LatencyTracking) (def.LatencyHistogram ??= new LatencyHistogram()).Record(0);
            }
        }
        c.ExitBlocked();
    }

    public bool IsBlocked(Client c) => c.BlockState != null;

    public bool HasReadyKeys => _readyKeys.Count > 0;

    /// <summary>signalKeyAsReady: wakes clients blocked on the key without marking it modified.</summary>
    internal void SignalKeyAsReady(int db, ReadOnlySpan<byte> key)
    {
        var id = (db, PubSub.Key(key));
        if (_blockedByKey.ContainsKey(id)) _readyKeys.Add(id);
    }

    /// <summary>Runs after each batch (lock held): serves clients blocked on keys that became ready.</summary>
    public void AfterBatch()
    {
        if (!_closedWhileLocked.IsEmpty) CleanUpClosedClients();
        ServeReadyKeys();
        // beforeSleep: BCAST clients hear of the keys modified under their prefixes.
        Tracking.BroadcastPending();
        // Redis's beforeSleep: a replica's ACK may have completed a FAILOVER's wait.
        if (Failover == FailoverState.WaitForSync) UpdateFailoverStatus();
        // Before any reply of this batch is sent: the AOF write (and fsync with appendfsync always).
        FlushAofBuffer();
        FlushReplicaOutputs();
    }

    /// <summary>Serves clients blocked on keys made ready by the last command (Redis does this after each command).</summary>
    public void ServeReadyKeys()
    {
        while (_readyKeys.Count > 0)
        {
            var ready = _readyKeys.ToArray();
            _readyKeys.Clear();
            foreach (var id in ready)
            {
                if (!_blockedByKey.TryGetValue(id, out var list)) continue;
                // FIFO: the first client blocked is served first, as Redis does.
                foreach (var c in list.ToArray())
                {
                    if (c.BlockState == null) continue;
                    if (!Keyspace[id.Db].Exists(PubSub.Bytes(id.Key)))
                    {
                        RetryGroupReadersOfDeletedKey(list); // RedisServer.Streams.cs
                        break;
                    }
                    RetryBlocked(c);
                }
            }
        }
    }

    private void RetryBlocked(Client c)
    {
        var state = c.BlockState!;
        // Take the client out of the blocked lists, re-run its command; if it blocks again it
        // re-registers (at the tail, like a newly blocked client in Redis 7.2; 7.0 keeps its place).
        state.Timer?.Dispose();
        foreach (var k in state.Keys)
        {
            var id = (state.DbIndex, PubSub.Key(k));
            if (_blockedByKey.TryGetValue(id, out var list))
            {
                list.Remove(c);
                if (list.Count == 0) _blockedByKey.Remove(id);
            }
        }
        BlockedClientCount--;
        c.BlockState = null;
        var args = new CommandArgs();
        args.SetOwned(state.Argv);
        int savedDb = c.DbIndex;
        c.DbIndex = state.DbIndex;
        var cmd = Commands.Lookup(args[0])!;
        lock (c.OutputLock)
        {
            c.Context.RetryingBlocked = true;
            long remaining = state.DeadlineMs == 0 ? 0 : Math.Max(1, state.DeadlineMs - Keyspace.NowMs);
            c.Context.BlockRemainingMs = remaining;
            Call(c, cmd, args);
            c.Context.RetryingBlocked = false;
        }
        c.DbIndex = savedDb;
        if (c.BlockState == null)
        {
            c.Flags &= ~ClientFlags.Blocked;
            c.ExitBlocked();
        }
    }

    // ---------------------------------------------------------------- keyspace events

    public void KeyExpired(Db db, byte[] key)
    {
        Propagate(db.Index, "DEL"u8.ToArray(), key);
        if (Notifications.Enabled) Notifications.Notify('x', "expired", key, db.Index);
        SignalModified(db, key, null);
    }

    public void KeyAdded(Db db, ReadOnlySpan<byte> key)
    {
        // Loading an RDB adds keys without notifying (dbAddRDBLoad).
        if (Notifications.Enabled && !Rdb.Loading) Notifications.Notify('n', "new", key, db.Index);
    }

    public void KeyEvicted(Db db, byte[] key)
    {
        Propagate(db.Index, "DEL"u8.ToArray(), key);
        if (Notifications.Enabled) Notifications.Notify('e', "evicted", key, db.Index);
        SignalModified(db, key, null);
    }

    // ---------------------------------------------------------------- cron

    private int _cronRunning;

    /// <summary>DEBUG PAUSE-CRON: the cron does nothing while set.</summary>
    public bool CronPaused;

    private SignalShutdown? _signalShutdown;

    /// <summary>SIGTERM/SIGINT: a shutdown the cron carries out (see SignalShutdown).</summary>
    public SignalShutdown SignalShutdown => _signalShutdown ??= new SignalShutdown(this);

    private SoftwareWatchdog? _watchdogInstance;
    private SoftwareWatchdog _watchdog => _watchdogInstance ??= new SoftwareWatchdog(Log);

    /// <summary>watchdog-period, at least two cron periods (Redis's applyWatchdogPeriod); 0: off.</summary>
    private int WatchdogPeriodMs()
    {
        int periodMs = int.TryParse(ConfigOr("watchdog-period", "0"), out int v) ? v : 0;
        return periodMs <= 0 ? 0 : Math.Max(periodMs, 2000 / Math.Max(1, Config.Hz));
    }

    private ShutdownCoordinator? _shutdownCoordinator;

    /// <summary>SHUTDOWN waiting for lagging replicas (shutdown-timeout), ABORT, and the final steps.</summary>
    public ShutdownCoordinator ShutdownCoordinator => _shutdownCoordinator ??= new ShutdownCoordinator(this);

    private void Cron()
    {
        if (CronPaused) return;
        if (Interlocked.Exchange(ref _cronRunning, 1) != 0) return;
        // Like Redis, no cron while a script is busy: the cron thread does not wait out the
        // script (it would only take the lock late, after the clients queued behind it).
        bool locked = false;
        while (!(locked = Monitor.TryEnter(ExecLock, 50)) && !ScriptBusy) { }
        if (!locked)
        {
            Interlocked.Exchange(ref _cronRunning, 0);
            return;
        }
        try
        {
            {
                _signalShutdown?.CronCheck();
                _shutdownCoordinator?.CronCheck();
                CleanUpClosedClients();
                UpdateCachedTime();
                Stats.Sample(Environment.TickCount64);
                EndExpiredPause();
                // Like Redis, no active expiry while clients are paused (the dataset must not change)
                // nor while a load fills the keyspace outside the lock.
                bool loading = Rdb.Loading;
                if (Config.ActiveExpireEnabled && !IsPaused && !loading) ActiveExpireCycle();
                if (Config.ActiveExpireEnabled && !IsPaused && !loading) ExpireReplicaKeys();
                CloseTimedOutClients();
                foreach (var c in _clients.Values.ToArray())
                {
                    c.CronResizeBuffers(Environment.TickCount64);
                    // A soft output limit expires even when no new reply arrives.
                    if (c.PendingOutputBytes > 0) EnforceOutputLimit(c);
                }
                // clientsCron: sizes change without commands too (buffers shrink, output drains).
                ClientMemory.UpdateAll();
                // No save or rewrite while a replica's diskless load fills the keyspace outside the lock.
                if (!Rdb.Loading)
                {
                    PersistenceCron();
                    AofCron();
                }
                ReplicationCron();
                // serverCron re-arms the watchdog; during a blocking load Redis runs no timers.
                if (!loading) _watchdog.Schedule(WatchdogPeriodMs());
                if (!loading)
                {
                    IdleHeapCompaction();
                    // Redis's timers (clusterCron among them) do not run while it loads.
                    CronTick?.Invoke(Keyspace.NowMs);
                }
                if (Tracking.TrackingClients > 0) Tracking.EnforceLimit();
                Tracking.BroadcastPending();
                // Anything propagated outside a client batch (expiry DELs, PINGs, timers).
                FlushReplicaOutputs();
            }
        }
        catch (Exception e)
        {
            Log.Warning("cron failed: " + e);
        }
        finally
        {
            Monitor.Exit(ExecLock);
            Interlocked.Exchange(ref _cronRunning, 0);
        }
    }

    /// <summary>
    /// Redis's slow active expire cycle: per db, sample 20 volatile keys, repeat while more than
    /// 10% of a sample was expired, within a time budget of 25% of a cron period.
    /// </summary>
    public void ActiveExpireCycle()
    {
        long budgetTicks = Stopwatch.Frequency / Config.Hz / 4;
        long start = Stopwatch.GetTimestamp();
        for (int d = 0; d < Keyspace.Count; d++)
        {
            var db = Keyspace[d];
            while (db.Expires.Count > 0)
            {
                var (sampled, expired) = db.ActiveExpireSample(20, Random);
                if (sampled == 0 || expired * 10 <= sampled) break;
                if (Stopwatch.GetTimestamp() - start > budgetTicks) goto done;
            }
        }
    done:
        // Redis samples the slow cycle's own duration as the "expire-cycle" latency event.
        LatencyMeasure("expire-cycle", start);
    }

    private void CloseTimedOutClients()
    {
        if (Config.TimeoutSeconds <= 0) return;
        long now = Environment.TickCount64;
        foreach (var c in _clients.Values)
        {
            if ((c.Flags & (ClientFlags.Replica | ClientFlags.Master | ClientFlags.Blocked | ClientFlags.PubSub)) != 0) continue;
            if (c.SubscriptionCount > 0 || c.WaitingForUnpause) continue;
            if (now - c.LastInteractionMs > Config.TimeoutSeconds * 1000)
            {
                Log.Verbose("Closing idle client");
                c.Close();
            }
        }
    }

    // ---------------------------------------------------------------- shutdown

    public void StopListening()
    {
        _shutdown.Cancel();
        foreach (var l in _listeners)
        {
            try { l.Dispose(); } catch (SocketException) { }
        }
        if (Config.UnixSocket.Length > 0)
        {
            try { File.Delete(Config.UnixSocket); } catch (IOException) { }
        }
    }

    /// <summary>Ends the process after an orderly shutdown; returns an error text if refused.</summary>
    public string? Shutdown(bool? save, bool now = false, bool force = false) =>
        ShutdownCoordinator.Prepare(save, now, force, null);

    /// <summary>finishShutdown's persistence and exit steps (the coordinator logs and decides when).</summary>
    internal string? FinishShutdown(bool? save, bool force)
    {
        var aofErr = AofShutdownCheck(force);
        if (aofErr != null) return aofErr;
        var saveErr = SaveOnShutdown(save);
        if (saveErr != null && !force) return saveErr;
        var err = BeforeShutdown?.Invoke(save ?? false);
        if (err != null && !force) return err;
        StopListening();
        CloseAofOnShutdown();
        foreach (var c in _clients.Values.ToArray()) c.Close();
        if (Config.PidFile.Length > 0)
        {
            try { File.Delete(Config.PidFile); } catch (IOException) { }
        }
        Log.Warning("Redis is now ready to exit, bye bye...");
        _stoppedTcs.TrySetResult();
        return null;
    }
}
