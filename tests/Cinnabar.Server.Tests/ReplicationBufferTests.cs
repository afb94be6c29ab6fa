using Cinnabar.Replication;

namespace Cinnabar.Server.Tests;

/// <summary>The shared replication buffer: offsets, block trimming, pins held by replicas.</summary>
public sealed class ReplicationBufferTests
{
    private static byte[] Bytes(int count, byte seed)
    {
        var b = new byte[count];
        for (int i = 0; i < count; i++) b[i] = (byte)(seed + i);
        return b;
    }

    [Fact]
    public void Appended_bytes_are_read_back_by_offset_across_blocks()
    {
        var buf = new ReplicationBacklog(16 * 1024, 100);
        var data = Bytes(40_000, 7);
        buf.Append(data.AsSpan(0, 10));
        buf.Append(data.AsSpan(10));
        Assert.Equal(100 + 40_000, buf.MasterOffset);
        // Blocks of 16 KiB: the first is dropped (what follows it still fills the backlog), the second is kept.
        Assert.Equal(101 + 16 * 1024, buf.FirstByteOffset);
        Assert.Equal(40_000 - 16 * 1024, buf.HistLen);
        Assert.True(buf.CanServe(101 + 39_000));
        Assert.Equal(data.AsSpan(39_000).ToArray(), buf.CopyFrom(101 + 39_000));
        Assert.Empty(buf.CopyFrom(buf.MasterOffset + 1));
    }

    [Fact]
    public void History_beyond_the_backlog_size_is_trimmed_by_whole_blocks()
    {
        var buf = new ReplicationBacklog(16 * 1024, 0);
        for (int i = 0; i < 100; i++) buf.Append(Bytes(1000, (byte)i));
        Assert.InRange(buf.HistLen, 16 * 1024, 2 * 16 * 1024);
        Assert.Equal(buf.MasterOffset - buf.HistLen + 1, buf.FirstByteOffset);
        Assert.False(buf.CanServe(1));
        Assert.InRange(buf.MemoryBytes, buf.HistLen, 3 * 16 * 1024 + 200);
    }

    [Fact]
    public void A_pinned_position_keeps_the_history_until_released()
    {
        var buf = new ReplicationBacklog(16 * 1024, 0);
        buf.Append(Bytes(100, 1));
        var pin = buf.PinFrom(buf.MasterOffset + 1);
        long pinnedAt = pin.Offset;
        for (int i = 0; i < 200; i++) buf.Append(Bytes(1000, (byte)i));
        Assert.True(buf.CanServe(pinnedAt));
        Assert.Equal(200_000, buf.BytesFrom(pin));
        Assert.True(buf.HistLen >= 200_000);
        long heldBytes = buf.MemoryBytes;
        buf.Release(pin);
        Assert.True(buf.MemoryBytes < heldBytes - 150_000);
        Assert.False(buf.CanServe(pinnedAt));
        Assert.InRange(buf.HistLen, 16 * 1024, 2 * 16 * 1024);
    }

    [Fact]
    public void Shrinking_the_backlog_size_trims_at_once_unless_pinned()
    {
        var buf = new ReplicationBacklog(1024 * 1024, 0);
        for (int i = 0; i < 64; i++) buf.Append(Bytes(16 * 1024, (byte)i));
        Assert.Equal(1, buf.FirstByteOffset);
        var pin = buf.PinFrom(512 * 1024 + 1);
        buf.Resize(16 * 1024);
        Assert.Equal(512 * 1024 + 1, buf.FirstByteOffset);
        buf.Release(pin);
        Assert.InRange(buf.HistLen, 16 * 1024, 2 * 16 * 1024);
    }
}
