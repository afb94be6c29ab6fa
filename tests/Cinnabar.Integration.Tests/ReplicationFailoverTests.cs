using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// FAILOVER (Redis 7.0's coordinated failover) between Cinnabar and redis-server in every
/// direction: the old master pauses writes, waits for the target's ACK, turns into its replica
/// and sends PSYNC ... FAILOVER, which makes the target promote itself.
/// </summary>
public sealed class ReplicationFailoverTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static string Info(RespConnection c, string field)
    {
        foreach (var line in c.Call("INFO", "replication").ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    private static long Stat(RespConnection c, string field)
    {
        foreach (var line in c.Call("INFO", "stats").ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return long.Parse(line[(field.Length + 1)..]);
        return -1;
    }

    private static void WaitFailoverState(RespConnection c, string state) =>
        Tools.WaitUntil(() => Info(c, "master_failover_state") == state, Deadline, "master_failover_state:" + state);

    private static void WaitLinkUp(RespConnection replica) =>
        Tools.WaitUntil(() => Info(replica, "master_link_status") == "up", Deadline, "master link up");

    private static void WaitForValue(RespConnection c, string key, string expected) =>
        Tools.WaitUntil(() => c.Call("GET", key).ToString() == expected, Deadline, $"{key} = {expected}");

    /// <summary>The master sees the replica online and acknowledging everything written so far.</summary>
    private static void WaitCaughtUp(RespConnection master, int replicaPort)
    {
        Tools.WaitUntil(() =>
        {
            string offset = Info(master, "master_repl_offset");
            foreach (var line in master.Call("INFO", "replication").ToString().Split("\r\n"))
                if (line.Contains($",port={replicaPort},state=online,offset={offset},", StringComparison.Ordinal)) return true;
            return false;
        }, Deadline, $"replica {replicaPort} caught up");
    }

    /// <summary>SIGSTOP / SIGCONT, as Redis's own failover tests pause a replica so it cannot ACK.</summary>
    private static void Signal(ServerProcess p, string signal) => Tools.Run("kill", [signal, p.Pid.ToString()]);

    private static void Replicate(RespConnection replica, ServerProcess master)
    {
        Assert.Equal("OK", replica.Call("REPLICAOF", "127.0.0.1", master.Port).ToString());
        WaitLinkUp(replica);
    }

    /// <summary>Server output arrives through a pipe, after the replies that follow it: wait for a line.</summary>
    private static void WaitLog(ServerProcess p, string text) =>
        Tools.WaitUntil(() => p.Output.Contains(text, StringComparison.Ordinal), Deadline, "log line: " + text);

    private static string Role(RespConnection c) => c.Call("ROLE").Items![0].ToString();

    [Theory]
    [InlineData(false, false, false)]
    [InlineData(false, true, false)]
    [InlineData(true, false, true)]
    [InlineData(false, false, true)]
    public void Failover_promotes_the_target_and_the_old_master_follows_it(bool redisMaster, bool redisTarget, bool redisOther)
    {
        using var a = ServerProcess.Start(redisMaster, ["--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600"]);
        using var b = ServerProcess.Start(redisTarget, ["--repl-diskless-sync-delay", "0"]);
        using var c = ServerProcess.Start(redisOther, ["--repl-diskless-sync-delay", "0"]);
        using var ca = a.Connect();
        using var cb = b.Connect();
        using var cc = c.Connect();
        ca.Call("SET", "fo:before", "1");
        ca.Call("HSET", "fo:hash", "f", "v");
        Replicate(cb, a);
        Replicate(cc, a);
        WaitCaughtUp(ca, b.Port);
        long partialBefore = Stat(cb, "sync_partial_ok");

        Assert.Equal("OK", ca.Call("FAILOVER", "TO", "127.0.0.1", b.Port).ToString());
        WaitFailoverState(ca, "no-failover");

        Assert.Equal("slave", Role(ca));
        Assert.Equal("master", Role(cb));
        Assert.Equal(b.Port.ToString(), Info(ca, "master_port"));
        WaitLinkUp(ca);
        // The old master continued partially from the target's secondary replication ID.
        Assert.Equal(partialBefore + 1, Stat(cb, "sync_partial_ok"));
        Assert.Equal("READONLY You can't write against a read only replica.", ca.Call("SET", "fo:x", "1").ToString());
        Assert.Equal("1", ca.Call("GET", "fo:before").ToString());
        Assert.Equal("v", cb.Call("HGET", "fo:hash", "f").ToString());
        // The other replica reconnects to the old master (now chained under the new one).
        cb.Call("SET", "fo:after", "2");
        WaitForValue(ca, "fo:after", "2");
        WaitForValue(cc, "fo:after", "2");
        Assert.Equal("1", cc.Call("GET", "fo:before").ToString());
        Assert.Equal(a.Port.ToString(), Info(cc, "master_port"));
        if (!redisMaster)
        {
            WaitLog(a, $"FAILOVER requested to 127.0.0.1:{b.Port}.");
            WaitLog(a, $"Failover target 127.0.0.1:{b.Port} is synced, failing over.");
        }
        if (!redisTarget)
        {
            WaitLog(b, "Failover request received for replid ");
            WaitLog(b, "MASTER MODE enabled (failover request from 'id=");
        }
    }

    [Fact]
    public void Failover_without_target_picks_the_replica_that_caught_up()
    {
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var b = ServerProcess.StartCinnabar();
        using var c = ServerProcess.StartCinnabar();
        using var ca = a.Connect();
        using var cb = b.Connect();
        using var cc = c.Connect();
        Replicate(cb, a);
        Replicate(cc, a);
        WaitCaughtUp(ca, b.Port);
        WaitCaughtUp(ca, c.Port);
        Signal(b, "-STOP");
        try
        {
            // b never acknowledges this write, so c is the only candidate.
            ca.Call("SET", "any:k", "v");
            Assert.Equal("OK", ca.Call("FAILOVER").ToString());
            WaitFailoverState(ca, "no-failover");
        }
        finally
        {
            Signal(b, "-CONT");
        }
        Assert.Equal("master", Role(cc));
        Assert.Equal(c.Port.ToString(), Info(ca, "master_port"));
        Assert.Equal("v", cc.Call("GET", "any:k").ToString());
        WaitLog(a, "FAILOVER requested to any replica.");
        WaitLog(a, $"Failover target 127.0.0.1:{c.Port} is synced, failing over.");
    }

    [Fact]
    public void Failover_with_timeout_aborts_when_the_target_never_catches_up_and_releases_paused_writes()
    {
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var b = ServerProcess.StartCinnabar();
        using var ca = a.Connect();
        using var cb = b.Connect();
        using var writer = a.Connect();
        Replicate(cb, a);
        WaitCaughtUp(ca, b.Port);
        Signal(b, "-STOP");
        try
        {
            ca.Call("SET", "to:k", "1");
            Assert.Equal("OK", ca.Call("FAILOVER", "TO", "127.0.0.1", b.Port, "TIMEOUT", "500").ToString());
            // Writes wait for the failover to end; reads are served meanwhile.
            writer.Send("SET", "to:paused", "yes");
            Assert.Equal("1", ca.Call("GET", "to:k").ToString());
            WaitFailoverState(ca, "no-failover");
            Assert.Equal("OK", writer.Read().ToString());
        }
        finally
        {
            Signal(b, "-CONT");
        }
        Assert.Equal("master", Role(ca));
        Assert.Equal("yes", ca.Call("GET", "to:paused").ToString());
        WaitLog(a, $"FAILOVER to 127.0.0.1:{b.Port} aborted: Replica never caught up before timeout");
        WaitForValue(cb, "to:paused", "yes");
    }

    [Fact]
    public void Failover_force_fails_over_after_the_timeout()
    {
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var b = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var ca = a.Connect();
        using var cb = b.Connect();
        ca.Call("SET", "force:k", "1");
        Replicate(cb, a);
        WaitCaughtUp(ca, b.Port);
        Signal(b, "-STOP");
        try
        {
            ca.Call("SET", "force:late", "1");
            Assert.Equal("OK", ca.Call("FAILOVER", "TO", "127.0.0.1", b.Port, "TIMEOUT", "100", "FORCE").ToString());
            WaitFailoverState(ca, "failover-in-progress");
            // Never two masters: the old one is already a replica of the target.
            Assert.Equal("slave", Role(ca));
        }
        finally
        {
            Signal(b, "-CONT");
        }
        WaitFailoverState(ca, "no-failover");
        Assert.Equal("master", Role(cb));
        WaitLinkUp(ca);
        Assert.Equal("1", ca.Call("GET", "force:k").ToString());
        WaitLog(a, $"FAILOVER to 127.0.0.1:{b.Port} time out exceeded, failing over.");
    }

    [Fact]
    public void Failover_abort_and_replicaof_while_waiting_for_sync()
    {
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var b = ServerProcess.StartCinnabar();
        using var ca = a.Connect();
        using var cb = b.Connect();
        using var writer = a.Connect();
        Replicate(cb, a);
        WaitCaughtUp(ca, b.Port);
        Signal(b, "-STOP");
        try
        {
            ca.Call("SET", "ab:k", "1");
            Assert.Equal("OK", ca.Call("FAILOVER", "TO", "127.0.0.1", b.Port, "TIMEOUT", "60000").ToString());
            Assert.Equal("waiting-for-sync", Info(ca, "master_failover_state"));
            writer.Send("INCR", "ab:counter");
            Assert.Equal("ERR FAILOVER already in progress.", ca.Call("FAILOVER").ToString());
            Assert.Equal("ERR REPLICAOF not allowed while failing over.", ca.Call("REPLICAOF", "127.0.0.1", b.Port).ToString());
            Assert.Equal("ERR REPLICAOF not allowed while failing over.", ca.Call("REPLICAOF", "NO", "ONE").ToString());
            Assert.Equal("OK", ca.Call("FAILOVER", "ABORT").ToString());
            Assert.Equal("no-failover", Info(ca, "master_failover_state"));
            Assert.Equal(1, writer.Read().Integer);
            Assert.Equal("ERR No failover in progress.", ca.Call("FAILOVER", "ABORT").ToString());
        }
        finally
        {
            Signal(b, "-CONT");
        }
        Assert.Equal("master", Role(ca));
        WaitLog(a, $"FAILOVER to 127.0.0.1:{b.Port} aborted: Failover manually aborted");
        WaitForValue(cb, "ab:counter", "1");
    }

    [Fact]
    public void Failover_aborts_when_the_target_rejects_psync()
    {
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var b = ServerProcess.StartRedis();
        using var ca = a.Connect();
        using var cb = b.Connect();
        Replicate(cb, a);
        ca.Call("SET", "rej:k", "1");
        WaitCaughtUp(ca, b.Port);
        Assert.Equal("OK", cb.Call("ACL", "SETUSER", "default", "-psync").ToString());
        Assert.Equal("OK", ca.Call("FAILOVER", "TO", "127.0.0.1", b.Port).ToString());
        WaitFailoverState(ca, "no-failover");
        Assert.Equal("master", Role(ca));
        WaitLog(a, $"FAILOVER to 127.0.0.1:{b.Port} aborted: Failover target rejected psync request");
        Assert.Equal("OK", cb.Call("ACL", "SETUSER", "default", "+psync").ToString());
        // The replica reconnects to the master again (a new replication ID, continued partially).
        Assert.Equal("OK", ca.Call("SET", "rej:after", "2").ToString());
        WaitForValue(cb, "rej:after", "2");
        Assert.Equal("1", cb.Call("GET", "rej:k").ToString());
    }

    /// <summary>Argument validation and refusals, side by side with redis-server (same replies byte for byte).</summary>
    [Fact]
    public void Failover_argument_errors_match_redis()
    {
        string[][] noReplica =
        [
            ["FAILOVER"], ["FAILOVER", "ABORT"], ["FAILOVER", "TIMEOUT", "0"], ["FAILOVER", "TIMEOUT", "-5"],
            ["FAILOVER", "TIMEOUT", "abc"], ["FAILOVER", "TO", "127.0.0.1", "abc"], ["FAILOVER", "FORCE"],
            ["FAILOVER", "FORCE", "FORCE"], ["FAILOVER", "TO"], ["FAILOVER", "TO", "1.2.3.4"], ["FAILOVER", "ABORT", "ABORT"],
            ["FAILOVER", "TIMEOUT", "10", "TIMEOUT", "10"], ["FAILOVER", "foo"], ["FAILOVER", "TO", "a", "1", "TO", "b", "2"],
            ["FAILOVER", "TIMEOUT", "99999999999999999999"], ["PSYNC", "x", "1", "FAILOVER"],
        ];
        string[][] withReplica =
        [
            ["FAILOVER", "FORCE"], ["FAILOVER", "FORCE", "TIMEOUT", "100"], ["FAILOVER", "TO", "127.0.0.1", "{rport}", "FORCE"],
            ["FAILOVER", "TO", "localhost", "{rport}"], ["FAILOVER", "TO", "127.0.0.1", "1"],
        ];
        string[][] onReplica = [["FAILOVER"], ["FAILOVER", "TO", "127.0.0.1", "1"], ["PSYNC", "not-my-replid", "1", "FAILOVER"]];
        var results = new List<string>[2];
        for (int i = 0; i < 2; i++)
        {
            bool redis = i == 1;
            using var m = ServerProcess.Start(redis, ["--repl-diskless-sync-delay", "0"]);
            using var r = ServerProcess.Start(redis, []);
            using var cm = m.Connect();
            using var cr = r.Connect();
            var got = results[i] = new List<string>();
            foreach (var cmd in noReplica) got.Add(string.Join(' ', cmd) + " => " + cm.Call(cmd).ToString());
            Replicate(cr, m);
            WaitCaughtUp(cm, r.Port);
            foreach (var cmd in withReplica)
            {
                var args = cmd.Select(x => x.Replace("{rport}", r.Port.ToString())).ToArray();
                got.Add(string.Join(' ', cmd) + " => " + cm.Call(args).ToString());
            }
            foreach (var cmd in onReplica) got.Add("replica: " + string.Join(' ', cmd) + " => " + cr.Call(cmd).ToString());
            Assert.Equal("no-failover", Info(cm, "master_failover_state"));
        }
        Assert.Equal(results[1], results[0]);
    }
}
