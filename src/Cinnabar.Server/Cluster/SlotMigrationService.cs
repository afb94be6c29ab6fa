using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Cluster;
using Cinnabar.Persistence.Aof;
using Cinnabar.Protocol;
using Cinnabar.SlotMigration;
using Cinnabar.Storage;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// Wires the atomic slot migration state machines (Cinnabar.SlotMigration) to sockets, the
/// keyspace and the cluster node. The destination pulls: CLUSTER MIGRATION IMPORT opens a
/// connection to the source's client port and sends CLUSTER SYNCSLOTS SYNC. The source answers
/// +SLOTSSNAPSHOT, then writes on that connection, as commands: the slots' keys from a
/// point-in-time snapshot (AOF-rewrite form, so big collections go in 64-element commands), a
/// SNAPSHOT-EOF mark, and from then on every propagated write to those slots (it is a consumer of
/// the propagation stream, like the AOF). The destination applies everything through an internal
/// client that is never redirected, and ACKs the live bytes it applied. The handoff (pause,
/// STREAM-EOF, claim with a bumped epoch, completion on the source when gossip shows the new
/// owner) is decided by MigrateTask/ImportTask; this class only carries it out. Keys of slots
/// that left (source, after a completed task) or never arrived (destination, after a failed or
/// cancelled one) are deleted a batch per cron run, each DEL propagated.
/// All members run under the server's execution lock, except the two socket loops.
/// </summary>
public sealed class SlotMigrationService : ICommandStreamConsumer
{
    private const int TrimKeysPerCron = 2000;
    private const long MaxPendingBytes = 512L * 1024 * 1024;
    private const int ConnectTimeoutMs = 5000;

    private readonly RedisServer _server;
    private readonly ClusterService _svc;
    private readonly List<int> _trimSlots = new();
    private Outgoing? _out;
    private Incoming? _in;

    public SlotMigrationService(RedisServer server, ClusterService svc)
    {
        _server = server;
        _svc = svc;
    }

    public MigrationRegistry Registry { get; } = new(new Random());

    private static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
    private ClusterNode Node => _svc.Node;

    /// <summary>The source's side of one task: the destination's connection and the live stream.</summary>
    private sealed class Outgoing
    {
        public required MigrateTask Task { get; init; }
        public required Client Client { get; init; }
        public required DbSnapshot Snapshot { get; init; }
        /// <summary>Live writes made while the snapshot is still being sent; null once online.</summary>
        public MemoryStream? Pending = new();
        public readonly CancellationTokenSource Cancel = new();
        public bool Paused;
        public bool InMulti;
        public bool TxMatched;
        public readonly MemoryStream Tx = new();
        /// <summary>Big collections taken out of the walk, streamed in steps before it (pinned meanwhile).</summary>
        public readonly Queue<BigKey> Big = new();
    }

    /// <summary>
    /// A collection too big to serialize in one lock hold: written in chunks, its writers held
    /// back meanwhile (<see cref="PinnedKeys"/>). A write that gets past the pin (a script's
    /// undeclared key, an expiry) first copies the value as it still is, and the key restarts
    /// from that copy (after a DEL of what was sent).
    /// </summary>
    private sealed class BigKey(byte[] key, RedisObject value, long expireMs)
    {
        public readonly byte[] Key = key;
        public readonly long ExpireMs = expireMs;
        public RedisObject Value = value;
        public ChunkedKeyWriter Writer = new(key, value, expireMs);
        public bool Pinned = true;
        public bool Restart;
    }

    /// <summary>Collections with more items than this are streamed in chunks of <see cref="BigKeyChunkItems"/>.</summary>
    internal const int BigKeyItems = 1024;
    private const int BigKeyChunkItems = 4096;
    private const int BigKeyChunkBytes = 256 * 1024;

    /// <summary>The destination's side: the connection to the source.</summary>
    private sealed class Incoming
    {
        public required ImportTask Task { get; init; }
        public Socket? Socket;
        public readonly CancellationTokenSource Cancel = new();
    }

    // ------------------------------------------------------------------ CLUSTER MIGRATION

    /// <summary>CLUSTER MIGRATION IMPORT|STATUS|CANCEL.</summary>
    public void MigrationCommand(CommandContext ctx)
    {
        if (ctx.ArgCount < 3)
        {
            ctx.Error(Errors.WrongArity("cluster|migration"));
            return;
        }
        Registry.MaxArchived = (int)_server.Config.ClusterSlotMigrationMaxArchivedTasks;
        if (ctx.ArgIs(2, "IMPORT")) Import(ctx);
        else if (ctx.ArgIs(2, "STATUS")) Status(ctx);
        else if (ctx.ArgIs(2, "CANCEL")) CancelCommand(ctx);
        else ctx.Error(Errors.SubcommandSyntax("MIGRATION", "cluster"));
    }

    private void Import(CommandContext ctx)
    {
        var args = new List<string>();
        for (int i = 3; i < ctx.ArgCount; i++) args.Add(ctx.ArgString(i));
        if (SlotRangeSet.TryParse(args, out var ranges) is { } parseError)
        {
            ctx.Error(parseError);
            return;
        }
        if (Node.Myself.IsReplica)
        {
            ctx.Error("ERR Slot migration can only be started on a master");
            return;
        }
        if (Registry.Active != null)
        {
            ctx.Error("ERR another ASM task is already in progress");
            return;
        }
        Peer? source = null;
        foreach (int slot in ranges.Slots())
        {
            var owner = Node.SlotOwner(slot);
            string? error = owner == null ? $"ERR Slot {slot} is not served by any node"
                : owner == Node.Myself ? $"ERR Slot {slot} is already served by this node"
                : source != null && owner != source ? "ERR slots belong to different source nodes"
                : Node.ImportingFrom(slot) != null || Node.MigratingTo(slot) != null ? $"ERR Slot {slot} is in a legacy migration (SETSLOT IMPORTING/MIGRATING)"
                : null;
            if (error != null)
            {
                ctx.Error(error);
                return;
            }
            source = owner;
        }
        var task = new ImportTask(Registry.NewId(), ranges, source!.Name, Node.Myself.Name, NowMs);
        Registry.Add(task);
        var inc = new Incoming { Task = task };
        _in = inc;
        UpdateHiddenSlots();
        _server.Log.Notice($"Slot migration {task.Id}: importing slots {ranges} from {source.Name} ({source.Ip}:{source.Port})");
        string ip = source.Ip;
        int port = source.Port;
        _ = Task.Run(() => RunImportAsync(inc, ip, port));
        ctx.Reply.WriteBulk(Encoding.ASCII.GetBytes(task.Id));
    }

    private void Status(CommandContext ctx)
    {
        IEnumerable<MigrationTask> tasks;
        if (ctx.ArgCount == 5 && ctx.ArgIs(3, "ID"))
        {
            var t = Registry.Find(ctx.ArgString(4));
            tasks = t == null ? [] : [t];
        }
        else if (ctx.ArgCount == 4 && ctx.ArgIs(3, "ALL")) tasks = Registry.All;
        else
        {
            ctx.Error(Errors.WrongArity("cluster|migration"));
            return;
        }
        var list = tasks.ToList();
        var w = ctx.Reply;
        w.WriteArrayHeader(list.Count);
        long now = NowMs;
        foreach (var t in list)
        {
            w.WriteMapHeader(16);
            Field(w, "id", t.Id);
            Field(w, "slots", t.Ranges.ToString());
            Field(w, "source", t.SourceId);
            Field(w, "dest", t.DestId);
            Field(w, "operation", t.Operation == MigrationOperation.Import ? "import" : "migrate");
            Field(w, "state", t.State);
            Field(w, "last_error", t.LastError);
            Field(w, "retries", t.Retries);
            Field(w, "create_time", t.CreateTimeMs);
            Field(w, "start_time", t.StartTimeMs);
            Field(w, "end_time", t.EndTimeMs);
            Field(w, "write_pause_ms", t.WritePauseMs);
            Field(w, "keys", t.KeysMoved);
            Field(w, "bytes", t.BytesMoved);
            Field(w, "keys_per_sec", t.KeysPerSecond(now));
            Field(w, "phase", Phase(t));
        }
    }

    /// <summary>A coarse phase for operators: snapshot, stream, handoff, done.</summary>
    private static string Phase(MigrationTask t) => t.State switch
    {
        ImportTask.Connecting or ImportTask.AuthReply or ImportTask.SyncSlotsReply or MigrateTask.WaitBgsaveStart => "connect",
        ImportTask.ReadyToStream or MigrateTask.SendBulkAndStream => "snapshot",
        ImportTask.WaitStreamEof or MigrateTask.SendStream => "stream",
        ImportTask.Takeover or MigrateTask.HandoffPrep or MigrateTask.Handoff => "handoff",
        _ => "done",
    };

    private static void Field(RespWriter w, string name, string value)
    {
        w.WriteBulk(Encoding.ASCII.GetBytes(name));
        w.WriteBulk(Encoding.UTF8.GetBytes(value));
    }

    private static void Field(RespWriter w, string name, long value)
    {
        w.WriteBulk(Encoding.ASCII.GetBytes(name));
        w.WriteInteger(value);
    }

    private void CancelCommand(CommandContext ctx)
    {
        bool all;
        string id = "";
        if (ctx.ArgCount == 5 && ctx.ArgIs(3, "ID")) { all = false; id = ctx.ArgString(4); }
        else if (ctx.ArgCount == 4 && ctx.ArgIs(3, "ALL")) all = true;
        else
        {
            ctx.Error(Errors.WrongArity("cluster|migration"));
            return;
        }
        int n = 0;
        if (_in is { } inc && inc.Task.IsActive && (all || inc.Task.Id == id))
        {
            EndImport(inc, null);
            n++;
        }
        if (_out is { } o && o.Task.IsActive && (all || o.Task.Id == id))
        {
            EndMigrate(o, null);
            n++;
        }
        ctx.Reply.WriteInteger(n);
    }

    /// <summary>SETSLOT on a slot an active task moves is refused.</summary>
    public string? CheckSetSlot(int slot) => Registry.SlotInActiveTask(slot)
        ? $"ERR Slot {slot} is currently in an active atomic slot migration. Cancel it first (CLUSTER MIGRATION CANCEL)."
        : null;

    // ------------------------------------------------------------------ source side

    /// <summary>CLUSTER SYNCSLOTS SYNC|ACK|SNAPSHOT-EOF|STREAM-EOF (the migration protocol).</summary>
    public void SyncSlotsCommand(CommandContext ctx)
    {
        if (ctx.ArgCount >= 6 && ctx.ArgIs(2, "SYNC")) Sync(ctx);
        else if (ctx.ArgCount == 4 && ctx.ArgIs(2, "ACK"))
        {
            if (_out is { } o && o.Client == ctx.Client && ctx.TryGetLong(3, out long offset)) o.Task.Ack(offset);
            // ACK gets no reply (as REPLCONF ACK).
        }
        else ctx.Error("ERR CLUSTER SYNCSLOTS is an internal command of slot migration");
    }

    private void Sync(CommandContext ctx)
    {
        string id = ctx.ArgString(3), destId = ctx.ArgString(4);
        var args = new List<string>();
        for (int i = 5; i < ctx.ArgCount; i++) args.Add(ctx.ArgString(i));
        if (SlotRangeSet.TryParse(args, out var ranges) is { } parseError)
        {
            ctx.Error(parseError);
            return;
        }
        var dest = Node.Lookup(destId);
        string? error = Node.Myself.IsReplica ? "ERR I'm not a master"
            : dest == null || !dest.IsMaster ? $"ERR Unknown destination master {destId}"
            : Registry.Active != null ? "ERR another ASM task is already in progress"
            : ranges.Slots().Any(s => Node.SlotOwner(s) != Node.Myself) ? "ERR I'm not the owner of every slot asked for"
            : ranges.Slots().Any(s => Node.MigratingTo(s) != null || Node.ImportingFrom(s) != null) ? "ERR A slot asked for is in a legacy migration"
            : ctx.Client.Socket == null ? "ERR no connection" : null;
        if (error != null)
        {
            ctx.Error(error);
            return;
        }
        var task = new MigrateTask(id, ranges, Node.Myself.Name, destId, NowMs);
        Registry.Add(task);
        var o = new Outgoing { Task = task, Client = ctx.Client, Snapshot = _server.Keyspace[0].BeginSnapshot() };
        // Big collections go first, in chunks, held against writes meanwhile: taken out of the
        // walk now, before any write could make the snapshot copy one (a stall as long as the
        // collection is big). One pass over the table, without hashing the small keys.
        o.Snapshot.TakeOut(
            (key, value) => ChunkedKeyWriter.IsBig(value, BigKeyItems) && ranges.Contains(HashSlot.Of(key)),
            (key, value, expire) =>
            {
                o.Big.Enqueue(new BigKey(key, value, expire));
                _server.Pins.Pin(key);
            });
        _out = o;
        _server.AddStreamConsumer(this);
        task.SnapshotStarted(NowMs);
        _server.Log.Notice($"Slot migration {id}: sending slots {ranges} to {destId} ({ctx.Client.Address})");
        // No reply here: the sender writes +SLOTSSNAPSHOT ahead of the snapshot on the socket.
        _ = Task.Run(() => SendSnapshot(o));
    }

    private void SendSnapshot(Outgoing o)
    {
        var task = o.Task;
        var snap = o.Snapshot;
        var w = new RespWriter(64 * 1024);
        long keys = 0;
        // rdb-key-save-delay slows this snapshot as it slows Redis's forked one (tests use it).
        var delay = Cinnabar.Persistence.KeySaveDelay.Create(_server.Config.RdbKeySaveDelayMicros, o.Cancel.Token);
        // The walk meets no big collection: those were taken out when the task started, and a
        // key the walk meets (or preserves) is as it was then.
        void Emit(byte[] key, RedisObject value, long expireMs)
        {
            if (!task.Ranges.Contains(HashSlot.Of(key))) return;
            AofRewriter.WriteKey(w, key, value, expireMs);
            keys++;
        }
        snap.OnPinnedWrite = key => OnPinnedWrite(o, key);
        try
        {
            using var net = new NetworkStream(o.Client.Socket!, ownsSocket: false);
            net.Write("+SLOTSSNAPSHOT\r\n"u8);
            keys += o.Big.Count;
            if (o.Big.Count > 0) StreamBigKeys(o, net, w, delay);
            while (true)
            {
                long before = keys;
                lock (_server.ExecLock)
                {
                    if (o.Cancel.IsCancellationRequested) return;
                    snap.Step(delay != null ? 16 : 256, Emit);
                    if (snap.TableDone) snap.Db.EndSnapshot(snap);
                }
                Drain(net, w, task);
                task.KeysMoved = keys;
                delay?.Pay((int)(keys - before));
                if (snap.TableDone) break;
                _server.YieldToClients();
            }
            foreach (var (key, value, expire) in snap.TakePreserved())
            {
                Emit(key, value, expire);
                if (w.Length >= 64 * 1024) Drain(net, w, task);
            }
            task.KeysMoved = keys;
            WriteCommand(w, "CLUSTER", "SYNCSLOTS", "SNAPSHOT-EOF", keys.ToString(CultureInfo.InvariantCulture));
            Drain(net, w, task);
            lock (_server.ExecLock)
            {
                if (_out != o || !task.IsActive) return;
                var pending = o.Pending!;
                o.Pending = null;
                lock (o.Client.OutputLock) o.Client.Reply.WriteRaw(pending.GetBuffer().AsSpan(0, (int)pending.Length));
                o.Client.ScheduleFlush();
                task.SnapshotDone();
                _server.Log.Notice($"Slot migration {task.Id}: snapshot of {keys} keys sent, streaming");
            }
        }
        catch (OperationCanceledException)
        {
            // Cancelled or failed meanwhile: EndMigrate said so.
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            lock (_server.ExecLock)
            {
                if (_out == o) EndMigrate(o, "Snapshot transfer failed: " + e.Message);
            }
        }
        finally
        {
            lock (_server.ExecLock)
            {
                snap.Db.EndSnapshot(snap);
                while (o.Big.TryDequeue(out var big)) Unpin(o, big);
            }
        }
    }

    /// <summary>Streams the big keys taken out of the walk, one bounded chunk per lock hold.</summary>
    private void StreamBigKeys(Outgoing o, NetworkStream net, RespWriter w, Cinnabar.Persistence.KeySaveDelay? delay)
    {
        while (o.Big.TryPeek(out var big))
        {
            bool done;
            lock (_server.ExecLock)
            {
                if (o.Cancel.IsCancellationRequested) throw new OperationCanceledException();
                if (big.Restart)
                {
                    // A write got past the pin: start over from the copy taken before it.
                    big.Restart = false;
                    w.WriteArrayHeader(2);
                    w.WriteBulk("DEL"u8);
                    w.WriteBulk(big.Key);
                }
                done = big.Writer.WriteChunk(w, BigKeyChunkItems, BigKeyChunkBytes);
                if (done)
                {
                    o.Big.Dequeue();
                    Unpin(o, big);
                }
            }
            Drain(net, w, o.Task);
            // rdb-key-save-delay counts each chunk as a key (tests slow a big key's move with it).
            delay?.Pay(1);
            if (!done) _server.YieldToClients();
        }
    }

    /// <summary>Lock held, before a write to a pinned big key: keep the value as it is now and restart the key from it.</summary>
    private void OnPinnedWrite(Outgoing o, byte[] key)
    {
        foreach (var big in o.Big)
        {
            if (!big.Pinned || !big.Key.AsSpan().SequenceEqual(key)) continue;
            big.Value = big.Value.Clone();
            big.Writer = new ChunkedKeyWriter(big.Key, big.Value, big.ExpireMs);
            big.Restart = true;
            Unpin(o, big);
            _server.Log.Notice($"Slot migration {o.Task.Id}: a write reached a big key while it was being sent; sending a copy taken before the write");
        }
    }

    private void Unpin(Outgoing o, BigKey big)
    {
        if (!big.Pinned) return;
        big.Pinned = false;
        o.Snapshot.Pinned.Remove(big.Key);
        _server.Pins.Release(big.Key);
    }

    private static void Drain(NetworkStream net, RespWriter w, MigrationTask task)
    {
        if (w.Length == 0) return;
        net.Write(w.Written.Span);
        task.BytesMoved += w.Length;
        w.Clear();
    }

    private static void WriteCommand(RespWriter w, params string[] parts)
    {
        w.WriteArrayHeader(parts.Length);
        foreach (var p in parts) w.WriteBulk(Encoding.ASCII.GetBytes(p));
    }

    private static byte[] Command(params string[] parts)
    {
        var w = new RespWriter(256);
        WriteCommand(w, parts);
        return w.Written.ToArray();
    }

    private readonly RequestParser _feedParser = new();
    private readonly CommandArgs _feedArgs = new();
    private readonly List<int> _positions = new();

    /// <summary>
    /// The propagation stream (under the lock): writes to the task's slots go to the destination.
    /// Transactions go whole when any of their commands touches the slots (in cluster mode they
    /// cannot span slots); SELECT is dropped (db 0 only); a flush fails the task, as in Redis.
    /// </summary>
    void ICommandStreamConsumer.Append(ReadOnlySpan<byte> resp)
    {
        var o = _out;
        if (o == null || !o.Task.IsActive) return;
        byte[] buf = resp.ToArray();
        int pos = 0;
        while (pos < buf.Length)
        {
            var res = _feedParser.Parse(buf, pos, buf.Length, _feedArgs, out int consumed);
            if (res != ParseResult.Command) break;
            var bytes = new ReadOnlySpan<byte>(buf, pos, consumed);
            pos += consumed;
            if (!Route(o, bytes)) return;
        }
    }

    /// <summary>False when the task just ended.</summary>
    private bool Route(Outgoing o, ReadOnlySpan<byte> bytes)
    {
        var args = _feedArgs;
        if (args.Count == 0 || Is(args, 0, "SELECT")) return true;
        if (Is(args, 0, "MULTI"))
        {
            o.InMulti = true;
            o.TxMatched = false;
            o.Tx.SetLength(0);
            o.Tx.Write(bytes);
            return true;
        }
        if (Is(args, 0, "EXEC") && o.InMulti)
        {
            o.InMulti = false;
            o.Tx.Write(bytes);
            if (o.TxMatched) Forward(o, o.Tx.GetBuffer().AsSpan(0, (int)o.Tx.Length));
            return o.Task.IsActive;
        }
        if (Is(args, 0, "FLUSHALL") || Is(args, 0, "FLUSHDB"))
        {
            EndMigrate(o, "The dataset was flushed during the migration");
            return false;
        }
        bool matched = TouchesTask(o, args);
        if (o.InMulti)
        {
            o.Tx.Write(bytes);
            o.TxMatched |= matched;
        }
        else if (matched) Forward(o, bytes);
        return o.Task.IsActive;
    }

    private bool TouchesTask(Outgoing o, CommandArgs args)
    {
        var cmd = _server.Commands.Lookup(args[0]);
        if (cmd == null) return false;
        if (cmd.Subcommands != null && args.Count > 1) cmd = CommandTable.LookupSub(cmd, args[1]) ?? cmd;
        ClusterRouter.KeyPositions(cmd, args, _positions);
        foreach (int p in _positions)
            if (o.Task.Ranges.Contains(HashSlot.Of(args[p]))) return true;
        return false;
    }

    private static bool Is(CommandArgs args, int i, string name) =>
        Encoding.ASCII.GetString(args[i]).Equals(name, StringComparison.OrdinalIgnoreCase);

    private void Forward(Outgoing o, ReadOnlySpan<byte> bytes)
    {
        o.Task.SentOffset += bytes.Length;
        if (o.Pending != null)
        {
            o.Pending.Write(bytes);
            if (o.Pending.Length > MaxPendingBytes) EndMigrate(o, "Too many writes buffered while the snapshot was being sent");
            return;
        }
        lock (o.Client.OutputLock) o.Client.Reply.WriteRaw(bytes);
        o.Client.ScheduleFlush();
    }

    /// <summary>Ends the source's task: failed (error), cancelled (null) or completed (it already is).</summary>
    private void EndMigrate(Outgoing o, string? error)
    {
        long now = NowMs;
        if (o.Task.IsActive)
        {
            if (error != null) o.Task.Fail(error, now);
            else o.Task.Cancel(now);
        }
        if (o.Task.State != MigrationTask.Completed)
            _server.Log.Warning($"Slot migration {o.Task.Id}: {o.Task.State}{(o.Task.LastError.Length > 0 ? ": " + o.Task.LastError : "")}");
        o.Cancel.Cancel();
        if (o.Paused) _server.UnpauseClients();
        o.Paused = false;
        _server.RemoveStreamConsumer(this);
        if (_out == o) _out = null;
        if (o.Task.State != MigrationTask.Completed) o.Client.Close();
        Registry.Trim();
    }

    public void OnClientClosed(Client c)
    {
        if (_out is not { } o || o.Client != c || !o.Task.IsActive) return;
        // After STREAM-EOF the destination claims the slots and hangs up: the outcome is then
        // decided by the cluster view (completion) or the pause timeout, not by the connection.
        if (o.Task.State == MigrateTask.Handoff) return;
        EndMigrate(o, "Connection with the destination lost");
    }

    // ------------------------------------------------------------------ destination side

    private async Task RunImportAsync(Incoming inc, string ip, int port)
    {
        var task = inc.Task;
        try
        {
            if (!IPAddress.TryParse(ip, out var addr)) addr = (await Dns.GetHostAddressesAsync(ip).ConfigureAwait(false))[0];
            var socket = new Socket(addr.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }.AllowLocalPortReuse();
            inc.Socket = socket;
            using (var cts = CancellationTokenSource.CreateLinkedTokenSource(inc.Cancel.Token))
            {
                cts.CancelAfter(ConnectTimeoutMs);
                await socket.ConnectAsync(new IPEndPoint(addr, port), cts.Token).ConfigureAwait(false);
            }
            string auth = _server.Config.MasterAuth;
            string user = _server.Config.MasterUser;
            lock (_server.ExecLock) task.Connected(auth.Length > 0, NowMs);
            var reader = new StreamReaderBuffer(socket, (int)Math.Min(int.MaxValue / 2, _server.Config.ProtoMaxBulkLen * 2 + 1024 * 1024));
            if (auth.Length > 0)
            {
                await SendAsync(socket, user.Length > 0 ? Command("AUTH", user, auth) : Command("AUTH", auth)).ConfigureAwait(false);
                string reply = await reader.ReadLineAsync(inc.Cancel.Token).ConfigureAwait(false);
                if (!reply.StartsWith('+')) throw new IOException("AUTH failed: " + reply.TrimStart('-'));
                lock (_server.ExecLock) task.AuthOk();
            }
            var sync = new List<string> { "CLUSTER", "SYNCSLOTS", "SYNC", task.Id, task.DestId };
            sync.AddRange(task.Ranges.ToArgs());
            await SendAsync(socket, Command(sync.ToArray())).ConfigureAwait(false);
            string answer = await reader.ReadLineAsync(inc.Cancel.Token).ConfigureAwait(false);
            if (answer != "+SLOTSSNAPSHOT") throw new IOException("The source refused: " + answer.TrimStart('-'));
            lock (_server.ExecLock)
            {
                task.SnapshotStarts();
                _server.Log.Notice($"Slot migration {task.Id}: receiving the snapshot");
            }
            // Applying runs on a thread of its own with blocking reads: continuing on the socket
            // engine's thread (completions run inline there) would hold up every other
            // connection's I/O for the whole transfer (PING stalled 6-9 s while a snapshot of
            // 150k keys was applied).
            await Task.Factory.StartNew(() => ApplyStream(inc, reader), CancellationToken.None,
                TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidDataException or ArgumentException)
        {
            lock (_server.ExecLock)
            {
                if (task.IsActive) EndImport(inc, e is OperationCanceledException ? "Timeout connecting to the source" : e.Message);
            }
        }
        finally
        {
            try { inc.Socket?.Dispose(); } catch (SocketException) { }
        }
    }

    private static async Task SendAsync(Socket s, byte[] data)
    {
        int sent = 0;
        while (sent < data.Length) sent += await s.SendAsync(data.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
    }

    private void ApplyStream(Incoming inc, StreamReaderBuffer r)
    {
        var task = inc.Task;
        var parser = new RequestParser { IsMasterLink = true };
        var args = new CommandArgs();
        var client = _server.CreateFakeClient();
        client.Flags |= ClientFlags.Importing;
        while (true)
        {
            // What is buffered is applied first (the snapshot may have come with +SLOTSSNAPSHOT).
            lock (_server.ExecLock)
            {
                if (_in != inc || !task.IsActive) return;
                bool progressed = false;
                while (r.Start < r.End)
                {
                    var res = parser.Parse(r.Buf, r.Start, r.End, args, out int consumed);
                    if (res == ParseResult.Incomplete) break;
                    if (res == ParseResult.Error) throw new InvalidDataException("Protocol error from the source: " + parser.Error);
                    r.Start += consumed;
                    progressed = true;
                    task.BytesMoved += consumed;
                    if (res != ParseResult.Command) continue;
                    if (args.Count >= 3 && Is(args, 0, "CLUSTER") && Is(args, 1, "SYNCSLOTS"))
                    {
                        if (Is(args, 2, "SNAPSHOT-EOF"))
                        {
                            if (args.Count > 3 && long.TryParse(args.GetString(3), NumberStyles.None, CultureInfo.InvariantCulture, out long k)) task.KeysMoved = k;
                            task.SnapshotEnded();
                            _server.Log.Notice($"Slot migration {task.Id}: snapshot of {task.KeysMoved} keys applied, streaming");
                            continue;
                        }
                        if (Is(args, 2, "STREAM-EOF") && task.StreamEnded())
                        {
                            if (progressed) _server.AfterBatch();
                            Takeover(inc);
                            return;
                        }
                        continue;
                    }
                    bool live = task.CountsTowardAck;
                    _server.UpdateCachedTime();
                    _server.Execute(client, args);
                    client.Reply.Clear();
                    if (live) task.AppliedOffset += consumed;
                }
                if (progressed) _server.AfterBatch();
            }
            r.Compact();
            if (r.Start == r.End) args.TrimAfterBatch();
            // The socket usually has the next batch ready, so this loop would take the lock back
            // at once and starve clients (a 6 s PING stall while a snapshot was applied): let
            // waiting clients go first, as background saves do.
            _server.YieldToClients();
            r.Fill();
        }
    }

    /// <summary>Everything up to STREAM-EOF is applied: the slots become ours.</summary>
    private void Takeover(Incoming inc)
    {
        var task = inc.Task;
        long now = NowMs;
        Node.ClaimSlots(task.Ranges.Slots(), task.SourceId, now);
        Node.BeforeSleep(now);
        task.Claimed(now);
        _server.Log.Notice($"Slot migration {task.Id}: completed, slots {task.Ranges} are now served here ({task.KeysMoved} keys, {task.BytesMoved} bytes)");
        if (_in == inc) _in = null;
        UpdateHiddenSlots();
        Registry.Trim();
    }

    /// <summary>Ends the destination's task before takeover: the imported keys are deleted.</summary>
    private void EndImport(Incoming inc, string? error)
    {
        long now = NowMs;
        if (error != null) inc.Task.Fail(error, now);
        else inc.Task.Cancel(now);
        _server.Log.Warning($"Slot migration {inc.Task.Id}: {inc.Task.State}{(error != null ? ": " + error : "")}; deleting what was imported");
        inc.Cancel.Cancel();
        try { inc.Socket?.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        foreach (int slot in inc.Task.Ranges.Slots())
        {
            _trimSlots.Add(slot);
            _hiddenWhileTrimmed.Add(slot);
        }
        if (_in == inc) _in = null;
        UpdateHiddenSlots();
        Registry.Trim();
    }

    // ------------------------------------------------------------------ cron

    /// <summary>Every cluster cron run (under the lock): ACKs, the handoff, completion, trimming.</summary>
    public void Cron(long nowMs)
    {
        CheckRolesAndOwners();
        if (_in is { } inc && inc.Task.CountsTowardAck && inc.Socket is { Connected: true } s)
        {
            try { s.Send(Command("CLUSTER", "SYNCSLOTS", "ACK", inc.Task.AppliedOffset.ToString(CultureInfo.InvariantCulture))); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
        if (_out is { } o) SourceStep(o, nowMs);
        Trim();
    }

    private void SourceStep(Outgoing o, long nowMs)
    {
        var task = o.Task;
        var cfg = _server.Config;
        if (task.State is MigrateTask.HandoffPrep or MigrateTask.Handoff && OwnedByDest(task) && task.OwnershipTaken(nowMs))
        {
            _server.Log.Notice($"Slot migration {task.Id}: completed, {task.Ranges} now served by {task.DestId} (writes paused {task.WritePauseMs} ms)");
            foreach (int slot in task.Ranges.Slots())
                if (!_hiddenWhileTrimmed.Contains(slot)) _trimSlots.Add(slot);
            EndMigrate(o, null);
            return;
        }
        if (o.Pending != null) return;
        switch (task.Tick(nowMs, cfg.ClusterSlotMigrationHandoffMaxLagBytes, cfg.ClusterSlotMigrationWritePauseTimeoutMs, o.Client.PendingOutputBytes == 0))
        {
            case HandoffAction.PauseWrites:
                _server.PauseClients(cfg.ClusterSlotMigrationWritePauseTimeoutMs, writesOnly: true);
                o.Paused = true;
                _server.Log.Notice($"Slot migration {task.Id}: destination within {task.SentOffset - task.AckedOffset} bytes, writes paused for the handoff");
                break;
            case HandoffAction.SendStreamEof:
                lock (o.Client.OutputLock) o.Client.Reply.WriteRaw(Command("CLUSTER", "SYNCSLOTS", "STREAM-EOF"));
                o.Client.ScheduleFlush();
                break;
            case HandoffAction.FailAndUnpause:
                EndMigrate(o, task.LastError);
                break;
        }
    }

    /// <summary>
    /// A task ends when its node stops being a master (a failover demoted it), or when a slot it
    /// moves changes hands other than by this task's claim, as Redis 8.4 cancels on conflicting
    /// slot updates and demotion.
    /// </summary>
    private void CheckRolesAndOwners()
    {
        if (_in is { } inc && inc.Task.IsActive && inc.Task.State != ImportTask.Takeover)
        {
            var source = Node.Lookup(inc.Task.SourceId);
            if (Node.Myself.IsReplica) EndImport(inc, "This node became a replica");
            else if (source == null || inc.Task.Ranges.Slots().Any(slot => Node.SlotOwner(slot) != source))
                EndImport(inc, "The slots changed owner during the migration");
        }
        if (_out is { } o && o.Task.IsActive && o.Task.State is not (MigrateTask.HandoffPrep or MigrateTask.Handoff))
        {
            if (Node.Myself.IsReplica) EndMigrate(o, "This node became a replica");
            else if (o.Task.Ranges.Slots().Any(slot => Node.SlotOwner(slot) != Node.Myself))
                EndMigrate(o, "The slots changed owner during the migration");
        }
    }

    private bool OwnedByDest(MigrationTask task)
    {
        var dest = Node.Lookup(task.DestId);
        if (dest == null) return false;
        foreach (int slot in task.Ranges.Slots())
            if (Node.SlotOwner(slot) != dest) return false;
        return true;
    }

    /// <summary>Deletes keys of slots that are not ours, a bounded batch per run (each DEL propagated).</summary>
    private void Trim()
    {
        if (_trimSlots.Count == 0) return;
        var db = _server.Keyspace[0];
        var keys = new List<byte[]>();
        int budget = TrimKeysPerCron;
        while (_trimSlots.Count > 0 && budget > 0)
        {
            int slot = _trimSlots[^1];
            // A slot that is ours again (a new task, a failover) keeps its keys.
            if (Node.SlotOwner(slot) == Node.Myself && Node.Myself.IsMaster || Registry.SlotInActiveTask(slot))
            {
                _trimSlots.RemoveAt(_trimSlots.Count - 1);
                continue;
            }
            keys.Clear();
            db.GetKeysInSlot(slot, budget, keys);
            foreach (var key in keys)
            {
                if (!db.Delete(key)) continue;
                _server.Propagate(0, "DEL"u8.ToArray(), key);
                _server.SignalModified(db, key, null);
            }
            budget -= keys.Count;
            if (db.CountKeysInSlot(slot) == 0) _trimSlots.RemoveAt(_trimSlots.Count - 1);
        }
        if (_hiddenWhileTrimmed.Count > 0 && _trimSlots.Count == 0)
        {
            _hiddenWhileTrimmed.Clear();
            UpdateHiddenSlots();
        }
    }

    /// <summary>
    /// Gossip showed the destination owning a slot of our task in handoff: its keys are trimmed in
    /// batches (hidden meanwhile, as they are no longer ours) rather than deleted at once.
    /// </summary>
    public bool DeferTrim(int slot)
    {
        if (_out is not { } o || !o.Task.IsActive || o.Task.State is not (MigrateTask.HandoffPrep or MigrateTask.Handoff) || !o.Task.Ranges.Contains(slot))
            return false;
        _trimSlots.Add(slot);
        _hiddenWhileTrimmed.Add(slot);
        if (_server.Keyspace.HiddenSlots is { } hidden) hidden[slot] = true;
        else UpdateHiddenSlots();
        return true;
    }

    /// <summary>Imported keys stay hidden until the slots are ours, or until a failed import's keys are gone.</summary>
    private readonly HashSet<int> _hiddenWhileTrimmed = new();

    private void UpdateHiddenSlots()
    {
        if (_in == null && _hiddenWhileTrimmed.Count == 0)
        {
            _server.Keyspace.HiddenSlots = null;
            return;
        }
        var hidden = new bool[SlotRangeSet.SlotCount];
        if (_in != null) foreach (int s in _in.Task.Ranges.Slots()) hidden[s] = true;
        foreach (int s in _hiddenWhileTrimmed) hidden[s] = true;
        _server.Keyspace.HiddenSlots = hidden;
    }

    /// <summary>A receive buffer with line reads (the handshake) and raw fills (the stream).</summary>
    private sealed class StreamReaderBuffer(Socket socket, int maxBytes)
    {
        public byte[] Buf = new byte[1024 * 1024];
        public int Start;
        public int End;

        public async Task FillAsync(CancellationToken ct)
        {
            MakeRoom();
            int n = await socket.ReceiveAsync(Buf.AsMemory(End), SocketFlags.None, ct).ConfigureAwait(false);
            if (n == 0) throw new IOException("Connection with the source lost");
            End += n;
        }

        /// <summary>A blocking read (the stream loop runs on its own thread).</summary>
        public void Fill()
        {
            MakeRoom();
            int n = socket.Receive(Buf, End, Buf.Length - End, SocketFlags.None);
            if (n == 0) throw new IOException("Connection with the source lost");
            End += n;
        }

        private void MakeRoom()
        {
            if (End < Buf.Length) return;
            if (Start > 0) Compact();
            else
            {
                if (Buf.Length >= maxBytes) throw new InvalidDataException("A command from the source is too large");
                Array.Resize(ref Buf, Math.Min(maxBytes, Buf.Length * 2));
            }
        }

        public void Compact()
        {
            if (Start == 0) return;
            Buffer.BlockCopy(Buf, Start, Buf, 0, End - Start);
            End -= Start;
            Start = 0;
        }

        public async Task<string> ReadLineAsync(CancellationToken ct)
        {
            while (true)
            {
                int nl = Array.IndexOf(Buf, (byte)'\n', Start, End - Start);
                if (nl >= 0)
                {
                    string line = Encoding.UTF8.GetString(Buf, Start, nl - Start).TrimEnd('\r');
                    Start = nl + 1;
                    return line;
                }
                await FillAsync(ct).ConfigureAwait(false);
            }
        }
    }
}
