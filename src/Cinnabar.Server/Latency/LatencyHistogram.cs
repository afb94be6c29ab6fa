using System.Globalization;
using System.Numerics;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// Per-command latency distribution for LATENCY HISTOGRAM and INFO latencystats: an HDR
/// histogram laid out exactly as the one Redis 7.0 keeps per command (values in nanoseconds from
/// 1 to 1e9, two significant figures: 256 sub-buckets, half of them per doubling bucket, 23
/// buckets, 3072 counters), so bucket edges, percentiles and the log-2 iteration used for the
/// CDF reply come out as Redis's. Recording is one index computation and one increment. The
/// counters are kept in blocks of 128 (one per doubling bucket), each allocated when a duration
/// first lands in it: a command's durations usually span a few doublings, so it holds a few KB
/// instead of Redis's 24 KB.
/// </summary>
public sealed class LatencyHistogram
{
    public const long MinValueNs = 1;
    public const long MaxValueNs = 1_000_000_000;
    // Derived from (1, 1e9, 2 significant figures) as hdr_calculate_bucket_config does.
    private const int UnitMagnitude = 0;
    private const int SubBucketHalfCountMagnitude = 7;
    private const int SubBucketCount = 256;
    private const int SubBucketHalfCount = 128;
    private const long SubBucketMask = (SubBucketCount - 1L) << UnitMagnitude;
    private const int BucketCount = 23;
    public const int CountsLength = (BucketCount + 1) * SubBucketHalfCount;

    private readonly long[]?[] _blocks = new long[]?[BucketCount + 1];

    private long CountAt(int index) => _blocks[index >> SubBucketHalfCountMagnitude] is { } b ? b[index & (SubBucketHalfCount - 1)] : 0;

    public long TotalCount { get; private set; }

    /// <summary>Records one call's duration (clamped into the tracked range, as Redis does).</summary>
    public void Record(long durationNs)
    {
        long v = Math.Clamp(durationNs, MinValueNs, MaxValueNs);
        int index = IndexOf(v);
        (_blocks[index >> SubBucketHalfCountMagnitude] ??= new long[SubBucketHalfCount])[index & (SubBucketHalfCount - 1)]++;
        TotalCount++;
    }

    private static int BucketIndex(long value) => 64 - BitOperations.LeadingZeroCount((ulong)(value | SubBucketMask)) - UnitMagnitude - (SubBucketHalfCountMagnitude + 1);

    private static int SubBucketIndex(long value, int bucket) => (int)(value >> (bucket + UnitMagnitude));

    internal static int IndexOf(long value)
    {
        int bucket = BucketIndex(value);
        int sub = SubBucketIndex(value, bucket);
        return ((bucket + 1) << SubBucketHalfCountMagnitude) + (sub - SubBucketHalfCount);
    }

    internal static long ValueAtIndex(int index)
    {
        int bucket = (index >> SubBucketHalfCountMagnitude) - 1;
        int sub = (index & (SubBucketHalfCount - 1)) + SubBucketHalfCount;
        if (bucket < 0)
        {
            sub -= SubBucketHalfCount;
            bucket = 0;
        }
        return (long)sub << (bucket + UnitMagnitude);
    }

    private static long RangeSize(int bucket, int sub) => 1L << (UnitMagnitude + (sub >= SubBucketCount ? bucket + 1 : bucket));

    internal static long LowestEquivalent(long value)
    {
        int bucket = BucketIndex(value);
        return (long)SubBucketIndex(value, bucket) << (bucket + UnitMagnitude);
    }

    internal static long HighestEquivalent(long value)
    {
        int bucket = BucketIndex(value);
        int sub = SubBucketIndex(value, bucket);
        return ((long)sub << (bucket + UnitMagnitude)) + RangeSize(bucket, sub) - 1;
    }

    /// <summary>hdr_value_at_percentile: the highest value equivalent to the one at that rank (lowest for p0).</summary>
    public long ValueAtPercentile(double percentile)
    {
        double requested = percentile < 100.0 ? percentile : 100.0;
        long countAt = (long)(requested / 100 * TotalCount + 0.5);
        if (countAt < 1) countAt = 1;
        long value = 0, seen = 0;
        for (int i = 0; i < CountsLength; i++)
        {
            seen += CountAt(i);
            if (seen >= countAt)
            {
                value = ValueAtIndex(i);
                break;
            }
        }
        return percentile == 0.0 ? LowestEquivalent(value) : HighestEquivalent(value);
    }

    /// <summary>
    /// The cumulative distribution Redis replies (fillCommandCDF): walking the counters with a
    /// logarithmic iterator (first bucket 1024 ns, base 2), each step gives the highest value of
    /// the counter it stopped at, in microseconds, and the count so far; steps that add nothing are
    /// left out.
    /// </summary>
    public List<(long Micros, long Cumulative)> CumulativeDistribution()
    {
        var result = new List<(long, long)>();
        var it = new LogIterator(this);
        long previous = 0;
        while (it.Next())
        {
            if (it.Cumulative > previous) result.Add((it.HighestEquivalent / 1000, it.Cumulative));
            previous = it.Cumulative;
        }
        return result;
    }

    /// <summary>hdr_iter_log_init(h, 1024, 2) and log_iter_next, step for step.</summary>
    private struct LogIterator(LatencyHistogram h)
    {
        private int _index = -1;
        private long _value;
        private long _nextLevel = 1024;
        private long _nextLevelLowest = LowestEquivalent(1024);
        public long Cumulative;
        public long HighestEquivalent;

        public bool Next()
        {
            if (Cumulative >= h.TotalCount && !NextValueAbove(_nextLevelLowest)) return false;
            while (true)
            {
                if (_value >= _nextLevelLowest)
                {
                    _nextLevel *= 2;
                    _nextLevelLowest = LowestEquivalent(_nextLevel);
                    return true;
                }
                if (!MoveNext()) return true;
            }
        }

        private readonly bool NextValueAbove(long bound) => _index < CountsLength && ValueAtIndex(_index + 1) > bound;

        private bool MoveNext()
        {
            _index++;
            if (_index >= CountsLength) return false;
            Cumulative += h.CountAt(_index);
            _value = ValueAtIndex(_index);
            HighestEquivalent = HighestEquivalent(_value);
            return true;
        }
    }

    /// <summary>One command's entry of LATENCY HISTOGRAM: calls and histogram_usec.</summary>
    public void WriteCdf(RespWriter w)
    {
        w.WriteMapHeader(2);
        w.WriteBulk("calls"u8);
        w.WriteInteger(TotalCount);
        w.WriteBulk("histogram_usec"u8);
        var cdf = CumulativeDistribution();
        w.WriteMapHeader(cdf.Count);
        foreach (var (micros, cumulative) in cdf)
        {
            w.WriteInteger(micros);
            w.WriteInteger(cumulative);
        }
    }

    /// <summary>INFO latencystats value: p50=1.003,p99=2.007,p99.9=3.001 for the configured percentiles.</summary>
    public string PercentilesLine(double[] percentiles)
    {
        var sb = new System.Text.StringBuilder();
        for (int i = 0; i < percentiles.Length; i++)
        {
            if (i > 0) sb.Append(',');
            sb.Append('p').Append(FormatPercentile(percentiles[i])).Append('=');
            sb.Append((ValueAtPercentile(percentiles[i]) / 1000.0).ToString("F3", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    // sprintf("%f") then trimDoubleString: "50.000000" -> "50", "99.900000" -> "99.9".
    private static string FormatPercentile(double p)
    {
        string s = p.ToString("F6", CultureInfo.InvariantCulture);
        if (s.Contains('.', StringComparison.Ordinal)) s = s.TrimEnd('0').TrimEnd('.');
        return s;
    }
}
