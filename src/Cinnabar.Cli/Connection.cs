using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli;

/// <summary>A blocking client connection (TCP or Unix socket) speaking RESP requests and reading replies.</summary>
public sealed class Connection : IDisposable
{
    private readonly Socket _socket;
    private readonly RespReplyReader _reader = new();
    private readonly byte[] _readBuf = new byte[64 * 1024];

    private Connection(Socket s) => _socket = s;

    /// <summary>Connects or returns null with redis-cli's "Could not connect" message in error.</summary>
    public static Connection? Open(CliOptions o, out string? error)
    {
        error = null;
        Socket s;
        try
        {
            if (o.Socket != null)
            {
                s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                s.Connect(new UnixDomainSocketEndPoint(o.Socket));
            }
            else
            {
                s = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                s.Connect(o.Host, o.Port);
            }
        }
        catch (ArgumentOutOfRangeException)
        {
            // Out-of-range ports never reach a listener; redis-cli reports the refused connect.
            error = $"Could not connect to Redis at {o.Host}:{o.Port}: Connection refused";
            return null;
        }
        catch (SocketException e)
        {
            string where = o.Socket ?? $"{o.Host}:{o.Port}";
            error = $"Could not connect to Redis at {where}: {(o.Socket != null && e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported ? "No such file or directory" : Describe(e))}";
            return null;
        }
        return new Connection(s);
    }

    private static string Describe(SocketException e) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => "Connection refused",
        SocketError.HostNotFound or SocketError.NoData => "Name or service not known",
        SocketError.TimedOut => "Connection timed out",
        SocketError.NetworkUnreachable => "Network is unreachable",
        SocketError.HostUnreachable => "No route to host",
        SocketError.AccessDenied => "Permission denied",
        SocketError.AddressNotAvailable => "Cannot assign requested address",
        _ when e.Message.Contains("No such file", StringComparison.Ordinal) || e.ErrorCode == 2 => "No such file or directory",
        _ => e.Message,
    };

    public static byte[] Encode(IReadOnlyList<byte[]> args)
    {
        var ms = new MemoryStream();
        void Ascii(string s) => ms.Write(Encoding.ASCII.GetBytes(s));
        Ascii("*" + args.Count + "\r\n");
        foreach (var a in args)
        {
            Ascii("$" + a.Length + "\r\n");
            ms.Write(a);
            Ascii("\r\n");
        }
        return ms.ToArray();
    }

    public void Send(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            int n = _socket.Send(data);
            data = data[n..];
        }
    }

    /// <summary>Reads the next reply; null when the server closed the connection. With a
    /// timeout (ms, 0 = forever) throws TimeoutException when nothing complete arrived in time.</summary>
    public RespReply? Read(int timeoutMs = 0)
    {
        while (true)
        {
            var r = _reader.TryRead();
            if (r != null)
            {
                if (r.Type == RespType.Attribute) continue; // attributes only annotate the next reply
                return r;
            }
            if (timeoutMs > 0 && !_socket.Poll(timeoutMs * 1000L > int.MaxValue ? -1 : timeoutMs * 1000, SelectMode.SelectRead))
                throw new TimeoutException();
            int n = _socket.Receive(_readBuf);
            if (n == 0) return null;
            _reader.Feed(_readBuf.AsSpan(0, n));
        }
    }

    public RespReply? Call(IReadOnlyList<byte[]> args)
    {
        Send(Encode(args));
        return Read();
    }

    public RespReply? Call(params string[] args) => Call(args.Select(Encoding.UTF8.GetBytes).ToList());

    /// <summary>
    /// Reads raw bytes straight from the socket (the RDB payload after SYNC's "$&lt;len&gt;" line),
    /// at most buf.Length; 0 when the server closed the connection. Only valid while no reply
    /// bytes are pending in the reply reader (true between request/reply exchanges).
    /// </summary>
    public int ReadRaw(Span<byte> buf)
    {
        if (_reader.Buffered > 0) throw new InvalidOperationException("reply bytes pending before a raw read");
        return buf.Length == 0 ? 0 : _socket.Receive(buf);
    }

    /// <summary>Sends several encoded commands at once (pipelining); read the replies with Read.</summary>
    public void SendMany(IEnumerable<IReadOnlyList<byte[]>> commands)
    {
        var ms = new MemoryStream();
        foreach (var c in commands) ms.Write(Encode(c));
        Send(ms.GetBuffer().AsSpan(0, (int)ms.Length));
    }

    public void Dispose() => _socket.Dispose();
}
