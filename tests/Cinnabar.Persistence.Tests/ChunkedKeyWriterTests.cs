using System.Text;
using Cinnabar.Persistence.Aof;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>A big collection written in bounded steps gives exactly the commands of one WriteKey.</summary>
public sealed class ChunkedKeyWriterTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    public static TheoryData<string> Kinds => new() { "list", "set", "hash", "zset", "intset" };

    private static RedisObject Make(string kind, int n)
    {
        switch (kind)
        {
            case "list":
                var l = new ListObject();
                for (int i = 0; i < n; i++) l.PushTail(B("e" + i));
                return l;
            case "set":
                var s = SetObject.CreateHashtable();
                for (int i = 0; i < n; i++) s.Add(B("m" + i));
                return s;
            case "intset":
                var si = SetObject.CreateIntset();
                for (int i = 0; i < n; i++) si.Add(B(i.ToString()));
                return si;
            case "hash":
                var h = new HashObject();
                for (int i = 0; i < n; i++) h.Set(B("f" + i), B("v" + i));
                return h;
            default:
                var z = new ZSetObject();
                for (int i = 0; i < n; i++) z.Insert(B("z" + i), i * 0.5);
                return z;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Chunks_add_up_to_the_whole_key_and_each_stays_within_its_bounds(string kind)
    {
        var value = Make(kind, 5000);
        var whole = new RespWriter(1 << 16);
        AofRewriter.WriteKey(whole, B("k"), value, 1_900_000_000_000);

        var chunked = new ChunkedKeyWriter(B("k"), value, 1_900_000_000_000);
        var all = new MemoryStream();
        int steps = 0;
        while (true)
        {
            var w = new RespWriter(1 << 12);
            bool done = chunked.WriteChunk(w, maxItems: 300, maxBytes: 1 << 20);
            all.Write(w.Written.Span);
            steps++;
            if (done) break;
            Assert.True(steps < 1000);
        }
        Assert.Equal(whole.Written.ToArray(), all.ToArray());
        Assert.Equal(5000, chunked.ItemsWritten);
        Assert.Equal(17, steps); // 16 full steps of 300 items, then 200 and the PEXPIREAT
        Assert.True(chunked.WriteChunk(new RespWriter(16), 300, 1 << 20));
    }

    [Fact]
    public void A_step_stops_once_the_byte_budget_is_reached()
    {
        var value = Make("list", 2000);
        var chunked = new ChunkedKeyWriter(B("k"), value, -1);
        var w = new RespWriter(1 << 12);
        Assert.False(chunked.WriteChunk(w, maxItems: 2000, maxBytes: 1000));
        Assert.InRange(w.Length, 1000, 1100);
        Assert.True(chunked.ItemsWritten < 200);
    }

    [Fact]
    public void Only_collections_past_the_threshold_are_big()
    {
        Assert.True(ChunkedKeyWriter.IsBig(Make("hash", 1025), 1024));
        Assert.False(ChunkedKeyWriter.IsBig(Make("hash", 1024), 1024));
        Assert.False(ChunkedKeyWriter.IsBig(StringObject.Create(new byte[100000]), 1024));
    }
}
