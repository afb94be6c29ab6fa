using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>How a Cinnabar replica applies its master's stream: pauses, expiry, errors, sync start.</summary>
public sealed class ReplicationStreamTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static long Field(RespConnection c, string section, string field)
    {
        foreach (var line in c.Call("INFO", section).ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return long.Parse(line[(field.Length + 1)..]);
        return -1;
    }

    private static void WaitOnline(RespConnection replica) =>
        Tools.WaitUntil(() => replica.Call("ROLE").Items![3].ToString() == "connected", Deadline, "replica link up");

    private static void WaitCaughtUp(RespConnection m, RespConnection r) =>
        Tools.WaitUntil(() => Field(r, "replication", "slave_repl_offset") == Field(m, "replication", "master_repl_offset"), Deadline, "replica caught up");

    [Fact]
    public void Client_pause_write_on_a_replica_holds_the_masters_stream_until_unpause()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        WaitOnline(r);
        m.Call("SET", "pause:a", "1");
        WaitCaughtUp(m, r);
        long applied = Field(r, "replication", "slave_repl_offset");

        r.Call("CLIENT", "PAUSE", "100000", "WRITE");
        m.Call("SET", "pause:b", "2");
        long masterOffset = Field(m, "replication", "master_repl_offset");
        // Received (slave_read_repl_offset) but not applied (slave_repl_offset, the key).
        Tools.WaitUntil(() => Field(r, "replication", "slave_read_repl_offset") == masterOffset, Deadline, "replica read the write");
        Assert.Equal(applied, Field(r, "replication", "slave_repl_offset"));
        Assert.True(r.Call("GET", "pause:b").IsNull);

        r.Call("CLIENT", "UNPAUSE");
        WaitCaughtUp(m, r);
        Assert.Equal("2", r.Call("GET", "pause:b").ToString());
    }

    [Fact]
    public void Masters_write_to_a_logically_expired_key_keeps_it_and_its_ttl()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes");
        using var replica = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        WaitOnline(r);
        m.Call("DEBUG", "SET-ACTIVE-EXPIRE", "0");
        m.Call("SET", "exp:k", "1", "PX", "3000");
        WaitCaughtUp(m, r);
        // Hold the stream on the replica (CLIENT PAUSE) until the key is past its TTL there.
        r.Call("CLIENT", "PAUSE", "100000", "WRITE");
        m.Call("INCR", "exp:k");
        Thread.Sleep(3100);
        r.Call("CLIENT", "UNPAUSE");
        WaitCaughtUp(m, r);
        // The INCR applied to the existing value (its TTL kept): logically expired, still stored.
        Assert.Equal(0, r.Call("EXISTS", "exp:k").Integer);
        Assert.StartsWith("Value at:", r.Call("DEBUG", "OBJECT", "exp:k").ToString());
    }

    [Fact]
    public void An_error_from_the_masters_command_is_logged_as_critical()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        WaitOnline(r);
        Assert.Equal("OK", m.Call("DEBUG", "REPLICATE", "fake-command-1").ToString());
        m.Call("SET", "crit:a", "1");
        WaitCaughtUp(m, r);
        Tools.WaitUntil(() => replica.Output.Contains("== CRITICAL == This replica is sending an error to its master: 'ERR unknown command 'fake-command-1'", StringComparison.Ordinal),
            Deadline, "critical log line");
        Assert.Equal(1, Field(r, "stats", "unexpected_error_replies"));
    }

    [Fact]
    public void Diskless_sync_starts_before_the_delay_once_max_replicas_wait()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "60",
            "--repl-diskless-sync-max-replicas", "1");
        using var replica = ServerProcess.StartCinnabar();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        // Well before the 60 s delay.
        Tools.WaitUntil(() => r.Call("ROLE").Items![3].ToString() == "connected", TimeSpan.FromSeconds(15), "replica synced");
    }
    [Fact]
    public void A_restarted_master_sends_deletions_of_keys_that_expired_while_it_was_down()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-restart-").FullName;
        try
        {
            int port = ServerProcess.FreePort();
            using var replica = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
            using var r = replica.Connect();
            using (var master = ServerProcess.Start(false, ["--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes"], port: port, dir: dir))
            {
                using var m = master.Connect();
                r.Call("REPLICAOF", "127.0.0.1", port);
                WaitOnline(r);
                m.Call("DEBUG", "SET-ACTIVE-EXPIRE", "0");
                m.Call("SET", "restart:gone", "1", "PX", "200");
                m.Call("SET", "restart:kept", "1");
                WaitCaughtUp(m, r);
                Thread.Sleep(300);
                try { m.Call("SHUTDOWN", "SAVE"); } catch (IOException) { }
                Assert.True(master.WaitForExit(TimeSpan.FromSeconds(30)));
            }
            using var restarted = ServerProcess.Start(false, ["--repl-diskless-sync-delay", "0"], port: port, dir: dir);
            using var m2 = restarted.Connect();
            Assert.Equal(1, Field(m2, "persistence", "rdb_last_load_keys_expired"));
            // The replica continues partially and drops the key with the DEL from the backlog.
            Tools.WaitUntil(() => r.Call("DEBUG", "OBJECT", "restart:gone").ToString() == "ERR no such key", Deadline, "replica dropped the key");
            Assert.Equal(1, Field(m2, "stats", "sync_partial_ok"));
            Assert.Equal("1", r.Call("GET", "restart:kept").ToString());
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
