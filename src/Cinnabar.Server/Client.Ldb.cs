using System.Net.Sockets;
using Cinnabar.Scripting;

namespace Cinnabar.Server;

/// <summary>SCRIPT DEBUG: how this client's next EVAL runs.</summary>
public enum LuaDebugMode { Off, Yes, Sync }

public sealed partial class Client
{
    /// <summary>Set by SCRIPT DEBUG YES|SYNC (CLIENT_LUA_DEBUG / _SYNC); cleared by SCRIPT DEBUG NO.</summary>
    public LuaDebugMode LuaDebug;

    /// <summary>
    /// Hands the connection to a Lua debugger session, as Redis's ldbStartSession takes the
    /// client's socket for direct blocking I/O. Runs under the exec lock and <see cref="OutputLock"/>
    /// (the running command's batch): what is already buffered past the EVAL goes to the session,
    /// a receive still in flight is taken over by it, and pending replies are sent first, so the
    /// session's output follows everything the client was owed.
    /// </summary>
    internal LdbChannel OpenLdbChannel()
    {
        var channel = new LdbChannel(this, _server);
        channel.Feed(_in.AsSpan(_inStart, _inEnd - _inStart));
        _inStart = _inEnd;
        _inputPending = false;
        // A flush started by another thread (pub/sub, unblocking) must finish before we write.
        // Monitor.Wait releases OutputLock meanwhile; the flush needs it to finish.
        while (_sending) Monitor.Wait(OutputLock, 10);
        if (Reply.Length > 0)
        {
            channel.Write(Reply.Written.Span);
            Reply.Clear();
        }
        return channel;
    }

    /// <summary>The receive started while blocked, if still pending; the session takes it over.</summary>
    internal Task<int>? TakePendingReceive(out Memory<byte> target)
    {
        var t = _pendingReceive;
        target = t == null ? default : _in.AsMemory(_inEnd);
        _pendingReceive = null;
        _receiveInFlight = false;
        return t;
    }
}

/// <summary>
/// The debugging client's socket used synchronously (connBlock + a 5 s send timeout, as Redis).
/// A read polls in short slices so that a shutdown signal or a closed connection ends the wait:
/// then the session goes on without the client (the script runs to its end).
/// </summary>
internal sealed class LdbChannel : ILdbChannel
{
    private const int SendTimeoutMs = 5000;
    private const int PollSliceMicros = 100_000;
    private readonly Client _client;
    private readonly RedisServer _server;
    private readonly Socket? _socket;
    private readonly Queue<byte> _buffered = new();
    private bool _broken;

    public LdbChannel(Client client, RedisServer server)
    {
        _client = client;
        _server = server;
        _socket = client.Socket;
        try
        {
            if (_socket != null) _socket.SendTimeout = SendTimeoutMs;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _broken = true;
        }
    }

    public void Feed(ReadOnlySpan<byte> data)
    {
        foreach (byte b in data) _buffered.Enqueue(b);
    }

    private bool Interrupted => _server.LdbInterrupt || _server.ShuttingDown || _client.IsClosed;

    public int Read(Span<byte> buffer)
    {
        if (_buffered.Count == 0) TakeOverPendingReceive();
        if (_buffered.Count > 0)
        {
            int n = Math.Min(buffer.Length, _buffered.Count);
            for (int i = 0; i < n; i++) buffer[i] = _buffered.Dequeue();
            return n;
        }
        if (_broken || _socket == null) return 0;
        try
        {
            while (true)
            {
                if (Interrupted) return 0;
                if (!_socket.Poll(PollSliceMicros, SelectMode.SelectRead)) continue;
                int got = _socket.Receive(buffer, SocketFlags.None);
                if (got <= 0)
                {
                    _broken = true;
                    return 0;
                }
                Count(got);
                return got;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            _broken = true;
            return 0;
        }
    }

    /// <summary>A receive the run loop started while the client was blocked: wait for it here.</summary>
    private void TakeOverPendingReceive()
    {
        var pending = _client.TakePendingReceive(out var target);
        if (pending == null) return;
        try
        {
            while (!pending.Wait(PollSliceMicros / 1000))
            {
                if (Interrupted)
                {
                    _broken = true;
                    return;
                }
            }
        }
        catch (AggregateException)
        {
            _broken = true;
            return;
        }
        int got = pending.Result;
        if (got <= 0)
        {
            _broken = true;
            return;
        }
        Count(got);
        Feed(target.Span[..got]);
    }

    private void Count(int n)
    {
        _client.NetInputBytes += n;
        _server.Stats.NetInputBytes += n;
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        if (_broken || _socket == null) return;
        try
        {
            while (data.Length > 0)
            {
                int sent = _socket.Send(data, SocketFlags.None);
                if (sent <= 0) break;
                data = data[sent..];
                _client.NetOutputBytes += sent;
                _server.Stats.NetOutputBytes += sent;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            // A client that stopped reading for 5 s is treated as gone (the next read ends the session).
            _broken = true;
        }
    }
}
