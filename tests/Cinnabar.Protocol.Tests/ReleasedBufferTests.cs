using System.Runtime.CompilerServices;

namespace Cinnabar.Protocol.Tests;

public sealed class ReleasedBufferTests
{
    // Far larger than anything other tests release, so the process-wide ledger's sum shows it.
    private const int BufferBytes = 50_000_000;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference ReleaseBigBuffer()
    {
        var buffer = new byte[BufferBytes];
        RespWriter.NoteReleased(buffer);
        // Still on the heap: it counts as released (used_memory subtracts it).
        Assert.True(RespWriter.ReleasedBytes >= BufferBytes);
        return new WeakReference(buffer);
    }

    [Fact]
    public void A_released_large_buffer_is_subtracted_until_the_collector_reclaims_it()
    {
        var weak = ReleaseBigBuffer();
        for (int i = 0; i < 10 && weak.IsAlive; i++)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
        }
        Assert.False(weak.IsAlive);
        // Reclaimed, however late after it was dropped: nothing more to subtract for it.
        Assert.True(RespWriter.ReleasedBytes < BufferBytes);
    }
}
