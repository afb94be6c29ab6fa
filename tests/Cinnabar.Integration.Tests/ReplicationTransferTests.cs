using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// The RDB transfer of a full sync behaves as Redis's BGSAVE child for replication: a child
/// process stands for it (killing it aborts the sync), a diskless round streams one RDB to all
/// its replicas (the rdb pipe), and a disk save nobody needs any more is stopped.
/// </summary>
public sealed class ReplicationTransferTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static string Field(RespConnection c, string section, string field)
    {
        foreach (var line in c.Call("INFO", section).ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    private static string LinkState(RespConnection replica) => replica.Call("ROLE").Items![3].ToString();

    private static void Fill(RespConnection c, string prefix, int count)
    {
        for (int i = 0; i < count; i++) c.Send("SET", prefix + i, "value-" + i);
        for (int i = 0; i < count; i++) c.Read();
    }

    [Fact]
    public void Killing_the_diskless_transfer_child_aborts_the_sync_and_the_replica_syncs_again()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0");
        using var replica = ServerProcess.StartRedis();
        using var m = master.Connect();
        using var r = replica.Connect();
        Fill(m, "xferkill:", 200);
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "100000");   // 20 s for 200 keys
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        int child = 0;
        Tools.WaitUntil(() => (child = BackgroundChildTests.ChildOf(master.Pid) ?? 0) != 0, Deadline, "no child process during the transfer");
        Tools.WaitUntil(() => master.Output.Contains($"Background RDB transfer started by pid {child}", StringComparison.Ordinal), Deadline, "no start line naming the child");
        Assert.Equal("1", Field(m, "persistence", "rdb_bgsave_in_progress"));
        Process.GetProcessById(child).Kill();
        Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "0", Deadline, "transfer still running after its child was killed");
        Tools.WaitUntil(() => master.Output.Contains("Background transfer terminated by signal 9", StringComparison.Ordinal), Deadline, "no termination line");
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "0");
        Tools.WaitUntil(() => LinkState(r) == "connected", Deadline, "replica never synced after the abort");
        Assert.Equal(200L, r.Call("DBSIZE").Integer);
    }

    [Fact]
    public void A_diskless_round_streams_one_rdb_to_all_its_replicas()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "5", "--repl-diskless-sync-max-replicas", "2");
        using var replica1 = ServerProcess.StartRedis();
        using var replica2 = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r1 = replica1.Connect();
        using var r2 = replica2.Connect();
        Fill(m, "xferround:", 500);
        r1.Call("REPLICAOF", "127.0.0.1", master.Port);
        r2.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => LinkState(r1) == "connected" && LinkState(r2) == "connected", Deadline, "replicas not synced");
        // The log reaches us through the process's stdout, a moment after it is written.
        Tools.WaitUntil(() => master.Output.Contains("Diskless rdb transfer, done reading from pipe, 2 replicas still up.", StringComparison.Ordinal), Deadline, "no pipe line");
        Assert.Equal(1, CountOf(master.Output, "Background RDB transfer started by pid"));
        m.Call("SET", "xferround:after", "1");
        Tools.WaitUntil(() => r1.Call("GET", "xferround:after").ToString() == "1" && r2.Call("GET", "xferround:after").ToString() == "1", Deadline, "stream after the RDB");
        Assert.Equal(501L, r1.Call("DBSIZE").Integer);
        Assert.Equal(501L, r2.Call("DBSIZE").Integer);
    }

    [Fact]
    public void A_diskless_transfer_whose_replicas_all_left_is_stopped()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0");
        using var m = master.Connect();
        Fill(m, "xferdrop:", 100);
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "100000");   // 10 s
        using (var replica = ServerProcess.StartRedis())
        {
            using var r = replica.Connect();
            r.Call("REPLICAOF", "127.0.0.1", master.Port);
            Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "1", Deadline, "transfer did not start");
        }
        Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "0", Deadline, "transfer outlived its last replica");
        Tools.WaitUntil(() => master.Output.Contains("Diskless rdb transfer, last replica dropped, killing fork child.", StringComparison.Ordinal), Deadline, "no last-replica line");
        Tools.WaitUntil(() => BackgroundChildTests.ChildOf(master.Pid) == null, Deadline, "the transfer's child outlived it");
    }

    [Fact]
    public void A_disk_save_for_replicas_is_killed_when_no_replica_waits_for_it_unless_save_points_exist()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync", "no");
        using var replica = ServerProcess.StartRedis();
        using var m = master.Connect();
        using var r = replica.Connect();
        Fill(m, "xferdisk:", 10);
        m.Call("CONFIG", "SET", "rdb-key-save-delay", "1000000");   // 10 s
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "1" && Field(m, "replication", "slave0").Contains("state=wait_bgsave", StringComparison.Ordinal), Deadline, "disk save did not start");
        r.Call("REPLICAOF", "NO", "ONE");
        Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "0", Deadline, "useless save not killed");

        m.Call("CONFIG", "SET", "save", "900 1");
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => Field(m, "persistence", "rdb_bgsave_in_progress") == "1" && Field(m, "replication", "slave0").Contains("state=wait_bgsave", StringComparison.Ordinal), Deadline, "second disk save did not start");
        r.Call("REPLICAOF", "NO", "ONE");
        Tools.WaitUntil(() => Field(m, "replication", "connected_slaves") == "0", Deadline, "replica still attached");
        Assert.Equal("1", Field(m, "persistence", "rdb_bgsave_in_progress"));
    }

    private static int CountOf(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + what.Length, StringComparison.Ordinal)) n++;
        return n;
    }
}

/// <summary>A partial resync after REPLICAOF to another master and back continues in the db the stream had selected.</summary>
public sealed class ReplicationStreamDbTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_partial_resync_after_switching_masters_keeps_the_selected_db()
    {
        using var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        using var other = ServerProcess.StartCinnabar();
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var o = other.Connect();
        using var r = replica.Connect();
        m.Call("SELECT", "9");
        m.Call("SET", "streamdb:a", "1");
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        r.Call("SELECT", "9");
        Tools.WaitUntil(() => r.Call("GET", "streamdb:a").ToString() == "1", Deadline, "first sync");
        // A master that refuses PSYNC (it is itself a replica without a link): our history stays cached.
        o.Call("REPLICAOF", "127.0.0.1", ServerProcess.FreePort());
        r.Call("REPLICAOF", "127.0.0.1", other.Port);
        m.Call("SET", "streamdb:b", "2");
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("GET", "streamdb:b").ToString() == "2", Deadline, "write made while away, in db 9");
        Assert.Contains("sync_partial_ok:1", m.Call("INFO", "stats").ToString(), StringComparison.Ordinal);
        r.Call("SELECT", "0");
        Assert.Equal(0L, r.Call("DBSIZE").Integer);
    }
}
