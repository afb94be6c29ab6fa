using System.Net;
using System.Net.Sockets;
using Cinnabar.Cluster;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// One cluster bus TCP link (inbound or outbound). Frames are read and decoded here and handed to
/// <see cref="ClusterService"/>; outgoing frames are queued (counted for cluster-link-sendbuf-limit)
/// and written by one writer at a time. A frame Redis would close the link for (bad signature,
/// short or oversized length) closes it here too.
/// </summary>
internal sealed class BusConnection
{
    private const int InitialBufferBytes = 16 * 1024;
    private const int MaxWriteBatchBytes = 256 * 1024;

    private readonly ClusterService _owner;
    private readonly object _sendLock = new();
    private readonly Queue<byte[]> _queue = new();
    private Socket? _socket;
    private bool _writing;
    private bool _connected;
    private int _closed;
    private long _pendingBytes;

    public int Id { get; }
    public bool Inbound { get; }
    public string PeerIp { get; private set; } = "";
    public string LocalIp { get; private set; } = "";
    public long PendingBytes => Interlocked.Read(ref _pendingBytes);
    public long PeakPendingBytes { get; private set; }
    public bool Closed => Volatile.Read(ref _closed) != 0;

    public BusConnection(ClusterService owner, int id, Socket? acceptedSocket)
    {
        _owner = owner;
        Id = id;
        Inbound = acceptedSocket != null;
        if (acceptedSocket != null) Attach(acceptedSocket);
    }

    private void Attach(Socket s)
    {
        s.NoDelay = true;
        _socket = s;
        PeerIp = (s.RemoteEndPoint as IPEndPoint)?.Address is { } r ? Normalize(r) : "";
        LocalIp = (s.LocalEndPoint as IPEndPoint)?.Address is { } l ? Normalize(l) : "";
        lock (_sendLock) _connected = true;
    }

    private static string Normalize(IPAddress a) => a.IsIPv4MappedToIPv6 ? a.MapToIPv4().ToString() : a.ToString();

    public void StartReading() => _ = ReadLoopAsync();

    public async void ConnectAsync(string ip, int port, int timeoutMs)
    {
        try
        {
            if (!IPAddress.TryParse(ip, out var addr)) throw new SocketException((int)SocketError.AddressNotAvailable);
            var s = new Socket(addr.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
                .AllowLocalPortReuse().BindSource(_owner.BindSourceAddr);
            using var cts = new CancellationTokenSource(timeoutMs);
            try
            {
                await s.ConnectAsync(new IPEndPoint(addr, port), cts.Token).ConfigureAwait(false);
            }
            catch
            {
                s.Dispose();
                throw;
            }
            if (Closed)
            {
                s.Dispose();
                return;
            }
            Attach(s);
            StartReading();
            KickWriter();
            _owner.OnConnected(this);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            _owner.Log.Verbose($"Connection with Node at {ip}:{port} failed: {e.Message}");
            Fail();
        }
    }

    public void Enqueue(byte[] frame)
    {
        if (Closed) return;
        lock (_sendLock)
        {
            _queue.Enqueue(frame);
            long p = Interlocked.Add(ref _pendingBytes, frame.Length);
            if (p > PeakPendingBytes) PeakPendingBytes = p;
        }
        KickWriter();
    }

    private void KickWriter()
    {
        lock (_sendLock)
        {
            if (_writing || !_connected || _queue.Count == 0 || Closed) return;
            _writing = true;
        }
        _ = WriteLoopAsync();
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                byte[] batch;
                lock (_sendLock)
                {
                    if (_queue.Count == 0 || Closed)
                    {
                        _writing = false;
                        return;
                    }
                    batch = TakeBatch();
                }
                int sent = 0;
                while (sent < batch.Length)
                    sent += await _socket!.SendAsync(batch.AsMemory(sent), SocketFlags.None).ConfigureAwait(false);
                Interlocked.Add(ref _pendingBytes, -batch.Length);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            lock (_sendLock) _writing = false;
            Fail();
        }
    }

    private byte[] TakeBatch()
    {
        if (_queue.Count == 1) return _queue.Dequeue();
        var list = new List<byte[]>();
        int total = 0;
        while (_queue.Count > 0 && (total == 0 || total + _queue.Peek().Length <= MaxWriteBatchBytes))
        {
            var f = _queue.Dequeue();
            list.Add(f);
            total += f.Length;
        }
        var batch = new byte[total];
        int off = 0;
        foreach (var f in list)
        {
            f.CopyTo(batch, off);
            off += f.Length;
        }
        return batch;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[InitialBufferBytes];
        int filled = 0;
        try
        {
            while (!Closed)
            {
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                int n = await _socket!.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None).ConfigureAwait(false);
                if (n == 0) break;
                filled += n;
                int consumed = 0;
                while (true)
                {
                    var status = BusCodec.PeekFrame(buffer.AsSpan(consumed, filled - consumed), _owner.MaxFrameBytes, out int length);
                    if (status == FrameStatus.Invalid)
                    {
                        _owner.Log.Verbose("Bad message length or signature received on the Cluster bus.");
                        Fail();
                        return;
                    }
                    if (status == FrameStatus.NeedMore)
                    {
                        // Make room for the whole frame at once (bounded by MaxFrameBytes).
                        if (length > buffer.Length && consumed == 0) Array.Resize(ref buffer, length);
                        break;
                    }
                    var message = BusCodec.Decode(buffer.AsSpan(consumed, length));
                    var type = length >= 14 ? (ushort)(buffer[consumed + 12] << 8 | buffer[consumed + 13]) : (ushort)0xffff;
                    consumed += length;
                    if (!await _owner.OnFrameAsync(this, message, type).ConfigureAwait(false)) return;
                }
                if (consumed > 0)
                {
                    Buffer.BlockCopy(buffer, consumed, buffer, 0, filled - consumed);
                    filled -= consumed;
                    if (filled == 0 && buffer.Length > InitialBufferBytes) buffer = new byte[InitialBufferBytes];
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
        }
        Fail();
    }

    /// <summary>The link broke (or the peer closed it): tell the state machine, once.</summary>
    private void Fail()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        DisposeSocket();
        _owner.OnConnectionLost(this);
    }

    /// <summary>Closed on the state machine's request: no callback.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0) return;
        DisposeSocket();
        _owner.Forget(this);
    }

    private void DisposeSocket()
    {
        lock (_sendLock)
        {
            _queue.Clear();
            Interlocked.Exchange(ref _pendingBytes, 0);
        }
        try { _socket?.Shutdown(SocketShutdown.Both); } catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        _socket?.Dispose();
    }
}
