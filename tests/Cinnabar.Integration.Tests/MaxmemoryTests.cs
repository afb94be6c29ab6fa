using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

public sealed class MaxmemoryTests
{
    private static long InfoField(RespConnection c, string section, string name) =>
        long.Parse(Regex.Match(c.Call("INFO", section).ToString(), "\r\n" + name + @":(\d+)\r\n").Groups[1].Value);

    private static long Keys(RespConnection c)
    {
        var m = Regex.Match(c.Call("INFO", "keyspace").ToString(), @"db0:keys=(\d+)");
        return m.Success ? long.Parse(m.Groups[1].Value) : 0;
    }

    private static void Fill(RespConnection c, string prefix, int count, int valueBytes)
    {
        string value = new('v', valueBytes);
        const int batch = 500;
        for (int start = 0; start < count; start += batch)
        {
            var ms = new MemoryStream();
            int n = Math.Min(batch, count - start);
            for (int i = 0; i < n; i++) ms.Write(RespConnection.Encode("SET", prefix + (start + i), value));
            c.SendRaw(ms.ToArray());
            for (int i = 0; i < n; i++) c.Read();
        }
    }

    [Theory]
    [InlineData("allkeys-lru")]
    [InlineData("allkeys-lfu")]
    [InlineData("allkeys-random")]
    public void Allkeys_policies_keep_the_dataset_bounded(string policy)
    {
        using var server = ServerProcess.StartCinnabar("--maxmemory", "40mb", "--maxmemory-policy", policy);
        using var c = server.Connect();
        Fill(c, "mm:", 100_000, 1000);   // ~100 MB of values into a 40 MB budget
        long keys = Keys(c);
        Assert.InRange(keys, 1000, 60_000);
        Assert.True(InfoField(c, "stats", "evicted_keys") > 0);
        Assert.True(InfoField(c, "memory", "used_memory") < 80L * 1024 * 1024);
    }

    [Fact]
    public void Volatile_policy_evicts_only_keys_with_a_ttl()
    {
        using var server = ServerProcess.StartCinnabar("--maxmemory", "30mb", "--maxmemory-policy", "volatile-lru");
        using var c = server.Connect();
        Fill(c, "mmv:", 10_000, 1000);   // ~10 MB, no TTL: never evicted
        string value = new('v', 1000);
        var ms = new MemoryStream();
        for (int i = 0; i < 60_000; i++) ms.Write(RespConnection.Encode("SET", "mmt:" + i, value, "EX", "1000"));
        c.SendRaw(ms.ToArray());
        for (int i = 0; i < 60_000; i++) c.Read();
        Assert.True(InfoField(c, "stats", "evicted_keys") > 0);
        for (int i = 0; i < 10_000; i += 997) Assert.False(c.Call("GET", "mmv:" + i).IsNull, "mmv:" + i + " was evicted");
    }

    [Fact]
    public void Noeviction_refuses_writes_with_oom_but_serves_reads()
    {
        // Any heap is above 100 KB, so every denyoom command is refused.
        using var s2 = ServerProcess.StartCinnabar("--maxmemory", "100kb", "--maxmemory-policy", "noeviction");
        using var c = s2.Connect();
        Assert.Equal("OOM command not allowed when used memory > 'maxmemory'.", c.Call("SET", "mmn:k", "v").ToString());
        Assert.True(c.Call("GET", "mmn:k").IsNull);
        Assert.Equal("PONG", c.Call("PING").ToString());
        Assert.Contains("maxmemory_policy:noeviction", c.Call("INFO", "memory").ToString());
    }
    [Fact]
    public void Config_set_maxmemory_inside_multi_evicts_after_exec()
    {
        // Redis's updateMaxmemory starts its eviction timer: the transaction's keys stay until it ends.
        using var server = ServerProcess.StartCinnabar("--maxmemory-policy", "allkeys-lru");
        using var c = server.Connect();
        Assert.Equal("OK", c.Call("MULTI").ToString());
        c.Call("INCR", "x");
        c.Call("CONFIG", "SET", "maxmemory", "1");
        c.Call("INCR", "x");
        var exec = c.Call("EXEC");
        Assert.Equal(["1", "OK", "2"], exec.Items!.Select(i => i.ToString()).ToArray());
        Assert.Equal(0, Keys(c));
        Assert.Equal(1, InfoField(c, "stats", "evicted_keys"));
        c.Call("CONFIG", "SET", "maxmemory", "0");
    }

    [Fact]
    public void Flushall_gives_its_memory_back_at_once()
    {
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        long empty = InfoField(c, "memory", "used_memory");
        Fill(c, "fl:", 5000, 1000);
        long full = InfoField(c, "memory", "used_memory");
        Assert.True(full > empty + 4_000_000, $"used_memory {full} after 5 MB of values (empty: {empty})");
        Assert.Equal("OK", c.Call("FLUSHALL").ToString());
        long after = InfoField(c, "memory", "used_memory");
        Assert.True(after < empty + 1_000_000, $"used_memory {after} right after FLUSHALL (empty: {empty}, full: {full})");
    }

    [Fact]
    public void Used_memory_reported_by_info_tracks_the_limit_within_a_few_kilobytes()
    {
        // unit/maxmemory's "is the memory limit honoured?": INFO's own reply is not counted, so the
        // figure right after a write sits within one key of the limit.
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        long used = InfoField(c, "memory", "used_memory");
        long limit = used + 100 * 1024;
        c.Call("CONFIG", "SET", "maxmemory", limit.ToString());
        c.Call("CONFIG", "SET", "maxmemory-policy", "allkeys-random");
        long worst = long.MinValue;
        for (int i = 0; i < 2000; i++)
        {
            c.Call("SETEX", "lim:" + i, "10000", "x");
            if (i >= 1000 && i % 10 == 0) worst = Math.Max(worst, InfoField(c, "memory", "used_memory") - limit);
        }
        Assert.True(InfoField(c, "stats", "evicted_keys") > 0);
        Assert.True(worst < 4096, $"used_memory went {worst} bytes past maxmemory");
    }

    [Fact]
    public void Tracking_invalidations_of_evicted_keys_do_not_feed_more_eviction()
    {
        // unit/maxmemory's "client tracking don't cause eviction feedback loop": ten RESP3 clients
        // cache 300 keys with 1 KB names; lowering maxmemory by 40 KB evicts a few dozen of them,
        // and the invalidations sent for those (10 KB each) must not make the next command evict the rest.
        using var server = ServerProcess.StartCinnabar("--maxmemory-policy", "allkeys-lru", "--maxmemory-eviction-tenacity", "100", "--latency-tracking", "no");
        using var c = server.Connect();
        var trackers = new List<RespConnection>();
        try
        {
            for (int j = 0; j < 10; j++)
            {
                var t = server.Connect();
                trackers.Add(t);
                t.Call("HELLO", "3");
                Assert.Equal("OK", t.Call("CLIENT", "TRACKING", "on").ToString());
            }
            for (int i = 0; i < 300; i++)
            {
                string key = i + new string('x', 1000);
                c.Call("SET", key, "x");
                foreach (var t in trackers) t.Call("GET", key);
            }
            long used = InfoField(c, "memory", "used_memory");
            c.Call("CONFIG", "SET", "maxmemory", (used - 40_000).ToString());
            long evicted = InfoField(c, "stats", "evicted_keys");
            long keys = Keys(c);
            Assert.InRange(keys, 200, 300);
            Assert.InRange(evicted, 10, 60);
        }
        finally
        {
            foreach (var t in trackers) t.Dispose();
        }
    }
}
