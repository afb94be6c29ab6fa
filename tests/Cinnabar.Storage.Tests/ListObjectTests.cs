using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class ListObjectTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    private static string S(byte[]? b) => b == null ? "(nil)" : Encoding.UTF8.GetString(b);
    private static string S(ReadOnlySpan<byte> b) => Encoding.UTF8.GetString(b);
    private static List<string> All(ListObject l) => l.Enumerate().Select(S).ToList();

    [Fact]
    public void Push_and_pop_at_both_ends_keep_order()
    {
        var l = new ListObject();
        l.PushTail(B("b"));
        l.PushHead(B("a"));
        l.PushTail(B("c"));
        Assert.Equal(["a", "b", "c"], All(l));
        Assert.Equal("a", S(l.PopHead()));
        Assert.Equal("c", S(l.PopTail()));
        Assert.Equal("b", S(l.PopHead()));
        Assert.Null(l.PopHead());
        Assert.Null(l.PopTail());
        Assert.Equal(0, l.Count);
    }

    [Fact]
    public void Encoding_is_quicklist_as_in_redis_7_0()
    {
        var l = new ListObject();
        l.PushTail(B("x"));
        Assert.Equal("quicklist", l.Encoding);
        Assert.Equal(RedisType.List, l.Type);
    }

    [Fact]
    public void Index_and_set_work_across_many_chunks()
    {
        var l = new ListObject();
        for (int i = 0; i < 1000; i++) l.PushTail(B(i.ToString()));
        for (int i = 1; i <= 500; i++) l.PushHead(B((-i).ToString()));
        Assert.Equal(1500, l.Count);
        Assert.Equal("-500", S(l.Get(0)));
        Assert.Equal("0", S(l.Get(500)));
        Assert.Equal("999", S(l.Get(1499)));
        Assert.Equal("700", S(l.Get(1200)));
        l.Set(1200, B("x"));
        Assert.Equal("x", S(l.Get(1200)));
        Assert.Equal(1499, l.Normalize(-1));
        Assert.Equal(-1, l.Normalize(1500));
        Assert.Equal(-1, l.Normalize(-1501));
    }

    [Fact]
    public void Cursors_walk_forward_and_backward_from_any_index()
    {
        var l = new ListObject();
        for (int i = 0; i < 400; i++) l.PushTail(B(i.ToString()));
        var fwd = l.GetCursor(250);
        var seen = new List<string>();
        while (fwd.MoveNext()) seen.Add(S(fwd.Current));
        Assert.Equal(Enumerable.Range(250, 150).Select(i => i.ToString()), seen);
        var back = l.GetReverseCursor(130);
        seen.Clear();
        while (back.MoveNext()) seen.Add(S(back.Current));
        Assert.Equal(Enumerable.Range(0, 131).Reverse().Select(i => i.ToString()), seen);
        var none = l.GetCursor(400);
        Assert.False(none.MoveNext());
    }

    [Fact]
    public void Insert_relative_to_pivot_splits_full_chunks()
    {
        var l = new ListObject();
        for (int i = 0; i < 300; i++) l.PushTail(B(i.ToString()));
        Assert.True(l.InsertRelative(B("200"), B("before200"), before: true));
        Assert.True(l.InsertRelative(B("64"), B("after64"), before: false));
        Assert.False(l.InsertRelative(B("nope"), B("x"), before: true));
        var expected = Enumerable.Range(0, 300).Select(i => i.ToString()).ToList();
        expected.Insert(200, "before200");
        expected.Insert(65, "after64");
        Assert.Equal(expected, All(l));
    }

    [Fact]
    public void Remove_counts_from_head_tail_or_all()
    {
        var l = new ListObject();
        foreach (var s in "a b a c a b a".Split(' ')) l.PushTail(B(s));
        Assert.Equal(2, l.Remove(B("a"), 2));
        Assert.Equal(["b", "c", "a", "b", "a"], All(l));
        Assert.Equal(1, l.Remove(B("b"), -1));
        Assert.Equal(["b", "c", "a", "a"], All(l));
        Assert.Equal(2, l.Remove(B("a"), 0));
        Assert.Equal(["b", "c"], All(l));
        Assert.Equal(0, l.Remove(B("zz"), 0));
        Assert.Equal(2, l.Count);
    }

    [Fact]
    public void Remove_head_and_tail_drop_whole_chunks()
    {
        var l = new ListObject();
        for (int i = 0; i < 1000; i++) l.PushTail(B(i.ToString()));
        l.RemoveHead(300);
        l.RemoveTail(450);
        Assert.Equal(Enumerable.Range(300, 250).Select(i => i.ToString()), All(l));
        l.RemoveHead(1000);
        Assert.Equal(0, l.Count);
        l.PushHead(B("again"));
        Assert.Equal(["again"], All(l));
    }

    [Fact]
    public void Clone_is_deep()
    {
        var l = new ListObject();
        l.PushTail(B("a"));
        var c = (ListObject)l.Clone();
        c.PushTail(B("b"));
        c.Set(0, B("z"));
        Assert.Equal(["a"], All(l));
        Assert.True(l.MemoryUsage(5) > 0);
        Assert.Equal(["z", "b"], All(c));
    }

    [Fact]
    public void Random_operations_match_a_reference_list()
    {
        var rnd = new Random(42);
        var l = new ListObject();
        var model = new List<string>();
        for (int step = 0; step < 20000; step++)
        {
            string v = rnd.Next(50) == 0 ? new string((char)('a' + rnd.Next(3)), rnd.Next(200, 400)) : rnd.Next(20).ToString();
            switch (rnd.Next(9))
            {
                case 0: l.PushHead(B(v)); model.Insert(0, v); break;
                case 1: case 2: l.PushTail(B(v)); model.Add(v); break;
                case 3:
                    Assert.Equal(model.Count == 0 ? "(nil)" : model[0], S(l.PopHead()));
                    if (model.Count > 0) model.RemoveAt(0);
                    break;
                case 4:
                    Assert.Equal(model.Count == 0 ? "(nil)" : model[^1], S(l.PopTail()));
                    if (model.Count > 0) model.RemoveAt(model.Count - 1);
                    break;
                case 5:
                    int at = rnd.Next(model.Count + 1);
                    l.InsertAt(at, B(v));
                    model.Insert(at, v);
                    break;
                case 6:
                    if (model.Count > 0)
                    {
                        int i = rnd.Next(model.Count);
                        Assert.Equal(model[i], S(l.Get(i)));
                        l.Set(i, B(v));
                        model[i] = v;
                    }
                    break;
                case 7:
                    if (rnd.Next(20) == 0)
                    {
                        long n = rnd.Next(-2, 3);
                        long removed = l.Remove(B(v), n);
                        long expect = 0;
                        if (n >= 0)
                        {
                            for (int i = 0; i < model.Count && (n == 0 || expect < n); i++)
                                if (model[i] == v) { model.RemoveAt(i--); expect++; }
                        }
                        else
                        {
                            for (int i = model.Count - 1; i >= 0 && expect < -n; i--)
                                if (model[i] == v) { model.RemoveAt(i); expect++; }
                        }
                        Assert.Equal(expect, removed);
                    }
                    break;
                case 8:
                    if (rnd.Next(50) == 0 && model.Count > 10)
                    {
                        l.RemoveHead(3);
                        l.RemoveTail(2);
                        model.RemoveRange(0, 3);
                        model.RemoveRange(model.Count - 2, 2);
                    }
                    break;
            }
            Assert.Equal(model.Count, l.Count);
        }
        Assert.Equal(model, All(l));
        for (int probe = 0; probe < 50 && model.Count > 0; probe++)
        {
            int start = rnd.Next(model.Count);
            var fwd = l.GetCursor(start);
            var seen = new List<string>();
            while (fwd.MoveNext()) seen.Add(S(fwd.Current));
            Assert.Equal(model.Skip(start), seen);
            var back = l.GetReverseCursor(start);
            seen.Clear();
            while (back.MoveNext()) seen.Add(S(back.Current));
            Assert.Equal(model.Take(start + 1).Reverse(), seen);
            Assert.Equal(model[start], S(l.Get(start)));
        }
    }

    [Fact]
    public void Large_and_empty_elements_round_trip_from_both_ends()
    {
        var l = new ListObject();
        var big = new string('x', 100_000);
        var mid = new string('m', 300);
        l.PushTail(B(big));
        l.PushHead(B(""));
        l.PushTail(B(mid));
        l.PushHead(B(mid));
        Assert.Equal(["" + mid, "", big, mid], All(l));
        Assert.Equal(big, S(l.Get(2)));
        l.Set(1, B(big));
        l.Set(2, B("s"));
        Assert.Equal([mid, big, "s", mid], All(l));
        var back = l.GetReverseCursor(3);
        var seen = new List<string>();
        while (back.MoveNext()) seen.Add(S(back.Current));
        Assert.Equal([mid, "s", big, mid], seen);
        Assert.Equal(mid, S(l.PopTail()));
        Assert.Equal(mid, S(l.PopHead()));
        Assert.Equal(big, S(l.PopHead()));
    }

    [Fact]
    public void Small_elements_are_packed_compactly()
    {
        var l = new ListObject();
        for (int i = 0; i < 100_000; i++) l.PushTail(B("abc"));
        // 5 bytes per packed entry plus chunk overhead; a byte[] per element would need over 32.
        Assert.True(l.MemoryUsage(0) < 100_000 * 12, $"memory {l.MemoryUsage(0)}");
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(5)]
    public void Random_operations_hold_for_other_chunk_budgets(int listMaxListpackSize)
    {
        int saved = EncodingLimits.ListMaxListpackSize;
        try
        {
            EncodingLimits.ListMaxListpackSize = listMaxListpackSize;
            Random_operations_match_a_reference_list();
        }
        finally
        {
            EncodingLimits.ListMaxListpackSize = saved;
        }
    }
}
