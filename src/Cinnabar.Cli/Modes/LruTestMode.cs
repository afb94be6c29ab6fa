using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>
/// --lru-test &lt;keys&gt;: one-second cycles of pipelined SETs and GETs (250 at a time) on keys
/// "lru:N" drawn from an 80/20 power-law distribution, printing the GET hit rate of each cycle.
/// Meant for a server with maxmemory and an eviction policy; it runs until interrupted.
/// </summary>
internal static class LruTestMode
{
    private const int CycleMs = 1000;
    private const int Pipeline = 250;

    public static int Run(ModeContext ctx)
    {
        var conn = ctx.Connect();
        var rng = new Random();
        long sampleSize = ctx.O.LruTestSampleSize;
        var sets = new List<IReadOnlyList<byte[]>>(Pipeline);
        var gets = new List<IReadOnlyList<byte[]>>(Pipeline);
        while (true)
        {
            long cycleStart = CFmt.Ms();
            long hits = 0, misses = 0;
            while (CFmt.Ms() - cycleStart < CycleMs)
            {
                sets.Clear();
                for (int j = 0; j < Pipeline; j++)
                {
                    var val = new byte[5];
                    for (int i = 0; i < 5; i++) val[i] = (byte)('A' + rng.Next('z' - 'A'));
                    sets.Add(["SET"u8.ToArray(), Key(rng, sampleSize), val]);
                }
                gets.Clear();
                for (int j = 0; j < Pipeline; j++) gets.Add(["GET"u8.ToArray(), Key(rng, sampleSize)]);
                try
                {
                    conn.SendMany(sets);
                    for (int j = 0; j < Pipeline; j++)
                        if (conn.Read() == null) IoError();
                    conn.SendMany(gets);
                    for (int j = 0; j < Pipeline; j++)
                    {
                        var r = conn.Read();
                        if (r == null) IoError();
                        switch (r!.Type)
                        {
                            case RespType.Error:
                                StdIo.Err.Write(r.Text + "\n");
                                break;
                            case RespType.Nil:
                                misses++;
                                break;
                            default:
                                hits++;
                                break;
                        }
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    IoError();
                }
            }
            double all = hits + misses;
            ctx.Out.Write($"{hits + misses} Gets/sec | Hits: {hits} ({CFmt.F(hits / all * 100, 2)}%) | Misses: {misses} ({CFmt.F(misses / all * 100, 2)}%)\n");
        }
    }

    private static void IoError()
    {
        StdIo.Err.Write("I/O error during LRU test\n");
        throw new ModeExit(1);
    }

    // An integer in [1, max] with a power-law bias towards small values (alpha 6.2: 80/20).
    private static byte[] Key(Random rng, long max)
    {
        const double alpha = 6.2;
        const long min = 1;
        long top = max + 1;
        double r = rng.NextDouble();
        double pl = Math.Pow((Math.Pow(top, alpha + 1) - Math.Pow(min, alpha + 1)) * r + Math.Pow(min, alpha + 1), 1.0 / (alpha + 1));
        long n = top - 1 - (long)pl + min;
        return Encoding.ASCII.GetBytes("lru:" + n.ToString(CultureInfo.InvariantCulture));
    }
}
