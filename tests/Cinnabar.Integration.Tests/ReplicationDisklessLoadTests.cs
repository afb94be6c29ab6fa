using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// repl-diskless-load on a Cinnabar replica: the full sync's RDB saved to disk then loaded
/// (disabled), or parsed from the socket (on-empty-db when the dataset is empty; swapdb into a
/// separate dataset swapped in on success, so a broken transfer keeps the old data).
/// </summary>
public sealed class ReplicationDisklessLoadTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static string Field(RespConnection c, string section, string field)
    {
        foreach (var line in c.Call("INFO", section).ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    private static void Fill(RespConnection m, string prefix, int count)
    {
        for (int i = 0; i < count; i++) m.Send("SET", $"{prefix}:{i}", "value-" + i);
        for (int i = 0; i < count; i++) m.Read();
        m.Call("HSET", prefix + ":hash", "f1", "v1", "f2", "v2");
        m.Call("RPUSH", prefix + ":list", "a", "b", "c");
        m.Call("SADD", prefix + ":set", "x", "y");
        m.Call("ZADD", prefix + ":zset", "1", "one", "2.5", "two");
        m.Call("XADD", prefix + ":stream", "1-1", "field", "value");
        m.Call("SET", prefix + ":ttl", "v", "EX", "3600");
    }

    private static void AssertSameData(RespConnection m, RespConnection r, string prefix, int count)
    {
        Assert.Equal(m.Call("DBSIZE").Integer, r.Call("DBSIZE").Integer);
        for (int i = 0; i < count; i += 37) Assert.Equal("value-" + i, r.Call("GET", $"{prefix}:{i}").ToString());
        Assert.Equal("v2", r.Call("HGET", prefix + ":hash", "f2").ToString());
        Assert.Equal("[a,b,c]", r.Call("LRANGE", prefix + ":list", "0", "-1").ToString());
        Assert.Equal(2, r.Call("SCARD", prefix + ":set").Integer);
        Assert.Equal("2.5", r.Call("ZSCORE", prefix + ":zset", "two").ToString());
        Assert.Equal(1, r.Call("XLEN", prefix + ":stream").Integer);
        Assert.True(r.Call("PTTL", prefix + ":ttl").Integer > 0);
    }

    [Theory]
    [InlineData("disabled", false, true)]
    [InlineData("on-empty-db", false, true)]
    [InlineData("swapdb", false, true)]
    [InlineData("disabled", true, false)]
    [InlineData("on-empty-db", true, false)]
    [InlineData("swapdb", true, false)]
    [InlineData("swapdb", false, false)]
    public void Full_sync_gives_the_same_dataset_in_every_load_mode(string mode, bool redisMaster, bool disklessSync)
    {
        using var master = ServerProcess.Start(redisMaster, ["--repl-diskless-sync-delay", "0", "--repl-diskless-sync", disklessSync ? "yes" : "no"]);
        using var replica = ServerProcess.StartCinnabar("--repl-diskless-load", mode);
        using var m = master.Connect();
        using var r = replica.Connect();
        Fill(m, "dl", 3000);
        Assert.Equal("OK", r.Call("REPLICAOF", "127.0.0.1", master.Port).ToString());
        m.Call("SET", "dl:after", "written during the sync");
        Tools.WaitUntil(() => r.Call("GET", "dl:after").ToString() == "written during the sync", Deadline, "replica synced");
        AssertSameData(m, r, "dl", 3000);
        string target = mode == "disabled" ? "to disk" : "to parser";
        string receiving = disklessSync ? $"receiving streamed RDB from master with EOF {target}" : $"bytes from master {target}";
        // Output arrives through a pipe: wait for the last line before looking at the others.
        Tools.WaitUntil(() => replica.Output.Contains("MASTER <-> REPLICA sync: Finished with success", StringComparison.Ordinal), Deadline, "sync log line");
        Assert.Contains(receiving, replica.Output);
        Assert.Equal(mode == "swapdb", replica.Output.Contains("MASTER <-> REPLICA sync: Swapping active DB with loaded DB", StringComparison.Ordinal));
        // The link carries on with the command stream afterwards.
        m.Call("SET", "dl:later", "1");
        Tools.WaitUntil(() => r.Call("GET", "dl:later").ToString() == "1", Deadline, "stream after the load");
    }

    [Fact]
    public void On_empty_db_loads_through_disk_when_the_replica_has_data()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar("--repl-diskless-load", "on-empty-db");
        using var m = master.Connect();
        using var r = replica.Connect();
        Fill(m, "ne", 100);
        r.Call("SET", "ne:own", "1");
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => Field(r, "replication", "master_link_status") == "up", Deadline, "link up");
        AssertSameData(m, r, "ne", 100);
        Assert.True(r.Call("GET", "ne:own").IsNull);
        Tools.WaitUntil(() => replica.Output.Contains("MASTER <-> REPLICA sync: Finished with success", StringComparison.Ordinal), Deadline, "sync log line");
        Assert.Contains("receiving streamed RDB from master with EOF to disk", replica.Output);
    }

    /// <summary>
    /// A master slowed by rdb-key-save-delay (redis-server, or Cinnabar, which applies it to the
    /// RDB it streams) is killed while the replica parses its RDB: with swapdb the replica keeps
    /// its previous dataset, with on-empty-db it ends empty.
    /// </summary>
    [Theory]
    [InlineData("swapdb", true)]
    [InlineData("on-empty-db", true)]
    [InlineData("swapdb", false)]
    [InlineData("on-empty-db", false)]
    public void Master_killed_mid_transfer(string mode, bool redisMaster)
    {
        var master = ServerProcess.Start(redisMaster, ["--repl-diskless-sync-delay", "0", "--rdb-key-save-delay", "2000"]);
        try
        {
            using var replica = ServerProcess.StartCinnabar("--repl-diskless-load", mode);
            using var m = master.Connect();
            using var r = replica.Connect();
            Fill(m, "big", 20000);
            if (mode == "swapdb")
            {
                for (int i = 0; i < 50; i++) r.Call("SET", "old:" + i, "kept-" + i);
            }
            r.Call("REPLICAOF", "127.0.0.1", master.Port);
            Tools.WaitUntil(() => Field(r, "persistence", "loading") == "1", Deadline, "replica loading");
            Assert.Equal("LOADING Redis is loading the dataset in memory", r.Call("GET", "old:1").ToString());
            master.Kill();
            Tools.WaitUntil(() => replica.Output.Contains("Reconnecting to MASTER 127.0.0.1:" + master.Port + " after failure", StringComparison.Ordinal), Deadline, "load failure logged");
            Assert.Contains("Failed trying to load the MASTER synchronization DB from socket", replica.Output);
            Assert.Equal("0", Field(r, "persistence", "loading"));
            if (mode == "swapdb")
            {
                Assert.Contains("MASTER <-> REPLICA sync: Discarding temporary DB in background", replica.Output);
                Assert.Equal(50, r.Call("DBSIZE").Integer);
                Assert.Equal("kept-7", r.Call("GET", "old:7").ToString());
            }
            else
            {
                Assert.Equal(0, r.Call("DBSIZE").Integer);
            }
            Assert.Equal("down", Field(r, "replication", "master_link_status"));
        }
        finally
        {
            master.Dispose();
        }
    }

    /// <summary>
    /// swapdb with the same replication ID (a full resync from our own master after the backlog
    /// overflowed) is Redis's async loading: reads are answered from the old dataset meanwhile.
    /// </summary>
    [Fact]
    public void Swapdb_resync_from_the_same_master_serves_reads_while_loading()
    {
        using var master = ServerProcess.StartRedis("--repl-diskless-sync-delay", "0", "--repl-backlog-size", "16384");
        using var replica = ServerProcess.StartCinnabar("--repl-diskless-load", "swapdb");
        using var m = master.Connect();
        using var r = replica.Connect();
        // Big enough for the RDB to flow in several chunks while the master is slowed down.
        Fill(m, "as", 20000);
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("GET", "as:19999").ToString() == "value-19999", Deadline, "first sync");
        Signal(replica, "-STOP");
        try
        {
            // Drop the sleeping replica's link, then overflow the backlog: its PSYNC can no longer
            // continue, so the master answers FULLRESYNC with the same replication ID.
            m.Call("CLIENT", "KILL", "TYPE", "replica");
            string big = new('x', 8192);
            for (int i = 0; i < 8; i++) m.Call("SET", "as:big:" + i, big);
            m.Call("SET", "as:0", "changed");
            m.Call("CONFIG", "SET", "rdb-key-save-delay", "200");
        }
        finally
        {
            Signal(replica, "-CONT");
        }
        Tools.WaitUntil(() => Field(r, "persistence", "async_loading") == "1", Deadline, "async loading");
        Assert.Equal("0", Field(r, "persistence", "loading"));
        Assert.Equal("value-0", r.Call("GET", "as:0").ToString());
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "0");
        Tools.WaitUntil(() => r.Call("GET", "as:0").ToString() == "changed", TimeSpan.FromSeconds(120), "resync done");
        Assert.Equal("0", Field(r, "persistence", "async_loading"));
        Assert.Equal(m.Call("DBSIZE").Integer, r.Call("DBSIZE").Integer);
    }

    /// <summary>
    /// A master that sent the payload's header but not yet its bytes (its snapshot is starting):
    /// the replica is syncing, not loading, and still answers from its dataset. Loading (and
    /// -LOADING) starts with the first payload bytes; then the new dataset replaces the old.
    /// </summary>
    [Fact]
    public void Replica_is_not_loading_before_the_first_payload_bytes_arrive()
    {
        using var replica = ServerProcess.StartCinnabar("--repl-diskless-load", "swapdb");
        using var r = replica.Connect();
        r.Call("SET", "k", "old");
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
            r.Call("REPLICAOF", "127.0.0.1", port);
            var accept = listener.AcceptTcpClientAsync();
            Assert.True(accept.Wait(Deadline), "the replica never connected");
            using var link = accept.Result;
            var stream = link.GetStream();
            stream.ReadTimeout = 30000;
            var input = new BufferedStream(stream);
            void Send(string text) => stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
            // The handshake, answered as a master: PING, REPLCONF..., then PSYNC.
            while (true)
            {
                var cmd = ReadCommand(input);
                string name = cmd[0].ToUpperInvariant();
                if (name == "PING") Send("+PONG\r\n");
                else if (name == "REPLCONF") Send("+OK\r\n");
                else if (name == "PSYNC") break;
                else Send("-ERR unexpected\r\n");
            }
            string replId = new('a', 40), mark = new('m', 40);
            Send($"+FULLRESYNC {replId} 0\r\n\n\n$EOF:{mark}\r\n");
            Tools.WaitUntil(() => Field(r, "replication", "master_sync_in_progress") == "1", Deadline, "sync in progress");
            for (int i = 0; i < 10; i++)
            {
                Assert.Equal("0", Field(r, "persistence", "loading"));
                Assert.Equal("old", r.Call("GET", "k").ToString());
                Thread.Sleep(50);
            }
            // REDIS0010, SELECTDB 0, RESIZEDB 1 0, string k=new, EOF, checksum 0 (not checked).
            var rdb = new List<byte>(System.Text.Encoding.ASCII.GetBytes("REDIS0010"));
            rdb.AddRange([0xFE, 0x00, 0xFB, 0x01, 0x00, 0x00, 0x01, (byte)'k', 0x03, (byte)'n', (byte)'e', (byte)'w', 0xFF]);
            rdb.AddRange(new byte[8]);
            rdb.AddRange(System.Text.Encoding.ASCII.GetBytes(mark));
            stream.Write(rdb.ToArray());
            Tools.WaitUntil(() => r.Call("GET", "k").ToString() == "new", Deadline, "the new dataset");
            Assert.Equal("0", Field(r, "persistence", "loading"));
            Assert.Equal("0", Field(r, "replication", "master_sync_in_progress"));
            Assert.Equal(1, r.Call("DBSIZE").Integer);
        }
        finally
        {
            listener.Stop();
        }
    }

    private static string[] ReadCommand(Stream input)
    {
        string Line()
        {
            var sb = new System.Text.StringBuilder();
            int b;
            while ((b = input.ReadByte()) != '\n')
            {
                if (b < 0) throw new EndOfStreamException();
                if (b != '\r') sb.Append((char)b);
            }
            return sb.ToString();
        }
        string head = Line();
        Assert.StartsWith("*", head);
        var args = new string[int.Parse(head[1..])];
        for (int i = 0; i < args.Length; i++)
        {
            int len = int.Parse(Line()[1..]);
            var buf = new byte[len + 2];
            input.ReadExactly(buf);
            args[i] = System.Text.Encoding.UTF8.GetString(buf, 0, len);
        }
        return args;
    }

    private static void Signal(ServerProcess p, string signal) => Tools.Run("kill", [signal, p.Pid.ToString()]);
}
