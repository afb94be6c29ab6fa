using System.Net;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

[Flags]
public enum ClientFlags
{
    None = 0,
    Multi = 1 << 0,
    DirtyCas = 1 << 1,     // a WATCHed key changed
    DirtyExec = 1 << 2,    // a command failed to queue
    Blocked = 1 << 3,
    PubSub = 1 << 4,
    Monitor = 1 << 5,
    Replica = 1 << 6,
    Master = 1 << 7,
    CloseAfterReply = 1 << 8,
    CloseAsap = 1 << 9,
    NoEvict = 1 << 10,
    ReadOnly = 1 << 11,    // cluster READONLY
    Asking = 1 << 12,
    Lua = 1 << 13,
    Unix = 1 << 14,
    Tracking = 1 << 15,
    /// <summary>Applies an atomic slot migration's stream on the destination (no redirection).</summary>
    Importing = 1 << 16,
}

public enum ReplyMode { On, Off, Skip }

/// <summary>
/// A client connection: its socket loop and its Redis state. The loop receives into a growable
/// buffer, parses every complete command, runs the whole batch under the server's execution lock
/// (one acquisition per read, not per command, see DESIGN.md), then sends the accumulated
/// replies. Other clients may append to this client's output (pub/sub, unblocking); all writes to
/// <see cref="Reply"/> happen under <see cref="OutputLock"/>, and sending swaps buffers so the
/// lock is never held during I/O. A blocked client keeps reading (to notice a disconnect) but
/// does not execute until it is unblocked.
/// </summary>
public sealed partial class Client
{
    private const int InitialInputBytes = 16 * 1024;
    private const int FlushThresholdBytes = 64 * 1024;
    private readonly RedisServer _server;
    private readonly Socket? _socket;
    private readonly RequestParser _parser = new();
    private readonly CommandArgs _args = new();
    private readonly RespWriter _sendBuffer = new(16 * 1024);
    private byte[] _in = new byte[InitialInputBytes];
    private int _inStart;
    private int _inEnd;
    private bool _inputPending;
    private bool _sending;
    private bool _receiveInFlight;
    // A receive started while blocked that may still be in flight when commands run (a Lua
    // debugger session takes it over: Client.Ldb.cs).
    private Task<int>? _pendingReceive;
    private int _closed;
    private TaskCompletionSource? _unblock;
    private bool _pausedWaiting;

    public Client(RedisServer server, Socket? socket, long id)
    {
        _server = server;
        _socket = socket;
        Id = id;
        Context = new CommandContext(server, this);
        AclUser = server.Acl.DefaultUser;
        CreatedMs = Environment.TickCount64;
        LastInteractionMs = CreatedMs;
        if (socket?.RemoteEndPoint is IPEndPoint rep) { Address = rep.Address.ToString() + ":" + rep.Port; RemoteIp = rep.Address; }
        else if (socket != null) { Address = "/unixsocket:0"; Flags |= ClientFlags.Unix; }
        if (socket?.LocalEndPoint is IPEndPoint lep) LocalAddress = lep.Address.ToString() + ":" + lep.Port;
        else if (socket != null) LocalAddress = server.Config.UnixSocket + ":0";
        _parser.ProtoMaxBulkLen = server.Config.ProtoMaxBulkLen;
        try { Fd = socket == null ? -1 : (long)socket.Handle; } catch (ObjectDisposedException) { Fd = -1; }
    }

    /// <summary>The socket's file descriptor (CLIENT LIST fd=), -1 for fake clients.</summary>
    public long Fd { get; }
    /// <summary>When the output first went above the soft client-output-buffer-limit (TickCount64), 0 = below.</summary>
    public long SoftLimitSinceMs;

    public long Id { get; }
    internal System.Net.Sockets.Socket? Socket => _socket;
    public RespWriter Reply { get; } = new(16 * 1024);
    public object OutputLock { get; } = new();
    public CommandContext Context { get; }
    public ClientFlags Flags;
    public int DbIndex;
    public string? Name;
    public string? LibName;
    public string? LibVersion;
    public string User = "default";
    /// <summary>The ACL user this connection runs as (Acl/AclManager); its name is mirrored in <see cref="User"/>.</summary>
    public Acl.AclUser AclUser;
    public bool Authenticated;
    public ReplyMode ReplyMode = ReplyMode.On;
    public string Address { get; } = "";
    public string LocalAddress { get; } = "";
    public IPAddress? RemoteIp { get; }
    public long CreatedMs { get; }
    public long LastInteractionMs;
    public string LastCommand = "NULL";
    /// <summary>Replication stream bytes written to this replica's output (not replies: see ReplicaReplyGuard).</summary>
    internal long ReplStreamBytes;
    public long NetInputBytes;
    public long NetOutputBytes;
    public long CommandsProcessed;
    public bool IsClosed => _closed != 0;
    /// <summary>Set once the server has removed this client from its lists.</summary>
    internal bool CleanedUp;
    /// <summary>True while the next command waits for a CLIENT PAUSE to end.</summary>
    public bool WaitingForUnpause => _pausedWaiting;
    // While a batch runs, Redis's querybuf still holds the commands already processed in it
    // (trimmed after the batch), so CLIENT LIST shows the running command in qbuf.
    public int QueryBufferLength => _batchStart >= 0 && _batchStart <= _inStart
        ? Math.Max(0, _inEnd - _batchStart)
        : Math.Max(0, _inEnd - _inStart - (_inEnd > _inStart ? _parser.ParsedPrefix : 0));
    private int _batchStart = -1;
    public int QueryBufferCapacity => _in.Length;
    public int PendingOutputBytes => Reply.Length + (_sending ? _sendBuffer.Length : 0);
    /// <summary>Bytes the output buffers hold on the heap (their capacity, filled or not).</summary>
    public long OutputBufferCapacity => Reply.Buffer.Length + _sendBuffer.Buffer.Length;

    /// <summary>Queued commands while in MULTI.</summary>
    public List<byte[][]>? MultiQueue;
    /// <summary>Keys watched by this client (db index, key).</summary>
    public List<WatchedKey>? Watched;

    /// <summary>Union of the flags of the commands queued in MULTI.</summary>
    public CommandFlags MultiFlags;
    /// <summary>Pub/sub subscriptions.</summary>
    public HashSet<string>? Channels;
    public HashSet<string>? Patterns;
    public HashSet<string>? ShardChannels;
    public int SubscriptionCount => (Channels?.Count ?? 0) + (Patterns?.Count ?? 0) + (ShardChannels?.Count ?? 0);
    /// <summary>State of a blocking command waiting for data (set by <see cref="RedisServer.Block"/>).</summary>
    public BlockedState? BlockState;
    /// <summary>CLIENT TRACKING mode; null while tracking is off (Tracking/ClientTracking.cs).</summary>
    public Tracking.TrackingState? Tracking;
    /// <summary>Free slot for subsystems (replication link state, script context...).</summary>
    public object? Extension;

    public Task RunAsync() => RunLoopAsync();

    private async Task RunLoopAsync()
    {
        try
        {
            while (_closed == 0)
            {
                if (_pausedWaiting)
                {
                    // CLIENT PAUSE: the next command stays in the query buffer until the pause ends.
                    await _server.WaitUnpausedAsync().ConfigureAwait(false);
                    _pausedWaiting = false;
                    _inputPending = true;
                    continue;
                }
                if (BlockState != null)
                {
                    var unblocked = _unblock!.Task;
                    if (_pendingReceive == null && _inEnd < _in.Length)
                        _pendingReceive = _socket!.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None).AsTask();
                    Task done;
                    if (_pendingReceive == null)
                    {
                        await unblocked.ConfigureAwait(false);
                        done = unblocked;
                    }
                    else done = await Task.WhenAny(unblocked, _pendingReceive).ConfigureAwait(false);
                    if (done == _pendingReceive)
                    {
                        int got = await _pendingReceive.ConfigureAwait(false);
                        _pendingReceive = null;
                        if (got <= 0) break;
                        OnReceived(got);
                    }
                    continue;
                }
                if (_inputWaits != null)
                {
                    await WaitForOthersInputAsync().ConfigureAwait(false);
                    continue;
                }
                if (_inputPending)
                {
                    _receiveInFlight = _pendingReceive != null;
                    await ProcessInputAsync().ConfigureAwait(false);
                    _receiveInFlight = false;
                    continue;
                }
                int n;
                if (_pendingReceive != null)
                {
                    n = await _pendingReceive.ConfigureAwait(false);
                    _pendingReceive = null;
                }
                else if (CanReceiveDirect)
                {
                    n = await ReceiveDirectAsync().ConfigureAwait(false);
                    if (n < 0) continue;
                    NoteQueryPeak(n);
                }
                else
                {
                    if (_inStart == _inEnd || _inEnd == _in.Length)
                    {
                        // Nothing buffered: wait for data without lending the query buffer to the
                        // socket, so the cron may shrink or release it meanwhile (Client.Buffers.cs).
                        // A full buffer grows only once more data has arrived, not in advance.
                        EnterIdleWait();
                        try
                        {
                            await _socket!.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                        }
                        finally
                        {
                            LeaveIdleWait();
                        }
                    }
                    if (!EnsureInputSpace()) break;
                    n = await _socket!.ReceiveAsync(_in.AsMemory(_inEnd), SocketFlags.None).ConfigureAwait(false);
                    NoteQueryPeak(n);
                }
                if (n <= 0) break;
                OnReceived(n);
            }
        }
        catch (SocketException) { }
        catch (ObjectDisposedException) { }
        catch (IOException) { }
        finally
        {
            Close();
            _server.OnClientClosed(this);
        }
    }

    private void OnReceived(int n)
    {
        _inEnd += n;
        NetInputBytes += n;
        _server.Stats.NetInputBytes += n;
        _server.Stats.TotalReadsProcessed++;
        _inputPending = true;
        _preferIdleWait = false;
        LastInteractionMs = Environment.TickCount64;
    }

    /// <summary>Makes room to receive; false when the query buffer limit is hit (the client is closed).</summary>
    private bool EnsureInputSpace()
    {
        if (_inStart == _inEnd) _inStart = _inEnd = 0;
        if (_in.Length == 0) _in = new byte[InitialInputBytes];
        if (_inEnd < _in.Length) return true;
        int live = _inEnd - _inStart;
        long needed = Math.Max(_parser.BytesNeeded, live + 1);
        if (_inStart > 0 && needed <= _in.Length && live < _in.Length / 2)
        {
            Buffer.BlockCopy(_in, _inStart, _in, 0, live);
            _inStart = 0;
            _inEnd = live;
            return true;
        }
        long limit = _server.Config.ClientQueryBufferLimit;
        long newSize = Math.Max((long)_in.Length * 2, needed);
        if (newSize > limit && live >= limit)
        {
            _server.Log.Warning($"Closing client that reached max query buffer length: {Describe()} (qbuf initial bytes: ...)");
            return false;
        }
        newSize = Math.Min(Math.Max(newSize, live + 1), Math.Max(limit, live + 1));
        MoveInputTo(newSize);
        return true;
    }

    /// <summary>Moves the unprocessed input to the start of a new query buffer of (at most) <paramref name="size"/> bytes.</summary>
    private void MoveInputTo(long size)
    {
        int live = _inEnd - _inStart;
        var bigger = new byte[Math.Min(size, Array.MaxLength)];
        Buffer.BlockCopy(_in, _inStart, bigger, 0, live);
        RespWriter.NoteReleased(_in);
        _in = bigger;
        _inEnd = live;
        _inStart = 0;
    }

    private async ValueTask ProcessInputAsync()
    {
        bool more;
        do
        {
            bool hopped = false;
            if (_hopToPool)
            {
                // A script may run for long (busy-reply-threshold, SCRIPT KILL): it must not hold
                // the socket engine thread, which every connection's I/O runs on. Scripts are
                // rare next to plain commands, so only they pay for the thread-pool hop.
                _hopToPool = false;
                hopped = true;
                await Task.Yield();
            }
            else
            {
                // A script that arrived first and is hopping to the pool goes first, as it would
                // in Redis's single loop: otherwise a client sending commands back to back can
                // keep taking the free lock ahead of it for seconds (the hop's waiter wakes late
                // on a loaded machine). The wait is asynchronous: the engine thread moves on.
                // Bounded: a hop is a thread-pool hand-off, never longer than this. Woken as soon as
                // the hoppers hold the lock (polling every millisecond halved EVAL throughput).
                if (Volatile.Read(ref _server.ScriptHops) > 0 && !_server.ScriptBusy && _server.ScriptHopsDrained() is { } drained)
                    await Task.WhenAny(drained, Task.Delay(200)).ConfigureAwait(false);
            }
            try
            {
                if (!Monitor.TryEnter(_server.ExecLock))
                {
                    // Counted so that a background save lets waiting clients go first (YieldToClients).
                    Interlocked.Increment(ref _server.LockWaiters);
                    try
                    {
                        // A script running past busy-reply-threshold holds the lock: answer -BUSY / SCRIPT KILL meanwhile.
                        while (!Monitor.TryEnter(_server.ExecLock, 50))
                        {
                            if (!_server.ScriptBusy) continue;
                            lock (OutputLock) ProcessBusyBatch();
                            await FlushAsync().ConfigureAwait(false);
                            if (!_inputPending || _closed != 0) return;
                        }
                    }
                    finally
                    {
                        Interlocked.Decrement(ref _server.LockWaiters);
                    }
                }
            }
            finally
            {
                if (hopped) _server.ScriptHopEnded();
            }
            try
            {
                t_deferredFlushes = _deferredFlushes;
                lock (OutputLock)
                {
                    more = ProcessBatch();
                }
                _server.AfterBatch();
                NoteReplyPeak();
                if (_inStart < _inEnd) ReserveForBigArgument();
                if (Reply.Length > 0) _server.EnforceOutputLimit(this);
                // After the output limits, which take precedence (Redis: client eviction runs
                // in beforeNextClient, after the command's reply was checked).
                _server.ClientMemory.Update(this);
                NoteInputProcessed();
            }
            finally
            {
                t_deferredFlushes = null;
                Monitor.Exit(_server.ExecLock);
            }
            // Like Redis, a client whose socket is full keeps being read and served: the send
            // finishes in the background and further replies wait in the output buffer, which
            // client-output-buffer-limit and maxmemory-clients bound (not the socket).
            FlushNow(this);
            FlushDeferred();
        } while (more && _closed == 0 && BlockState == null);
        if (_hopToPool)
        {
            // Closed before its hop: it no longer goes first.
            _hopToPool = false;
            _server.ScriptHopEnded();
        }
    }

    /// <summary>Parses and executes buffered commands. Returns true if it stopped early to flush output.</summary>
    private bool ProcessBatch()
    {
        _batchStart = _inStart;
        try
        {
            return ProcessBatchCore();
        }
        finally
        {
            _batchStart = -1;
            // Only between commands: a partly received command keeps its parsed arguments.
            if (_inStart == _inEnd) _args.TrimAfterBatch();
        }
    }

    private bool ProcessBatchCore()
    {
        _server.UpdateCachedTime();
        while (_inStart < _inEnd)
        {
            if ((Flags & ClientFlags.CloseAfterReply) != 0 || BlockState != null) break;
            _parser.Unauthenticated = !Authenticated && _server.AuthRequired;
            var result = _parser.Parse(_in, _inStart, _inEnd, _args, out int consumed);
            if (result == ParseResult.Incomplete) break;
            if (result == ParseResult.Error)
            {
                _server.Log.Verbose($"Protocol error ({_parser.Error}) from client: {Describe()}");
                Context.Error("ERR " + _parser.Error);
                Flags |= ClientFlags.CloseAfterReply;
                _inStart = _inEnd;
                break;
            }
            if (result == ParseResult.Empty)
            {
                _inStart += consumed;
                continue;
            }
            if (_server.MustPause(this, _args))
            {
                _pausedWaiting = true;
                _inputPending = true;
                return false;
            }
            if (MustWaitForOthersInput(_args))
            {
                // Client.InputOrder.cs: the run loop waits, then this command runs.
                _inputPending = true;
                return false;
            }
            if (IsScriptCall(_args[0]) && !Thread.CurrentThread.IsThreadPoolThread)
            {
                _hopToPool = true;
                _server.ScriptHopStarted();
                _inputPending = true;
                return true;
            }
            _inStart += consumed;
            CommandsProcessed++;
            _server.Execute(this, _args);
            // CLIENT CACHING yes|no holds for the next command (or transaction) only.
            if (Tracking is { Caching: true }) Cinnabar.Server.Tracking.ClientTracking.AfterCommandProcessed(this, _args[0]);
            // Redis serves clients blocked on keys made ready after each command, not after the
            // batch: a pipelined "LPUSH k x; LPOP k" must let a blocked BLPOP take x first.
            if (_server.HasReadyKeys) _server.ServeReadyKeys();
            // Redis checks the output buffer limits as replies are added and stops serving a
            // client that passed them: nothing more runs, nothing pending is sent.
            if (Reply.Length > InitialInputBytes && _server.EnforceOutputLimit(this))
            {
                _inStart = _inEnd;
                _inputPending = false;
                return false;
            }
            // Like Redis, the commands of one 16 KiB read all run before their replies are
            // written; past that, a big batch flushes early to keep the buffer bounded.
            if (Reply.Length > FlushThresholdBytes && _inStart - _batchStart >= InitialInputBytes)
            {
                if (_inStart == _inEnd && !_receiveInFlight) _inStart = _inEnd = 0;
                _inputPending = _inStart < _inEnd;
                return _inputPending;
            }
        }
        if (_inStart == _inEnd && !_receiveInFlight) _inStart = _inEnd = 0;
        _inputPending = false;
        return false;
    }

    private bool _hopToPool;

    private static bool IsScriptCall(ReadOnlySpan<byte> name) =>
        name.Length is >= 4 and <= 10 && (name[0] | 0x20) is 'e' or 'f' or 'd' && IsScriptCallSlow(name);

    private static bool IsScriptCallSlow(ReadOnlySpan<byte> name)
    {
        Span<byte> lower = stackalloc byte[10];
        for (int i = 0; i < name.Length; i++) lower[i] = name[i] is >= (byte)'A' and <= (byte)'Z' ? (byte)(name[i] | 0x20) : name[i];
        var n = lower[..name.Length];
        // DEBUG too (LOADAOF may replay a slow script, RELOAD and SLEEP hold the lock for long):
        // on the socket engine's thread it would stop every other connection from being read.
        return n.SequenceEqual("eval"u8) || n.SequenceEqual("evalsha"u8) || n.SequenceEqual("eval_ro"u8)
            || n.SequenceEqual("evalsha_ro"u8) || n.SequenceEqual("fcall"u8) || n.SequenceEqual("fcall_ro"u8)
            || n.SequenceEqual("debug"u8);
    }

    /// <summary>Answers complete buffered commands without the exec lock while a script is busy (see RedisServer.Scripting).</summary>
    private void ProcessBusyBatch()
    {
        while (_inStart < _inEnd && _server.ScriptBusy)
        {
            var result = _parser.Parse(_in, _inStart, _inEnd, _args, out int consumed);
            if (result is ParseResult.Incomplete or ParseResult.Error)
            {
                // Nothing complete left to answer now: wait for more input (or the lock, for an error).
                _inputPending = result == ParseResult.Error;
                return;
            }
            _inStart += consumed;
            if (result == ParseResult.Empty) continue;
            _server.ExecuteWhileBusy(this, _args);
        }
        // The script may have ended with commands still buffered: they run normally under the lock.
        _inputPending = _inStart < _inEnd;
    }

    /// <summary>Sends everything written so far. Safe to call from any thread; concurrent callers coalesce.</summary>
    public async ValueTask FlushAsync()
    {
        while (true)
        {
            lock (OutputLock)
            {
                if (_sending || Reply.Length == 0)
                {
                    if (!_sending && (Flags & ClientFlags.CloseAfterReply) != 0) CloseSocketSoon();
                    return;
                }
                Reply.SwapWith(_sendBuffer);
                _sending = true;
            }
            try
            {
                var data = _sendBuffer.Written;
                if (_socket != null && _closed == 0)
                {
                    while (data.Length > 0)
                    {
                        int sent = await _socket.SendAsync(data, SocketFlags.None).ConfigureAwait(false);
                        _server.Stats.TotalWritesProcessed++;
                        if (sent <= 0) break;
                        data = data[sent..];
                    }
                    // The socket's cached send operation keeps a reference to the last buffer it
                    // sent: an outgrown buffer dropped below would stay alive through it until
                    // the next send. An empty send (no bytes on the wire) lets go of it.
                    if (_sendBuffer.Buffer.Length > ReplyChunkBytes && _closed == 0)
                        await _socket.SendAsync(ReadOnlyMemory<byte>.Empty, SocketFlags.None).ConfigureAwait(false);
                }
                NetOutputBytes += _sendBuffer.Length;
                _server.Stats.NetOutputBytes += _sendBuffer.Length;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
            {
                Close();
            }
            finally
            {
                lock (OutputLock)
                {
                    _sendBuffer.Clear();
                    // Redis frees the reply list once written and keeps only its reply buffer
                    // (its size follows the client's peak, 1 to 16 KB): output beyond that is not
                    // kept once sent. A buffer within 16 KB stays (the cron resizes it to the
                    // peak): dropping it after every reply would turn each one into garbage that
                    // outlives a collection and counts in used_memory until a full one.
                    // (Not once closed: Close already counted the buffer as released.)
                    if (_sendBuffer.Buffer.Length > ReplyChunkBytes && _closed == 0) _sendBuffer.Reallocate(_replyBufferSize);
                    _sending = false;
                }
            }
        }
    }

    // Output written into other clients while a batch runs (pub/sub messages, invalidations,
    // unblocked clients' replies) is sent once the batch is done, one send per client, as
    // Redis's beforeSleep writes its clients_pending_write: so the next command finds it sent
    // (not still held as output memory, which maxmemory counts) and 1000 messages to one client
    // cost one send, not 1000 hand-offs to the thread pool.
    [ThreadStatic] private static List<Client>? t_deferredFlushes;
    private readonly List<Client> _deferredFlushes = new();
    private int _flushDeferred;

    /// <summary>Called under the exec lock after another client wrote into this client's output.</summary>
    public void ScheduleFlush()
    {
        if (_socket == null || _closed != 0) return;
        if (_server.EnforceOutputLimit(this)) return;
        _server.ClientMemory.Update(this, removeNow: false);
        if (_closed != 0) return;
        if (t_deferredFlushes is { } deferred)
        {
            if (Interlocked.Exchange(ref _flushDeferred, 1) == 0) deferred.Add(this);
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static c => _ = c.FlushAsync(), this, preferLocal: false);
    }

    private void FlushDeferred()
    {
        if (_deferredFlushes.Count == 0) return;
        foreach (var c in _deferredFlushes)
        {
            // Cleared first: output written after this point schedules the client again.
            Volatile.Write(ref c._flushDeferred, 0);
            FlushNow(c);
        }
        _deferredFlushes.Clear();
    }

    /// <summary>Sends inline as far as the socket takes it; the rest completes in the background.</summary>
    private static void FlushNow(Client c)
    {
        var flush = c.FlushAsync();
        if (flush.IsCompletedSuccessfully) flush.GetAwaiter().GetResult();
        else _ = flush.AsTask();
    }

    private void CloseSocketSoon()
    {
        try { _socket?.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        Close();
    }

    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        // The closed client's buffers are garbage from now on (see RedisServer.UsedMemory).
        RespWriter.NoteReleased(_in);
        RespWriter.NoteReleased(Reply.Buffer);
        RespWriter.NoteReleased(_sendBuffer.Buffer);
        // Shut down first: disposing a socket with a receive pending is an abortive close (RST),
        // where Redis's close() ends the connection with a FIN ("Server closed the connection").
        try { _socket?.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        try { _socket?.Dispose(); } catch (SocketException) { }
        _unblock?.TrySetResult();
    }

    internal void EnterBlocked(BlockedState state)
    {
        BlockState = state;
        Flags |= ClientFlags.Blocked;
        // Re-blocking from a retry (RedisServer.RetryBlocked) must keep the pending completion
        // the run loop is already awaiting, or it would never resume after being served.
        if (_unblock == null || _unblock.Task.IsCompleted)
            _unblock = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    /// <summary>Leaves the blocked state; the run loop resumes processing buffered commands.</summary>
    internal void ExitBlocked()
    {
        BlockState = null;
        Flags &= ~ClientFlags.Blocked;
        _inputPending = _inStart < _inEnd;
        _unblock?.TrySetResult();
        ScheduleFlush();
    }

    public string FlagString()
    {
        var sb = new StringBuilder();
        if ((Flags & ClientFlags.Monitor) != 0) sb.Append('O');
        else if ((Flags & ClientFlags.Replica) != 0) sb.Append('S');
        if ((Flags & ClientFlags.Master) != 0) sb.Append('M');
        if ((Flags & ClientFlags.PubSub) != 0 || SubscriptionCount > 0) sb.Append('P');
        if ((Flags & ClientFlags.Multi) != 0) sb.Append('x');
        if ((Flags & ClientFlags.Blocked) != 0) sb.Append('b');
        if (Tracking != null) sb.Append('t');
        if (Tracking is { BrokenRedirect: true }) sb.Append('R');
        if (Tracking is { Bcast: true }) sb.Append('B');
        if ((Flags & ClientFlags.DirtyCas) != 0) sb.Append('d');
        if ((Flags & ClientFlags.CloseAfterReply) != 0) sb.Append('c');
        if ((Flags & ClientFlags.CloseAsap) != 0) sb.Append('A');
        if ((Flags & ClientFlags.Unix) != 0) sb.Append('U');
        if ((Flags & ClientFlags.ReadOnly) != 0) sb.Append('r');
        if ((Flags & ClientFlags.NoEvict) != 0) sb.Append('e');
        if (sb.Length == 0) sb.Append('N');
        return sb.ToString();
    }

    public string Describe() => $"id={Id} addr={Address} laddr={LocalAddress} name={Name ?? ""}";
}

/// <summary>
/// A client waiting in a blocking command. The command is re-executed when one of its keys
/// becomes ready (so the serving logic lives in the command handler), or times out.
/// </summary>
public sealed class BlockedState
{
    public required byte[][] Argv { get; init; }
    public required int DbIndex { get; init; }
    public required byte[][] Keys { get; init; }
    /// <summary>Unix ms deadline, 0 = block forever.</summary>
    public long DeadlineMs { get; init; }
    /// <summary>Writes the timeout reply (null array for BLPOP ...).</summary>
    public required Action<RespWriter> OnTimeout { get; init; }
    public Timer? Timer { get; set; }
    public long BlockedAtMs { get; init; }
}

/// <summary>A WATCHed key of a client; <see cref="Expired"/>: it was past its TTL when watched.</summary>
public sealed class WatchedKey(int db, byte[] key)
{
    public int Db { get; } = db;
    public byte[] Key { get; } = key;
    public bool Expired { get; set; }
}
