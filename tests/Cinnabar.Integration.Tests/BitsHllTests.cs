using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>HyperLogLog values built by Cinnabar are byte-identical to redis-server's (sparse and dense).</summary>
public sealed class BitsHllTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public BitsHllTests(SideBySideFixture f) => _f = f;

    [Theory]
    [InlineData(10, "sparse")]
    [InlineData(1000, "sparse")]
    [InlineData(100000, "dense")]
    public void Pfadd_builds_the_same_bytes_and_count_as_redis(int n, string encoding)
    {
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        string key = "bitshll:" + n;
        foreach (var c in new[] { ours, theirs })
        {
            c.Call("DEL", key);
            // Batches of 100 elements per PFADD, as a client would send them.
            for (int i = 0; i < n; i += 100)
            {
                var args = new List<object> { "PFADD", key };
                for (int j = i; j < Math.Min(n, i + 100); j++) args.Add("el:" + j);
                c.Call(args.ToArray());
            }
        }
        Assert.Equal(encoding, theirs.Call("PFDEBUG", "ENCODING", key).ToString());
        Assert.Equal(theirs.Call("GET", key).Bytes, ours.Call("GET", key).Bytes);
        long count = theirs.Call("PFCOUNT", key).Integer;
        Assert.Equal(count, ours.Call("PFCOUNT", key).Integer);
        // PFCOUNT stored the cached cardinality: the bytes still match.
        Assert.Equal(theirs.Call("GET", key).Bytes, ours.Call("GET", key).Bytes);
        Assert.Equal(theirs.Call("PFCOUNT", key, "bitshll:10").Integer, ours.Call("PFCOUNT", key, "bitshll:10").Integer);
    }

    [Fact]
    public void Redis_hll_bytes_loaded_into_cinnabar_count_and_merge_identically()
    {
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        var args = new List<object> { "PFADD", "bitshll:src" };
        for (int j = 0; j < 5000; j++) args.Add("v" + j);
        theirs.Call("DEL", "bitshll:src", "bitshll:dst");
        theirs.Call(args.ToArray());
        ours.Call("SET", "bitshll:src", theirs.Call("GET", "bitshll:src").Bytes!);
        ours.Call("DEL", "bitshll:dst");
        Assert.Equal(theirs.Call("PFCOUNT", "bitshll:src").Integer, ours.Call("PFCOUNT", "bitshll:src").Integer);
        theirs.Call("PFADD", "bitshll:dst", "a", "b");
        ours.Call("PFADD", "bitshll:dst", "a", "b");
        theirs.Call("PFMERGE", "bitshll:dst", "bitshll:src");
        ours.Call("PFMERGE", "bitshll:dst", "bitshll:src");
        Assert.Equal(theirs.Call("GET", "bitshll:dst").Bytes, ours.Call("GET", "bitshll:dst").Bytes);
    }
}
