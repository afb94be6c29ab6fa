using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Redis 7.0's SHUTDOWN with lagging replicas (shutdown-timeout): the master pauses writes and
/// waits for every replica to acknowledge its offset before exiting, or until the timeout; SHUTDOWN
/// ABORT and a failed final step answer the blocked SHUTDOWN callers with an error.
/// The replica is SIGSTOPped so it cannot ACK (as tests/integration/shutdown.tcl does).
/// </summary>
public sealed class ShutdownReplicaWaitTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private static string Info(RespConnection c, string section, string field)
    {
        foreach (var line in c.Call("INFO", section).ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    private static void Signal(ServerProcess p, string signal) => Tools.Run("kill", [signal, p.Pid.ToString()]);

    private static void WaitLog(ServerProcess p, string text) =>
        Tools.WaitUntil(() => p.Output.Contains(text, StringComparison.Ordinal), Deadline, "log line: " + text);

    private static void WaitCaughtUp(RespConnection master, int replicaPort) =>
        Tools.WaitUntil(() =>
        {
            string offset = Info(master, "replication", "master_repl_offset");
            return master.Call("INFO", "replication").ToString().Contains($",port={replicaPort},state=online,offset={offset},", StringComparison.Ordinal);
        }, Deadline, "replica caught up");

    /// <summary>A master with one replica in sync on k=1, then the replica stopped and k incremented.</summary>
    private static void Prepare(ServerProcess master, ServerProcess replica, RespConnection m, RespConnection r, int timeoutSeconds)
    {
        m.Call("CONFIG", "SET", "shutdown-timeout", timeoutSeconds.ToString());
        m.Call("CONFIG", "SET", "hz", "100");
        m.Call("CONFIG", "SET", "save", "");
        Assert.Equal("OK", r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString()).ToString());
        Tools.WaitUntil(() => Info(r, "replication", "master_link_status") == "up", Deadline, "link up");
        m.Call("SET", "k", "1");
        WaitCaughtUp(m, replica.Port);
        Signal(replica, "-STOP");
        Assert.Equal(2, m.Call("INCR", "k").Integer);
    }

    /// <summary>
    /// Runs <paramref name="body"/> with a master and a stopped replica prepared by
    /// <see cref="Prepare"/>; the replica is always continued afterwards, so it can be stopped.
    /// </summary>
    private static void WithStoppedReplica(int timeoutSeconds, Action<ServerProcess, ServerProcess, RespConnection, RespConnection> body)
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        try
        {
            Prepare(master, replica, m, r, timeoutSeconds);
            body(master, replica, m, r);
        }
        finally
        {
            Signal(replica, "-CONT");
        }
    }

    private static void WaitShutdownPending(RespConnection m) =>
        Tools.WaitUntil(() => long.TryParse(Info(m, "server", "shutdown_in_milliseconds"), out long ms) && ms > 0, Deadline, "shutdown_in_milliseconds > 0");

    [Fact]
    public void A_stopped_replica_grows_the_replication_buffers_past_the_backlog()
    {
        WithStoppedReplica(10, (master, replica, m, r) =>
        {
            m.Call("CONFIG", "SET", "repl-backlog-size", "1");
            long before = long.Parse(Info(m, "memory", "mem_total_replication_buffers"));
            string value = new('v', 1024);
            // What the stopped replica cannot take queues up beyond the (16 KB) backlog: the
            // suite's shutdown tests fill the socket this way until the figure passes 2 MB.
            Tools.WaitUntil(() =>
            {
                for (int i = 0; i < 256; i++) m.Call("SET", "junk" + i, value);
                return long.Parse(Info(m, "memory", "mem_total_replication_buffers")) > before + 2 * 1024 * 1024;
            }, Deadline, "mem_total_replication_buffers > 2 MB");
            Signal(replica, "-CONT");
            WaitCaughtUp(m, replica.Port);
            Tools.WaitUntil(() => long.Parse(Info(m, "memory", "mem_total_replication_buffers")) < 1024 * 1024, Deadline, "buffers back to the backlog");
        });
    }

    [Fact]
    public void What_a_stopped_replica_holds_is_replica_memory_and_evicts_no_key()
    {
        WithStoppedReplica(10, (master, replica, m, r) =>
        {
            m.Call("CONFIG", "SET", "repl-backlog-size", "1");
            m.Call("CONFIG", "SET", "client-output-buffer-limit", "replica 100000000 100000000 300");
            string big = new('k', 10_000);
            for (int i = 0; i < 100; i++) m.Call("SET", "keep" + i, big);
            long used = long.Parse(Info(m, "memory", "used_memory"));
            long notCounted = long.Parse(Info(m, "memory", "mem_not_counted_for_evict"));
            m.Call("CONFIG", "SET", "maxmemory-policy", "allkeys-random");
            m.Call("CONFIG", "SET", "maxmemory", (used - notCounted + 1024 * 1024).ToString());
            string value = new('v', 1024);
            // Writes that add no data: what grows is the stream the replica cannot take.
            Tools.WaitUntil(() =>
            {
                for (int i = 0; i < 256; i++) m.Call("SETRANGE", "keep0", "0", value);
                return long.Parse(Info(m, "memory", "mem_clients_slaves")) > 3 * 1024 * 1024;
            }, Deadline, "mem_clients_slaves > 3 MB");
            Assert.Equal("0", Info(m, "stats", "evicted_keys"));
            Assert.Equal(101, m.Call("DBSIZE").Integer);
            Assert.True(long.Parse(Info(m, "memory", "mem_not_counted_for_evict")) >= long.Parse(Info(m, "memory", "mem_clients_slaves")));
            m.Call("CONFIG", "SET", "maxmemory", "0");
        });
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Master_waits_for_the_replica_to_catch_up(bool sigterm)
    {
        WithStoppedReplica(300, (master, replica, m, r) =>
        {
            using var sd = master.Connect();
            if (sigterm) Signal(master, "-TERM");
            else sd.Send("SHUTDOWN");
            WaitShutdownPending(m);
            if (!sigterm) Assert.Equal("1", Info(m, "clients", "blocked_clients"));
            // Writes are paused: a write waits (answered only after the shutdown finished, never).
            Assert.False(master.HasExited);
            Thread.Sleep(50);
            Assert.False(master.HasExited);
            Signal(replica, "-CONT");
            Assert.True(master.WaitForExit(Deadline), "master exited");
            Tools.WaitUntil(() => r.Call("GET", "k").ToString() == "2", Deadline, "replica got k=2");
            WaitLog(master, "ready to exit, bye bye");
            Assert.Contains("1 of 1 replicas are in sync when shutting down.", master.Output);
            Assert.DoesNotContain("Lagging replica", master.Output);
        });
    }

    [Fact]
    public void Master_exits_after_the_timeout_and_reports_the_lagging_replica()
    {
        WithStoppedReplica(1, (master, replica, m, r) =>
        {
            Signal(master, "-TERM");
            WaitShutdownPending(m);
            Assert.True(master.WaitForExit(Deadline), "master exited");
            WaitLog(master, "ready to exit, bye bye");
            Assert.Matches(@"Lagging replica 127\.0\.0\.1:\d+ reported offset \d+ behind master, lag=\d+, state=online\.", master.Output);
            Assert.Contains("0 of 1 replicas are in sync when shutting down.", master.Output);
        });
    }

    [Fact]
    public void Abort_answers_the_blocked_callers_and_resumes_writes()
    {
        WithStoppedReplica(300, (master, replica, m, r) =>
        {
            using var sd1 = master.Connect();
            using var sd2 = master.Connect();
            sd1.Send("SHUTDOWN");
            sd2.Send("SHUTDOWN");
            Tools.WaitUntil(() => Info(m, "clients", "blocked_clients") == "2", Deadline, "two blocked SHUTDOWN callers");
            WaitShutdownPending(m);
            // A write waits while the shutdown holds the write pause.
            using var w = master.Connect();
            w.Send("INCR", "k");
            Thread.Sleep(100);
            Assert.Equal("OK", m.Call("SHUTDOWN", "ABORT").ToString());
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", sd1.Read().ToString());
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", sd2.Read().ToString());
            Assert.Equal(3, w.Read().Integer);
            Assert.Equal("", Info(m, "server", "shutdown_in_milliseconds"));
            Assert.Equal("0", Info(m, "clients", "blocked_clients"));
            WaitLog(master, "Shutdown manually aborted.");
            Assert.Equal("ERR No shutdown in progress.", m.Call("SHUTDOWN", "ABORT").ToString());
            Signal(replica, "-CONT");
            Assert.False(master.HasExited);
            Assert.Equal("PONG", m.Call("PING").ToString());
        });
    }

    [Fact]
    public void A_failed_final_step_answers_the_blocked_callers_and_keeps_running()
    {
        WithStoppedReplica(300, (master, replica, m, r) =>
        {
            using var sd1 = master.Connect();
            using var sd2 = master.Connect();
            sd1.Send("SHUTDOWN");
            sd2.Send("SHUTDOWN");
            Tools.WaitUntil(() => Info(m, "clients", "blocked_clients") == "2", Deadline, "two blocked SHUTDOWN callers");
            // A very slow initial AOF rewrite keeps the shutdown from finishing.
            m.Call("CONFIG", "SET", "rdb-key-save-delay", "30000000");
            m.Call("CONFIG", "SET", "appendonly", "yes");
            Signal(replica, "-CONT");
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", sd1.Read().ToString());
            Assert.Equal("ERR Errors trying to SHUTDOWN. Check logs.", sd2.Read().ToString());
            WaitLog(master, "Errors trying to shut down the server. Check the logs for more information.");
            Assert.Contains("1 of 1 replicas are in sync when shutting down.", master.Output);
            Assert.Contains("Writing initial AOF, can't exit.", master.Output);
            Assert.False(master.HasExited);
            Assert.Equal(3, m.Call("INCR", "k").Integer);
            m.Send("SHUTDOWN", "NOSAVE", "FORCE");
            Assert.True(master.WaitForExit(Deadline), "master exited with FORCE");
        });
    }

    [Fact]
    public void A_signalled_wait_holds_writes_through_client_unpause_until_abort()
    {
        WithStoppedReplica(300, (master, replica, m, r) =>
        {
            Signal(master, "-TERM");
            WaitShutdownPending(m);
            using var w = master.Connect();
            w.Send("INCR", "k");
            Assert.Equal("OK", m.Call("CLIENT", "UNPAUSE").ToString());
            // The INCR stays postponed (counted as blocked, as Redis counts BLOCKED_POSTPONE).
            Thread.Sleep(200);
            Assert.Equal("1", Info(m, "clients", "blocked_clients"));
            Assert.Equal("2", m.Call("GET", "k").ToString());
            Assert.Equal("OK", m.Call("SHUTDOWN", "ABORT").ToString());
            Assert.Equal(3, w.Read().Integer);
            WaitLog(master, "Shutdown manually aborted.");
            Signal(replica, "-CONT");
            Tools.WaitUntil(() => r.Call("GET", "k").ToString() == "3", Deadline, "replica got k=3");
            Assert.False(master.HasExited);
            Assert.DoesNotContain("bye bye", master.Output);
        });
    }

    [Fact]
    public void Now_skips_the_wait()
    {
        WithStoppedReplica(300, (master, replica, m, r) =>
        {
            m.Send("SHUTDOWN", "NOW");
            Assert.True(master.WaitForExit(Deadline), "master exited");
            Assert.Contains("0 of 1 replicas are in sync when shutting down.", master.Output);
            Assert.DoesNotContain("Waiting for replicas before shutting down.", master.Output);
        });
    }
}
