using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Persistence;
using Cinnabar.Replication;

namespace Cinnabar.Server;

public enum ReplicaState { WaitBgsave, SendingRdb, Online }

/// <summary>A replica attached to this server (master side).</summary>
public sealed class ReplicaInfo
{
    public required Client Client { get; init; }
    public ReplicaState State;
    public int ListeningPort;
    public string? AnnouncedIp;
    public bool CapaEof;
    public bool CapaPsync2;
    /// <summary>REPLCONF rdb-only 1 (redis-cli --rdb): the RDB alone, then the connection is closed.</summary>
    public bool RdbOnly;
    /// <summary>REPLCONF rdb-filter-only functions: the RDB carries no keys.</summary>
    public bool ExcludeData;
    /// <summary>rdb-filter-only without "functions": the RDB carries no functions either.</summary>
    public bool ExcludeFunctions;
    public long AckOffset;
    public long AckTimeMs = Environment.TickCount64;
    /// <summary>
    /// While the RDB is produced and sent: the replica's position in the shared replication
    /// buffer (the stream written since its snapshot stays there, not copied per replica; its
    /// size counts against the replica output limit).
    /// </summary>
    public ReplicationBacklog.Pin? Pending;
    /// <summary>Stream bytes were added to the output buffer since the last flush (see FlushReplicaOutputs).</summary>
    public bool FlushPending;
    /// <summary>
    /// After a diskless (EOF-marked) transfer the stream starts only on the replica's first ACK:
    /// a Redis replica detects the end marker in the last bytes of a read, so nothing may follow
    /// it until the replica has loaded the RDB (replicaStartCommandStream in Redis 7).
    /// </summary>
    public bool AwaitingFirstAck;
    /// <summary>Ends the RDB production for this replica when it goes away (a slowed save waits on it).</summary>
    public CancellationTokenSource SyncCancel { get; } = new();
    /// <summary>When the last keepalive newline went out while waiting for the RDB to start.</summary>
    public long LastNewlineMs = Environment.TickCount64;
    /// <summary>The RDB transfer serving this replica (null while it waits for one to start).</summary>
    internal RdbTransfer? Transfer;
    /// <summary>This replica left its transfer (gone, or a write to it failed).</summary>
    internal volatile bool TransferDropped;
    /// <summary>When the transfer's current write to this replica started (0: none blocked).</summary>
    internal long TransferBlockedSinceMs;
    /// <summary>SYNC (no +FULLRESYNC line) rather than PSYNC.</summary>
    internal bool LegacySync;
    public string Ip => AnnouncedIp ?? (Client.Address.Contains(':') ? Client.Address[..Client.Address.LastIndexOf(':')] : Client.Address);
}

/// <summary>Replication identity and offsets, as INFO replication shows them.</summary>
public sealed class ReplicationState
{
    public string ReplId = NewReplId();
    public string ReplId2 = new('0', 40);
    public long SecondReplOffset = -1;
    public ReplicationBacklog? Backlog;
    /// <summary>master_repl_offset when no backlog exists yet.</summary>
    public long Offset;
    public readonly List<ReplicaInfo> Replicas = new();
    public long SyncFull;
    public long SyncPartialOk;
    public long SyncPartialErr;

    // Replica side
    public string? MasterHost;
    public int MasterPort;
    public MasterLink? Link;
    /// <summary>Redis's cached_master exists: our position is kept to PSYNC with (discarded by a full sync).</summary>
    public bool CachedMaster;

    public long MasterReplOffset => Backlog?.MasterOffset ?? Offset;

    /// <summary>True when ReplId/Offset describe a real replication history (e.g. restored from an RDB), even at offset 0.</summary>
    public bool HasHistory;

    public static string NewReplId() => Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(20)).ToLowerInvariant();
}

// Master side of replication (replication.c): REPLCONF, PSYNC/SYNC, the backlog, feeding
// replicas, WAIT and min-replicas. The replication stream is the propagation stream: this class
// is one of its consumers. A full sync takes a point-in-time snapshot at the current offset,
// streams the RDB from a background task (diskless with the EOF marker when the replica supports
// it, otherwise with a length prefix) while writes made meanwhile queue in the replica's pending
// buffer, then switches the replica online.
public sealed partial class RedisServer : IRdbTransferHost
{
    public ReplicationState Repl { get; } = new();
    private ReplicationFeed? _replFeed;

    private sealed class ReplicationFeed(RedisServer server) : ICommandStreamConsumer
    {
        public void Append(ReadOnlySpan<byte> resp) => server.FeedReplicas(resp);
    }

    public bool IsReplica => Repl.MasterHost != null;

    private int BacklogSize => (int)Math.Min(int.MaxValue, Config.ReplBacklogSize);

    private void EnsureBacklog()
    {
        if (Repl.Backlog != null) return;
        Repl.Backlog = new ReplicationBacklog(BacklogSize, Repl.Offset);
        if (_replFeed == null)
        {
            _replFeed = new ReplicationFeed(this);
            AddStreamConsumer(_replFeed, isReplication: true);
        }
    }

    /// <summary>Appends replication stream bytes: backlog plus every attached replica (lock held).</summary>
    internal void FeedReplicas(ReadOnlySpan<byte> data)
    {
        Repl.Backlog?.Append(data);
        if (Repl.Backlog == null) Repl.Offset += data.Length;
        foreach (var r in Repl.Replicas)
        {
            if (r.State == ReplicaState.Online)
            {
                lock (r.Client.OutputLock) r.Client.Reply.WriteRaw(data);
                r.Client.ReplStreamBytes += data.Length;
                // One socket write per batch of commands, not per command (Redis writes
                // replicas' buffers in beforeSleep): flushed by FlushReplicaOutputs.
                if (!r.FlushPending)
                {
                    r.FlushPending = true;
                    _replicasToFlush.Add(r);
                }
            }
            else if (r.Pending != null) EnforceOutputLimit(r.Client);
        }
    }

    /// <summary>Bytes of the shared replication buffer a replica still holds (counted as its output buffer).</summary>
    internal long ReplicaSharedBufferBytes(Client c)
    {
        var pin = FindReplica(c)?.Pending;
        return pin != null && !pin.Released ? pin.Owner.BytesFrom(pin) : 0;
    }

    private static void ReleasePending(ReplicaInfo r)
    {
        var pin = r.Pending;
        r.Pending = null;
        if (pin != null) pin.Owner.Release(pin);
    }

    private readonly List<ReplicaInfo> _replicasToFlush = new();

    /// <summary>Sends what FeedReplicas buffered: after each batch, and on every cron tick (lock held).</summary>
    internal void FlushReplicaOutputs()
    {
        if (_replicasToFlush.Count == 0) return;
        foreach (var r in _replicasToFlush)
        {
            r.FlushPending = false;
            r.Client.ScheduleFlush();
        }
        _replicasToFlush.Clear();
    }

    public ReplicaInfo? FindReplica(Client c) => Repl.Replicas.Find(r => r.Client == c);

    /// <summary>REPLCONF from a replica (or GETACK from our master, handled on the replica side).</summary>
    public void ReplconfCommand(CommandContext ctx)
    {
        if ((ctx.ArgCount - 1) % 2 != 0)
        {
            ctx.SyntaxError();
            return;
        }
        var c = ctx.Client;
        for (int i = 1; i < ctx.ArgCount; i += 2)
        {
            if (ctx.ArgIs(i, "ACK"))
            {
                var r = FindReplica(c);
                if (r != null && long.TryParse(ctx.Arg(i + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out long off))
                {
                    if (r.AwaitingFirstAck) StartCommandStream(r);
                    if (off > r.AckOffset) r.AckOffset = off;
                    r.AckTimeMs = Environment.TickCount64;
                    CheckWaiters();
                }
                return; // ACK gets no reply
            }
            if (ctx.ArgIs(i, "GETACK"))
            {
                if ((c.Flags & ClientFlags.Master) != 0) Repl.Link?.SendAckSoon();
                return;
            }
            var pending = _pendingReplicaInfo.GetValueOrDefault(c.Id) ?? new ReplicaInfo { Client = c };
            if (ctx.ArgIs(i, "LISTENING-PORT"))
            {
                if (!ctx.TryGetInt(i + 1, out pending.ListeningPort)) return;
            }
            else if (ctx.ArgIs(i, "IP-ADDRESS")) pending.AnnouncedIp = ctx.ArgString(i + 1);
            else if (ctx.ArgIs(i, "CAPA"))
            {
                if (ctx.ArgIs(i + 1, "EOF")) pending.CapaEof = true;
                else if (ctx.ArgIs(i + 1, "PSYNC2")) pending.CapaPsync2 = true;
            }
            else if (ctx.ArgIs(i, "RDB-ONLY"))
            {
                if (!ctx.TryGetLong(i + 1, out long rdbOnly)) return;
                if (rdbOnly is < 0 or > 1)
                {
                    ctx.Error("ERR value is out of range, value must between 0 and 1");
                    return;
                }
                pending.RdbOnly = rdbOnly == 1;
            }
            else if (ctx.ArgIs(i, "RDB-FILTER-ONLY"))
            {
                // Everything is filtered out except what the filters include (only "functions").
                pending.ExcludeFunctions = true;
                foreach (var filter in ctx.ArgString(i + 1).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                {
                    if (!filter.Equals("functions", StringComparison.OrdinalIgnoreCase))
                    {
                        ctx.Error($"ERR Unsupported rdb-filter-only option: {filter}");
                        return;
                    }
                    pending.ExcludeFunctions = false;
                }
                pending.ExcludeData = true;
            }
            else
            {
                ctx.Error($"ERR Unrecognized REPLCONF option: {ctx.ArgString(i)}");
                return;
            }
            _pendingReplicaInfo[c.Id] = pending;
        }
        ctx.Reply.WriteOk();
    }

    private readonly Dictionary<long, ReplicaInfo> _pendingReplicaInfo = new();

    /// <summary>PSYNC replid offset / SYNC.</summary>
    public void PsyncCommand(CommandContext ctx, bool legacySync)
    {
        var c = ctx.Client;
        if ((c.Flags & ClientFlags.Replica) != 0) return;
        if (!legacySync && ctx.ArgCount > 3 && ctx.ArgIs(3, "FAILOVER") && !AcceptFailoverRequest(ctx)) return;
        if (Failover != FailoverState.None)
        {
            ctx.Error(Errors.SyncWhileFailingOver);
            return;
        }
        if (IsReplica && (Repl.Link == null || !Repl.Link.Connected))
        {
            ctx.Error(Errors.SyncWithoutMasterLink);
            return;
        }
        var info = _pendingReplicaInfo.GetValueOrDefault(c.Id) ?? new ReplicaInfo { Client = c };
        // A filtered RDB is always produced for the socket, which needs the EOF capability.
        if (info.ExcludeData && !info.CapaEof)
        {
            ctx.Error("ERR Filtered replica requires EOF capability");
            return;
        }
        Log.Notice($"Replica {info.Ip}:{info.ListeningPort} asks for synchronization");
        long reqOffset = 0;
        if (!legacySync && !long.TryParse(ctx.Arg(2), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out reqOffset))
        {
            // syncCommand: the offset must be an integer; the client is not a replica then.
            Log.Warning($"Replica {info.Ip}:{info.ListeningPort} asks for synchronization but with a wrong offset");
            ctx.Error(Errors.NotInteger);
            return;
        }
        _pendingReplicaInfo.Remove(c.Id);
        c.Flags |= ClientFlags.Replica;
        if (!legacySync)
        {
            string reqId = ctx.ArgString(1);
            if (TryPartialResync(ctx, info, reqId, reqOffset))
                return;
            if (reqId != "?") Repl.SyncPartialErr++;
        }
        StartFullSync(ctx, info, legacySync);
    }

    /// <summary>
    /// PSYNC ... FAILOVER from our master failing over to us (Redis 7.0 syncCommand): when it
    /// names our replication ID we turn into a master, then serve its PSYNC like any replica's.
    /// </summary>
    private bool AcceptFailoverRequest(CommandContext ctx)
    {
        string replId = ctx.ArgString(1);
        Log.Warning($"Failover request received for replid {replId}.");
        if (!IsReplica)
        {
            ctx.Error(Errors.PsyncFailoverToMaster);
            return false;
        }
        if (!string.Equals(replId, Repl.ReplId, StringComparison.OrdinalIgnoreCase))
        {
            ctx.Error(Errors.PsyncFailoverReplidMismatch);
            return false;
        }
        ReplicaOfNoOne();
        Log.Notice($"MASTER MODE enabled (failover request from '{DescribeClient(ctx.Client)}')");
        return true;
    }

    private bool TryPartialResync(CommandContext ctx, ReplicaInfo info, string reqId, long reqOffset)
    {
        var backlog = Repl.Backlog;
        bool idOk = reqId == Repl.ReplId || (reqId == Repl.ReplId2 && reqOffset <= Repl.SecondReplOffset);
        if (!idOk || backlog == null || !backlog.CanServe(reqOffset))
        {
            if (reqId != "?") Log.Notice($"Partial resynchronization not accepted: Replication ID mismatch or offset out of range (Replica asked for '{reqId}', offset {reqOffset})");
            return false;
        }
        var c = ctx.Client;
        info.State = ReplicaState.Online;
        info.AckTimeMs = Environment.TickCount64;
        Repl.Replicas.Add(info);
        string line = info.CapaPsync2 ? $"+CONTINUE {Repl.ReplId}\r\n" : "+CONTINUE\r\n";
        c.Reply.WriteRaw(line);
        c.Reply.WriteRaw(backlog.CopyFrom(reqOffset));
        Repl.SyncPartialOk++;
        Log.Notice($"Partial resynchronization request from {info.Ip}:{info.ListeningPort} accepted. Sending {backlog.MasterOffset - reqOffset + 1} bytes of backlog starting from offset {reqOffset}.");
        return true;
    }

    private void StartFullSync(CommandContext ctx, ReplicaInfo info, bool legacySync)
    {
        EnsureBacklog();
        Repl.SyncFull++;
        info.State = ReplicaState.WaitBgsave;
        info.LegacySync = legacySync;
        Repl.Replicas.Add(info);
        bool diskless = info.CapaEof && (info.ExcludeData || ConfigOr("repl-diskless-sync", "yes") == "yes");
        int delaySec = int.TryParse(ConfigOr("repl-diskless-sync-delay", "5"), out var d) ? d : 5;
        Log.Notice($"Full resync requested by replica {info.Ip}:{info.ListeningPort}");
        if (diskless && delaySec > 0) JoinDisklessRound(delaySec, info);
        else StartTransfers([info], diskless);
    }

    /// <summary>RDB transfers to replicas being produced now: INFO counts them as a BGSAVE in progress, as Redis's child.</summary>
    public int ReplicationSavesRunning { get; private set; }

    private readonly List<RdbTransfer> _transfers = new();

    object IRdbTransferHost.ExecLock => ExecLock;

    /// <summary>
    /// startBgsaveForReplication (lock held): one transfer per group of replicas that accept the
    /// same RDB (rdb-filter-only), from a snapshot taken now; each member's stream restarts here.
    /// </summary>
    private void StartTransfers(List<ReplicaInfo> candidates, bool diskless)
    {
        var waiting = candidates.FindAll(r => Repl.Replicas.Contains(r) && !r.Client.IsClosed);
        while (waiting.Count > 0)
        {
            var first = waiting[0];
            var group = waiting.FindAll(r => r.ExcludeData == first.ExcludeData && r.ExcludeFunctions == first.ExcludeFunctions);
            waiting.RemoveAll(group.Contains);
            StartTransfer(group, diskless);
        }
    }

    private void StartTransfer(List<ReplicaInfo> members, bool diskless)
    {
        var first = members[0];
        // The stream after this point must start with SELECT for the replicas.
        ResetSelectedDb(_replFeed!);
        long offset = Repl.MasterReplOffset;
        List<Cinnabar.Storage.DbSnapshot> snaps = first.ExcludeData ? [] : RdbFile.BeginSnapshots(Keyspace);
        var child = BackgroundChild.Start();
        var options = new RdbSaveOptions
        {
            Compress = ConfigOr("rdbcompression", "yes") == "yes",
            Checksum = ConfigOr("rdbchecksum", "yes") == "yes",
            ReplId = Repl.ReplId,
            ReplOffset = offset,
            UsedMemory = UsedMemory(),
            FunctionLibraries = first.ExcludeFunctions ? [] : FunctionLibrariesForRdb?.Invoke() ?? [],
            KeySaveDelayMicros = Config.RdbKeySaveDelayMicros,
            Cancel = child.Cancel.Token,
        };
        var headers = new List<string>(members.Count);
        foreach (var m in members)
        {
            ReleasePending(m);
            m.Pending = Repl.Backlog!.PinFrom(offset + 1);   // the stream after the snapshot
            headers.Add(m.LegacySync ? "" : $"+FULLRESYNC {Repl.ReplId} {offset}\r\n");
        }
        var transfer = new RdbTransfer(this, members, diskless, child);
        _transfers.Add(transfer);
        ReplicationSavesRunning++;
        Stats.TotalForks++;
        Log.Notice(diskless ? "Starting BGSAVE for SYNC with target: replicas sockets" : "Starting BGSAVE for SYNC with target: disk");
        Log.Notice(diskless ? $"Background RDB transfer started by pid {child.Pid}" : $"Background saving started by pid {child.Pid}");
        transfer.Start(headers, snaps, options, Config.Dir);
    }

    void IRdbTransferHost.OnTransferDone(RdbTransfer transfer, bool ok)
    {
        _transfers.Remove(transfer);
        ReplicationSavesRunning--;
        var child = transfer.Child;
        int signal = child.StoppedByServer ? 10 : child.KilledBySignal;
        if (transfer.Diskless)
        {
            if (ok) Log.Notice("Background RDB transfer terminated with success");
            else if (signal != 0) Log.Warning($"Background transfer terminated by signal {signal}");
            else Log.Warning("Background transfer error");
        }
        else
        {
            if (ok) Log.Notice("Background saving terminated with success");
            else if (signal != 0) Log.Warning($"Background saving terminated by signal {signal}");
            else Log.Warning("Background saving error");
        }
        foreach (var r in transfer.Members)
        {
            r.Transfer = null;
            if (r.TransferDropped || !Repl.Replicas.Contains(r)) continue;
            if (!ok)
            {
                Log.Warning("SYNC failed. BGSAVE child returned an error");
                r.Client.Close();
                continue;
            }
            if (r.RdbOnly)
            {
                // replicaPutOnline: no command stream for it; close once the RDB is out.
                Log.Notice($"RDB transfer completed, rdb only replica ({r.Ip}:{r.ListeningPort}) should be disconnected asap");
                ReleasePending(r);
                r.Client.Close();
                continue;
            }
            Log.Notice($"Synchronization with replica {r.Ip}:{r.ListeningPort} succeeded");
            if (transfer.Diskless)
            {
                // Nothing (not even a keepalive newline) may follow the EOF mark before the ACK.
                r.State = ReplicaState.SendingRdb;
                r.AwaitingFirstAck = true;
            }
            else StartCommandStream(r);
        }
    }

    /// <summary>killRDBChild for the transfers: FLUSHALL ends them; their replicas sync again (lock held).</summary>
    private void StopTransfers()
    {
        foreach (var t in _transfers)
            if (!t.Produced) t.Child.Stop();
    }

    /// <summary>Replicas waiting together for repl-diskless-sync-delay (one BGSAVE for all in Redis).</summary>
    private sealed class DisklessRound
    {
        public readonly List<ReplicaInfo> Members = new();
    }

    private DisklessRound? _disklessRound;

    /// <summary>
    /// A diskless full sync starts repl-diskless-sync-delay seconds after the first replica of the
    /// round asked, or as soon as repl-diskless-sync-max-replicas replicas wait (lock held).
    /// </summary>
    private void JoinDisklessRound(int delaySec, ReplicaInfo info)
    {
        var round = _disklessRound;
        if (round == null)
        {
            round = _disklessRound = new DisklessRound();
            _ = Task.Delay(delaySec * 1000).ContinueWith(_ =>
            {
                lock (ExecLock) StartDisklessRound(round);
            }, TaskScheduler.Default);
        }
        round.Members.Add(info);
        int maxReplicas = Config.ReplDisklessSyncMaxReplicas;
        if (maxReplicas > 0 && round.Members.Count >= maxReplicas) StartDisklessRound(round);
    }

    private void StartDisklessRound(DisklessRound round)
    {
        if (_disklessRound != round) return;
        _disklessRound = null;
        StartTransfers(round.Members, diskless: true);
    }

    /// <summary>Sends everything written since the snapshot, then switches the replica to the live stream.</summary>
    private void StartCommandStream(ReplicaInfo info)
    {
        var c = info.Client;
        info.AwaitingFirstAck = false;
        var pin = info.Pending;
        if (pin != null)
        {
            // Our history changed since the snapshot (a new backlog): the replica must resync.
            if (pin.Released || pin.Owner != Repl.Backlog || !pin.Owner.CanServe(pin.Offset))
            {
                ReleasePending(info);
                c.Close();
                return;
            }
            var stream = pin.Owner.CopyFrom(pin.Offset);
            lock (c.OutputLock) c.Reply.WriteRaw(stream);
            c.ReplStreamBytes += stream.Length;
            ReleasePending(info);
        }
        info.State = ReplicaState.Online;
        info.AckTimeMs = Environment.TickCount64;
        c.ScheduleFlush();
    }

    internal void OnReplicaClosed(Client c)
    {
        _pendingReplicaInfo.Remove(c.Id);
        var r = FindReplica(c);
        if (r != null) DropReplica(r);
    }

    /// <summary>Forgets a replica (Redis's freeClient of a replica), named by its ip and listening port.</summary>
    private void DropReplica(ReplicaInfo r)
    {
        r.SyncCancel.Cancel();
        ReleasePending(r);
        if (!Repl.Replicas.Remove(r)) return;
        r.Transfer?.Drop(r, SavePoints().Count > 0);
        if (Repl.Replicas.Count == 0) _noReplicasSinceMs = Environment.TickCount64;
        Log.Warning($"Connection with replica {r.Ip}:{r.ListeningPort} lost.");
    }

    // ---------------------------------------------------------------- WAIT / min-replicas

    private readonly List<(Client Client, long Offset, int Needed, BlockedState? State)> _waiters = new();

    /// <summary>Number of replicas that acknowledged at least <paramref name="offset"/>.</summary>
    public int ReplicasAcked(long offset)
    {
        int n = 0;
        foreach (var r in Repl.Replicas)
            if (r.State == ReplicaState.Online && r.AckOffset >= offset) n++;
        return n;
    }

    /// <summary>Asks every online replica for an ACK (REPLCONF GETACK *), as WAIT does.</summary>
    public void RequestAcks()
    {
        if (Repl.Replicas.Count == 0) return;
        // Redis sends no GETACK while clients are paused: it would move the offset a FAILOVER
        // waits for. It goes out once the pause ends.
        if (IsPaused)
        {
            _getAckPending = true;
            return;
        }
        _getAckPending = false;
        FeedReplicas("*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"u8);
        FlushReplicaOutputs();
    }

    private bool _getAckPending;

    public void AddWaiter(Client c, long offset, int needed) => _waiters.Add((c, offset, needed, c.BlockState));

    private void CheckWaiters()
    {
        for (int i = _waiters.Count - 1; i >= 0; i--)
        {
            var (c, offset, needed, _) = _waiters[i];
            if (c.BlockState == null)
            {
                _waiters.RemoveAt(i);
                continue;
            }
            int acked = ReplicasAcked(offset);
            if (acked >= needed)
            {
                _waiters.RemoveAt(i);
                CompleteWait(c, acked);
            }
        }
    }

    private void CompleteWait(Client c, int acked)
    {
        var state = c.BlockState;
        if (state == null) return;
        Unblock(c, timedOut: false, write: false);
        lock (c.OutputLock) c.Reply.WriteInteger(acked);
        c.ScheduleFlush();
    }

    /// <summary>Good replicas for min-replicas-to-write: online with an ACK within min-replicas-max-lag seconds.</summary>
    public int GoodReplicas()
    {
        long maxLagMs = Config.MinReplicasMaxLag * 1000L;
        long now = Environment.TickCount64;
        int n = 0;
        foreach (var r in Repl.Replicas)
            if (r.State == ReplicaState.Online && now - r.AckTimeMs <= maxLagMs && !r.Client.IsClosed) n++;
        return n;
    }

    private string? ReplicationWriteCheck(Client c, CommandDef cmd)
    {
        if (!cmd.Is(CommandFlags.Write) || (c.Flags & ClientFlags.Master) != 0) return null;
        if (IsReplica && Config.ReplicaReadOnly) return Errors.ReadOnlyReplica;
        int minReplicas = Config.MinReplicasToWrite;
        if (minReplicas > 0 && !IsReplica && GoodReplicas() < minReplicas) return Errors.NoReplicas;
        return null;
    }

    /// <summary>A replica whose master link is not up, told not to serve stale data (Redis's running_stale).</summary>
    public bool RunningStale => IsReplica && !Config.ReplicaServeStaleData && Repl.Link?.Connected != true;

    /// <summary>
    /// replica-serve-stale-data no: while the link with the master is not up (down, handshake or
    /// full sync), only commands flagged stale run; EXEC too only if every queued command is.
    /// </summary>
    private string? MasterDownCheck(Client c, CommandDef cmd)
    {
        if (!RunningStale || (c.Flags & ClientFlags.Master) != 0) return null;
        if (!cmd.Is(CommandFlags.Stale)) return Errors.MasterDown;
        if (cmd.Name == "exec" && c.MultiQueue != null)
        {
            foreach (var queued in c.MultiQueue)
            {
                var q = Commands.Lookup(queued[0]);
                if (q?.Subcommands != null && queued.Length > 1) q = CommandTable.LookupSub(q, queued[1]);
                if (q != null && !q.Is(CommandFlags.Stale)) return Errors.MasterDown;
            }
        }
        return null;
    }

    /// <summary>Cron part: ping replicas (repl-ping-replica-period), drop timed-out ones, serve WAIT.</summary>
    private void ReplicationCron()
    {
        long now = Environment.TickCount64;
        int pingPeriod = int.TryParse(ConfigOr("repl-ping-replica-period", "10"), out var p) ? p : 10;
        if (Repl.Replicas.Count > 0 && now - _lastReplPingMs >= pingPeriod * 1000L && !IsReplica)
        {
            _lastReplPingMs = now;
            if (!FailoverHoldsPings) FeedReplicas("*1\r\n$4\r\nPING\r\n"u8);
        }
        long timeoutMs = (long.TryParse(ConfigOr("repl-timeout", "60"), out var t) ? t : 60) * 1000;
        foreach (var r in Repl.Replicas.ToArray())
        {
            // A replica waiting for its RDB to start gets a newline every second, so its
            // handshake timeout sees a live master (nothing else is on that socket yet).
            // A diskless transfer owns the socket from its start (no newline inside the RDB).
            if (r.State == ReplicaState.WaitBgsave && r.Transfer?.Diskless != true && now - r.LastNewlineMs >= 1000)
            {
                r.LastNewlineMs = now;
                try { r.Client.Socket?.Send("\n"u8); }
                catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
            }
            long blockedSinceMs = Volatile.Read(ref r.TransferBlockedSinceMs);
            if (r.Transfer != null && blockedSinceMs != 0 && now - blockedSinceMs > timeoutMs)
            {
                // No write progress to this replica for repl-timeout during its RDB transfer.
                Log.Warning($"Disconnecting timedout replica (full sync): {r.Ip}:{r.ListeningPort}");
                r.Client.Close();
            }
            if (r.State == ReplicaState.Online && now - r.AckTimeMs > timeoutMs)
            {
                Log.Warning($"Disconnecting timedout replica (streaming sync): {r.Ip}:{r.ListeningPort}");
                r.Client.Close();
            }
        }
        FreeIdleBacklog(now);
        if (_getAckPending && !IsPaused && !IsReplica) RequestAcks();
        if (_waiters.Count > 0) CheckWaiters();
        UpdateFailoverStatus();
        Repl.Link?.Cron(now);
    }

    private long _noReplicasSinceMs = Environment.TickCount64;

    /// <summary>
    /// repl-backlog-ttl: a master without replicas for that long frees its backlog, with a new
    /// replication ID and no secondary one (no partial resync is possible any more).
    /// </summary>
    private void FreeIdleBacklog(long now)
    {
        if (Repl.Replicas.Count > 0 || Repl.Backlog == null || IsReplica) return;
        long ttl = long.TryParse(ConfigOr("repl-backlog-ttl", "3600"), out var v) ? v : 3600;
        if (ttl <= 0 || now - _noReplicasSinceMs <= ttl * 1000) return;
        Repl.Offset = Repl.MasterReplOffset;
        Repl.Backlog = null;
        Repl.ReplId = ReplicationState.NewReplId();
        Repl.ReplId2 = new string('0', 40);
        Repl.SecondReplOffset = -1;
        Log.Notice($"Replication backlog freed after {ttl} seconds without connected replicas.");
    }

    // Pings go out every period counted from startup (Redis: cron loops % period == 0), not as
    // soon as a first replica attaches: tools reading the raw stream right after SYNC expect no PING.
    private long _lastReplPingMs = Environment.TickCount64;
}
