using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class SetObjectTests
{
    private static string[] Members(SetObject s) => s.EnumerateMembers().Select(m => Encoding.UTF8.GetString(m)).ToArray();

    [Fact]
    public void Integer_members_are_an_intset_iterated_in_ascending_order()
    {
        var s = SetObject.CreateFor("5"u8);
        foreach (var m in new[] { "5", "-3", "100", "0" }) s.Add(Encoding.UTF8.GetBytes(m));
        Assert.Equal("intset", s.Encoding);
        Assert.Equal(new[] { "-3", "0", "5", "100" }, Members(s));
    }

    [Fact]
    public void First_non_integer_member_creates_a_hashtable()
    {
        var s = SetObject.CreateFor("abc"u8);
        Assert.Equal("hashtable", s.Encoding);
    }

    [Fact]
    public void Adding_a_string_converts_intset_to_hashtable()
    {
        var s = SetObject.CreateIntset();
        s.Add("1"u8);
        s.Add("x"u8);
        Assert.Equal("hashtable", s.Encoding);
        Assert.True(s.Contains("1"u8));
        Assert.True(s.Contains("x"u8));
    }

    [Fact]
    public void Non_canonical_integers_are_not_intset_members()
    {
        var s = SetObject.CreateIntset();
        s.Add("1"u8);
        Assert.False(s.Contains("01"u8));
        Assert.True(s.Add("01"u8));
        Assert.Equal("hashtable", s.Encoding);
        Assert.Equal(2, s.Count);
    }

    [Fact]
    public void Exceeding_max_intset_entries_converts_to_hashtable()
    {
        var s = SetObject.CreateIntset();
        for (int i = 0; i < EncodingLimits.SetMaxIntsetEntries; i++) s.Add(Encoding.UTF8.GetBytes(i.ToString()));
        Assert.Equal("intset", s.Encoding);
        s.Add("-1"u8);
        Assert.Equal("hashtable", s.Encoding);
        Assert.Equal(EncodingLimits.SetMaxIntsetEntries + 1, s.Count);
    }

    [Fact]
    public void Remove_works_in_both_encodings()
    {
        var s = SetObject.CreateIntset();
        s.Add("1"u8);
        s.Add("2"u8);
        Assert.True(s.Remove("1"u8));
        Assert.False(s.Remove("1"u8));
        Assert.False(s.Remove("x"u8));
        s.Add("x"u8);
        Assert.True(s.Remove("x"u8));
        Assert.Equal(new[] { "2" }, Members(s));
    }

    [Fact]
    public void Duplicate_adds_return_false()
    {
        var s = SetObject.CreateIntset();
        Assert.True(s.Add("7"u8));
        Assert.False(s.Add("7"u8));
        s.ConvertToHashtable();
        Assert.False(s.Add("7"u8));
        Assert.Equal(1, s.Count);
    }

    [Fact]
    public void Clone_is_independent()
    {
        var s = SetObject.CreateIntset();
        s.Add("1"u8);
        var c = (SetObject)s.Clone();
        c.Add("2"u8);
        Assert.Equal(1, s.Count);
        Assert.Equal(2, c.Count);
    }
}
