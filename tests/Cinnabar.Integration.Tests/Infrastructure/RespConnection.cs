using System.Net.Sockets;
using System.Text;

namespace Cinnabar.Integration.Tests.Infrastructure;

/// <summary>A parsed reply. Errors keep their text; bulk/simple strings their bytes.</summary>
public sealed class Reply
{
    public char Type { get; init; }
    public byte[]? Bytes { get; init; }
    public long Integer { get; init; }
    public List<Reply>? Items { get; init; }
    public bool IsNull => Type == '_' || (Type is '$' or '*' && Bytes == null && Items == null);
    public bool IsError => Type == '-' || Type == '!';

    public override string ToString() => Type switch
    {
        ':' => Integer.ToString(),
        '*' or '%' or '~' or '>' => Items == null ? "(nil)" : "[" + string.Join(",", Items) + "]",
        _ => Bytes == null ? "(nil)" : Encoding.UTF8.GetString(Bytes),
    };
}

/// <summary>
/// A minimal raw RESP client for tests that need exact bytes: it sends commands as multibulk
/// and parses replies (RESP2 and RESP3). Every read has a timeout so a test never hangs.
/// </summary>
public sealed class RespConnection : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly BufferedStream _in;

    public RespConnection(int port, int timeoutMs = 10000)
    {
        _tcp = new TcpClient();
        _tcp.Connect("127.0.0.1", port);
        _tcp.NoDelay = true;
        _stream = _tcp.GetStream();
        _stream.ReadTimeout = timeoutMs;
        _in = new BufferedStream(_stream, 65536);
    }

    public int ReadTimeoutMs
    {
        get => _stream.ReadTimeout;
        set => _stream.ReadTimeout = value;
    }

    public static byte[] Encode(params object[] args)
    {
        var ms = new MemoryStream();
        void W(string s) => ms.Write(Encoding.UTF8.GetBytes(s));
        W($"*{args.Length}\r\n");
        foreach (var a in args)
        {
            byte[] b = a as byte[] ?? Encoding.UTF8.GetBytes(Convert.ToString(a, System.Globalization.CultureInfo.InvariantCulture)!);
            W($"${b.Length}\r\n");
            ms.Write(b);
            W("\r\n");
        }
        return ms.ToArray();
    }

    public void Send(params object[] args) => SendRaw(Encode(args));

    public void SendRaw(byte[] bytes) => _stream.Write(bytes);
    public void SendRaw(string text) => SendRaw(Encoding.UTF8.GetBytes(text));

    public Reply Call(params object[] args)
    {
        Send(args);
        return Read();
    }

    /// <summary>Sends a command and returns the exact reply bytes.</summary>
    public byte[] CallRaw(params object[] args)
    {
        Send(args);
        return ReadRawReply();
    }

    public Reply Read() => Parse(ReadRawReply());

    /// <summary>Reads exactly one complete reply's bytes.</summary>
    public byte[] ReadRawReply()
    {
        var ms = new MemoryStream();
        ReadValue(ms);
        return ms.ToArray();
    }

    private string ReadLine(MemoryStream capture)
    {
        var sb = new StringBuilder();
        while (true)
        {
            int b = _in.ReadByte();
            if (b < 0) throw new IOException("connection closed");
            capture.WriteByte((byte)b);
            if (b == '\r')
            {
                int n = _in.ReadByte();
                capture.WriteByte((byte)n);
                return sb.ToString();
            }
            sb.Append((char)b);
        }
    }

    private void ReadValue(MemoryStream capture)
    {
        string line = ReadLine(capture);
        char t = line[0];
        switch (t)
        {
            case '$' or '=' or '!':
            {
                int len = int.Parse(line.AsSpan(1));
                if (len < 0) return;
                var buf = new byte[len + 2];
                int got = 0;
                while (got < buf.Length)
                {
                    int n = _in.Read(buf, got, buf.Length - got);
                    if (n <= 0) throw new IOException("connection closed");
                    got += n;
                }
                capture.Write(buf);
                return;
            }
            case '*' or '~' or '>':
            {
                int n = int.Parse(line.AsSpan(1));
                for (int i = 0; i < n; i++) ReadValue(capture);
                return;
            }
            case '%':
            {
                int n = int.Parse(line.AsSpan(1));
                for (int i = 0; i < 2 * n; i++) ReadValue(capture);
                return;
            }
            case '|':
            {
                // An attribute map, then the reply it decorates.
                int n = int.Parse(line.AsSpan(1));
                for (int i = 0; i < 2 * n; i++) ReadValue(capture);
                ReadValue(capture);
                return;
            }
            default:
                return;
        }
    }

    public static Reply Parse(byte[] raw)
    {
        int pos = 0;
        return ParseAt(raw, ref pos);
    }

    private static Reply ParseAt(byte[] raw, ref int pos)
    {
        int end = Array.IndexOf(raw, (byte)'\r', pos);
        string line = Encoding.UTF8.GetString(raw, pos + 1, end - pos - 1);
        char t = (char)raw[pos];
        pos = end + 2;
        switch (t)
        {
            case '+' or '-' or ',' or '(' or '#':
                return new Reply { Type = t, Bytes = Encoding.UTF8.GetBytes(line) };
            case ':':
                return new Reply { Type = t, Integer = long.Parse(line) };
            case '_':
                return new Reply { Type = t };
            case '$' or '=' or '!':
            {
                int len = int.Parse(line);
                if (len < 0) return new Reply { Type = t };
                var b = raw.AsSpan(pos, len).ToArray();
                pos += len + 2;
                return new Reply { Type = t, Bytes = b };
            }
            default:
            {
                int n = int.Parse(line);
                if (n < 0) return new Reply { Type = t };
                if (t == '%') n *= 2;
                var items = new List<Reply>();
                for (int i = 0; i < n; i++) items.Add(ParseAt(raw, ref pos));
                return new Reply { Type = t, Items = items };
            }
        }
    }

    public void Dispose()
    {
        _in.Dispose();
        _tcp.Dispose();
    }
}
