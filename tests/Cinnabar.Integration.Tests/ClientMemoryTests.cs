using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Client buffer sizing, output limits, lazy freeing and oom-score-adj, as Redis 7.0 does them.</summary>
public sealed class ClientMemoryTests
{
    private static long Field(string line, string name) =>
        long.Parse(Regex.Match(line, "(?:^| )" + name + @"=(-?\d+)").Groups[1].Value);

    private static string ClientLine(RespConnection c, string name) =>
        c.Call("CLIENT", "LIST").ToString().Split('\n').FirstOrDefault(l => l.Contains("name=" + name + " ")) ?? "";

    private static long Info(RespConnection c, string name) =>
        long.Parse(Regex.Match(c.Call("INFO", "all").ToString(), "\r\n" + name + @":(-?\d+)\r\n").Groups[1].Value);

    private static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > timeout) Assert.Fail("timed out waiting for " + what);
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void Idle_client_releases_its_query_buffer_and_a_big_one_shrinks_to_the_recent_peak()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        using var idle = server.Connect();
        idle.Call("CLIENT", "SETNAME", "idle");
        var line = ClientLine(admin, "idle");
        long total = Field(line, "qbuf") + Field(line, "qbuf-free");
        Assert.InRange(total, 16384, 32767);
        WaitFor(() => { var l = ClientLine(admin, "idle"); return Field(l, "qbuf") + Field(l, "qbuf-free") == 0; },
            TimeSpan.FromSeconds(10), "the idle client's query buffer to be released");
        Assert.Equal("PONG", idle.Call("PING").ToString());

        using var big = server.Connect();
        big.Call("CLIENT", "SETNAME", "big");
        big.Call("SET", "x", new string('A', 400_000));
        line = ClientLine(admin, "big");
        long grown = Field(line, "qbuf") + Field(line, "qbuf-free");
        Assert.True(grown > 32768, line);
        WaitFor(() =>
        {
            big.Call("SET", "x", "small");
            var l = ClientLine(admin, "big");
            long now = Field(l, "qbuf") + Field(l, "qbuf-free");
            return now > 0 && now < grown;
        }, TimeSpan.FromSeconds(5), "the query buffer to shrink");
    }

    [Fact]
    public void Reply_buffer_shrinks_for_an_idle_client_and_grows_for_big_replies()
    {
        using var server = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using var admin = server.Connect();
        admin.Call("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "100");
        using var c = server.Connect();
        c.Call("CLIENT", "SETNAME", "tc");
        WaitFor(() => Field(ClientLine(admin, "tc"), "rbs") is >= 1024 and < 2048, TimeSpan.FromSeconds(5), "rbs to shrink");
        admin.Call("SET", "bigval", new string('x', 32768));
        admin.Call("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "NEVER");
        WaitFor(() => { c.Call("GET", "bigval"); return Field(ClientLine(admin, "tc"), "rbs") >= 16384; },
            TimeSpan.FromSeconds(5), "rbs to grow");
        Assert.True(Info(admin, "reply_buffer_shrinks") > 0);
        Assert.True(Info(admin, "reply_buffer_expands") > 0);
        admin.Call("DEBUG", "REPLYBUFFER", "PEAK-RESET-TIME", "RESET");
    }

    [Fact]
    public void Pipeline_passing_the_hard_output_limit_gets_no_reply_and_the_client_is_closed()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        admin.Call("CONFIG", "SET", "client-output-buffer-limit", "normal 100000 0 0");
        admin.Call("SET", "bigkey", new string('x', 10000));
        using var c = server.Connect();
        c.Call("CLIENT", "SETNAME", "piped");
        var ms = new MemoryStream();
        for (int i = 0; i < 15; i++) ms.Write(RespConnection.Encode("GET", "bigkey"));
        c.SendRaw(ms.ToArray());
        WaitFor(() => ClientLine(admin, "piped") == "", TimeSpan.FromSeconds(5), "the client to be closed");
        Assert.ThrowsAny<Exception>(() => c.Read());
    }

    [Fact]
    public void Hrandfield_with_a_huge_negative_count_stops_at_the_output_limit()
    {
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        c.Call("CONFIG", "SET", "client-output-buffer-limit", "normal 1000000 0 0");
        c.Call("HSET", "h", "a", "b");
        Assert.ThrowsAny<Exception>(() => c.Call("HRANDFIELD", "h", "-999999999"));
        using var again = server.Connect();
        Assert.Equal("PONG", again.Call("PING").ToString());
    }

    [Fact]
    public void Unlink_of_a_big_value_is_freed_in_the_background_and_counted()
    {
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        var args = new List<object> { "SADD", "big" };
        for (int i = 0; i < 1000; i++) args.Add("m" + i);
        c.Call(args.ToArray());
        c.Call("SADD", "small", "a", "b");
        c.Call("CONFIG", "RESETSTAT");
        Assert.Equal(2, c.Call("UNLINK", "big", "small").Integer);
        WaitFor(() => Info(c, "lazyfree_pending_objects") == 0, TimeSpan.FromSeconds(5), "lazy free to finish");
        Assert.Equal(1, Info(c, "lazyfreed_objects"));
        c.Call("SET", "k1", "v");
        c.Call("SET", "k2", "v");
        c.Call("FLUSHDB", "ASYNC");
        WaitFor(() => Info(c, "lazyfreed_objects") == 3, TimeSpan.FromSeconds(5), "FLUSHDB ASYNC to be counted");
    }

    [Fact]
    public void Oom_score_adj_writes_the_process_score_relative_to_the_original_and_restores_it()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        string file = $"/proc/{server.Pid}/oom_score_adj";
        int Score() => int.Parse(File.ReadAllText(file).Trim());
        int original = Score();
        c.Call("CONFIG", "SET", "oom-score-adj-values", "9 20 30", "oom-score-adj", "yes");
        Assert.Equal(Math.Min(1000, original + 9), Score());
        c.Call("CONFIG", "SET", "oom-score-adj", "absolute");
        Assert.Equal(9, Score());
        c.Call("CONFIG", "SET", "oom-score-adj-values", "15 20 30");
        Assert.Equal(15, Score());
        c.Call("CONFIG", "SET", "oom-score-adj", "no");
        Assert.Equal(original, Score());
        Assert.True(c.Call("CONFIG", "SET", "oom-score-adj-values", "-2001 0 0").IsError);
    }

    [Fact]
    public void Config_set_maxmemory_below_usage_evicts_at_once()
    {
        using var server = ServerProcess.StartCinnabar("--maxmemory-policy", "allkeys-lru");
        using var c = server.Connect();
        c.Call("SET", "foo", "bar");
        Assert.Equal("OK", c.Call("CONFIG", "SET", "maxmemory", "1").ToString());
        Assert.Equal(0, c.Call("DBSIZE").Integer);
        c.Call("CONFIG", "SET", "maxmemory", "0");
    }

    [Fact]
    public void Replica_gives_back_the_buffer_of_a_big_replicated_command()
    {
        using var master = ServerProcess.StartCinnabar();
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port.ToString());
        WaitFor(() => r.Call("INFO", "replication").ToString().Contains("master_link_status:up"), TimeSpan.FromSeconds(20), "the link");
        m.Call("SET", "key", new string('v', 32 * 1024 * 1024));
        WaitFor(() => r.Call("STRLEN", "key").Integer == 32 * 1024 * 1024, TimeSpan.FromSeconds(20), "the value to replicate");
        WaitFor(() => Info(r, "used_memory") <= Info(m, "used_memory") + 10 * 1024 * 1024, TimeSpan.FromSeconds(10),
            "the replica's memory to come back near the master's");
    }

    [Fact]
    public void Maxmemory_clients_evicts_the_largest_client_and_spares_no_evict_ones()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        admin.Call("CLIENT", "SETNAME", "control");
        admin.Call("CLIENT", "NO-EVICT", "on");
        using var small = server.Connect();
        small.Call("CLIENT", "SETNAME", "small");
        using var big = server.Connect();
        big.Call("CLIENT", "SETNAME", "big");
        using var kept = server.Connect();
        kept.Call("CLIENT", "SETNAME", "kept");
        kept.Call("CLIENT", "NO-EVICT", "on");
        // Partial commands: their arguments wait in the query buffers, counted in tot-mem.
        kept.SendRaw("*2\r\n$600000\r\n" + new string('k', 600_000));
        big.SendRaw("*2\r\n$400000\r\n" + new string('b', 400_000));
        small.SendRaw("*2\r\n$100000\r\n" + new string('s', 100_000));
        WaitFor(() => Field(ClientLine(admin, "big"), "qbuf") == 400_000 && Field(ClientLine(admin, "small"), "qbuf") == 100_000
            && Field(ClientLine(admin, "kept"), "qbuf") == 600_000, TimeSpan.FromSeconds(10), "the query buffers to fill");
        long total = 0;
        foreach (var l in admin.Call("CLIENT", "LIST").ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries)) total += Field(l, "tot-mem");
        Assert.True(Field(ClientLine(admin, "big"), "tot-mem") >= 400_000);
        // Just under the total: evicting the biggest evictable client (not "kept") is enough.
        admin.Call("CONFIG", "SET", "maxmemory-clients", (total - 1000).ToString());
        string list = admin.Call("CLIENT", "LIST").ToString();
        Assert.DoesNotContain("name=big ", list);
        Assert.Contains("name=small ", list);
        Assert.Contains("name=kept ", list);
        Assert.Equal(1, Info(admin, "evicted_clients"));
        // A client growing past the limit by itself is evicted as it reads.
        admin.Call("CONFIG", "SET", "maxmemory-clients", "1mb");
        using var grower = server.Connect();
        grower.Call("CLIENT", "SETNAME", "grower");
        grower.SendRaw("*1\r\n$2000000\r\n" + new string('g', 2_000_000));
        WaitFor(() => !admin.Call("CLIENT", "LIST").ToString().Contains("name=grower "), TimeSpan.FromSeconds(10), "the growing client's eviction");
    }

    [Fact]
    public void Big_argument_counts_in_tot_mem_and_for_eviction_once_its_length_line_is_read()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        admin.Call("CLIENT", "SETNAME", "control");
        admin.Call("CLIENT", "NO-EVICT", "on");
        using var partial = server.Connect();
        partial.Call("CLIENT", "SETNAME", "partial");
        // Only the first 1000 bytes of a 200000-byte argument are sent: like Redis, the query
        // buffer is made room for the whole argument at once, however its bytes arrive.
        partial.SendRaw("*1\r\n$200000\r\n" + new string('v', 1000));
        WaitFor(() => Field(ClientLine(admin, "partial"), "qbuf") == 1000, TimeSpan.FromSeconds(10), "the first bytes to be read");
        var line = ClientLine(admin, "partial");
        Assert.True(Field(line, "tot-mem") >= 200_000, line);
        Assert.True(Field(line, "qbuf-free") >= 199_000, line);

        // So a client announcing an argument over maxmemory-clients is evicted before sending it.
        admin.Call("CONFIG", "SET", "maxmemory-clients", "1mb");
        using var grower = server.Connect();
        grower.Call("CLIENT", "SETNAME", "grower");
        grower.SendRaw("*1\r\n$2000000\r\n" + new string('g', 1000));
        WaitFor(() => !admin.Call("CLIENT", "LIST").ToString().Contains("name=grower "), TimeSpan.FromSeconds(10), "the announcing client's eviction");
        Assert.Contains("name=partial ", admin.Call("CLIENT", "LIST").ToString());
    }

    [Fact]
    public void Subscriber_pending_output_is_reported_in_omem_and_tot_mem()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        using var sub = server.Connect();
        sub.Call("CLIENT", "SETNAME", "sub");
        sub.Call("SUBSCRIBE", "ch");
        string payload = new('p', 100_000);
        // The subscriber never reads: once the socket buffers are full, output waits in the server.
        WaitFor(() =>
        {
            for (int i = 0; i < 20; i++) admin.Call("PUBLISH", "ch", payload);
            return Field(ClientLine(admin, "sub"), "omem") > 1_000_000;
        }, TimeSpan.FromSeconds(20), "omem to grow");
        var line = ClientLine(admin, "sub");
        Assert.True(Field(line, "tot-mem") > Field(line, "omem"), line);
        Assert.True(Info(admin, "mem_clients_normal") > Field(line, "omem"));
    }
}
