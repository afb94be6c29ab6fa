using Cinnabar.Cluster;

namespace Cinnabar.Cluster.Tests;

public sealed class SlotBitmapTests
{
    // The word-skipping range walk must give exactly the ranges a slot-by-slot walk gives.
    private static List<(int, int)> NaiveRanges(SlotBitmap b)
    {
        var list = new List<(int, int)>();
        int start = -1;
        for (int s = 0; s <= ClusterNode.SlotCount; s++)
        {
            bool bit = s < ClusterNode.SlotCount && b.Get(s);
            if (bit && start < 0) start = s;
            if (!bit && start >= 0) { list.Add((start, s - 1)); start = -1; }
        }
        return list;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Slot_ranges_match_a_slot_by_slot_walk(int seed)
    {
        var rng = new Random(seed);
        for (int round = 0; round < 200; round++)
        {
            var b = new SlotBitmap();
            // Mixes of runs: dense, sparse, word-aligned edges, first and last slot.
            int runs = rng.Next(0, 20);
            for (int r = 0; r < runs; r++)
            {
                int start = rng.Next(3) == 0 ? rng.Next(256) * 64 : rng.Next(ClusterNode.SlotCount);
                int len = rng.Next(3) == 0 ? 64 : rng.Next(1, 700);
                for (int s = start; s < Math.Min(ClusterNode.SlotCount, start + len); s++) b.Set(s);
            }
            if (rng.Next(4) == 0) b.Set(0);
            if (rng.Next(4) == 0) b.Set(ClusterNode.SlotCount - 1);
            Assert.Equal(NaiveRanges(b), ClusterNode.SlotRanges(b).Select(r => (r.Start, r.End)).ToList());
        }
    }

    [Fact]
    public void Empty_and_full_bitmaps()
    {
        var b = new SlotBitmap();
        Assert.Empty(ClusterNode.SlotRanges(b));
        Assert.Equal(ClusterNode.SlotCount, b.NextWith(0, true));
        Assert.Equal(0, b.NextWith(0, false));
        for (int s = 0; s < ClusterNode.SlotCount; s++) b.Set(s);
        Assert.Equal([(0, ClusterNode.SlotCount - 1)], ClusterNode.SlotRanges(b).Select(r => (r.Start, r.End)).ToList());
        Assert.Equal(ClusterNode.SlotCount, b.NextWith(5, false));
        Assert.Equal(16383, b.NextWith(16383, true));
    }
}
