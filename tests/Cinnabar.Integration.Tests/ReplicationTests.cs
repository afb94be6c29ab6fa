using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Replication between Cinnabar and Debian's redis-server 7.0, in both directions.</summary>
public sealed class ReplicationTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static void WaitForValue(RespConnection c, string key, string expected) =>
        Tools.WaitUntil(() => c.Call("GET", key).ToString() == expected, Deadline, $"{key} = {expected}");

    private static long Offset(RespConnection c, string field)
    {
        foreach (var line in c.Call("INFO", "replication").ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return long.Parse(line[(field.Length + 1)..]);
        return -1;
    }

    private static void WaitOnline(RespConnection replica) =>
        Tools.WaitUntil(() => replica.Call("ROLE").Items![3].ToString() == "connected", Deadline, "replica link up");

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Replica_follows_master_under_write_load(bool cinnabarMaster, bool cinnabarReplica)
    {
        using var master = ServerProcess.Start(!cinnabarMaster, ["--repl-diskless-sync-delay", "0"]);
        using var replica = ServerProcess.Start(!cinnabarReplica, []);
        using var m = master.Connect();
        using var r = replica.Connect();
        for (int i = 0; i < 2000; i++) m.Send("SET", "load:" + i, i);
        for (int i = 0; i < 2000; i++) m.Read();
        m.Call("HSET", "load:h", "f", "v");
        m.Call("SADD", "load:s", "1", "2", "3");
        Assert.Equal("OK", r.Call("REPLICAOF", "127.0.0.1", master.Port).ToString());
        // Writes continue while the full sync runs.
        for (int i = 2000; i < 4000; i++) m.Call("SET", "load:" + i, i);
        m.Call("SET", "load:done", "yes");
        WaitForValue(r, "load:done", "yes");
        Assert.Equal(m.Call("DBSIZE").Integer, r.Call("DBSIZE").Integer);
        for (int i = 0; i < 4000; i += 97) Assert.Equal(i.ToString(), r.Call("GET", "load:" + i).ToString());
        Assert.Equal("v", r.Call("HGET", "load:h", "f").ToString());
        Assert.Equal("READONLY You can't write against a read only replica.", r.Call("SET", "x", "1").ToString());
    }

    [Fact]
    public void Cinnabar_replica_partially_resyncs_after_the_master_drops_the_link()
    {
        using var master = ServerProcess.StartRedis("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        m.Call("SET", "pr:a", "1");
        WaitForValue(r, "pr:a", "1");
        m.Call("CLIENT", "KILL", "TYPE", "replica");
        m.Call("SET", "pr:b", "2");
        WaitForValue(r, "pr:b", "2");
        var stats = m.Call("INFO", "stats").ToString();
        Assert.Contains("sync_partial_ok:1", stats);
        Assert.Contains("sync_full:1", stats);
    }

    [Fact]
    public void Redis_replica_partially_resyncs_with_a_cinnabar_master()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartRedis();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        m.Call("SET", "pr2:a", "1");
        WaitForValue(r, "pr2:a", "1");
        r.Call("CLIENT", "KILL", "TYPE", "master");
        m.Call("SET", "pr2:b", "2");
        WaitForValue(r, "pr2:b", "2");
        Assert.Contains("sync_partial_ok:1", r.Call("INFO", "stats").ToString() + m.Call("INFO", "stats").ToString());
    }

    [Fact]
    public void Wait_counts_acknowledging_replicas()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var r1 = ServerProcess.StartRedis();
        using var r2 = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var c1 = r1.Connect();
        using var c2 = r2.Connect();
        c1.Call("REPLICAOF", "127.0.0.1", master.Port);
        c2.Call("REPLICAOF", "127.0.0.1", master.Port);
        m.Call("SET", "w:a", "1");
        WaitForValue(c1, "w:a", "1");
        WaitForValue(c2, "w:a", "1");
        m.Call("SET", "w:b", "2");
        Assert.Equal(2, m.Call("WAIT", "2", "5000").Integer);
        Assert.Equal(2, m.Call("WAIT", "3", "300").Integer);
    }

    [Fact]
    public void Promoted_cinnabar_replica_lets_its_former_sibling_partially_resync()
    {
        // No periodic master PING during the test: a PING reaching only one replica around the
        // promotion would rightly turn the partial resync into a full one.
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0", "--repl-ping-replica-period", "3600");
        using var a = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var b = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var ca = a.Connect();
        using var cb = b.Connect();
        ca.Call("REPLICAOF", "127.0.0.1", master.Port);
        cb.Call("REPLICAOF", "127.0.0.1", master.Port);
        m.Call("SET", "p2:a", "1");
        WaitForValue(ca, "p2:a", "1");
        WaitForValue(cb, "p2:a", "1");
        WaitOnline(cb);
        // Both replicas must have processed the same stream before the promotion (the master's
        // periodic PING advances offsets), otherwise a partial resync is rightly refused.
        Tools.WaitUntil(() =>
        {
            long mo = Offset(m, "master_repl_offset");
            return Offset(ca, "master_repl_offset") == mo && Offset(cb, "master_repl_offset") == mo;
        }, Deadline, "replicas caught up");
        ca.Call("REPLICAOF", "NO", "ONE");
        cb.Call("REPLICAOF", "127.0.0.1", a.Port);
        ca.Call("SET", "p2:b", "2");
        WaitForValue(cb, "p2:b", "2");
        Tools.WaitUntil(() => b.Output.Contains("Successful partial resynchronization with master.", StringComparison.Ordinal), Deadline, "partial resync log line");
    }

    [Fact]
    public void Replica_restarted_from_its_rdb_resumes_with_a_partial_resync()
    {
        using var master = ServerProcess.StartRedis("--repl-diskless-sync-delay", "0");
        using var m = master.Connect();
        var dir = Directory.CreateTempSubdirectory("cinnabar-replica-").FullName;
        try
        {
            using (var replica = ServerProcess.Start(false, ["--replicaof", "127.0.0.1", master.Port.ToString()], dir: dir))
            {
                using var r = replica.Connect();
                m.Call("SET", "rr:a", "1");
                WaitForValue(r, "rr:a", "1");
                Assert.Equal("OK", r.Call("SAVE").ToString());
                replica.Kill();
            }
            m.Call("SET", "rr:b", "2");
            using var again = ServerProcess.Start(false, ["--replicaof", "127.0.0.1", master.Port.ToString()], dir: dir);
            using var r2 = again.Connect();
            WaitForValue(r2, "rr:b", "2");
            Assert.Contains("sync_partial_ok:1", m.Call("INFO", "stats").ToString());
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
