using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Cinnabar.Cluster.Tests;

// The encoder's output against a live redis-server 7.0.15: a fake peer built only from
// BusCodec.Encode answers a real node's MEET and PINGs, and the node takes it for a cluster peer
// (name, hostname extension, slots, epochs), decodes our PUBLISH, and every packet it sends us
// decodes. Skipped (passes trivially) when /usr/bin/redis-server is absent.
public sealed class BusCodecLiveRedisTests : IDisposable
{
    private const string RedisServer = "/usr/bin/redis-server";
    private static readonly string FakeName = new('f', BusMessage.NameLength);
    private readonly string _dir = Directory.CreateTempSubdirectory("bus-codec-live-").FullName;
    private System.Diagnostics.Process? _redis;

    [Fact]
    public void Real_redis_accepts_a_peer_speaking_only_encoded_packets()
    {
        if (!File.Exists(RedisServer)) return;
        int port = FreePortWithBusPort();
        _redis = System.Diagnostics.Process.Start(RedisServer,
        [
            "--port", port.ToString(), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--dir", _dir,
            "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000", "--save", "",
            "--logfile", Path.Combine(_dir, "redis.log"),
        ]);
        using var client = WaitFor("redis to accept clients", () => TryConnect(port));
        string redisName = (string)Call(client, "CLUSTER", "MYID");

        using var busListener = new TcpListener(IPAddress.Loopback, 0);
        busListener.Start();
        int fakeBusPort = ((IPEndPoint)busListener.LocalEndpoint).Port;
        Call(client, "CLUSTER", "MEET", "127.0.0.1", "7999", fakeBusPort.ToString());

        using Socket link = WaitFor("redis to connect to the fake peer", () => busListener.Pending() ? busListener.AcceptSocket() : null);
        link.ReceiveTimeout = 10_000;
        var first = ReadMessage(link);
        Assert.Equal(BusMessageType.Meet, first.Type);
        Assert.Equal(redisName, first.Sender);
        var sendLock = new object();
        void Send(BusMessage m) { lock (sendLock) link.Send(BusCodec.Encode(m)); }
        Send(FakeHeader(BusMessageType.Pong, fakeBusPort));

        int received = 1;
        using var stop = new CancellationTokenSource();
        var responder = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                BusMessage m;
                try { m = ReadMessage(link); } catch (Exception) when (stop.IsCancellationRequested) { return; }
                Interlocked.Increment(ref received);
                if (m.Type is BusMessageType.Ping or BusMessageType.Meet) Send(FakeHeader(BusMessageType.Pong, fakeBusPort));
            }
        });

        // CLUSTER NODES: "<name> <ip>:<port>@<cport>,<hostname> master - <ping> <pong> <epoch> connected 100-200"
        string line = WaitFor("redis to list the fake peer", () =>
            ((string)Call(client, "CLUSTER", "NODES")).Split('\n').FirstOrDefault(l =>
                l.StartsWith(FakeName, StringComparison.Ordinal) && l.Contains(" connected 100-200", StringComparison.Ordinal)));
        Assert.Contains($" 127.0.0.1:7999@{fakeBusPort},fake.example master - ", line);
        Assert.Contains(" 5 connected ", line); // our configEpoch
        string info = (string)Call(client, "CLUSTER", "INFO");
        Assert.Contains("cluster_current_epoch:6", info);

        using var subscriber = TryConnect(port)!;
        Assert.Equal("subscribe", ((object[])Call(subscriber, "SUBSCRIBE", "bus-news"))[0]);
        var publish = FakeHeader(BusMessageType.Publish, fakeBusPort);
        publish.Channel = "bus-news"u8.ToArray();
        publish.Payload = [.. "from\0the"u8, 0xFE, .. "bus"u8];
        Send(publish);
        var delivered = (object[])ReadReply(subscriber);
        Assert.Equal("message", delivered[0]);
        Assert.Equal("bus-news", delivered[1]);
        Assert.Equal(Encoding.Latin1.GetString(publish.Payload), delivered[2]);

        stop.Cancel();
        link.Shutdown(SocketShutdown.Both);
        responder.Wait(TimeSpan.FromSeconds(5));
        Assert.True(received >= 1);
    }

    private static BusMessage FakeHeader(BusMessageType type, int busPort)
    {
        var m = new BusMessage
        {
            Type = type, Sender = FakeName, Port = 7999, CPort = (ushort)busPort, CurrentEpoch = 6, ConfigEpoch = 5,
            Flags = NodeFlags.Master | NodeFlags.Myself, Hostname = BusCodec.IsPingLike(type) ? "fake.example" : null,
        };
        for (int slot = 100; slot <= 200; slot++) m.MySlots.Set(slot);
        return m;
    }

    // One whole packet off the socket, framed with PeekFrame and decoded (it must decode).
    private static BusMessage ReadMessage(Socket socket)
    {
        var buffer = new byte[BusCodec.FullHeaderLength];
        int have = 0;
        while (true)
        {
            var status = BusCodec.PeekFrame(buffer.AsSpan(0, have), 1 << 20, out int total);
            Assert.NotEqual(FrameStatus.Invalid, status);
            if (status == FrameStatus.Ready)
            {
                Assert.Equal(total, have);
                return BusCodec.Decode(buffer.AsSpan(0, total)) ?? throw new InvalidOperationException("redis sent a packet we refuse");
            }
            int want = have < 8 ? 8 : total;
            if (buffer.Length < want) Array.Resize(ref buffer, want);
            int n = socket.Receive(buffer, have, want - have, SocketFlags.None);
            if (n == 0) throw new IOException("bus link closed");
            have += n;
        }
    }

    // ------------------------------------------------------------ a minimal RESP client

    private static object Call(Socket socket, params string[] args)
    {
        var request = new StringBuilder($"*{args.Length}\r\n");
        foreach (string a in args) request.Append($"${Encoding.Latin1.GetByteCount(a)}\r\n{a}\r\n");
        socket.Send(Encoding.Latin1.GetBytes(request.ToString()));
        return ReadReply(socket);
    }

    private static object ReadReply(Socket socket)
    {
        string line = ReadLine(socket);
        return line[0] switch
        {
            '+' or ':' => line[1..],
            '-' => throw new InvalidOperationException(line),
            '$' => ReadBulk(socket, int.Parse(line[1..])),
            '*' => Enumerable.Range(0, int.Parse(line[1..])).Select(_ => ReadReply(socket)).ToArray(),
            _ => throw new InvalidOperationException("unexpected reply " + line),
        };
    }

    private static string ReadBulk(Socket socket, int length)
    {
        var data = new byte[length + 2];
        for (int have = 0; have < data.Length;)
        {
            int n = socket.Receive(data, have, data.Length - have, SocketFlags.None);
            if (n == 0) throw new IOException("closed");
            have += n;
        }
        return Encoding.Latin1.GetString(data, 0, length);
    }

    private static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        var one = new byte[1];
        while (!line.ToString().EndsWith("\r\n", StringComparison.Ordinal))
        {
            if (socket.Receive(one) == 0) throw new IOException("closed");
            line.Append((char)one[0]);
        }
        return line.ToString(0, line.Length - 2);
    }

    private static Socket? TryConnect(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10_000 };
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null;
        }
    }

    private static T WaitFor<T>(string what, Func<T?> probe) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline)
        {
            if (probe() is { } value) return value;
            Thread.Sleep(20);
        }
        throw new TimeoutException("timed out waiting for " + what);
    }

    private static int FreePortWithBusPort()
    {
        for (int attempt = 0; ; attempt++)
        {
            using var probe = new TcpListener(IPAddress.Loopback, 0);
            probe.Start();
            int port = ((IPEndPoint)probe.LocalEndpoint).Port;
            if (port > 55535) continue;
            try
            {
                using var bus = new TcpListener(IPAddress.Loopback, port + 10000);
                bus.Start();
                return port;
            }
            catch (SocketException) when (attempt < 50)
            {
            }
        }
    }

    public void Dispose()
    {
        if (_redis is { HasExited: false }) _redis.Kill();
        _redis?.WaitForExit(5000);
        _redis?.Dispose();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}
