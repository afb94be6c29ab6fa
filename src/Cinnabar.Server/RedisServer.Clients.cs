using System.Globalization;

namespace Cinnabar.Server;

public enum ClientType { Normal, Replica, PubSub, Master }

public readonly record struct OutputBufferLimit(long HardBytes, long SoftBytes, long SoftSeconds);

// Client management: CLIENT PAUSE state, client-output-buffer-limit enforcement (Redis
// networking.c checkClientOutputBufferLimits) and the client description line of CLIENT LIST.
public sealed partial class RedisServer
{
    // Redis 7.0 pauses clients for several purposes at once (pauseClients with a purpose): CLIENT
    // PAUSE (a deadline, WRITE or ALL) and FAILOVER (writes, until the failover ends). The
    // effective pause is their union; CLIENT UNPAUSE only ends the CLIENT PAUSE purpose.
    private long _pauseEndMs;          // Environment.TickCount64 deadline, 0 = not paused
    private bool _pauseWritesOnly;
    private bool _failoverPause;       // writes paused by FAILOVER (PAUSE_DURING_FAILOVER)
    private bool _shutdownPause;       // writes paused while SHUTDOWN waits for replicas (PAUSE_DURING_SHUTDOWN)
    private bool PurposePause => _failoverPause || _shutdownPause;
    private TaskCompletionSource _unpaused = NewUnpausedSource();

    private static TaskCompletionSource NewUnpausedSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Registers a socketless client as connected (tests; embedded use).</summary>
    internal void AddClient(Client c)
    {
        lock (ExecLock) _clients[c.Id] = c;
    }

    private bool ClientPauseActive => _pauseEndMs != 0 && Environment.TickCount64 < _pauseEndMs;

    /// <summary>True while any pause holds: the dataset must then stay constant (no expiry, no eviction).</summary>
    public bool IsPaused => PurposePause || ClientPauseActive;

    /// <summary>CLIENT PAUSE: a later pause can only extend the deadline or widen WRITE to ALL (Redis pauseClients).</summary>
    public void PauseClients(long timeoutMs, bool writesOnly)
    {
        long end = Environment.TickCount64 + timeoutMs;
        if (ClientPauseActive)
        {
            if (end < _pauseEndMs) end = _pauseEndMs;
            writesOnly = writesOnly && _pauseWritesOnly;
        }
        _pauseEndMs = end;
        _pauseWritesOnly = writesOnly;
        UpdateExpireOnAccess();
    }

    public void UnpauseClients()
    {
        _pauseEndMs = 0;
        PulseUnpaused();
    }

    /// <summary>Cron: a CLIENT PAUSE whose deadline passed ends even when no command arrives to notice it.</summary>
    private void EndExpiredPause()
    {
        if (_pauseEndMs != 0 && !ClientPauseActive) UnpauseClients();
    }

    /// <summary>FAILOVER's write pause (no deadline): on while waiting for the replica and during the handshake.</summary>
    private void SetFailoverPause(bool on)
    {
        _failoverPause = on;
        if (!on) PulseUnpaused();
        UpdateExpireOnAccess();
    }

    /// <summary>The shutdown's write pause (no deadline): on while SHUTDOWN waits for lagging replicas.</summary>
    internal void SetShutdownPause(bool on)
    {
        _shutdownPause = on;
        if (!on) PulseUnpaused();
        UpdateExpireOnAccess();
    }

    /// <summary>Wakes every client waiting for a pause to end; each re-checks the remaining pauses.</summary>
    private void PulseUnpaused()
    {
        var old = _unpaused;
        _unpaused = NewUnpausedSource();
        old.TrySetResult();
        UpdateExpireOnAccess();
    }

    /// <summary>
    /// Keys are expired on access only by a master that is not paused: a replica waits for its
    /// master's DEL, and a paused master keeps the dataset (and so its replication offset)
    /// constant, as Redis's expireIfNeeded does while clients are paused.
    /// </summary>
    private void UpdateExpireOnAccess() => Keyspace.ExpireOnAccess = !IsReplica && !IsPaused && !_startingAsReplica;

    private bool _startingAsReplica;

    /// <summary>
    /// Set while a server that will replicate (a replicaof directive, or a cluster replica per
    /// nodes.conf) loads its data at startup: Redis's iAmMaster() is already false then, so keys
    /// whose TTL passed while it was down are kept for the master's DELs.
    /// </summary>
    public bool StartingAsReplica
    {
        get => _startingAsReplica;
        set
        {
            _startingAsReplica = value;
            UpdateExpireOnAccess();
        }
    }

    /// <summary>Keys a slot migration is streaming in steps: their writers wait (see <see cref="PinnedKeys"/>).</summary>
    public readonly PinnedKeys Pins = new();

    /// <summary>
    /// True when this command must wait for the pause to end: every command in ALL mode; in WRITE
    /// mode commands flagged write or may_replicate, and EXEC of a transaction holding such commands.
    /// Replicas are never paused; our master's stream is.
    /// </summary>
    internal bool MustPause(Client c, Protocol.CommandArgs args)
    {
        if (Pins.Count > 0 && WritesPinnedKey(c, args)) return true;
        if (_pauseEndMs == 0 && !PurposePause) return false;
        if (_pauseEndMs != 0 && !ClientPauseActive)
        {
            UnpauseClients();
            if (!PurposePause) return false;
        }
        // Replicas are never paused; our master's stream is, like any client (Redis processCommand).
        if ((c.Flags & ClientFlags.Replica) != 0) return false;
        if (ClientPauseActive && !_pauseWritesOnly) return true;
        var cmd = Commands.Lookup(args[0]);
        if (cmd == null) return false;
        if ((c.Flags & ClientFlags.Multi) != 0 && cmd.Name != "exec") return false;
        if (MayReplicate(cmd, args)) return true;
        if (cmd.Name == "exec" && c.MultiQueue != null)
        {
            foreach (var queued in c.MultiQueue)
            {
                var q = Commands.Lookup(queued[0]);
                if (q == null) continue;
                var qArgs = new Protocol.CommandArgs();
                qArgs.SetOwned(queued);
                if (MayReplicate(q, qArgs)) return true;
            }
        }
        return false;
    }

    private bool WritesPinnedKey(Client c, Protocol.CommandArgs args)
    {
        if ((c.Flags & (ClientFlags.Replica | ClientFlags.Master)) != 0) return false;
        var cmd = Commands.Lookup(args[0]);
        if (cmd == null) return false;
        if ((c.Flags & ClientFlags.Multi) != 0 && cmd.Name != "exec") return false;
        if (cmd.Name == "exec")
        {
            if (c.MultiQueue == null) return false;
            foreach (var queued in c.MultiQueue)
            {
                var q = Commands.Lookup(queued[0]);
                if (q?.Subcommands != null && queued.Length > 1) q = CommandTable.LookupSub(q, queued[1]);
                if (q == null) continue;
                var qArgs = new Protocol.CommandArgs();
                qArgs.SetOwned(queued);
                if (MayReplicate(q, qArgs) && Pins.NamesPinnedKey(q, qArgs)) return true;
            }
            return false;
        }
        if (cmd.Subcommands != null)
        {
            if (args.Count < 2) return false;
            cmd = CommandTable.LookupSub(cmd, args[1]);
            if (cmd == null) return false;
        }
        return MayReplicate(cmd, args) && Pins.NamesPinnedKey(cmd, args);
    }

    /// <summary>
    /// Write or may_replicate, with a script's own flags in place of EVAL's, EVALSHA's and FCALL's
    /// (Redis's getCommandFlags): a script declaring no-writes is a read, a script with a shebang
    /// and no no-writes flag a write, and one without shebang (or not found) may replicate.
    /// </summary>
    private bool MayReplicate(CommandDef cmd, Protocol.CommandArgs args)
    {
        if (cmd.Is(CommandFlags.Write)) return true;
        if (!cmd.Is(CommandFlags.MayReplicate) || args.Count < 2) return cmd.Is(CommandFlags.MayReplicate);
        switch (cmd.Name)
        {
            case "eval":
            {
                var body = args[1];
                if (Scripting.Scripts.TryGetValue(Cinnabar.Scripting.LuaEngine.Sha1Hex(body), out var cached))
                    return !cached.HasShebang || (cached.Flags & Cinnabar.Server.Commands.ScriptFlags.NoWrites) == 0;
                if (body.Length < 2 || body[0] != '#' || body[1] != '!') return true;
                int nl = body.IndexOf((byte)'\n');
                string line = System.Text.Encoding.UTF8.GetString(nl < 0 ? body : body[..nl]);
                foreach (var part in line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    if (part.StartsWith("flags=", StringComparison.Ordinal) && Array.IndexOf(part[6..].Split(','), "no-writes") >= 0) return false;
                return true;
            }
            case "evalsha":
                return !Scripting.Scripts.TryGetValue(args.GetString(1).ToLowerInvariant(), out var info)
                    || !info.HasShebang || (info.Flags & Cinnabar.Server.Commands.ScriptFlags.NoWrites) == 0;
            case "fcall":
                return !Scripting.Functions.TryGetValue(args.GetString(1), out var fn) || !fn.Flags.Contains("no-writes");
        }
        return true;
    }

    /// <summary>CMD_WRITE as getCommandFlags reports it: a script with a shebang and no no-writes
    /// flag (or a function without no-writes) counts as a write; scripts without shebang do not.</summary>
    internal bool IsWriteWithScriptFlags(CommandDef cmd, Protocol.CommandArgs args) =>
        cmd.Is(CommandFlags.Write) || (cmd.IsScriptCall && Cinnabar.Server.Commands.ScriptCommandFlags.ForChecks(Scripting, cmd, args).Is(CommandFlags.Write));

    /// <summary>Completes when a pause ends or changes (UNPAUSE, timeout, end of a failover); callers re-check.</summary>
    internal Task WaitUnpausedAsync()
    {
        var signal = _unpaused.Task;
        long left = _pauseEndMs - Environment.TickCount64;
        bool clientPaused = _pauseEndMs != 0 && left > 0;
        if (!clientPaused && !PurposePause) return Pins.WaitAsync();
        if (!clientPaused) return signal;
        return Task.WhenAny(signal, Task.Delay(TimeSpan.FromMilliseconds(left)));
    }

    // ---------------------------------------------------------------- output buffer limits

    private bool _coblStale = true;
    private OutputBufferLimit[] _cobl = DefaultOutputLimits();

    private static OutputBufferLimit[] DefaultOutputLimits() =>
    [
        new(0, 0, 0),                                 // normal
        new(256L << 20, 64L << 20, 60),               // replica
        new(32L << 20, 8L << 20, 60),                 // pubsub
        new(0, 0, 0),                                 // master (not limited by Redis)
    ];

    /// <summary>Marks the parsed client-output-buffer-limit stale (CONFIG SET).</summary>
    private void OnOutputLimitConfigChanged() => _coblStale = true;

    /// <summary>
    /// Limits per client class, parsed from the client-output-buffer-limit directive and cached
    /// until it changes (Redis's defaults while the directive is not declared).
    /// </summary>
    public OutputBufferLimit OutputLimit(ClientType type)
    {
        if (_coblStale)
        {
            _cobl = ParseOutputLimits(Config.Get("client-output-buffer-limit"));
            _coblStale = false;
        }
        return _cobl[(int)type];
    }

    /// <summary>Parses "normal 0 0 0 slave 268435456 67108864 60 pubsub ..." (sizes may carry units).</summary>
    public static OutputBufferLimit[] ParseOutputLimits(string text)
    {
        var limits = DefaultOutputLimits();
        var w = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i + 3 < w.Length; i += 4)
        {
            int cls = w[i].ToLowerInvariant() switch
            {
                "normal" => 0,
                "slave" or "replica" => 1,
                "pubsub" => 2,
                _ => -1,
            };
            if (cls < 0) continue;
            if (Cinnabar.Server.Config.ServerConfig.TryParseMemory(w[i + 1], out long hard) && Cinnabar.Server.Config.ServerConfig.TryParseMemory(w[i + 2], out long soft)
                && long.TryParse(w[i + 3], NumberStyles.Integer, CultureInfo.InvariantCulture, out long secs))
                limits[cls] = new OutputBufferLimit(hard, soft, secs);
        }
        return limits;
    }

    public static ClientType TypeOf(Client c)
    {
        if ((c.Flags & ClientFlags.Master) != 0) return ClientType.Master;
        if ((c.Flags & ClientFlags.Replica) != 0 && (c.Flags & ClientFlags.Monitor) == 0) return ClientType.Replica;
        if ((c.Flags & ClientFlags.PubSub) != 0 || c.SubscriptionCount > 0) return ClientType.PubSub;
        return ClientType.Normal;
    }

    /// <summary>
    /// Closes the client when its pending output passes the hard limit, or stays above the soft
    /// limit for longer than the soft period. Returns true when the client was closed.
    /// </summary>
    internal bool EnforceOutputLimit(Client c)
    {
        if (c.IsClosed) return true;
        var type = TypeOf(c);
        if (type == ClientType.Master) return false;
        var limit = OutputLimit(type);
        if (limit.HardBytes == 0 && limit.SoftBytes == 0) return false;
        long used = c.PendingOutputBytes;
        // A replica's share of the replication buffer counts as its output (getClientOutputBufferMemoryUsage).
        if (type == ClientType.Replica) used += ReplicaSharedBufferBytes(c);
        // A replica's hard limit below repl-backlog-size counts as repl-backlog-size: a partial
        // resync may send that much at once (Redis's checkClientOutputBufferLimits).
        long hardBytes = limit.HardBytes;
        if (type == ClientType.Replica && hardBytes > 0 && hardBytes < Config.ReplBacklogSize) hardBytes = Config.ReplBacklogSize;
        bool hard = hardBytes > 0 && used >= hardBytes;
        bool soft = limit.SoftBytes > 0 && used >= limit.SoftBytes;
        long now = Environment.TickCount64;
        if (soft && !hard)
        {
            if (c.SoftLimitSinceMs == 0)
            {
                c.SoftLimitSinceMs = now;
                soft = false;
            }
            // In whole seconds, as Redis's checkClientOutputBufferLimits (server.unixtime): the
            // client goes only once more than soft-seconds have fully passed, never a few
            // milliseconds early by the coarse tick (unit/obuf-limits measured 2999 ms of 3000).
            else soft = now / 1000 - c.SoftLimitSinceMs / 1000 > limit.SoftSeconds;
        }
        else if (!soft) c.SoftLimitSinceMs = 0;
        if (!hard && !soft) return false;
        Log.Warning($"Client {DescribeClient(c)} scheduled to be closed ASAP for overcoming of output buffer limits.");
        c.Flags |= ClientFlags.CloseAsap;
        c.Close();
        return true;
    }

    // ---------------------------------------------------------------- CLIENT LIST line

    /// <summary>Redis's catClientInfoString: the CLIENT LIST / CLIENT INFO line (without newline).</summary>
    public string DescribeClient(Client c)
    {
        long now = Environment.TickCount64;
        int multi = (c.Flags & ClientFlags.Multi) != 0 ? c.MultiQueue?.Count ?? 0 : -1;
        int qbuf = c.QueryBufferLength;
        int rbs = c.ReplyBufferSize;
        long pending = c.PendingOutputBytes;
        // Redis keeps up to rbs bytes in the client's buffer (obl) and the rest in a list of
        // 16 KiB blocks (oll blocks, omem bytes).
        long obl = Math.Min(pending, rbs), omem = pending - obl, oll = (omem + 16383) / 16384;
        long totMem = c.MemoryUsage();
        string events = pending > 0 ? "rw" : "r";
        return string.Create(CultureInfo.InvariantCulture,
            $"id={c.Id} addr={c.Address} laddr={c.LocalAddress} fd={c.Fd} name={c.Name ?? ""} age={(now - c.CreatedMs) / 1000} idle={(now - c.LastInteractionMs) / 1000} " +
            $"flags={c.FlagString()} db={c.DbIndex} sub={c.Channels?.Count ?? 0} psub={c.Patterns?.Count ?? 0} ssub={c.ShardChannels?.Count ?? 0} multi={multi} " +
            $"qbuf={qbuf} qbuf-free={c.QueryBufferCapacity - qbuf} argv-mem={c.ArgvBytes} multi-mem={c.MultiQueueBytes()} rbs={rbs} rbp={c.ReplyBufferPeak} obl={obl} oll={oll} omem={omem} " +
            $"tot-mem={totMem} events={events} cmd={c.LastCommand} user={c.User} redir={c.Tracking?.RedirectId ?? -1} resp={c.Reply.Protocol}");
    }
}
