using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Storage.Tests;

public sealed class HyperLogLogTests
{
    private static (byte[] Buf, int Len) Build(int n, long sparseMax = 3000)
    {
        var buf = HyperLogLog.CreateEmpty();
        int len = buf.Length;
        for (int i = 0; i < n; i++) HyperLogLog.Add(ref buf, ref len, Encoding.ASCII.GetBytes("e" + i), sparseMax);
        return (buf, len);
    }

    [Fact]
    public void Empty_hll_is_sparse_header_plus_one_xzero()
    {
        var b = HyperLogLog.CreateEmpty();
        Assert.Equal("HYLL"u8.ToArray(), b[..4]);
        Assert.Equal(18, b.Length);
        Assert.Equal(new byte[] { 0x7f, 0xff }, b[16..]);
        Assert.True(HyperLogLog.IsValid(b));
        Assert.True(HyperLogLog.TryCount(b, out long c));
        Assert.Equal(0, c);
    }

    [Fact]
    public void Element_maps_to_the_same_register_and_count_as_redis()
    {
        // redis-server 7.0: PFADD x a; PFDEBUG DECODE x -> "Z:12711 v:2,1 Z:3672".
        int count = HyperLogLog.PatLen("a"u8, out int index);
        Assert.Equal(12711, index);
        Assert.Equal(2, count);
        var (buf, len) = (HyperLogLog.CreateEmpty(), 18);
        HyperLogLog.Add(ref buf, ref len, "a"u8, 3000);
        Assert.Equal("Z:12711 v:2,1 Z:3672", HyperLogLog.DecodeSparse(buf.AsSpan(0, len)));
    }

    [Fact]
    public void Adding_a_seen_element_changes_nothing()
    {
        var (buf, len) = Build(50);
        Assert.Equal(0, HyperLogLog.Add(ref buf, ref len, "e7"u8, 3000));
    }

    [Fact]
    public void Dense_registers_round_trip_all_six_bit_values()
    {
        var regs = new byte[HyperLogLog.DenseSize - HyperLogLog.HeaderSize];
        for (int i = 0; i < HyperLogLog.Registers; i++) HyperLogLog.SetDenseRegister(regs, i, i % 64);
        for (int i = 0; i < HyperLogLog.Registers; i++) Assert.Equal(i % 64, HyperLogLog.GetDenseRegister(regs, i));
    }

    [Theory]
    [InlineData(10)]
    [InlineData(1000)]
    [InlineData(20000)]
    public void Sparse_and_dense_give_the_same_estimate(int n)
    {
        var (sparse, slen) = Build(n, long.MaxValue);
        var (dense, dlen) = Build(n, long.MaxValue);
        Assert.True(HyperLogLog.SparseToDense(ref dense, ref dlen));
        Assert.True(HyperLogLog.TryCount(sparse.AsSpan(0, slen), out long a));
        Assert.True(HyperLogLog.TryCount(dense.AsSpan(0, dlen), out long b));
        Assert.Equal(a, b);
        Assert.InRange(b, n * 0.95, n * 1.05);
    }

    [Fact]
    public void Sparse_value_is_promoted_once_it_would_exceed_the_byte_limit()
    {
        var (buf, len) = Build(100, 60);
        Assert.False(HyperLogLog.IsSparse(buf));
        Assert.Equal(HyperLogLog.DenseSize, len);
    }

    [Fact]
    public void Union_count_of_raw_registers_equals_count_of_merged_hll()
    {
        var (a, alen) = Build(300);
        var max = new byte[HyperLogLog.Registers];
        Assert.True(HyperLogLog.MergeInto(max, a.AsSpan(0, alen)));
        HyperLogLog.TryCount(a.AsSpan(0, alen), out long c);
        Assert.Equal(c, HyperLogLog.CountRaw(max));
    }

    [Fact]
    public void Corrupt_sparse_stream_is_detected()
    {
        var b = HyperLogLog.CreateEmpty();
        b[17] = 0x00; // XZERO of 16128 registers: no longer covers all 16384
        Assert.False(HyperLogLog.TryCount(b, out _));
        Assert.False(HyperLogLog.MergeInto(new byte[HyperLogLog.Registers], b));
    }

    [Fact]
    public void Cache_invalid_bit_is_the_top_bit_of_the_last_header_byte()
    {
        var b = HyperLogLog.CreateEmpty();
        HyperLogLog.SetCachedCardinality(b, 1234);
        Assert.True(HyperLogLog.CacheValid(b));
        HyperLogLog.InvalidateCache(b);
        Assert.False(HyperLogLog.CacheValid(b));
        Assert.Equal(0x80, b[15]);
        Assert.Equal(1234 & 0xff, b[8]);
    }
}
