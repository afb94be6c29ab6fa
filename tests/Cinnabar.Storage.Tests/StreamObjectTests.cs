using System.Globalization;
using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class StreamObjectTests
{
    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);
    private static StreamId Id(ulong ms, ulong seq = 0) => new(ms, seq);
    private static byte[][] Fv(string f, string v) => [B(f), B(v)];

    private static List<string> Ids(IEnumerable<StreamEntry> entries) => entries.Select(e => e.Id.ToString()).ToList();
    private static List<string> All(StreamObject s) => Ids(s.Range(StreamId.Zero, StreamId.Max, false));

    private static StreamObject Numbered(int n)
    {
        var s = new StreamObject();
        for (int i = 1; i <= n; i++) s.Append(Id((ulong)i), Fv("n", i.ToString(CultureInfo.InvariantCulture)));
        return s;
    }

    // Runs with a given stream-node-max-entries (the static limit the CONFIG helper drives).
    private static void WithNodeMaxEntries(int max, Action body)
    {
        int saved = EncodingLimits.StreamNodeMaxEntries;
        EncodingLimits.StreamNodeMaxEntries = max;
        try { body(); }
        finally { EncodingLimits.StreamNodeMaxEntries = saved; }
    }

    [Fact]
    public void Ids_order_by_ms_then_seq_as_unsigned_numbers()
    {
        Assert.True(Id(1, 5) < Id(2, 0));
        Assert.True(Id(2, 0) < Id(2, 1));
        Assert.True(Id(ulong.MaxValue - 1, ulong.MaxValue) < Id(ulong.MaxValue, 0));
        Assert.Equal(0, Id(3, 3).CompareTo(Id(3, 3)));
        Assert.True(Id(1, 1).TryIncrement(out var next));
        Assert.Equal(Id(1, 2), next);
        Assert.True(Id(1, ulong.MaxValue).TryIncrement(out next));
        Assert.Equal(Id(2, 0), next);
        Assert.False(StreamId.Max.TryIncrement(out _));
        Assert.True(Id(2, 0).TryDecrement(out var prev));
        Assert.Equal(Id(1, ulong.MaxValue), prev);
        Assert.False(StreamId.Zero.TryDecrement(out _));
    }

    [Theory]
    [InlineData("5", 0UL, "5-0")]
    [InlineData("5", ulong.MaxValue, "5-18446744073709551615")]
    [InlineData("7-3", 0UL, "7-3")]
    [InlineData("-", 0UL, "0-0")]
    [InlineData("+", 0UL, "18446744073709551615-18446744073709551615")]
    [InlineData("18446744073709551615-18446744073709551615", 0UL, "18446744073709551615-18446744073709551615")]
    [InlineData(" 7", 0UL, "7-0")] // string2ull falls back to strtoull: whitespace, '+', leading zeros
    [InlineData("+7-+5", 0UL, "7-5")]
    [InlineData("007-01", 0UL, "7-1")]
    public void Parse_accepts_redis_id_forms(string text, ulong missingSeq, string expected)
    {
        Assert.True(StreamId.TryParse(B(text), missingSeq, out var id));
        Assert.Equal(expected, id.ToString());
    }

    [Theory]
    [InlineData("x")]
    [InlineData("1-x")]
    [InlineData("1-1-1")]
    [InlineData("-1")]
    [InlineData("18446744073709551616")]
    [InlineData("")]
    [InlineData("1-*")]
    [InlineData("6--5")]
    [InlineData("7 ")]
    [InlineData("+-1")]
    public void Parse_rejects_invalid_ids(string text) => Assert.False(StreamId.TryParse(B(text), 0, out _));

    [Fact]
    public void Parse_accepts_seq_star_only_when_allowed()
    {
        Assert.True(StreamId.TryParse(B("9-*"), 0, out var id, true, out bool seqGiven));
        Assert.False(seqGiven);
        Assert.Equal(9UL, id.Ms);
    }

    [Fact]
    public void Next_id_uses_the_clock_or_increments_the_last_id()
    {
        var s = new StreamObject();
        Assert.True(s.TryNextId(100, out var id));
        Assert.Equal(Id(100, 0), id);
        s.Append(id, Fv("a", "1"));
        Assert.True(s.TryNextId(50, out id)); // clock went backwards: last ID + 1
        Assert.Equal(Id(100, 1), id);
        s.Append(Id(ulong.MaxValue, ulong.MaxValue), Fv("a", "2"));
        Assert.False(s.TryNextId(200, out _));
    }

    [Fact]
    public void Range_returns_live_entries_in_both_directions()
    {
        var s = Numbered(6);
        Assert.True(s.Delete(Id(3)));
        Assert.Equal(["2-0", "4-0", "5-0"], Ids(s.Range(Id(2), Id(5), false)));
        Assert.Equal(["5-0", "4-0", "2-0"], Ids(s.Range(Id(2), Id(5), true)));
        Assert.Equal(["6-0"], Ids(s.Range(Id(5, 1), StreamId.Max, false)));
        Assert.Empty(s.Range(Id(5), Id(2), false));
        Assert.Equal("1-0", s.FirstEntry()!.Id.ToString());
        Assert.Equal("6-0", s.LastEntry()!.Id.ToString());
        Assert.Null(s.Find(Id(3)));
        Assert.Equal("4", Encoding.ASCII.GetString(s.Find(Id(4))!.FieldsAndValues[1]));
    }

    [Fact]
    public void Nodes_split_at_node_max_entries_counting_tombstones() => WithNodeMaxEntries(3, () =>
    {
        var s = Numbered(7);
        Assert.Equal([3, 3, 1], s.Nodes.Select(n => n.Entries.Count).ToArray());
        Assert.Equal(Id(4), s.Nodes[1].MasterId);
        // A tombstone still occupies its slot: the last node fills at 3 entries in total.
        Assert.True(s.Delete(Id(7)));
        Assert.Equal(2, s.Nodes.Count); // the node emptied and went away
        s.Append(Id(8), Fv("n", "8"));
        s.Append(Id(9), Fv("n", "9"));
        Assert.True(s.Delete(Id(8)));
        s.Append(Id(10), Fv("n", "10"));
        s.Append(Id(11), Fv("n", "11"));
        Assert.Equal([3, 3, 3, 1], s.Nodes.Select(n => n.Entries.Count).ToArray());
        Assert.Equal(1, s.Nodes[2].DeletedCount);
    });

    [Fact]
    public void Entries_repeating_the_master_fields_are_flagged_same_fields()
    {
        var s = new StreamObject();
        s.Append(Id(1), [B("a"), B("1"), B("b"), B("2")]);
        s.Append(Id(2), [B("a"), B("3"), B("b"), B("4")]);
        s.Append(Id(3), [B("b"), B("3"), B("a"), B("4")]);
        s.Append(Id(4), [B("a"), B("3")]);
        Assert.Equal([true, true, false, false], s.Nodes[0].Entries.Select(e => e.SameFields).ToArray());
    }

    [Fact]
    public void Delete_tracks_first_id_max_deleted_id_and_length()
    {
        var s = Numbered(3);
        Assert.True(s.Delete(Id(1)));
        Assert.False(s.Delete(Id(1)));
        Assert.False(s.Delete(Id(9)));
        Assert.Equal(2, s.Length);
        Assert.Equal(Id(2), s.FirstId);
        Assert.Equal(Id(1), s.MaxDeletedId);
        Assert.True(s.Delete(Id(3)));
        Assert.Equal(Id(3), s.MaxDeletedId);
        Assert.True(s.Delete(Id(2)));
        Assert.Equal(0, s.Length);
        Assert.Equal(StreamId.Zero, s.FirstId);
        Assert.Empty(s.Nodes);
        Assert.Equal(3, s.EntriesAdded);
        Assert.Equal(Id(3), s.LastId);
    }

    [Fact]
    public void Exact_maxlen_trim_tombstones_inside_the_first_node() => WithNodeMaxEntries(10, () =>
    {
        var s = Numbered(25);
        Assert.Equal(22, s.Trim(true, 3, default, false, 0));
        Assert.Equal(["23-0", "24-0", "25-0"], All(s));
        Assert.Single(s.Nodes); // nodes 1-10 and 11-20 dropped whole, 21-22 tombstoned
        Assert.Equal(2, s.Nodes[0].DeletedCount);
        Assert.Equal(Id(23), s.FirstId);
    });

    [Fact]
    public void Approximate_maxlen_trim_drops_only_whole_nodes() => WithNodeMaxEntries(10, () =>
    {
        var s = Numbered(25);
        Assert.Equal(10, s.Trim(true, 12, default, true, 0));
        Assert.Equal(15, s.Length);
        Assert.Equal(Id(11), s.FirstId);
        Assert.Equal(0, s.Trim(true, 12, default, true, 0)); // removing 11-20 would go below 12
    });

    [Fact]
    public void Minid_trim_removes_entries_below_the_id() => WithNodeMaxEntries(10, () =>
    {
        var s = Numbered(25);
        Assert.Equal(10, s.Trim(false, 0, Id(15), true, 0));
        Assert.Equal(Id(11), s.FirstId);
        Assert.Equal(4, s.Trim(false, 0, Id(15), false, 0));
        Assert.Equal(Id(15), s.FirstId);
        Assert.Equal(11, s.Length);
    });

    [Fact]
    public void Trim_limit_caps_work_per_whole_node() => WithNodeMaxEntries(10, () =>
    {
        var s = Numbered(35);
        Assert.Equal(0, s.Trim(true, 0, default, true, 5)); // a node of 10 exceeds the limit
        Assert.Equal(20, s.Trim(true, 0, default, true, 25));
        Assert.Equal(15, s.Length);
    });

    [Fact]
    public void Consumer_deletion_drops_its_pending_entries_from_the_group()
    {
        var s = Numbered(3);
        var g = new ConsumerGroup(B("g"), StreamId.Zero, 0);
        s.Groups[g.Name] = g;
        var c1 = g.GetOrCreateConsumer(B("c1"), 10, out bool created);
        Assert.True(created);
        Assert.Same(c1, g.GetOrCreateConsumer(B("c1"), 20, out created));
        Assert.False(created);
        var c2 = g.GetOrCreateConsumer(B("c2"), 10, out _);
        foreach (var (id, c) in new[] { (Id(1), c1), (Id(2), c1), (Id(3), c2) })
        {
            var p = new PendingEntry { DeliveryTimeMs = 5, DeliveryCount = 1, Consumer = c };
            g.Pel[id] = p;
            c.Pel[id] = p;
        }
        Assert.Equal(2, g.DeleteConsumer(B("c1")));
        Assert.Equal(-1, g.DeleteConsumer(B("c1")));
        Assert.Equal([Id(3)], g.Pel.Keys.ToArray());
        Assert.Equal(["c2"], g.Consumers.Keys.Select(k => Encoding.ASCII.GetString(k)).ToArray());
    }

    [Fact]
    public void Clone_copies_groups_and_pel_deeply()
    {
        var s = Numbered(2);
        var g = new ConsumerGroup(B("g"), Id(2), 2);
        s.Groups[g.Name] = g;
        var c = g.GetOrCreateConsumer(B("c"), 1, out _);
        var p = new PendingEntry { DeliveryTimeMs = 1, DeliveryCount = 1, Consumer = c };
        g.Pel[Id(1)] = p;
        c.Pel[Id(1)] = p;

        var copy = (StreamObject)s.Clone();
        var cg = copy.Groups[B("g")];
        Assert.Same(cg.Consumers[B("c")], cg.Pel[Id(1)].Consumer);
        Assert.Same(cg.Pel[Id(1)], cg.Consumers[B("c")].Pel[Id(1)]);
        cg.Pel[Id(1)].DeliveryCount = 9;
        copy.Delete(Id(1));
        Assert.Equal(1, p.DeliveryCount);
        Assert.Equal(2, s.Length);
        Assert.NotNull(s.Find(Id(1)));
    }

    [Fact]
    public void Group_entries_read_and_lag_follow_redis_counters()
    {
        var s = Numbered(5);
        var g = new ConsumerGroup(B("g"), StreamId.Zero, 0);
        s.Groups[g.Name] = g;
        Assert.Equal(5, s.Lag(g));
        s.AdvanceGroup(g, Id(1));
        s.AdvanceGroup(g, Id(2));
        Assert.Equal(2, g.EntriesRead);
        Assert.Equal(3, s.Lag(g));
        // A tombstone after the group's position makes the counter unknowable until the end.
        s.Delete(Id(4));
        Assert.Null(s.Lag(g));
        s.AdvanceGroup(g, Id(3));
        s.AdvanceGroup(g, Id(5));
        Assert.Equal(5, g.EntriesRead);
        Assert.Equal(0, s.Lag(g));
        Assert.Equal(5, s.EstimateDistanceFromFirstEverEntry(Id(5)));
        Assert.Equal(StreamObject.InvalidEntriesRead, s.EstimateDistanceFromFirstEverEntry(Id(6)));
    }
}
