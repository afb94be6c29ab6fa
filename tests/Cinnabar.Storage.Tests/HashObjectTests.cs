using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class HashObjectTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Small_hash_is_listpack_and_keeps_insertion_order()
    {
        var h = new HashObject();
        Assert.True(h.Set(B("b"), B("1")));
        Assert.True(h.Set(B("a"), B("2")));
        Assert.False(h.Set(B("b"), B("3")));
        Assert.Equal("listpack", h.Encoding);
        Assert.True(h.TryGetAt(0, out var f0, out var v0));
        Assert.Equal("b", Encoding.UTF8.GetString(f0));
        Assert.Equal("3", Encoding.UTF8.GetString(v0));
        Assert.True(h.TryGetAt(1, out var f1, out _));
        Assert.Equal("a", Encoding.UTF8.GetString(f1));
    }

    [Fact]
    public void Too_many_entries_converts_to_hashtable()
    {
        var h = new HashObject();
        for (int i = 0; i < EncodingLimits.HashMaxListpackEntries; i++) h.Set(B("f" + i), B("v"));
        Assert.Equal("listpack", h.Encoding);
        h.Set(B("extra"), B("v"));
        Assert.Equal("hashtable", h.Encoding);
        Assert.Equal(EncodingLimits.HashMaxListpackEntries + 1, h.Count);
        Assert.Equal("v", Encoding.UTF8.GetString(h.Get("f7"u8)!));
    }

    [Fact]
    public void Long_value_converts_to_hashtable_and_never_back()
    {
        var h = new HashObject();
        h.Set(B("f"), new byte[EncodingLimits.HashMaxListpackValue + 1]);
        Assert.Equal("hashtable", h.Encoding);
        h.Delete("f"u8);
        h.Set(B("g"), B("small"));
        Assert.Equal("hashtable", h.Encoding);
    }

    [Fact]
    public void Value_at_the_limit_stays_listpack()
    {
        var h = new HashObject();
        h.Set(new byte[EncodingLimits.HashMaxListpackValue], new byte[EncodingLimits.HashMaxListpackValue]);
        Assert.Equal("listpack", h.Encoding);
    }

    [Fact]
    public void Delete_and_exists_work_in_both_encodings()
    {
        foreach (bool convert in new[] { false, true })
        {
            var h = new HashObject();
            h.Set(B("a"), B("1"));
            h.Set(B("b"), B("2"));
            if (convert) h.ConvertToHashtable();
            Assert.True(h.Exists("a"u8));
            Assert.True(h.Delete("a"u8));
            Assert.False(h.Delete("a"u8));
            Assert.False(h.Exists("a"u8));
            Assert.Equal(1, h.Count);
            Assert.Null(h.Get("a"u8));
        }
    }

    [Fact]
    public void Clone_is_deep()
    {
        var h = new HashObject();
        h.Set(B("a"), B("1"));
        var c = (HashObject)h.Clone();
        c.Set(B("a"), B("2"));
        Assert.Equal("1", Encoding.UTF8.GetString(h.Get("a"u8)!));
        Assert.Equal("2", Encoding.UTF8.GetString(c.Get("a"u8)!));
    }

    [Fact]
    public void Random_position_always_hits_an_entry()
    {
        var h = new HashObject();
        for (int i = 0; i < 300; i++) h.Set(B("f" + i), B("v"));
        for (int i = 0; i < 290; i++) h.Delete(Encoding.UTF8.GetBytes("f" + i));
        var rnd = new Random(1);
        for (int i = 0; i < 100; i++) Assert.True(h.TryGetAt(h.RandomPosition(rnd), out _, out _));
    }
}
