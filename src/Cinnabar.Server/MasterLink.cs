using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Persistence;
using Cinnabar.Protocol;
using Cinnabar.Replication;

namespace Cinnabar.Server;

/// <summary>
/// The replica side of replication: connects to the master, performs Redis's handshake (PING,
/// AUTH, REPLCONF listening-port/capa, PSYNC), loads the RDB of a full sync (length-prefixed or
/// EOF-marked), then applies the command stream through a client flagged as master, tracking the
/// processed offset, proxying the exact bytes to our own backlog and sub-replicas, and sending
/// REPLCONF ACK every second (and on GETACK). Reconnects with PSYNC after a dropped link.
/// </summary>
public sealed class MasterLink
{
    private readonly RedisServer _server;
    private readonly CancellationTokenSource _cts = new();
    private Socket? _socket;
    private volatile bool _ackRequested;
    private readonly object _sendLock = new();

    public MasterLink(RedisServer server, string host, int port)
    {
        _server = server;
        Host = host;
        Port = port;
    }

    public string Host { get; }
    public int Port { get; }
    public bool Connected { get; private set; }
    /// <summary>ROLE's state: connect, connecting, sync, connected.</summary>
    public string State { get; private set; } = "connect";
    public long LastIoMs { get; private set; } = Environment.TickCount64;
    public bool SyncInProgress => State == "sync";
    public long SyncReadBytes { get; private set; }
    /// <summary>Redis's repl_transfer_size: -1 before the payload header, 0 for an EOF-marked payload, else its length.</summary>
    public long SyncTotalBytes { get; private set; } = -1;
    public long LinkDownSinceMs { get; private set; } = Environment.TickCount64;

    public void Start() => _ = Task.Run(RunAsync);

    /// <summary>Ends the link (lock held). Logs like Redis freeing its master client when the link was up.</summary>
    public void Stop(bool logLostMaster = false)
    {
        if (logLostMaster && Connected)
        {
            _server.Log.Warning("Connection with master lost.");
            _server.Log.Notice("Caching the disconnected master state.");
        }
        _cts.Cancel();
        Connected = false;
        try { _socket?.Dispose(); } catch (SocketException) { }
    }

    public void SendAckSoon() => _ackRequested = true;

    /// <summary>
    /// Bytes of the master's stream received but not yet applied (an unparsed or paused command,
    /// a transaction before its EXEC): slave_read_repl_offset is the applied offset plus these.
    /// </summary>
    public long UnappliedBytes { get; private set; }

    /// <summary>The db the master's stream had selected at our offset (0 after a full sync).</summary>
    private int _streamDb;

    /// <summary>
    /// The db the master's stream has selected: a partial resync continues in it, also with a
    /// new master (Redis's cached master client keeps its db across REPLICAOF host port).
    /// </summary>
    internal int StreamDb { get => _streamDb; init => _streamDb = value; }

    /// <summary>The master's address as CLIENT LIST shows Redis's master client (ip:port), once connected.</summary>
    public string? RemoteAddress { get; private set; }

    /// <summary>CLIENT KILL of the master client: the streaming link drops and reconnects (PSYNC).</summary>
    public bool Kill()
    {
        if (!Connected) return false;
        // Redis drops the master client's unprocessed query buffer with it: bytes already read
        // from the socket but not yet applied (we may have been inside DEBUG SLEEP or a script)
        // are never applied, and the offset stays where the applied stream left it.
        _discard = true;
        // The link is down from now on, whenever the reader notices (Redis frees the master
        // client here: repl_down_since, and so a cluster replica's data age, count from the kill).
        _killedAtMs = Environment.TickCount64;
        try { _socket?.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        return true;
    }

    public void Cron(long nowMs)
    {
        if (Connected && (_ackRequested || nowMs - _lastAckMs >= 1000)) SendAck();
        CheckTimeout(nowMs);
    }

    /// <summary>Set when the cron gave up on the link (repl-timeout): the link reconnects at once.</summary>
    private volatile bool _timedOut;

    /// <summary>
    /// Redis's replicationCron timeouts (lock held): no byte from the master for repl-timeout
    /// seconds while connecting or in the handshake, during the transfer, or once connected.
    /// </summary>
    private void CheckTimeout(long nowMs)
    {
        if (_cts.IsCancellationRequested || _timedOut) return;
        long timeoutMs = Math.Max(1, _server.Config.ReplTimeout) * 1000L;
        if (nowMs - LastIoMs <= timeoutMs) return;
        switch (State)
        {
            case "connecting" or "handshake":
                _server.Log.Warning("Timeout connecting to the MASTER...");
                break;
            case "sync":
                // A diskless load reads the socket with its own timeout (repl-timeout).
                if (_server.UseDisklessLoad()) return;
                _server.Log.Warning("Timeout receiving bulk data from MASTER... If the problem persists try to set the 'repl-timeout' parameter in redis.conf to a larger value.");
                break;
            case "connected":
                _server.Log.Warning("MASTER timeout: no data nor PING received...");
                break;
            default:
                return;
        }
        _timedOut = State != "connected";
        try { _socket?.Dispose(); } catch (SocketException) { }
    }

    private long _lastAckMs;

    private void SendAck()
    {
        _ackRequested = false;
        _lastAckMs = Environment.TickCount64;
        var s = _socket;
        if (s == null) return;
        string off = _server.Repl.MasterReplOffset.ToString(CultureInfo.InvariantCulture);
        var bytes = RespConnectionEncode("REPLCONF", "ACK", off);
        try
        {
            lock (_sendLock) s.Send(bytes);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
    }

    private static byte[] RespConnectionEncode(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    // Redis's reconnection words: a link that was streaming is "lost" and retried at once
    // (replicationHandleMasterDisconnection); a failed handshake is retried by the next
    // replicationCron, about a second later, announcing "Connecting to MASTER" again.
    private async Task RunAsync()
    {
        while (!_cts.IsCancellationRequested)
        {
            bool reconnectNow = false;
            try
            {
                await SyncAndStreamAsync().ConfigureAwait(false);
            }
            catch (HandshakeEndedException e)
            {
                // Already logged in Redis's words (a refused PSYNC, a failed load).
                reconnectNow = e.ReconnectNow;
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidDataException or EndOfStreamException or OperationCanceledException or FormatException)
            {
                if (_timedOut) reconnectNow = true; // already logged by the cron
                else if (!_cts.IsCancellationRequested && !Connected) _server.Log.Warning($"Error condition on socket for SYNC: {e.Message}");
            }
            _timedOut = false;
            bool wasStreaming = Connected;
            Connected = false;
            State = "connect";
            // repl_down_since: when the link that was up went down; failed reconnection attempts
            // don't move it (a replica's data age counts from there, as cluster elections check).
            if (wasStreaming) LinkDownSinceMs = _killedAtMs != 0 ? _killedAtMs : Environment.TickCount64;
            _killedAtMs = 0;
            try { _socket?.Dispose(); } catch (SocketException) { }
            _socket = null;
            if (_cts.IsCancellationRequested) return;
            if (wasStreaming)
            {
                _server.Log.Warning("Connection with master lost.");
                _server.Log.Notice("Caching the disconnected master state.");
                lock (_server.ExecLock) _server.Repl.CachedMaster = true;
                _server.Log.Notice($"Reconnecting to MASTER {Host}:{Port}");
                continue;
            }
            if (reconnectNow)
            {
                _server.Log.Notice($"Reconnecting to MASTER {Host}:{Port} after failure");
                continue;
            }
            try { await Task.Delay(1000, _cts.Token).ConfigureAwait(false); } catch (OperationCanceledException) { return; }
            _server.Log.Notice($"Connecting to MASTER {Host}:{Port}");
        }
    }

    private sealed class LineReader(MasterLink link, Socket socket, CancellationToken ct)
    {
        public byte[] Buf = new byte[1 << 16];
        public int Start, End;

        public void ShrinkIfEmpty()
        {
            if (Start != End || Buf.Length <= 1 << 16) return;
            RespWriter.NoteReleased(Buf);
            Buf = new byte[1 << 16];
            Start = End = 0;
        }

        public async Task<bool> FillAsync()
        {
            if (Start > 0 && Start == End) Start = End = 0;
            if (End == Buf.Length)
            {
                if (Start == 0)
                {
                    RespWriter.NoteReleased(Buf);
                    Array.Resize(ref Buf, Buf.Length * 2);
                }
                else
                {
                    Buffer.BlockCopy(Buf, Start, Buf, 0, End - Start);
                    End -= Start;
                    Start = 0;
                }
            }
            int n = await socket.ReceiveAsync(Buf.AsMemory(End), SocketFlags.None, ct).ConfigureAwait(false);
            if (n <= 0) return false;
            End += n;
            link.LastIoMs = Environment.TickCount64;
            return true;
        }

        /// <summary>Blocking fill for the RDB parser (the socket's ReceiveTimeout bounds the wait).</summary>
        public bool Fill()
        {
            if (Start == End) Start = End = 0;
            if (End == Buf.Length) return true;
            int n = socket.Receive(Buf, End, Buf.Length - End, SocketFlags.None);
            if (n <= 0) return false;
            End += n;
            link.LastIoMs = Environment.TickCount64;
            return true;
        }

        public async Task<string> ReadLineAsync()
        {
            while (true)
            {
                int nl = Array.IndexOf(Buf, (byte)'\n', Start, End - Start);
                if (nl >= 0)
                {
                    string line = Encoding.UTF8.GetString(Buf, Start, nl - Start).TrimEnd('\r');
                    Start = nl + 1;
                    if (line.Length == 0) continue; // keepalive newlines sent while the master prepares the RDB
                    return line;
                }
                if (!await FillAsync().ConfigureAwait(false)) throw new IOException("connection lost");
            }
        }
    }

    private async Task<string> CommandAsync(LineReader r, params string[] args)
    {
        var bytes = RespConnectionEncode(args);
        lock (_sendLock) _socket!.Send(bytes);
        return await r.ReadLineAsync().ConfigureAwait(false);
    }

    /// <summary>Set by CLIENT KILL of the master client: nothing more of this link is applied.</summary>
    private volatile bool _discard;
    private long _killedAtMs;

    private async Task SyncAndStreamAsync()
    {
        _discard = false;
        LastIoMs = Environment.TickCount64;
        State = "connecting";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }
            .AllowLocalPortReuse().BindSource(_server.Config.BindSourceAddr);
        _socket = socket;
        await socket.ConnectAsync(Host, Port, _cts.Token).ConfigureAwait(false);
        _server.Log.Notice("MASTER <-> REPLICA sync started");
        RemoteAddress = socket.RemoteEndPoint is System.Net.IPEndPoint ep
            ? $"{(ep.Address.IsIPv4MappedToIPv6 ? ep.Address.MapToIPv4() : ep.Address)}:{ep.Port}" : null;
        // ROLE says "handshake" from the connection until the PSYNC reply (slaveIsInHandshakeState).
        LastIoMs = Environment.TickCount64;
        State = "handshake";
        var r = new LineReader(this, socket, _cts.Token);
        string pong = await CommandAsync(r, "PING").ConfigureAwait(false);
        if (pong.StartsWith('-') && !pong.StartsWith("-NOAUTH", StringComparison.Ordinal) && !pong.StartsWith("-NOPERM", StringComparison.Ordinal))
            throw new IOException("Error reply to PING from master: " + pong);
        _server.Log.Notice("Master replied to PING, replication can continue...");
        string auth = _server.Config.Find("masterauth") != null ? _server.Config.Get("masterauth") : "";
        if (auth.Length > 0)
        {
            string user = _server.Config.Find("masteruser") != null ? _server.Config.Get("masteruser") : "";
            string res = user.Length > 0 ? await CommandAsync(r, "AUTH", user, auth).ConfigureAwait(false) : await CommandAsync(r, "AUTH", auth).ConfigureAwait(false);
            if (res.StartsWith('-')) throw new IOException("Unable to AUTH to MASTER: " + res);
        }
        string port = (_server.Config.Find("replica-announce-port") is { } && _server.Config.Get("replica-announce-port") != "0")
            ? _server.Config.Get("replica-announce-port") : _server.Config.Port.ToString(CultureInfo.InvariantCulture);
        await CommandAsync(r, "REPLCONF", "listening-port", port).ConfigureAwait(false);
        string announceIp = _server.Config.Find("replica-announce-ip") != null ? _server.Config.Get("replica-announce-ip") : "";
        if (announceIp.Length > 0) await CommandAsync(r, "REPLCONF", "ip-address", announceIp).ConfigureAwait(false);
        await CommandAsync(r, "REPLCONF", "capa", "eof", "capa", "psync2").ConfigureAwait(false);
        string replId;
        long offset;
        lock (_server.ExecLock)
        {
            bool hasHistory = _server.Repl.Backlog != null || _server.Repl.MasterReplOffset > 0 || _server.Repl.HasHistory;
            replId = hasHistory ? _server.Repl.ReplId : "?";
            offset = hasHistory ? _server.Repl.MasterReplOffset + 1 : -1;
        }
        _server.Log.Notice(replId == "?" ? "Partial resynchronization not possible (no cached master)" : $"Trying a partial resynchronization (request {replId}:{offset}).");
        string reply = await SendPsyncAsync(r, replId, offset).ConfigureAwait(false);
        if (reply.StartsWith("+FULLRESYNC", StringComparison.Ordinal))
        {
            var parts = reply.Split(' ');
            string newId = parts[1];
            long newOffset = long.Parse(parts[2], CultureInfo.InvariantCulture);
            _server.Log.Notice($"Full resync from master: {newId}:{newOffset}");
            _streamDb = 0;
            await ReceiveRdbAsync(r, newId, newOffset).ConfigureAwait(false);
        }
        else if (reply.StartsWith("+CONTINUE", StringComparison.Ordinal))
        {
            _server.Log.Notice("Successful partial resynchronization with master.");
            var parts = reply.Split(' ');
            lock (_server.ExecLock)
            {
                _server.Repl.CachedMaster = false;
                if (parts.Length > 1 && parts[1] != _server.Repl.ReplId)
                {
                    // PSYNC2: the master changed its ID (failover); keep serving the old one up to here.
                    _server.Log.Warning($"Master replication ID changed to {parts[1]}");
                    _server.Repl.ReplId2 = _server.Repl.ReplId;
                    _server.Repl.SecondReplOffset = _server.Repl.MasterReplOffset + 1;
                    _server.Repl.ReplId = parts[1];
                    _server.DisconnectSubReplicas();
                }
            }
            _server.Log.Notice("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
        }
        else
        {
            LogPsyncRefusal(reply);
            throw new HandshakeEndedException();
        }
        Connected = true;
        State = "connected";
        LastIoMs = Environment.TickCount64;
        SendAck();
        await StreamAsync(r).ConfigureAwait(false);
    }

    /// <summary>
    /// PSYNC, with the FAILOVER argument while we are failing over to this master (Redis 7.0:
    /// the target, still our replica with our replication ID, then promotes itself). The
    /// failover ends with the answer: +CONTINUE or +FULLRESYNC completes it, anything else (or a
    /// write error) aborts it and we turn back into a master.
    /// </summary>
    private async Task<string> SendPsyncAsync(LineReader r, string replId, long offset)
    {
        string off = offset.ToString(CultureInfo.InvariantCulture);
        if (_server.Failover != FailoverState.InProgress)
            return await CommandAsync(r, "PSYNC", replId, off).ConfigureAwait(false);
        try
        {
            lock (_sendLock) _socket!.Send(RespConnectionEncode("PSYNC", replId, off, "FAILOVER"));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _server.Log.Warning($"Unable to send PSYNC to master: {e.Message}");
            lock (_server.ExecLock)
            {
                if (!_cts.IsCancellationRequested) _server.AbortFailover("Write error to failover target");
            }
            throw;
        }
        string reply;
        try
        {
            reply = await r.ReadLineAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            // Redis turns a failed read into the reply "-Reading from master: ...": a refusal.
            reply = "-Reading from master: " + e.Message;
        }
        bool accepted = reply.StartsWith("+FULLRESYNC", StringComparison.Ordinal) || reply.StartsWith("+CONTINUE", StringComparison.Ordinal);
        if (!accepted) LogPsyncRefusal(reply);
        lock (_server.ExecLock)
        {
            if (_cts.IsCancellationRequested) throw new OperationCanceledException();
            _server.OnFailoverPsyncReply(accepted);
        }
        if (!accepted) throw new HandshakeEndedException();
        return reply;
    }

    /// <summary>Redis's slaveTryPartialResynchronization words for a PSYNC that was not accepted.</summary>
    private void LogPsyncRefusal(string reply)
    {
        if (reply.StartsWith("-NOMASTERLINK", StringComparison.Ordinal) || reply.StartsWith("-LOADING", StringComparison.Ordinal))
            _server.Log.Notice($"Master is currently unable to PSYNC but should be in the future: {reply}");
        else if (!reply.StartsWith("-ERR", StringComparison.Ordinal))
            _server.Log.Warning($"Unexpected reply to PSYNC from master: {reply}");
        else
            _server.Log.Notice($"Master does not support PSYNC or is in error state (reply: {reply})");
    }

    /// <summary>
    /// The RDB of a full sync: to a temporary file then loaded (repl-diskless-load disabled), or
    /// parsed straight from the socket (swapdb, or on-empty-db with an empty dataset), as
    /// Redis 7.0's readSyncBulkPayload.
    /// </summary>
    private async Task ReceiveRdbAsync(LineReader r, string newId, long newOffset)
    {
        State = "sync";
        SyncReadBytes = 0;
        SyncTotalBytes = -1;
        bool toParser = _server.UseDisklessLoad();
        string header = await r.ReadLineAsync().ConfigureAwait(false);
        if (header.StartsWith('-'))
        {
            _server.Log.Warning($"MASTER aborted replication with an error: {header[1..]}");
            throw new HandshakeEndedException();
        }
        if (!header.StartsWith('$')) throw new IOException("Bad protocol from MASTER, the first byte is not '$' (we received '" + header + "'), are you sure the host and port are right?");
        string target = toParser ? "to parser" : "to disk";
        byte[]? mark = null;
        long len = -1;
        if (header.StartsWith("$EOF:", StringComparison.Ordinal) && header.Length >= 5 + MarkLength)
        {
            mark = Encoding.ASCII.GetBytes(header.Substring(5, MarkLength));
            SyncTotalBytes = 0;
            _server.Log.Notice($"MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF {target}");
        }
        else
        {
            len = long.Parse(header.AsSpan(1), CultureInfo.InvariantCulture);
            SyncTotalBytes = len;
            _server.Log.Notice($"MASTER <-> REPLICA sync: receiving {len} bytes from master {target}");
        }
        // Loading blocks: leave the socket engine's thread (completions run inline there, and a
        // blocking receive on it would wait for itself), as every other connection needs it.
        if (toParser)
        {
            // The load (and -LOADING, unless async) starts with the payload's first bytes, not
            // with its header: a master may take a moment to start its snapshot, and clients
            // have no reason to be refused meanwhile (the dataset is untouched until then).
            if (r.Start == r.End && !await r.FillAsync().ConfigureAwait(false)) throw new IOException("connection lost");
            await Task.Run(() => LoadFromSocket(r, newId, newOffset, mark, len)).ConfigureAwait(false);
            return;
        }
        string tmp = Path.Combine(_server.Config.Dir, $"temp-{Environment.TickCount64}.{Environment.ProcessId}.rdb");
        try
        {
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
            {
                if (mark != null) await CopyUntilMarkAsync(r, fs, mark).ConfigureAwait(false);
                else await CopyExactAsync(r, fs, len).ConfigureAwait(false);
                fs.Flush(flushToDisk: true);
            }
            await Task.Run(() => _server.LoadFullSyncRdb(tmp, newId, newOffset)).ConfigureAwait(false);
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { }
        }
    }

    private const int MarkLength = 40;

    /// <summary>
    /// Diskless load: the RDB parser reads the socket directly (blocking reads bounded by
    /// repl-timeout, as Redis puts the socket in blocking mode). An EOF-marked payload ends where
    /// the parser finds the RDB's own end; the 40 bytes that follow must be the mark.
    /// </summary>
    private void LoadFromSocket(LineReader r, string newId, long newOffset, byte[]? mark, long len)
    {
        var socket = _socket!;
        socket.ReceiveTimeout = Math.Max(1, _server.Config.ReplTimeout) * 1000;
        try
        {
            var payload = new SyncPayload(this, r, len);
            bool EndOk(long rdbBytes) => mark == null ? payload.SkipRest() : payload.EndsWithMark(rdbBytes, mark);
            _server.LoadFullSyncFromSocket(payload, EndOk, newId, newOffset);
        }
        finally
        {
            socket.ReceiveTimeout = 0;
        }
    }

    /// <summary>The full sync payload as a stream: bytes the link already buffered, then the socket.</summary>
    private sealed class SyncPayload(MasterLink link, LineReader r, long lengthOrMinusOne) : Stream
    {
        private long _left = lengthOrMinusOne;          // -1: EOF-marked, unbounded
        private long _delivered;
        private readonly byte[] _tail = new byte[MarkLength * 2];
        private int _tailLen;

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_left == 0) return 0;
            if (r.Start == r.End && !r.Fill()) throw new EndOfStreamException("connection lost");
            int n = Math.Min(count, r.End - r.Start);
            if (_left > 0) n = (int)Math.Min(n, _left);
            Buffer.BlockCopy(r.Buf, r.Start, buffer, offset, n);
            Remember(r.Buf.AsSpan(r.Start, n));
            r.Start += n;
            if (_left > 0) _left -= n;
            _delivered += n;
            link.SyncReadBytes += n;
            link.LastIoMs = Environment.TickCount64;
            return n;
        }

        /// <summary>Keeps the last bytes handed to the parser: the start of the mark may be among them.</summary>
        private void Remember(ReadOnlySpan<byte> data)
        {
            if (data.Length >= _tail.Length)
            {
                data[^_tail.Length..].CopyTo(_tail);
                _tailLen = _tail.Length;
                return;
            }
            int keep = Math.Min(_tailLen, _tail.Length - data.Length);
            _tail.AsSpan(_tailLen - keep, keep).CopyTo(_tail);
            data.CopyTo(_tail.AsSpan(keep));
            _tailLen = keep + data.Length;
        }

        /// <summary>After an EOF-marked RDB: the parser's read-ahead plus the next bytes must be exactly the mark.</summary>
        public bool EndsWithMark(long rdbBytes, byte[] mark)
        {
            long readAhead = _delivered - rdbBytes;
            if (readAhead < 0 || readAhead > mark.Length || readAhead > _tailLen) return false;
            var got = new byte[mark.Length];
            _tail.AsSpan(_tailLen - (int)readAhead, (int)readAhead).CopyTo(got);
            for (int i = (int)readAhead; i < mark.Length; i++)
            {
                if (r.Start == r.End && !r.Fill()) return false;
                got[i] = r.Buf[r.Start++];
            }
            return got.AsSpan().SequenceEqual(mark);
        }

        /// <summary>After a length-prefixed RDB: whatever the parser did not need is skipped.</summary>
        public bool SkipRest()
        {
            var sink = new byte[8192];
            while (_left > 0)
            {
                if (Read(sink, 0, sink.Length) == 0) return false;
            }
            return true;
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _delivered; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    private async Task CopyExactAsync(LineReader r, Stream dest, long len)
    {
        while (len > 0)
        {
            if (r.Start == r.End && !await r.FillAsync().ConfigureAwait(false)) throw new IOException("I/O error trying to sync with MASTER: connection lost");
            int n = (int)Math.Min(len, r.End - r.Start);
            dest.Write(r.Buf, r.Start, n);
            r.Start += n;
            len -= n;
            SyncReadBytes += n;
            LastIoMs = Environment.TickCount64;
        }
    }

    private async Task CopyUntilMarkAsync(LineReader r, Stream dest, byte[] mark)
    {
        // Keep the last mark.Length bytes back until we know they are not the end marker.
        var tail = new List<byte>(mark.Length * 2);
        while (true)
        {
            if (r.Start == r.End && !await r.FillAsync().ConfigureAwait(false)) throw new IOException("I/O error trying to sync with MASTER: connection lost");
            for (; r.Start < r.End; r.Start++)
            {
                tail.Add(r.Buf[r.Start]);
                SyncReadBytes++;
                if (tail.Count >= mark.Length && EndsWith(tail, mark))
                {
                    r.Start++;
                    dest.Write(tail.GetRange(0, tail.Count - mark.Length).ToArray());
                    return;
                }
                if (tail.Count >= 64 * 1024)
                {
                    int flush = tail.Count - mark.Length;
                    dest.Write(tail.GetRange(0, flush).ToArray());
                    tail.RemoveRange(0, flush);
                }
            }
            LastIoMs = Environment.TickCount64;
        }
    }

    private static bool EndsWith(List<byte> list, byte[] mark)
    {
        int off = list.Count - mark.Length;
        for (int i = 0; i < mark.Length; i++)
            if (list[off + i] != mark[i]) return false;
        return true;
    }

    /// <summary>
    /// An error our master's command got here goes nowhere (the master reads no replies), so it
    /// is logged as Redis's afterErrorReply does: the data may have diverged.
    /// </summary>
    private void ReportErrorReply(Client master, CommandArgs args)
    {
        var written = master.Reply.Written.Span;
        if (written.IsEmpty || written[0] != (byte)'-') return;
        int end = written.IndexOf("\r\n"u8);
        if (end < 0) end = written.Length;
        string error = Encoding.UTF8.GetString(written[1..Math.Min(end, 4097)]);
        string name = _server.Commands.Lookup(args[0])?.Name ?? "<unknown>";
        _server.Log.Warning($"== CRITICAL == This replica is sending an error to its master: '{error}' after processing the command '{name}'");
        _server.Stats.UnexpectedErrorReplies++;
    }

    private async Task StreamAsync(LineReader r)
    {
        var parser = new RequestParser { IsMasterLink = true };
        var args = new CommandArgs();
        var master = _server.CreateMasterClient();
        // A partial resync continues the stream where it stopped, in the db it had selected
        // (Redis keeps the cached master client, its db included).
        master.DbIndex = _streamDb;
        var pendingTx = new MemoryStream();
        // A receive left running while the stream was paused (see below).
        Task<bool>? pendingFill = null;
        while (!_cts.IsCancellationRequested)
        {
            bool progressed = false;
            bool paused = false;
            lock (_server.ExecLock)
            {
                // Stopped (REPLICAOF, promotion) while waiting for the lock: apply nothing more.
                if (_cts.IsCancellationRequested) return;
                if (_discard) throw new IOException("Connection with master lost.");
                while (r.Start < r.End)
                {
                    var res = parser.Parse(r.Buf, r.Start, r.End, args, out int consumed);
                    if (res == ParseResult.Incomplete) break;
                    if (res == ParseResult.Error) throw new InvalidDataException("Protocol error from master: " + parser.Error);
                    int start = r.Start;
                    if (res == ParseResult.Command)
                    {
                        // CLIENT PAUSE holds our master's writes too (Redis exempts only
                        // replicas): the command stays unapplied, with all that follows it,
                        // while the link keeps reading (slave_read_repl_offset grows).
                        if (_server.MustPause(master, args))
                        {
                            paused = true;
                            break;
                        }
                        _server.UpdateCachedTime();
                        var keyspace = _server.Keyspace;
                        keyspace.MasterStreamRunning = true;
                        try
                        {
                            _server.Execute(master, args);
                        }
                        finally
                        {
                            keyspace.MasterStreamRunning = false;
                        }
                        ReportErrorReply(master, args);
                        master.Reply.Clear();
                    }
                    // The exact bytes go to our backlog and sub-replicas, advancing our offset;
                    // a transaction only once applied (EXEC), as Redis counts the master's
                    // offset outside MULTI only: a link lost mid-transaction resumes at MULTI.
                    var bytes = new ReadOnlySpan<byte>(r.Buf, start, consumed);
                    if ((master.Flags & ClientFlags.Multi) != 0) pendingTx.Write(bytes);
                    else if (pendingTx.Length > 0)
                    {
                        pendingTx.Write(bytes);
                        _server.FeedReplicas(pendingTx.GetBuffer().AsSpan(0, (int)pendingTx.Length));
                        pendingTx.SetLength(0);
                    }
                    else _server.FeedReplicas(bytes);
                    if ((master.Flags & ClientFlags.Multi) == 0) _streamDb = master.DbIndex;
                    r.Start += consumed;
                    progressed = true;
                }
                if (progressed) _server.AfterBatch();
                UnappliedBytes = r.End - r.Start + pendingTx.Length;
            }
            if (r.Start == r.End && pendingFill == null)
            {
                // Everything applied: a buffer grown for a big command goes back to its usual
                // size (Redis trims the master client's query buffer the same way).
                args.TrimAfterBatch();
                r.ShrinkIfEmpty();
            }
            if (_ackRequested) SendAck();
            pendingFill ??= r.FillAsync();
            if (paused)
            {
                Task unpaused;
                lock (_server.ExecLock) unpaused = _server.WaitUnpausedAsync();
                await Task.WhenAny(pendingFill, unpaused).ConfigureAwait(false);
                if (!pendingFill.IsCompleted) continue;
            }
            bool more = await pendingFill.ConfigureAwait(false);
            pendingFill = null;
            if (!more) throw new IOException("Connection with master lost.");
            LastIoMs = Environment.TickCount64;
            lock (_server.ExecLock) UnappliedBytes = r.End - r.Start + pendingTx.Length;
        }
    }
}

/// <summary>The handshake stopped for a reason already logged (a refused PSYNC): the link retries later.</summary>
internal sealed class HandshakeEndedException(bool reconnectNow = false) : Exception("handshake ended")
{
    /// <summary>Redis's cancelReplicationHandshake(1): reconnect at once ("after failure").</summary>
    public bool ReconnectNow { get; } = reconnectNow;
}
