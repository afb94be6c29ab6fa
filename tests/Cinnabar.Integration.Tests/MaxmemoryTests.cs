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
}
