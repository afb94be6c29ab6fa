using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// A replication link carries no replies: a replica client whose command produced one is
/// disconnected with Redis's log lines; PSYNC with a non-integer offset is an error, not a sync.
/// Each case runs against redis-server and Cinnabar alike.
/// </summary>
public sealed class ReplicaLinkGuardTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_replica_sending_a_keyspace_command_is_disconnected_and_the_error_logged(bool redis)
    {
        // A long diskless delay: nothing is written on the link while the test runs.
        using var s = ServerProcess.Start(redis, ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "60"]);
        using var rogue = s.Connect();
        using var c = s.Connect();
        rogue.Send("PSYNC", "replicationid", "-1");
        rogue.Send("GET", "guard:foo");
        Tools.WaitUntil(() => s.Output.Contains("Replica generated a reply to command 'get', disconnecting it: ", StringComparison.Ordinal), Deadline, "no disconnection line");
        Tools.WaitUntil(() => s.Output.Contains("== CRITICAL == This master is sending an error to its replica: 'Replica can't interact with the keyspace' after processing the command 'get'", StringComparison.Ordinal), Deadline, "no CRITICAL line");
        Assert.Equal("PONG", c.Call("PING").ToString());
        Tools.WaitUntil(() => c.Call("INFO", "replication").ToString().Contains("connected_slaves:0", StringComparison.Ordinal), Deadline, "rogue replica still attached");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_replica_whose_command_replies_is_disconnected(bool redis)
    {
        using var s = ServerProcess.Start(redis, ["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "60"]);
        using var rogue = s.Connect();
        using var c = s.Connect();
        rogue.Send("SYNC");
        rogue.Send("XINFO", "HELP");
        Tools.WaitUntil(() => s.Output.Contains("Replica generated a reply to command 'xinfo|help', disconnecting it: ", StringComparison.Ordinal), Deadline, "no disconnection line");
        Assert.Equal("PONG", c.Call("PING").ToString());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Psync_with_a_non_integer_offset_is_refused(bool redis)
    {
        using var s = ServerProcess.Start(redis, []);
        using var c = s.Connect();
        Assert.Equal("ERR value is not an integer or out of range", c.Call("PSYNC", "replicationid", "offset_str").ToString());
        Tools.WaitUntil(() => s.Output.Contains("asks for synchronization but with a wrong offset", StringComparison.Ordinal), Deadline, "no log line");
        Assert.Equal("PONG", c.Call("PING").ToString());
        Assert.Contains("connected_slaves:0", c.Call("INFO", "replication").ToString(), StringComparison.Ordinal);
    }
}

/// <summary>watchdog-period: a server that does not get back to its cron in time logs the watchdog line.</summary>
public sealed class SoftwareWatchdogTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_stalled_server_logs_the_watchdog_line(bool redis)
    {
        using var s = ServerProcess.Start(redis, ["--enable-debug-command", "yes"]);
        using var c = s.Connect();
        Assert.Equal("OK", c.Call("CONFIG", "SET", "watchdog-period", "200").ToString());
        Assert.Equal("OK", c.Call("DEBUG", "SLEEP", "1").ToString());
        Tools.WaitUntil(() => s.Output.Contains("--- WATCHDOG TIMER EXPIRED ---", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "no watchdog line");
        Assert.Equal("OK", c.Call("CONFIG", "SET", "watchdog-period", "0").ToString());
    }
}
