using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Server.Tests;

public sealed class LazyFreeTests
{
    [Fact]
    public void Objects_are_counted_as_freed_by_the_time_none_is_pending()
    {
        // unit/lazyfree waits for lazyfree_pending_objects == 0, then CONFIG RESETSTAT, and expects
        // lazyfreed_objects to count only what it frees next: the background job must count a
        // batch as freed before it stops counting it as pending.
        var lazyFree = new LazyFree();
        var deadline = Stopwatch.StartNew();
        for (int i = 1; i <= 30; i++)
        {
            lazyFree.ReleaseDatabase(1);
            while (lazyFree.PendingObjects != 0)
            {
                Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "lazyfree job did not finish");
                Thread.SpinWait(100);
            }
            Assert.Equal(i, lazyFree.FreedObjects);
        }
        lazyFree.ResetStats();
        Assert.Equal(0, lazyFree.FreedObjects);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static SetObject BigSet()
    {
        var set = SetObject.CreateHashtable();
        for (int i = 0; i < 1000; i++) set.Add(Encoding.ASCII.GetBytes("member:" + i));
        return set;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ReleaseWhileStillReferenced(LazyFree lazyFree, ManualResetEventSlim dropped)
    {
        var set = BigSet();
        lazyFree.Release(set);
        // The releasing command may still hold the value while the background collection runs:
        // nothing is reclaimed then, so the object must stay pending.
        Thread.Sleep(100);
        Assert.Equal(1, lazyFree.PendingObjects);
        GC.KeepAlive(set);
        dropped.Set();
    }

    [Fact]
    public void A_value_stays_pending_until_its_memory_is_actually_reclaimed()
    {
        var lazyFree = new LazyFree();
        using var dropped = new ManualResetEventSlim();
        ReleaseWhileStillReferenced(lazyFree, dropped);
        var deadline = Stopwatch.StartNew();
        while (lazyFree.PendingObjects != 0)
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "lazyfree job did not finish");
            Thread.Sleep(5);
        }
        Assert.Equal(1, lazyFree.FreedObjects);
    }
}
