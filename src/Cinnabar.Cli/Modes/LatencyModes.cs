using System.Text;

namespace Cinnabar.Cli.Modes;

/// <summary>--latency, --latency-history and --latency-dist: PING round trips every 10 ms.</summary>
internal static class LatencyModes
{
    private const int SampleRateMs = 10;
    private const long HistoryDefaultMs = 15000;
    private const long DistDefaultMs = 1000;

    public static int Latency(ModeContext ctx)
    {
        var o = ctx.O;
        long intervalUs = ctx.IntervalUs;
        long historyMs = intervalUs != 0 ? intervalUs / 1000 : HistoryDefaultMs;
        // Without a terminal, plain --latency prints one line after this long and exits.
        long oneShotMs = intervalUs == 0 ? 1000 : intervalUs / 1000;
        ctx.Connect();
        long min = 0, max = 0, tot = 0, count = 0;
        double avg = 0;
        long historyStart = CFmt.Ms();
        while (true)
        {
            long start = CFmt.Ms();
            ctx.ReconnectingCall("PING");
            long latency = CFmt.Ms() - start;
            count++;
            if (count == 1)
            {
                min = max = tot = latency;
                avg = latency;
            }
            else
            {
                if (latency < min) min = latency;
                if (latency > max) max = latency;
                tot += latency;
                avg = (double)tot / count;
            }

            if (ctx.StandardOutput)
            {
                ctx.Out.Write("\u001b[0G\u001b[2K");
                Print(ctx, min, max, avg, count);
            }
            else if (o.LatencyHistory)
            {
                Print(ctx, min, max, avg, count);
            }
            else if (CFmt.Ms() - historyStart > oneShotMs)
            {
                Print(ctx, min, max, avg, count);
                return 0;
            }

            if (o.LatencyHistory && CFmt.Ms() - historyStart > historyMs)
            {
                ctx.Out.Write($" -- {CFmt.F((float)(CFmt.Ms() - historyStart) / 1000, 2)} seconds range\n");
                historyStart = CFmt.Ms();
                min = max = tot = count = 0;
            }
            Thread.Sleep(SampleRateMs);
        }
    }

    private static void Print(ModeContext ctx, long min, long max, double avg, long count)
    {
        string a = CFmt.F(avg, 2);
        if (ctx.StandardOutput)
        {
            ctx.Out.Write($"min: {min}, max: {max}, avg: {a} ({count} samples)");
            ctx.Out.Flush();
        }
        else if (ctx.O.QuotedJson)
        {
            // redis-cli has no latency line for --quoted-json.
        }
        else if (ctx.O.Json)
        {
            ctx.Out.Write($"{{\"min\": {min}, \"max\": {max}, \"avg\": {a}, \"count\": {count}}}\n");
        }
        else if (ctx.Mode == OutputMode.Csv)
        {
            ctx.Out.Write($"{min},{max},{a},{count}\n");
        }
        else
        {
            ctx.Out.Write($"{min} {max} {a} {count}\n");
        }
    }

    // Bucket upper bounds in microseconds (0 = everything above the previous one) and their glyphs.
    private static readonly (long Max, char Glyph)[] Buckets =
    [
        (10, '.'), (125, '-'), (250, '*'), (500, '#'),
        (1000, '1'), (2000, '2'), (3000, '3'), (4000, '4'), (5000, '5'), (6000, '6'), (7000, '7'), (8000, '8'), (9000, '9'),
        (10000, 'A'), (20000, 'B'), (30000, 'C'), (40000, 'D'), (50000, 'E'),
        (100000, 'F'), (200000, 'G'), (300000, 'H'), (400000, 'I'), (500000, 'J'),
        (1000000, 'K'), (2000000, 'L'), (4000000, 'M'), (8000000, 'N'), (16000000, 'O'), (30000000, 'P'), (60000000, 'Q'),
        (0, '?'),
    ];

    private static readonly int[] ColorPalette = [0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 144, 143, 142, 184, 226, 214, 208, 202, 196];
    private static readonly int[] MonoPalette = [0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 249, 251, 253];

    public static int LatencyDist(ModeContext ctx)
    {
        long intervalUs = ctx.IntervalUs;
        long historyMs = intervalUs != 0 ? intervalUs / 1000 : DistDefaultMs;
        int[] palette = ctx.O.Mono ? MonoPalette : ColorPalette;
        var counts = new long[Buckets.Length];
        ctx.Connect();
        long count = 0;
        int outputs = 0;
        long historyStart = CFmt.Us();
        while (true)
        {
            long start = CFmt.Us();
            ctx.ReconnectingCall("PING");
            long latency = CFmt.Us() - start;
            count++;
            for (int j = 0; ; j++)
            {
                if (Buckets[j].Max == 0 || latency <= Buckets[j].Max)
                {
                    counts[j]++;
                    break;
                }
            }
            if ((CFmt.Us() - historyStart) / 1000 > historyMs)
            {
                if (outputs++ % 20 == 0) Legend(ctx, palette);
                Spectrum(ctx, palette, counts, count);
                historyStart = CFmt.Us();
                count = 0;
            }
            Thread.Sleep(SampleRateMs);
        }
    }

    private static void Legend(ModeContext ctx, int[] palette)
    {
        var sb = new StringBuilder();
        sb.Append("---------------------------------------------\n");
        sb.Append(". - * #          .01 .125 .25 .5 milliseconds\n");
        sb.Append("1,2,3,...,9      from 1 to 9     milliseconds\n");
        sb.Append("A,B,C,D,E        10,20,30,40,50  milliseconds\n");
        sb.Append("F,G,H,I,J        .1,.2,.3,.4,.5       seconds\n");
        sb.Append("K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds\n");
        sb.Append("From 0 to 100%: ");
        foreach (int c in palette) sb.Append("\u001b[48;5;").Append(c).Append("m ");
        sb.Append("\u001b[0m\n");
        sb.Append("---------------------------------------------\n");
        ctx.Out.Write(sb.ToString());
    }

    // One character per bucket, its background shade proportional to the bucket's share.
    private static void Spectrum(ModeContext ctx, int[] palette, long[] counts, long total)
    {
        var sb = new StringBuilder("\u001b[38;5;0m");
        for (int j = 0; j < Buckets.Length; j++)
        {
            int idx = (int)Math.Ceiling((double)counts[j] / total * (palette.Length - 1));
            sb.Append("\u001b[48;5;").Append(palette[idx]).Append('m').Append(Buckets[j].Glyph);
            counts[j] = 0;
        }
        sb.Append("\u001b[0m\n");
        ctx.Out.Write(sb.ToString());
        ctx.Out.Flush();
    }
}
