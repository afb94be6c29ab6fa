using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

public sealed class ClientCommandsTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ClientCommandsTests(CinnabarFixture f) => _f = f;

    private static long Id(RespConnection c) => c.Call("CLIENT", "ID").Integer;

    private static string Addr(RespConnection c) => Regex.Match(c.Call("CLIENT", "INFO").ToString(), @" addr=(\S+) ").Groups[1].Value;

    [Fact]
    public void Client_info_counts_the_running_command_in_qbuf_as_redis()
    {
        // "*2\r\n$6\r\nCLIENT\r\n$4\r\nINFO\r\n" is 26 bytes, still in Redis's query buffer while it runs.
        using var c = _f.Server.Connect();
        Assert.Contains(" qbuf=26 ", c.Call("CLIENT", "INFO").ToString());
    }

    [Fact]
    public void Client_kill_by_id_closes_the_other_connection()
    {
        using var victim = _f.Server.Connect();
        using var killer = _f.Server.Connect();
        long id = Id(victim);
        Assert.Equal(1, killer.Call("CLIENT", "KILL", "ID", id.ToString()).Integer);
        Assert.Throws<IOException>(() => victim.Call("PING"));
        Assert.DoesNotContain($"id={id} ", killer.Call("CLIENT", "LIST").ToString());
    }

    [Fact]
    public void Client_kill_old_form_takes_an_address()
    {
        using var victim = _f.Server.Connect();
        using var killer = _f.Server.Connect();
        Assert.Equal("OK", killer.Call("CLIENT", "KILL", Addr(victim)).ToString());
        Assert.Throws<IOException>(() => victim.Call("PING"));
    }

    [Fact]
    public void Client_kill_skipme_no_closes_the_caller_after_the_reply()
    {
        using var c = _f.Server.Connect();
        var r = c.Call("CLIENT", "KILL", "ADDR", Addr(c), "SKIPME", "no");
        Assert.Equal(1, r.Integer);
        Assert.Throws<IOException>(() => c.Call("PING"));
    }

    [Fact]
    public void Client_list_filters_by_id_and_type()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        long ida = Id(a), idb = Id(b);
        string byId = a.Call("CLIENT", "LIST", "ID", ida.ToString(), idb.ToString()).ToString();
        Assert.Equal(2, byId.TrimEnd('\n').Split('\n').Length);
        Assert.StartsWith($"id={ida} ", byId);
        Assert.Contains($"\nid={idb} ", byId);
        Assert.Contains($"id={ida} ", a.Call("CLIENT", "LIST", "TYPE", "normal").ToString());
        Assert.Equal("", a.Call("CLIENT", "LIST", "TYPE", "replica").ToString());
    }

    [Fact]
    public void Client_setname_and_setinfo_show_in_client_info()
    {
        using var c = _f.Server.Connect();
        Assert.Equal("OK", c.Call("CLIENT", "SETNAME", "worker-1").ToString());
        Assert.Contains(" name=worker-1 ", c.Call("CLIENT", "INFO").ToString());
        Assert.Equal("OK", c.Call("CLIENT", "SETINFO", "lib-name", "mylib").ToString());
        Assert.Equal("ERR lib-name cannot contain spaces, newlines or special characters.", c.Call("CLIENT", "SETINFO", "lib-name", "my lib").ToString());
        Assert.Equal("ERR Unrecognized option 'foo'", c.Call("CLIENT", "SETINFO", "foo", "bar").ToString());
    }

    [Fact]
    public void Client_pause_write_delays_writes_until_unpause_while_reads_proceed()
    {
        using var admin = _f.Server.Connect();
        using var writer = _f.Server.Connect();
        Assert.Equal("OK", admin.Call("CLIENT", "PAUSE", "20000", "WRITE").ToString());
        try
        {
            Assert.True(writer.Call("GET", "clienttest:pause").IsNull);
            writer.Send("SET", "clienttest:pause", "1");
            writer.ReadTimeoutMs = 300;
            Assert.Throws<IOException>(() => writer.Read());
        }
        finally
        {
            admin.Call("CLIENT", "UNPAUSE");
        }
        writer.ReadTimeoutMs = 10000;
        Assert.Equal("OK", writer.Read().ToString());
        Assert.Equal("1", writer.Call("GET", "clienttest:pause").ToString());
    }

    [Fact]
    public void Client_pause_all_delays_every_command_until_the_timeout()
    {
        using var admin = _f.Server.Connect();
        using var reader = _f.Server.Connect();
        var sw = Stopwatch.StartNew();
        Assert.Equal("OK", admin.Call("CLIENT", "PAUSE", "500").ToString());
        Assert.Equal("PONG", reader.Call("PING").ToString());
        Assert.True(sw.ElapsedMilliseconds >= 450, $"answered after {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void Client_reply_off_silences_until_on()
    {
        using var c = _f.Server.Connect();
        c.Send("CLIENT", "REPLY", "OFF");
        c.Send("SET", "clienttest:reply", "x");
        c.Send("CLIENT", "REPLY", "ON");
        Assert.Equal("OK", c.Read().ToString());
        Assert.Equal("x", c.Call("GET", "clienttest:reply").ToString());
    }

    [Fact]
    public void Client_no_evict_sets_the_e_flag()
    {
        using var c = _f.Server.Connect();
        c.Call("CLIENT", "NO-EVICT", "on");
        Assert.Contains(" flags=e ", c.Call("CLIENT", "INFO").ToString());
        c.Call("CLIENT", "NO-EVICT", "off");
        Assert.Contains(" flags=N ", c.Call("CLIENT", "INFO").ToString());
    }

    [Fact]
    public void Idle_clients_are_closed_after_timeout()
    {
        using var server = ServerProcess.StartCinnabar("--timeout", "1");
        using var idle = server.Connect();
        using var watcher = server.Connect();
        long id = Id(idle);
        Tools.WaitUntil(() => !watcher.Call("CLIENT", "LIST").ToString().Contains($"id={id} "), TimeSpan.FromSeconds(15), "idle client to be closed");
        Assert.Throws<IOException>(() => idle.Call("PING"));
    }
}
