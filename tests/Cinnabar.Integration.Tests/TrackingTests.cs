using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// CLIENT TRACKING over real connections: RESP3 pushes, redirection to a RESP2 subscriber,
/// BCAST prefixes, OPTIN/OPTOUT, NOLOOP, flushes, the table limit and the introspection around it.
/// Absence of a message is checked with a PING sent afterwards: anything already queued for the
/// connection would arrive before its reply.
/// </summary>
public sealed class TrackingTests(CinnabarFixture f) : IClassFixture<CinnabarFixture>
{
    private readonly ServerProcess _server = f.Server;

    private static string Push(params string[] keys)
    {
        var sb = new StringBuilder(">2\r\n$10\r\ninvalidate\r\n*" + keys.Length + "\r\n");
        foreach (var k in keys) sb.Append('$').Append(Encoding.UTF8.GetByteCount(k)).Append("\r\n").Append(k).Append("\r\n");
        return sb.ToString();
    }

    private static string Message(params string[] keys)
    {
        var sb = new StringBuilder("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*" + keys.Length + "\r\n");
        foreach (var k in keys) sb.Append('$').Append(Encoding.UTF8.GetByteCount(k)).Append("\r\n").Append(k).Append("\r\n");
        return sb.ToString();
    }

    private static string Raw(RespConnection c) => Encoding.UTF8.GetString(c.ReadRawReply());

    private RespConnection Resp3()
    {
        var c = _server.Connect();
        c.Call("HELLO", "3");
        return c;
    }

    /// <summary>A RESP2 connection subscribed to __redis__:invalidate, and its client id.</summary>
    private (RespConnection Conn, long Id) Subscriber()
    {
        var c = _server.Connect();
        long id = c.Call("CLIENT", "ID").Integer;
        c.Call("SUBSCRIBE", "__redis__:invalidate");
        return (c, id);
    }

    private static void AssertNothingPendingOnSubscriber(RespConnection sub) =>
        Assert.Equal("*2\r\n$4\r\npong\r\n$0\r\n\r\n", Encoding.UTF8.GetString(sub.CallRaw("PING")));

    [Fact]
    public void Key_read_by_a_resp3_client_is_invalidated_by_a_push_when_another_client_writes_it()
    {
        using var reader = Resp3();
        using var writer = _server.Connect();
        writer.Call("SET", "trk:basic", "1");
        Assert.Equal("OK", reader.Call("CLIENT", "TRACKING", "on").ToString());
        Assert.Equal("1", reader.Call("GET", "trk:basic").ToString());
        writer.Call("SET", "trk:basic", "2");
        Assert.Equal(Push("trk:basic"), Raw(reader));
        // Once invalidated the key is forgotten: a second write says nothing until it is read again.
        writer.Call("SET", "trk:basic", "3");
        Assert.Equal("+PONG\r\n", Encoding.UTF8.GetString(reader.CallRaw("PING")));
    }

    [Fact]
    public void Invalidation_of_a_key_the_client_writes_itself_follows_the_reply()
    {
        using var c = Resp3();
        c.Call("CLIENT", "TRACKING", "on");
        c.Call("HSET", "trk:own", "f", "1");
        c.Call("HGET", "trk:own", "f");
        Assert.Equal(":1\r\n", Encoding.UTF8.GetString(c.CallRaw("HDEL", "trk:own", "f")));
        Assert.Equal(Push("trk:own"), Raw(c));
    }

    [Fact]
    public void Invalidations_from_a_transaction_follow_the_exec_reply()
    {
        using var c = Resp3();
        c.Call("CLIENT", "TRACKING", "on");
        c.Call("MSET", "trk:tx{a}", "1", "trk:tx{b}", "2");
        c.Call("GET", "trk:tx{a}");
        c.Call("MULTI");
        c.Call("INCR", "trk:tx{a}");
        c.Call("GET", "trk:tx{b}");
        Assert.Equal("*2\r\n:2\r\n$1\r\n2\r\n", Encoding.UTF8.GetString(c.CallRaw("EXEC")));
        Assert.Equal(Push("trk:tx{a}"), Raw(c));
    }

    [Fact]
    public void Redirected_invalidations_reach_a_resp2_subscriber_as_messages()
    {
        var (sub, subId) = Subscriber();
        using var _ = sub;
        using var reader = _server.Connect();
        using var writer = _server.Connect();
        Assert.Equal("OK", reader.Call("CLIENT", "TRACKING", "on", "REDIRECT", subId).ToString());
        Assert.Equal(subId, reader.Call("CLIENT", "GETREDIR").Integer);
        reader.Call("MGET", "trk:r1", "trk:r2");
        writer.Call("SET", "trk:r2", "x");
        Assert.Equal(Message("trk:r2"), Raw(sub));
        writer.Call("SET", "trk:r3", "x");
        AssertNothingPendingOnSubscriber(sub);
    }

    [Fact]
    public void Bcast_sends_the_keys_matching_each_prefix_once_the_command_batch_ends()
    {
        var (sub, subId) = Subscriber();
        using var _ = sub;
        using var c = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "BCAST", "REDIRECT", subId, "PREFIX", "trk:bc:a", "PREFIX", "trk:bc:b");
        c.Call("MULTI");
        c.Call("SET", "trk:bc:b2", "1");
        c.Call("SET", "trk:bc:b1", "1");
        c.Call("SET", "trk:bc:c1", "1");
        c.Call("EXEC");
        // One array per prefix, keys in byte order; the key outside every prefix is not sent.
        Assert.Equal(Message("trk:bc:b1", "trk:bc:b2"), Raw(sub));
        AssertNothingPendingOnSubscriber(sub);
        Assert.Equal("[flags,[on,bcast],redirect," + subId + ",prefixes,[trk:bc:a,trk:bc:b]]", c.Call("CLIENT", "TRACKINGINFO").ToString());
        c.Call("CLIENT", "TRACKING", "off");
    }

    [Fact]
    public void Noloop_leaves_out_the_clients_own_changes()
    {
        var (sub, subId) = Subscriber();
        using var _ = sub;
        using var c = _server.Connect();
        using var other = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "REDIRECT", subId, "NOLOOP");
        c.Call("MGET", "trk:nl1", "trk:nl2");
        c.Call("SET", "trk:nl1", "mine");
        other.Call("SET", "trk:nl2", "theirs");
        Assert.Equal(Message("trk:nl2"), Raw(sub));
        AssertNothingPendingOnSubscriber(sub);
    }

    [Fact]
    public void Optin_tracks_only_after_client_caching_yes()
    {
        using var c = Resp3();
        using var writer = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "OPTIN");
        c.Call("GET", "trk:oi1");
        Assert.Equal("OK", c.Call("CLIENT", "CACHING", "yes").ToString());
        c.Call("GET", "trk:oi2");
        writer.Call("MSET", "trk:oi1", "1", "trk:oi2", "2");
        Assert.Equal(Push("trk:oi2"), Raw(c));
        Assert.Equal("+PONG\r\n", Encoding.UTF8.GetString(c.CallRaw("PING")));
    }

    [Fact]
    public void Optout_stops_tracking_the_next_command_after_client_caching_no()
    {
        using var c = Resp3();
        using var writer = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "OPTOUT");
        c.Call("CLIENT", "CACHING", "no");
        c.Call("GET", "trk:oo1");
        c.Call("GET", "trk:oo2");
        writer.Call("MSET", "trk:oo1", "1", "trk:oo2", "2");
        Assert.Equal(Push("trk:oo2"), Raw(c));
    }

    [Fact]
    public void Flushall_invalidates_everything_with_a_null()
    {
        using var c = Resp3();
        c.Call("CLIENT", "TRACKING", "on");
        c.Call("GET", "trk:fl");
        Assert.Equal("+OK\r\n", Encoding.UTF8.GetString(c.CallRaw("FLUSHALL")));
        Assert.Equal(">2\r\n$10\r\ninvalidate\r\n_\r\n", Raw(c));
        Assert.Equal(0, InfoField(c, "tracking_total_keys"));
        c.Call("CLIENT", "TRACKING", "off");
    }

    [Fact]
    public void A_vanished_redirect_target_is_reported_with_tracking_redir_broken()
    {
        var (sub, subId) = Subscriber();
        using var c = Resp3();
        using var writer = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "REDIRECT", subId);
        c.Call("GET", "trk:broken");
        sub.Call("QUIT");
        sub.Dispose();
        writer.Call("SET", "trk:broken", "1");
        Assert.Equal(">2\r\n$21\r\ntracking-redir-broken\r\n:" + subId + "\r\n", Raw(c));
        Assert.Contains("broken_redirect", c.Call("CLIENT", "TRACKINGINFO").ToString(), StringComparison.Ordinal);
        Assert.Matches(@"flags=tR ", c.Call("CLIENT", "INFO").ToString());
        c.Call("CLIENT", "TRACKING", "off");
    }

    [Fact]
    public void Table_over_tracking_table_max_keys_invalidates_keys_until_under_the_limit()
    {
        var (sub, subId) = Subscriber();
        using var _ = sub;
        using var c = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "REDIRECT", subId);
        for (int i = 0; i < 30; i++) c.Call("GET", "trk:lim" + i);
        try
        {
            c.Call("CONFIG", "SET", "tracking-table-max-keys", "10");
            // The next command (or the cron) brings the table back to the limit.
            c.Call("PING");
            for (int i = 0; i < 20; i++) Assert.StartsWith("*3\r\n$7\r\nmessage\r\n", Raw(sub), StringComparison.Ordinal);
            Assert.True(InfoField(c, "tracking_total_keys") <= 10);
        }
        finally
        {
            c.Call("CONFIG", "SET", "tracking-table-max-keys", "1000000");
            c.Call("CLIENT", "TRACKING", "off");
        }
    }

    [Fact]
    public void Info_and_client_list_describe_tracking_clients()
    {
        using var a = _server.Connect();
        using var b = _server.Connect();
        a.Call("CLIENT", "TRACKING", "on");
        a.Call("GET", "trk:info");
        b.Call("CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "trk:infopfx");
        Assert.True(InfoField(a, "tracking_clients") >= 2);
        Assert.True(InfoField(a, "tracking_total_items") >= 1);
        Assert.True(InfoField(a, "tracking_total_prefixes") >= 1);
        Assert.Matches(@"flags=t .* redir=0 ", a.Call("CLIENT", "INFO").ToString());
        Assert.Matches(@"flags=tB .* redir=0 ", b.Call("CLIENT", "INFO").ToString());
        a.Call("CLIENT", "TRACKING", "off");
        Assert.Matches(@"flags=N .* redir=-1 ", a.Call("CLIENT", "INFO").ToString());
        Assert.Equal(-1, a.Call("CLIENT", "GETREDIR").Integer);
        b.Call("CLIENT", "TRACKING", "off");
    }

    [Fact]
    public void Reads_inside_a_script_track_the_keys_the_script_declared()
    {
        using var c = Resp3();
        using var writer = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on");
        c.Call("EVAL", "redis.call('get', KEYS[1]); return 1", "2", "trk:sc{1}", "trk:sc{2}");
        writer.Call("MSET", "trk:sc{2}", "1", "trk:sc{1}", "1");
        Assert.Equal(Push("trk:sc{2}"), Raw(c));
        Assert.Equal(Push("trk:sc{1}"), Raw(c));
        c.Call("CLIENT", "TRACKING", "off");
    }

    [Fact]
    public void Expired_keys_are_invalidated()
    {
        using var c = Resp3();
        using var writer = _server.Connect();
        writer.Call("SET", "trk:exp", "1", "PX", "300");
        c.Call("CLIENT", "TRACKING", "on");
        c.Call("GET", "trk:exp");
        // The active expire cycle deletes the key; the push arrives without any further command.
        Assert.Equal(Push("trk:exp"), Raw(c));
        c.Call("CLIENT", "TRACKING", "off");
    }

    [Theory]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "PREFIX", "a" }, "ERR PREFIX option requires BCAST mode to be enabled")]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "OPTIN", "OPTOUT" }, "ERR You can't specify both OPTIN mode and OPTOUT mode")]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "BCAST", "OPTIN" }, "ERR OPTIN and OPTOUT are not compatible with BCAST")]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "ab", "PREFIX", "a" }, "ERR Prefix 'ab' overlaps with another provided prefix 'a'. Prefixes for a single client must not overlap.")]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "REDIRECT", "0" }, "ERR The client ID you want redirect to does not exist")]
    [InlineData(new[] { "CLIENT", "TRACKING", "on", "NOSUCH" }, "ERR syntax error")]
    [InlineData(new[] { "CLIENT", "TRACKING", "maybe" }, "ERR syntax error")]
    [InlineData(new[] { "CLIENT", "CACHING", "yes" }, "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled")]
    public void Invalid_tracking_options_are_refused_with_redis_errors(string[] command, string error)
    {
        using var c = _server.Connect();
        var reply = c.Call(command);
        Assert.True(reply.IsError, reply.ToString());
        Assert.Equal(error, reply.ToString());
    }

    [Fact]
    public void Switching_modes_needs_tracking_off_first()
    {
        using var c = _server.Connect();
        c.Call("CLIENT", "TRACKING", "on", "OPTIN");
        Assert.Equal("ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling it with a different mode.",
            c.Call("CLIENT", "TRACKING", "on", "OPTOUT").ToString());
        Assert.Equal("ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling it with a different mode.",
            c.Call("CLIENT", "TRACKING", "on", "BCAST").ToString());
        Assert.Equal("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.", c.Call("CLIENT", "CACHING", "no").ToString());
        c.Call("CLIENT", "TRACKING", "off");
    }

    private static long InfoField(RespConnection c, string name)
    {
        string info = c.Call("INFO", "all").ToString();
        foreach (var line in info.Split("\r\n"))
            if (line.StartsWith(name + ":", StringComparison.Ordinal)) return long.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException(name + " not in INFO");
    }
}
