using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Blocking list commands with several real connections: timeouts, FIFO fairness, wake-ups, chains.</summary>
public sealed class BlockingListTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public BlockingListTests(CinnabarFixture f) => _f = f;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Sends a blocking command and waits until the server has executed it. The command is sent
    /// in one write after a probe RPUSH, and once INFO reports one more blocked client (or, where
    /// INFO is not available, once the probe is visible) the client is parked.
    /// </summary>
    private void SendBlocking(RespConnection c, string probe, int blockedBefore, params object[] command)
    {
        var bytes = new MemoryStream();
        bytes.Write(RespConnection.Encode("RPUSH", probe, "1"));
        bytes.Write(RespConnection.Encode(command));
        c.SendRaw(bytes.ToArray());
        Assert.Equal(":1", ReadTyped(c));
        using var ctl = _f.Server.Connect();
        Tools.WaitUntil(() =>
        {
            int? blocked = BlockedClients(ctl);
            return blocked == null ? ctl.Call("LLEN", probe).Integer == 1 : blocked >= blockedBefore + 1;
        }, Deadline, "client to block");
    }

    private static string ReadTyped(RespConnection c)
    {
        var r = c.Read();
        return r.Type == ':' ? ":" + r.Integer : r.ToString();
    }

    private static int? BlockedClients(RespConnection ctl)
    {
        var info = ctl.Call("INFO", "clients");
        if (info.IsError) return null;
        foreach (var line in info.ToString().Split("\r\n"))
            if (line.StartsWith("blocked_clients:", StringComparison.Ordinal)) return int.Parse(line.AsSpan(16));
        return null;
    }

    private int Blocked()
    {
        using var ctl = _f.Server.Connect();
        return BlockedClients(ctl) ?? 0;
    }

    [Fact]
    public void Blpop_times_out_with_null_array_after_its_deadline()
    {
        using var c = _f.Server.Connect();
        var sw = Stopwatch.StartNew();
        var raw = c.CallRaw("BLPOP", "bl:timeout:none", "0.3");
        sw.Stop();
        Assert.Equal("*-1\r\n", System.Text.Encoding.ASCII.GetString(raw));
        Assert.True(sw.ElapsedMilliseconds >= 250, $"returned after {sw.ElapsedMilliseconds} ms");
        Assert.True(sw.ElapsedMilliseconds < 5000, $"returned after {sw.ElapsedMilliseconds} ms");
        // The connection keeps working after a timeout.
        Assert.Equal("PONG", c.Call("PING").ToString());
    }

    [Fact]
    public void Blmove_timeout_in_resp3_is_null()
    {
        using var c = _f.Server.Connect();
        c.Call("HELLO", "3");
        Assert.Equal("_\r\n", System.Text.Encoding.ASCII.GetString(c.CallRaw("BLMOVE", "bl:t3:src", "bl:t3:dst", "LEFT", "RIGHT", "0.05")));
    }

    [Fact]
    public void Three_blocked_clients_are_served_first_come_first_served()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        using var c = _f.Server.Connect();
        int before = Blocked();
        SendBlocking(a, "bl:fifo:pa", before, "BLPOP", "bl:fifo", "0");
        SendBlocking(b, "bl:fifo:pb", before + 1, "BLPOP", "bl:fifo", "0");
        SendBlocking(c, "bl:fifo:pc", before + 2, "BLPOP", "bl:fifo", "0");
        using var pusher = _f.Server.Connect();
        Assert.Equal(3, pusher.Call("RPUSH", "bl:fifo", "1", "2", "3").Integer);
        Assert.Equal("[bl:fifo,1]", a.Read().ToString());
        Assert.Equal("[bl:fifo,2]", b.Read().ToString());
        Assert.Equal("[bl:fifo,3]", c.Read().ToString());
        Assert.Equal(0, pusher.Call("LLEN", "bl:fifo").Integer);
    }

    [Fact]
    public void Push_wakes_blocked_client_and_pusher_sees_length_after_push()
    {
        using var a = _f.Server.Connect();
        SendBlocking(a, "bl:wake:p", Blocked(), "BRPOP", "bl:wake:other", "bl:wake", "0");
        using var pusher = _f.Server.Connect();
        Assert.Equal(2, pusher.Call("LPUSH", "bl:wake", "x", "y").Integer);
        Assert.Equal("[bl:wake,x]", a.Read().ToString());
        Assert.Equal("[y]", pusher.Call("LRANGE", "bl:wake", "0", "-1").ToString());
    }

    [Fact]
    public void Blocked_client_is_served_before_the_next_pipelined_command_of_the_pusher()
    {
        using var a = _f.Server.Connect();
        SendBlocking(a, "bl:pipe:p", Blocked(), "BLPOP", "bl:pipe", "0");
        using var pusher = _f.Server.Connect();
        var batch = new MemoryStream();
        batch.Write(RespConnection.Encode("LPUSH", "bl:pipe", "x", "y", "z"));
        batch.Write(RespConnection.Encode("LPOP", "bl:pipe"));
        pusher.SendRaw(batch.ToArray());
        Assert.Equal(3, pusher.Read().Integer);
        Assert.Equal("y", pusher.Read().ToString());
        Assert.Equal("[bl:pipe,z]", a.Read().ToString());
    }

    [Fact]
    public void Blmove_into_a_waited_key_wakes_the_next_client_in_the_chain()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        int before = Blocked();
        SendBlocking(a, "bl:chain:pa", before, "BLMOVE", "bl:chain:1", "bl:chain:2", "LEFT", "RIGHT", "0");
        SendBlocking(b, "bl:chain:pb", before + 1, "BRPOPLPUSH", "bl:chain:2", "bl:chain:3", "0");
        using var pusher = _f.Server.Connect();
        Assert.Equal(1, pusher.Call("RPUSH", "bl:chain:1", "v").Integer);
        Assert.Equal("v", a.Read().ToString());
        Assert.Equal("v", b.Read().ToString());
        Assert.Equal("[v]", pusher.Call("LRANGE", "bl:chain:3", "0", "-1").ToString());
        Assert.Equal(0, pusher.Call("LLEN", "bl:chain:1").Integer);
        Assert.Equal(0, pusher.Call("LLEN", "bl:chain:2").Integer);
    }

    [Fact]
    public void Blmpop_wakes_with_up_to_count_elements_from_the_first_ready_key()
    {
        using var a = _f.Server.Connect();
        SendBlocking(a, "bl:mpop:p", Blocked(), "BLMPOP", "0", "2", "bl:mpop:1", "bl:mpop:2", "RIGHT", "COUNT", "2");
        using var pusher = _f.Server.Connect();
        Assert.Equal(3, pusher.Call("RPUSH", "bl:mpop:2", "a", "b", "c").Integer);
        Assert.Equal("[bl:mpop:2,[c,b]]", a.Read().ToString());
        Assert.Equal("[a]", pusher.Call("LRANGE", "bl:mpop:2", "0", "-1").ToString());
    }

    [Fact]
    public void Blocked_client_that_times_out_is_not_served_later()
    {
        using var a = _f.Server.Connect();
        Assert.True(a.Call("BLPOP", "bl:late", "0.1").IsNull);
        using var pusher = _f.Server.Connect();
        pusher.Call("RPUSH", "bl:late", "v");
        Assert.Equal(1, pusher.Call("LLEN", "bl:late").Integer);
    }

    [Fact]
    public void Disconnected_blocked_client_does_not_consume_pushed_data()
    {
        int before = Blocked();
        var a = _f.Server.Connect();
        SendBlocking(a, "bl:gone:p", before, "BLPOP", "bl:gone", "0");
        a.Dispose();
        using var ctl = _f.Server.Connect();
        Tools.WaitUntil(() => BlockedClients(ctl) == before, Deadline, "server to notice the disconnect");
        Assert.Equal(1, ctl.Call("LPUSH", "bl:gone", "keep").Integer);
        Assert.Equal("[keep]", ctl.Call("LRANGE", "bl:gone", "0", "-1").ToString());
    }

    [Fact]
    public void Blocking_pops_inside_multi_reply_as_on_timeout()
    {
        using var c = _f.Server.Connect();
        var multi = c.Call("MULTI");
        if (multi.IsError) return; // MULTI/EXEC arrives with the transactions family
        Assert.Equal("QUEUED", c.Call("BLPOP", "bl:multi", "0").ToString());
        Assert.Equal("QUEUED", c.Call("BLMOVE", "bl:multi", "bl:multi2", "LEFT", "LEFT", "0").ToString());
        Assert.Equal("QUEUED", c.Call("BLMPOP", "0", "1", "bl:multi", "LEFT").ToString());
        var sw = Stopwatch.StartNew();
        var exec = c.Call("EXEC");
        Assert.True(sw.ElapsedMilliseconds < 5000);
        Assert.Equal(3, exec.Items!.Count);
        Assert.All(exec.Items, r => Assert.True(r.IsNull));
    }

    [Fact]
    public void Timeouts_longer_than_a_timer_can_wait_are_accepted()
    {
        using var a = _f.Server.Connect();
        SendBlocking(a, "bl:long:p", Blocked(), "BLPOP", "bl:long", "9000000000");
        using var pusher = _f.Server.Connect();
        pusher.Call("RPUSH", "bl:long", "v");
        Assert.Equal("[bl:long,v]", a.Read().ToString());
    }

    [Fact]
    public void Client_waiting_on_the_same_key_twice_is_served_once_and_can_block_again()
    {
        using var a = _f.Server.Connect();
        SendBlocking(a, "bl:dup:p", Blocked(), "BLPOP", "bl:dup", "bl:dup", "0");
        using var pusher = _f.Server.Connect();
        pusher.Call("RPUSH", "bl:dup", "1");
        Assert.Equal("[bl:dup,1]", a.Read().ToString());
        Assert.True(a.Call("BLPOP", "bl:dup", "0.05").IsNull);
        pusher.Call("RPUSH", "bl:dup", "2");
        Assert.Equal(1, pusher.Call("LLEN", "bl:dup").Integer);
    }

    [Fact]
    public void Commands_pipelined_after_a_blocking_pop_run_once_it_is_served()
    {
        using var a = _f.Server.Connect();
        var batch = new MemoryStream();
        batch.Write(RespConnection.Encode("RPUSH", "bl:after:p", "1"));
        batch.Write(RespConnection.Encode("BLPOP", "bl:after", "0"));
        batch.Write(RespConnection.Encode("PING"));
        a.SendRaw(batch.ToArray());
        Assert.Equal(1, a.Read().Integer);
        using var pusher = _f.Server.Connect();
        Tools.WaitUntil(() => pusher.Call("LLEN", "bl:after:p").Integer == 1, Deadline, "probe");
        // A string under the waited key wakes the client, which finds no list and blocks again.
        Assert.Equal("OK", pusher.Call("SET", "bl:after", "s", "PX", "100").ToString());
        Tools.WaitUntil(() => pusher.Call("GET", "bl:after").IsNull, Deadline, "string to expire");
        pusher.Call("RPUSH", "bl:after", "v");
        Assert.Equal("[bl:after,v]", a.Read().ToString());
        Assert.Equal("PONG", a.Read().ToString());
    }
}
