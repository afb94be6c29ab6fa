using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// The replica's handshake state and timeouts, what commands propagate as, AOF startup with
/// incr files only, and the crash report (Redis's integration/replication, aof, logging units).
/// </summary>
public sealed class ReplicationHandshakeTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void Replica_in_handshake_times_out_when_the_master_stops_sending()
    {
        // The master delays the RDB for long, so the replica stays in the handshake; the master's
        // keepalive newlines hold the link until the master sleeps.
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "1000", "--enable-debug-command", "yes");
        using var replica = ServerProcess.StartCinnabar("--repl-timeout", "3");
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("ROLE").Items![3].ToString() == "handshake", Deadline, "replica in handshake");
        // Keepalives: longer than repl-timeout in the handshake without timing out.
        Thread.Sleep(4500);
        Assert.DoesNotContain("Timeout connecting to the MASTER", replica.Output);
        m.Call("DEBUG", "SLEEP", "8");
        Tools.WaitUntil(() => replica.Output.Contains("Timeout connecting to the MASTER..."), Deadline, "handshake timeout logged");
    }

    [Fact]
    public void Getset_and_set_get_reach_the_replica_as_plain_set_and_flushdb_always_propagates()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("ROLE").Items![3].ToString() == "connected", Deadline, "replica link up");
        r.Call("CONFIG", "RESETSTAT");
        m.Call("SET", "k", "foo");
        Assert.Equal("foo", m.Call("GETSET", "k", "bar").ToString());
        Assert.Equal("bar", m.Call("SET", "k", "vaz", "GET").ToString());
        Tools.WaitUntil(() => r.Call("GET", "k").ToString() == "vaz", Deadline, "k = vaz on the replica");
        string stats = r.Call("INFO", "commandstats").ToString();
        Assert.Contains("cmdstat_set:calls=3,", stats);
        Assert.DoesNotContain("cmdstat_getset", stats);

        m.Call("FLUSHALL");
        long before = MasterOffset(m);
        m.Call("FLUSHDB");
        m.Call("FLUSHDB");
        // Each FLUSHDB of an empty db is in the stream: *1 $7 FLUSHDB, 17 bytes.
        Assert.True(MasterOffset(m) - before >= 34, "FLUSHDB on an empty db reached the replication stream");
    }

    [Fact]
    public void Client_kill_of_the_master_on_a_replica_drops_the_link_and_resyncs_partially()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("ROLE").Items![3].ToString() == "connected", Deadline, "replica link up");
        m.Call("SET", "a", "1");
        Tools.WaitUntil(() => r.Call("GET", "a").ToString() == "1", Deadline, "a on the replica");
        Assert.Equal(1, r.Call("CLIENT", "KILL", "TYPE", "master").Integer);
        // A transaction written while the link is down arrives whole after the partial resync.
        m.Call("MULTI");
        m.Call("SET", "b", "2");
        m.Call("INCR", "a");
        m.Call("EXEC");
        Tools.WaitUntil(() => r.Call("GET", "b").ToString() == "2" && r.Call("GET", "a").ToString() == "2", Deadline, "transaction on the replica");
        Assert.Contains("sync_partial_ok:1", m.Call("INFO", "stats").ToString());
    }

    private static long MasterOffset(RespConnection c)
    {
        foreach (var line in c.Call("INFO", "replication").ToString().Split("\r\n"))
            if (line.StartsWith("master_repl_offset:", StringComparison.Ordinal)) return long.Parse(line["master_repl_offset:".Length..]);
        return -1;
    }

    [Fact]
    public void Aof_with_only_an_incr_file_loads_it_and_keeps_it_as_the_history()
    {
        string dir = Path.Combine(Path.GetTempPath(), "cinnabar-aof-incr-" + Guid.NewGuid().ToString("N"));
        string aofDir = Path.Combine(dir, "appendonlydir");
        Directory.CreateDirectory(aofDir);
        try
        {
            static string Cmd(params string[] a) => $"*{a.Length}\r\n" + string.Concat(a.Select(x => $"${x.Length}\r\n{x}\r\n"));
            File.WriteAllText(Path.Combine(aofDir, "appendonly.aof.1.incr.aof"), Cmd("set", "foo", "hello"));
            File.WriteAllText(Path.Combine(aofDir, "appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n");
            using (var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
            using (var c = s.Connect())
                Assert.Equal("hello", c.Call("GET", "foo").ToString());
            // No base was made of the loaded data: replacing the incr file replaces the dataset.
            File.WriteAllText(Path.Combine(aofDir, "appendonly.aof.1.incr.aof"), Cmd("incr", "n") + Cmd("incr", "n"));
            using (var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
            using (var c = s.Connect())
            {
                Assert.Equal("2", c.Call("GET", "n").ToString());
                Assert.Equal(0, c.Call("EXISTS", "foo").Integer);
            }
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Fact]
    public void Debug_segfault_logs_a_crash_report_and_ends_the_process()
    {
        using var s = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using (var c = s.Connect())
        {
            try { c.Send("DEBUG", "SEGFAULT"); c.Read(); }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or InvalidOperationException or EndOfStreamException) { }
        }
        Assert.True(s.WaitForExit(Deadline), "the server exited");
        Assert.Contains("crashed by signal: 11", s.Output);
        Assert.Contains("------ STACK TRACE ------", s.Output);
        Assert.Contains("=== REDIS BUG REPORT END.", s.Output);
    }
}
