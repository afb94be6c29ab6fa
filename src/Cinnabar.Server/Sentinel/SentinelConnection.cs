using System.Net;
using System.Net.Sockets;
using Cinnabar.Protocol;
using Cinnabar.Sentinel;

namespace Cinnabar.Server.Sentinel;

/// <summary>
/// One outgoing RESP connection of the sentinel (hiredis's async context): commands queue while it
/// connects, replies are matched to callbacks in order, and a persistent callback (SUBSCRIBE) takes
/// every later reply and message. Callbacks run under the server's execution lock.
/// </summary>
internal sealed class SentinelConnection
{
    private const int MaxQueuedBytes = 16 * 1024 * 1024;
    private readonly SentinelService _owner;
    private readonly Socket _socket;
    private readonly object _writeLock = new();
    private readonly Queue<(ReplyCallback? Callback, bool Persistent)> _callbacks = new();
    private ReplyCallback? _persistent;
    private List<byte[]> _pending = new();
    private int _pendingBytes;
    private bool _connected;
    private bool _writing;
    private volatile bool _closed;

    public int Id { get; }
    public string? LocalIp { get; private set; }

    public SentinelConnection(SentinelService owner, int id, string ip, int port)
    {
        _owner = owner;
        Id = id;
        var addr = IPAddress.Parse(ip);
        _socket = new Socket(addr.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }
            .BindSource(owner.BindSourceAddr);
        _ = RunAsync(new IPEndPoint(addr, port));
    }

    private async Task RunAsync(IPEndPoint ep)
    {
        try
        {
            await _socket.ConnectAsync(ep).ConfigureAwait(false);
            LocalIp = (_socket.LocalEndPoint as IPEndPoint)?.Address.ToString();
            lock (_writeLock)
            {
                _connected = true;
                StartWriterLocked();
            }
            var reader = new RespReplyReader();
            var buf = new byte[16 * 1024];
            var replies = new List<RespReply>();
            while (!_closed)
            {
                int n = await _socket.ReceiveAsync(buf, SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                reader.Feed(buf.AsSpan(0, n));
                replies.Clear();
                RespReply? r;
                while ((r = reader.TryRead()) != null) replies.Add(r);
                if (reader.Buffered > 64 * 1024 * 1024) break; // a reply this large is not from a Redis we speak to
                if (replies.Count > 0) _owner.Deliver(this, replies);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException or InvalidDataException or FormatException)
        {
        }
        _owner.Closed(this);
    }

    /// <summary>Called under the execution lock by the service when replies arrive.</summary>
    public void Dispatch(RespReply reply, long now)
    {
        if (_closed) return;
        if (_persistent != null && _callbacks.Count == 0)
        {
            _persistent(reply, now);
            return;
        }
        if (_callbacks.Count == 0) return;
        var (cb, persistent) = _callbacks.Dequeue();
        if (persistent) _persistent = cb;
        cb?.Invoke(reply, now);
    }

    public void Send(IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent)
    {
        if (_closed) return;
        var w = new RespWriter(256);
        w.WriteArrayHeader(argv.Count);
        foreach (var a in argv) w.WriteBulk(a);
        var bytes = w.Written.ToArray();
        _callbacks.Enqueue((onReply, persistent));
        lock (_writeLock)
        {
            if (_pendingBytes + bytes.Length > MaxQueuedBytes) return;
            _pending.Add(bytes);
            _pendingBytes += bytes.Length;
            if (_connected) StartWriterLocked();
        }
    }

    private void StartWriterLocked()
    {
        if (_writing || _pending.Count == 0) return;
        _writing = true;
        _ = WriteLoopAsync();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                List<byte[]> batch;
                lock (_writeLock)
                {
                    if (_pending.Count == 0 || _closed)
                    {
                        _writing = false;
                        return;
                    }
                    batch = _pending;
                    _pending = new List<byte[]>();
                    _pendingBytes = 0;
                }
                foreach (var b in batch) await _socket.SendAsync(b, SocketFlags.None).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            lock (_writeLock) _writing = false;
            Close();
        }
    }

    public void Close()
    {
        if (_closed) return;
        _closed = true;
        try { _socket.Shutdown(SocketShutdown.Both); }
        catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket.Dispose();
    }
}
