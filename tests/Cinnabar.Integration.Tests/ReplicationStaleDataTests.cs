using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>replica-serve-stale-data no: a replica without its master answers -MASTERDOWN, side by side with redis-server.</summary>
public sealed class ReplicationStaleDataTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private const string MasterDown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";

    private static readonly string[][] Commands =
    [
        ["GET", "k"], ["SET", "k", "1"], ["PING"], ["DBSIZE"], ["ECHO", "hi"], ["SELECT", "1"], ["SELECT", "0"],
        ["EVAL", "return 1", "0"], ["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn 1", "0"],
        ["EVAL", "#!lua flags=allow-stale,no-writes\nreturn redis.call('echo', 'x')", "0"],
        ["EVALSHA", "0123456789012345678901234567890123456789", "0"],
        ["FCALL", "nofunc", "0"], ["PUBLISH", "ch", "x"], ["WAIT", "0", "0"], ["FLUSHALL"], ["MEMORY", "USAGE", "k"],
        ["OBJECT", "HELP"], ["CONFIG", "GET", "replica-serve-stale-data"], ["TYPE", "k"], ["SCAN", "0"],
        ["MULTI"], ["GET", "k"], ["ECHO", "x"], ["EXEC"],
        ["MULTI"], ["ECHO", "x"], ["EXEC"],
    ];

    private static List<string> Run(RespConnection c)
    {
        var got = new List<string>();
        foreach (var cmd in Commands) got.Add(string.Join(' ', cmd) + " => " + c.Call(cmd));
        return got;
    }

    [Fact]
    public void Replica_without_its_master_refuses_commands_not_flagged_stale_like_redis()
    {
        int nobody = ServerProcess.FreePort();
        var results = new List<string>[2];
        for (int i = 0; i < 2; i++)
        {
            using var replica = ServerProcess.Start(i == 1, ["--replica-serve-stale-data", "no"]);
            using var c = replica.Connect();
            c.Call("SET", "k", "v");
            Assert.Equal("OK", c.Call("REPLICAOF", "127.0.0.1", nobody).ToString());
            results[i] = Run(c);
            Assert.Contains("GET k => " + MasterDown, results[i]);
        }
        Assert.Equal(results[1], results[0]);
    }

    [Fact]
    public void Replica_serves_data_while_linked_and_refuses_it_once_the_master_is_gone()
    {
        var master = ServerProcess.StartCinnabar("--repl-diskless-sync-delay", "0");
        try
        {
            using var replica = ServerProcess.StartCinnabar("--replica-serve-stale-data", "no");
            using var m = master.Connect();
            using var r = replica.Connect();
            m.Call("SET", "stale:k", "v");
            r.Call("REPLICAOF", "127.0.0.1", master.Port);
            Tools.WaitUntil(() => r.Call("GET", "stale:k").ToString() == "v", Deadline, "replica serves stale:k");
            master.Kill();
            Tools.WaitUntil(() => r.Call("GET", "stale:k").ToString() == MasterDown, Deadline, "MASTERDOWN after the master died");
            Assert.Equal(MasterDown, r.Call("PING").ToString());
            Assert.Equal("x", r.Call("ECHO", "x").ToString());
            Assert.Contains("master_link_status:down", r.Call("INFO", "replication").ToString());
            // CONFIG SET is allowed (stale flag) and turns serving stale data back on.
            Assert.Equal("OK", r.Call("CONFIG", "SET", "replica-serve-stale-data", "yes").ToString());
            Assert.Equal("v", r.Call("GET", "stale:k").ToString());
        }
        finally
        {
            master.Dispose();
        }
    }
}
