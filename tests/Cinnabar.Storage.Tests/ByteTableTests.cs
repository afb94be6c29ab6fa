using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class ByteTableTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public void Set_get_remove_round_trip()
    {
        var t = new ByteTable<int>();
        Assert.True(t.Set(B("a"), 1));
        Assert.False(t.Set(B("a"), 2));
        Assert.True(t.TryGetValue("a"u8, out int v));
        Assert.Equal(2, v);
        Assert.True(t.Remove("a"u8));
        Assert.False(t.ContainsKey("a"u8));
        Assert.Equal(0, t.Count);
    }

    [Fact]
    public void Entries_survive_growth_and_removals()
    {
        var t = new ByteTable<int>();
        for (int i = 0; i < 10000; i++) t.Set(B("k" + i), i);
        for (int i = 0; i < 10000; i += 2) Assert.True(t.Remove(B("k" + i)));
        Assert.Equal(5000, t.Count);
        for (int i = 1; i < 10000; i += 2)
        {
            Assert.True(t.TryGetValue(B("k" + i), out int v));
            Assert.Equal(i, v);
        }
    }

    [Fact]
    public void Index_cursor_visits_every_element_present_for_the_whole_scan_once()
    {
        var t = new ByteTable<int>();
        for (int i = 0; i < 1000; i++) t.Set(B("stable" + i), i);
        var seen = new Dictionary<string, int>();
        int cursor = 0, round = 0;
        while (true)
        {
            // Interleave churn: add and remove other keys between scan steps.
            t.Set(B("churn" + round), round);
            if (round > 3) t.Remove(B("churn" + (round - 3)));
            int visited = 0;
            int i = cursor;
            for (; i < t.Capacity && visited < 10; i++)
            {
                if (!t.IsUsed(i)) continue;
                visited++;
                string k = Encoding.UTF8.GetString(t.KeyAt(i));
                seen[k] = seen.GetValueOrDefault(k) + 1;
            }
            cursor = i;
            round++;
            if (cursor >= t.Capacity) break;
        }
        for (int i = 0; i < 1000; i++) Assert.Equal(1, seen["stable" + i]);
    }

    [Fact]
    public void Random_index_returns_only_live_entries()
    {
        var t = new ByteTable<int>();
        for (int i = 0; i < 100; i++) t.Set(B("k" + i), i);
        for (int i = 0; i < 95; i++) t.Remove(B("k" + i));
        var rnd = new Random(1);
        for (int n = 0; n < 200; n++)
        {
            int idx = t.RandomIndex(rnd);
            Assert.True(t.IsUsed(idx));
        }
    }
}
