namespace Cinnabar.Cli.Modes;

/// <summary>
/// --intrinsic-latency &lt;seconds&gt;: runs a short fixed computation in a tight loop, locally,
/// and reports the longest it ever took: how long the kernel keeps this process from running.
/// </summary>
internal static class IntrinsicLatencyMode
{
    public static int Run(ModeContext ctx)
    {
        long runTime = (long)ctx.O.IntrinsicLatencyDuration * 1_000_000;
        long testEnd = CFmt.Us() + runTime;
        using var interrupt = new InterruptFlag();
        long maxLatency = 0, runs = 0;
        ulong sink = 0;
        var o = ctx.Out;
        while (true)
        {
            long start = CFmt.Us();
            sink += Work();
            long end = CFmt.Us();
            long latency = end - start;
            runs++;
            if (latency <= 0) continue;
            if (latency > maxLatency)
            {
                maxLatency = latency;
                o.Write($"Max latency so far: {maxLatency} microseconds.\n");
            }
            double avgUs = (double)runTime / runs;
            double avgNs = avgUs * 1e3;
            if (interrupt.IsSet || end > testEnd)
            {
                o.Write($"\n{runs} total runs (avg latency: {CFmt.F(avgUs, 4)} microseconds / {CFmt.F(avgNs, 2)} nanoseconds per run).\n");
                o.Write($"Worst run took {CFmt.F(maxLatency / avgUs, 0)}x longer than the average latency.\n");
                GC.KeepAlive(sink);
                return 0;
            }
        }
    }

    // A few steps of a byte-permutation shuffle: a tiny, fixed amount of work between two clock
    // reads (redis-cli's optimised build does next to nothing there either).
    private static ulong Work()
    {
        Span<byte> s = stackalloc byte[256];
        for (int k = 0; k < 256; k++) s[k] = (byte)k;
        byte i = 0, j = 0;
        ulong output = 0;
        for (int count = 0; count < 16; count++)
        {
            i++;
            j += s[i];
            (s[i], s[j]) = (s[j], s[i]);
            output += s[(s[i] + s[j]) & 255];
        }
        return output;
    }
}
