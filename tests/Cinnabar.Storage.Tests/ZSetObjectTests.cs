using System.Text;
using Cinnabar.Storage;
using FsCheck.Xunit;

namespace Cinnabar.Storage.Tests;

public sealed class ZSetObjectTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static List<string> Members(ZSetObject z)
    {
        var list = new List<string>();
        var w = z.Walk(0, reverse: false);
        while (w.MoveNext()) list.Add(Encoding.UTF8.GetString(w.Member));
        return list;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Members_are_ordered_by_score_then_bytes(bool listpack)
    {
        var z = new ZSetObject(listpack);
        z.Insert(B("b"), 1);
        z.Insert(B("a"), 1);
        z.Insert(B("c"), 0);
        z.Insert(B("ab"), 1);
        Assert.Equal(["c", "a", "ab", "b"], Members(z));
        Assert.Equal(listpack ? "listpack" : "skiplist", z.Encoding);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Rank_and_at_agree_after_score_updates(bool listpack)
    {
        var z = new ZSetObject(listpack);
        for (int i = 0; i < 50; i++) z.Insert(B("m" + i), i);
        z.UpdateScore(B("m0"), 0, 100);
        z.UpdateScore(B("m49"), 49, -1);
        Assert.Equal(0, z.Rank(B("m49")));
        Assert.Equal(49, z.Rank(B("m0")));
        Assert.Equal("m1", Encoding.UTF8.GetString(z.At(1).Member));
        Assert.Equal(-1, z.Rank(B("nosuch")));
    }

    [Fact]
    public void Listpack_converts_to_skiplist_on_long_member()
    {
        var z = new ZSetObject(listpack: true);
        z.Insert(B("a"), 1);
        z.Insert(new byte[EncodingLimits.ZsetMaxListpackValue + 1], 2);
        Assert.Equal("skiplist", z.Encoding);
        Assert.Equal(2, z.Count);
        Assert.True(z.TryGetScore(B("a"), out double s) && s == 1);
    }

    [Fact]
    public void Listpack_converts_to_skiplist_past_max_entries()
    {
        var z = new ZSetObject(listpack: true);
        for (int i = 0; i <= EncodingLimits.ZsetMaxListpackEntries; i++) z.Insert(B("m" + i), i);
        Assert.Equal("skiplist", z.Encoding);
        Assert.Equal(EncodingLimits.ZsetMaxListpackEntries + 1, z.Count);
    }

    [Fact]
    public void Listpack_stores_negative_zero_as_zero_but_skiplist_keeps_it()
    {
        var lp = new ZSetObject(listpack: true);
        lp.Insert(B("a"), -0.0);
        lp.TryGetScore(B("a"), out double a);
        Assert.False(double.IsNegative(a));
        var sk = new ZSetObject(listpack: false);
        sk.Insert(B("a"), -0.0);
        sk.TryGetScore(B("a"), out double b);
        Assert.True(double.IsNegative(b));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Score_range_maps_to_rank_interval(bool listpack)
    {
        var z = new ZSetObject(listpack);
        for (int i = 1; i <= 6; i++) z.Insert(B("m" + i), i);
        Assert.Equal((1L, 4L), z.RankRange(new ScoreRange(2, false, 4, false)));
        Assert.Equal((2L, 3L), z.RankRange(new ScoreRange(2, true, 4, true)));
        var empty = z.RankRange(new ScoreRange(3, true, 3, false));
        Assert.Equal(empty.Start, empty.End);
        Assert.Equal((0L, 6L), z.RankRange(new ScoreRange(double.NegativeInfinity, false, double.PositiveInfinity, false)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Lex_range_maps_to_rank_interval(bool listpack)
    {
        var z = new ZSetObject(listpack);
        foreach (var m in new[] { "a", "b", "c", "d" }) z.Insert(B(m), 0);
        Assert.Equal((1L, 3L), z.RankRange(new LexRange(B("b"), LexBound.Value, false, B("d"), LexBound.Value, true)));
        Assert.Equal((0L, 4L), z.RankRange(new LexRange([], LexBound.NegInf, false, [], LexBound.PosInf, false)));
        var r = z.RankRange(new LexRange([], LexBound.PosInf, false, [], LexBound.NegInf, false));
        Assert.Equal(r.Start, r.End);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Remove_range_removes_inclusive_ranks(bool listpack)
    {
        var z = new ZSetObject(listpack);
        for (int i = 0; i < 10; i++) z.Insert(B("m" + i), i);
        var removed = z.RemoveRange(2, 4);
        Assert.Equal(3, removed.Count);
        Assert.Equal(7, z.Count);
        Assert.Equal(["m0", "m1", "m5", "m6", "m7", "m8", "m9"], Members(z));
    }

    [Fact]
    public void Shrink_if_small_returns_to_listpack_with_same_content()
    {
        var z = new ZSetObject(listpack: false);
        z.Insert(B("x"), 2);
        z.Insert(B("y"), 1);
        z.ShrinkIfSmall();
        Assert.Equal("listpack", z.Encoding);
        Assert.Equal(["y", "x"], Members(z));
    }

    [Fact]
    public void Reverse_walk_visits_from_the_given_rank_down()
    {
        var z = new ZSetObject(listpack: false);
        for (int i = 0; i < 5; i++) z.Insert(B("m" + i), i);
        var w = z.Walk(3, reverse: true);
        var seen = new List<string>();
        while (w.MoveNext()) seen.Add(Encoding.UTF8.GetString(w.Member));
        Assert.Equal(["m3", "m2", "m1", "m0"], seen);
    }

    // ------------------------------------------------------------ property test against a model

    private static int ModelCompare((string M, double S) a, (string M, double S) b)
    {
        int c = a.S.CompareTo(b.S);
        return c != 0 ? c : string.CompareOrdinal(a.M, b.M);
    }

    /// <summary>
    /// Random insert/update/remove/remove-range sequences applied to the skiplist encoding and to
    /// a plain sorted list must agree on order, ranks, element-at-rank and range bounds.
    /// </summary>
    [Property(MaxTest = 200)]
    public bool Skiplist_matches_sorted_list_model(byte[] ops, bool listpack)
    {
        var z = new ZSetObject(listpack);
        var model = new Dictionary<string, double>();
        for (int i = 0; i + 2 < ops.Length; i += 3)
        {
            string member = "m" + (ops[i + 1] % 40).ToString(System.Globalization.CultureInfo.InvariantCulture);
            double score = (ops[i + 2] % 16) - 5;
            switch (ops[i] % 4)
            {
                case 0:
                case 1:
                    if (z.TryGetScore(B(member), out double old)) z.UpdateScore(B(member), old, score);
                    else z.Insert(B(member), score);
                    model[member] = score;
                    break;
                case 2:
                    Assert.Equal(model.Remove(member), z.Remove(B(member)));
                    break;
                default:
                    if (model.Count > 2)
                    {
                        var sortedNow = model.Select(kv => (kv.Key, kv.Value)).ToList();
                        sortedNow.Sort(ModelCompare);
                        foreach (var (m, _) in sortedNow.Skip(1).Take(2)) model.Remove(m);
                        z.RemoveRange(1, 2);
                    }
                    break;
            }
        }
        var sorted = model.Select(kv => (kv.Key, kv.Value)).ToList();
        sorted.Sort(ModelCompare);
        if (z.Count != sorted.Count) return false;
        for (int r = 0; r < sorted.Count; r++)
        {
            var (m, s) = z.At(r);
            if (Encoding.UTF8.GetString(m) != sorted[r].Key || s != sorted[r].Value) return false;
            if (z.Rank(B(sorted[r].Key)) != r) return false;
        }
        var (lo, hi) = z.RankRange(new ScoreRange(0, true, 5, false));
        long expectedLo = sorted.Count(e => e.Value <= 0);
        long expectedHi = sorted.Count(e => e.Value <= 5);
        return lo == expectedLo && hi == Math.Max(expectedLo, expectedHi) && Members(z).SequenceEqual(sorted.Select(e => e.Key));
    }

    [Fact]
    public void Skiplist_rank_is_logarithmic_on_a_large_set()
    {
        var list = new SkipList(new Random(42));
        for (int i = 0; i < 100_000; i++) list.Insert(B(i.ToString("D6", System.Globalization.CultureInfo.InvariantCulture)), i);
        Assert.Equal(54321, list.Rank(54321, B("054321")));
        Assert.Equal("099999", Encoding.UTF8.GetString(list.At(99_999).Member));
        Assert.True(list.Delete(500, B("000500")));
        Assert.Equal(500, list.Rank(501, B("000501")));
    }
}
