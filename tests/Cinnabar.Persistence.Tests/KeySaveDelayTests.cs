using System.Diagnostics;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>rdb-key-save-delay: the per-key wait of a save, and its cancellation.</summary>
public sealed class KeySaveDelayTests
{
    [Fact]
    public void No_delay_means_no_waiter()
    {
        Assert.Null(KeySaveDelay.Create(0));
        Assert.NotNull(KeySaveDelay.Create(-5));
    }

    [Fact]
    public void Sub_millisecond_delays_add_up()
    {
        var d = KeySaveDelay.Create(500)!;
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 100; i++) d.Pay(1);   // 100 x 500 us = 50 ms owed
        Assert.True(sw.ElapsedMilliseconds >= 45, $"waited only {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void A_cancelled_save_stops_waiting_at_once()
    {
        using var cts = new CancellationTokenSource();
        var d = KeySaveDelay.Create(int.MaxValue, cts.Token)!;   // 35 minutes per key
        var sw = Stopwatch.StartNew();
        cts.CancelAfter(200);
        Assert.Throws<OperationCanceledException>(() => d.Pay(1));
        Assert.True(sw.ElapsedMilliseconds < 10_000, $"cancellation took {sw.ElapsedMilliseconds} ms");
    }

    [Fact]
    public void A_slowed_save_streams_keys_as_it_goes_and_ends_on_cancel()
    {
        var ks = new Keyspace(16);
        for (int i = 0; i < 50; i++) ks[0].Set(Encoding.ASCII.GetBytes("key:" + i), StringObject.Create(Encoding.ASCII.GetBytes("v" + i)));
        var gate = new object();
        List<DbSnapshot> snaps;
        lock (gate) snaps = RdbFile.BeginSnapshots(ks);
        using var cts = new CancellationTokenSource();
        var output = new MemoryStream();
        var task = Task.Run(() => RdbFile.Write(output, snaps, gate, new RdbSaveOptions { KeySaveDelayMicros = 1_000_000, Cancel = cts.Token }));
        // One key a second: the header and the first key go out before the first wait, and the
        // lock is free during the wait (a client could run). Wait for the bytes with a deadline
        // (a cold start JIT-compiles the writer first).
        var deadline = Stopwatch.StartNew();
        while (output.Length <= 9 && deadline.ElapsedMilliseconds < 20_000) Thread.Sleep(10);
        Assert.True(output.Length > 9, $"only {output.Length} bytes written");
        Assert.True(Monitor.TryEnter(gate, 2000), "the lock is held during the wait");
        Monitor.Exit(gate);
        Assert.False(task.IsCompleted);   // 50 keys at one second each
        cts.Cancel();
        Assert.Throws<OperationCanceledException>(() => task.GetAwaiter().GetResult());
        lock (gate) Assert.Equal(50, ks[0].Count);
    }
}
