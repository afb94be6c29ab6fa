using System.Net.Sockets;
using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Malformed RESP and inline frames (issue 8: no client input crashes, hangs or wedges the
/// server). Each frame gets Redis's "Protocol error: ..." reply and the connection is closed, as
/// Redis does; meanwhile another client keeps being served. When redis-server is installed the
/// same bytes go to it too and both answers must be identical.
/// </summary>
public sealed class ProtocolAdversarialTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public ProtocolAdversarialTests(SideBySideFixture f) => _f = f;

    public static TheoryData<string, string, string> Frames => new()
    {
        { "non-numeric multibulk count", "*abc\r\n", "-ERR Protocol error: invalid multibulk length\r\n" },
        { "multibulk count beyond int", "*3000000000\r\n", "-ERR Protocol error: invalid multibulk length\r\n" },
        { "non-numeric bulk length", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n" },
        { "negative bulk length", "*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length\r\n" },
        { "bulk length beyond proto-max-bulk-len", "*1\r\n$600000000\r\n", "-ERR Protocol error: invalid bulk length\r\n" },
        { "bulk length beyond int64", "*1\r\n$99999999999999999999\r\n", "-ERR Protocol error: invalid bulk length\r\n" },
        { "argument not a bulk string", "*1\r\n+PING\r\n", "-ERR Protocol error: expected '$', got '+'\r\n" },
        { "unbalanced quotes inline", "SET \"foo bar\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n" },
        { "unbalanced single quote inline", "GET 'k\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n" },
        { "closing quote followed by a character", "GET \"k\"x\r\n", "-ERR Protocol error: unbalanced quotes in request\r\n" },
        { "huge multibulk count line", "*" + new string('1', 70_000), "-ERR Protocol error: too big mbulk count string\r\n" },
        { "huge bulk length line", "*1\r\n$" + new string('1', 70_000), "-ERR Protocol error: too big bulk count string\r\n" },
        { "huge inline line", new string('a', 70_000), "-ERR Protocol error: too big inline request\r\n" },
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void Malformed_frame_gets_protocol_error_and_connection_is_closed(string name, string frame, string expected)
    {
        var (reply, closed) = Exchange(_f.Cinnabar.Port, Encoding.Latin1.GetBytes(frame));
        Assert.True(expected == reply, $"{name}: got {reply}");
        Assert.True(closed, $"{name}: connection left open");
        if (ServerProcess.RedisAvailable)
        {
            var (redisReply, redisClosed) = Exchange(_f.Redis.Port, Encoding.Latin1.GetBytes(frame));
            Assert.Equal(redisReply, reply);
            Assert.Equal(redisClosed, closed);
        }
        using var other = _f.Cinnabar.Connect();
        Assert.Equal("PONG", other.Call("PING").ToString());
    }

    [Fact]
    public void Random_garbage_never_takes_the_server_down()
    {
        // Seeded: a failure names its seed, and rerunning replays it.
        for (int seed = 0; seed < 100; seed++)
        {
            var rng = new Random(seed);
            var bytes = new byte[rng.Next(1, 300)];
            rng.NextBytes(bytes);
            if (rng.Next(2) == 0) bytes[0] = (byte)"*$+-:"[rng.Next(5)];
            Exchange(_f.Cinnabar.Port, bytes, readTimeoutMs: 50);
            using var other = _f.Cinnabar.Connect();
            Assert.True("PONG" == other.Call("PING").ToString(), $"server stopped answering after garbage seed {seed}");
        }
    }

    [Fact]
    public void Client_over_query_buffer_limit_is_disconnected_and_others_are_served()
    {
        using var admin = _f.Cinnabar.Connect();
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "client-query-buffer-limit", "1mb").ToString());
        try
        {
            using var tcp = new TcpClient("127.0.0.1", _f.Cinnabar.Port);
            var s = tcp.GetStream();
            s.Write("*3\r\n$3\r\nSET\r\n$8\r\nqbuf:key\r\n$100000000\r\n"u8);
            var chunk = new byte[64 * 1024];
            bool closed = false;
            // The server drops us once the buffered argument passes the limit; writing then fails.
            for (int sent = 0; sent < 8 << 20 && !closed; sent += chunk.Length)
            {
                try
                {
                    s.Write(chunk);
                }
                catch (IOException)
                {
                    closed = true;
                }
            }
            if (!closed)
            {
                s.ReadTimeout = 10_000;
                closed = ReadUntilClosed(s, out _);
            }
            Assert.True(closed, "client past client-query-buffer-limit was not disconnected");
            Assert.Equal("PONG", admin.Call("PING").ToString());
            Assert.Equal(0L, admin.Call("EXISTS", "qbuf:key").Integer);
        }
        finally
        {
            admin.Call("CONFIG", "SET", "client-query-buffer-limit", "1gb");
        }
    }

    [Fact]
    public void Lowered_proto_max_bulk_len_refuses_longer_bulks()
    {
        using var admin = _f.Cinnabar.Connect();
        Assert.Equal("OK", admin.Call("CONFIG", "SET", "proto-max-bulk-len", "1mb").ToString());
        try
        {
            var (reply, closed) = Exchange(_f.Cinnabar.Port, "*2\r\n$4\r\nECHO\r\n$2000000\r\n"u8.ToArray());
            Assert.Equal("-ERR Protocol error: invalid bulk length\r\n", reply);
            Assert.True(closed);
        }
        finally
        {
            admin.Call("CONFIG", "SET", "proto-max-bulk-len", "512mb");
        }
    }

    [Fact]
    public void Valid_command_after_empty_and_zero_count_frames_still_runs()
    {
        // Redis skips "*0" and "*-1" frames and blank inline lines without replying.
        var (reply, closed) = Exchange(_f.Cinnabar.Port, "*0\r\n*-1\r\n\r\n*1\r\n$4\r\nPING\r\n"u8.ToArray(), readTimeoutMs: 500);
        Assert.Equal("+PONG\r\n", reply);
        Assert.False(closed);
    }

    /// <summary>Sends the bytes, then reads everything until the server closes or goes quiet.</summary>
    private static (string Reply, bool Closed) Exchange(int port, byte[] frame, int readTimeoutMs = 5000)
    {
        using var tcp = new TcpClient("127.0.0.1", port);
        var s = tcp.GetStream();
        try
        {
            s.Write(frame);
        }
        catch (IOException)
        {
            // The server may close before reading all of a huge frame.
        }
        s.ReadTimeout = readTimeoutMs;
        bool closed = ReadUntilClosed(s, out string reply);
        return (reply, closed);
    }

    private static bool ReadUntilClosed(NetworkStream s, out string received)
    {
        var all = new MemoryStream();
        var buf = new byte[4096];
        try
        {
            while (true)
            {
                int n = s.Read(buf);
                if (n == 0)
                {
                    received = Encoding.Latin1.GetString(all.ToArray());
                    return true;
                }
                all.Write(buf, 0, n);
            }
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.TimedOut })
        {
            received = Encoding.Latin1.GetString(all.ToArray());
            return false;
        }
        catch (IOException)
        {
            // Reset by the server after its reply: closed.
            received = Encoding.Latin1.GetString(all.ToArray());
            return true;
        }
    }
}
