using Cinnabar.Protocol;

namespace Cinnabar.Server.Tests;

/// <summary>The per-command HDR histogram and the latency monitor, checked against values real Redis 7.0 produced.</summary>
public sealed class LatencyTests
{
    [Fact]
    public void Counters_are_allocated_only_for_the_doublings_that_were_hit()
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var h = new LatencyHistogram();
        for (int i = 0; i < 100; i++) h.Record(10_000 + i * 50); // 10-15 us: one doubling bucket
        long oneBucket = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(oneBucket < 2048, $"{oneBucket} bytes for one bucket (Redis's dense array is 24 KB)");
        h.Record(900_000_000);
        Assert.Equal(101, h.TotalCount);
        Assert.Equal(901_775_359, h.ValueAtPercentile(100)); // sub-buckets 4194304 ns wide up there
        Assert.Equal(12_543, h.ValueAtPercentile(50)); // the 51st value, 12500 ns, in a 64 ns sub-bucket
    }

    [Fact]
    public void Percentile_is_the_highest_value_of_the_recorded_bucket_like_redis()
    {
        var h = new LatencyHistogram();
        h.Record(11_000); // Redis 7.0 reported p50=11.007 for an 11 us SET
        Assert.Equal("p50=11.007,p99=11.007,p99.9=11.007", h.PercentilesLine([50, 99, 99.9]));
    }

    [Fact]
    public void Percentile_zero_uses_the_lowest_equivalent_value_and_names_are_trimmed()
    {
        var h = new LatencyHistogram();
        h.Record(11_000);
        h.Record(40_000);
        Assert.Equal("p0=10.944,p12.5=11.007,p100=40.191", h.PercentilesLine([0, 12.5, 100]));
    }

    [Fact]
    public void Cumulative_distribution_reports_power_of_two_buckets_in_microseconds()
    {
        var h = new LatencyHistogram();
        h.Record(16_000);
        h.Record(16_000);
        h.Record(30_000);
        // Redis printed "16 2 33 3" for such calls: bucket upper bounds 16, 33, 66, 132 ... us.
        Assert.Equal([(16L, 2L), (33L, 3L)], h.CumulativeDistribution());
    }

    [Fact]
    public void Durations_are_clamped_into_the_tracked_range()
    {
        var h = new LatencyHistogram();
        h.Record(0);
        h.Record(5_000_000_000);
        Assert.Equal(2, h.TotalCount);
        var cdf = h.CumulativeDistribution();
        Assert.Equal((1L, 1L), cdf[0]);
        Assert.Equal(2, cdf[^1].Item2);
    }

    [Fact]
    public void Histogram_reply_is_a_map_in_resp3_and_a_flat_array_in_resp2()
    {
        var h = new LatencyHistogram();
        h.Record(1_000);
        var w3 = new RespWriter(256) { Protocol = 3 };
        h.WriteCdf(w3);
        Assert.Equal("%2\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n%1\r\n:1\r\n:1\r\n", System.Text.Encoding.ASCII.GetString(w3.Written.Span));
        var w2 = new RespWriter(256) { Protocol = 2 };
        h.WriteCdf(w2);
        Assert.Equal("*4\r\n$5\r\ncalls\r\n:1\r\n$14\r\nhistogram_usec\r\n*2\r\n:1\r\n:1\r\n", System.Text.Encoding.ASCII.GetString(w2.Written.Span));
    }

    [Fact]
    public void Monitor_keeps_one_sample_per_second_with_the_highest_latency()
    {
        var m = new LatencyMonitor();
        m.Add("command", 20, 1000);
        m.Add("command", 50, 1000);
        m.Add("command", 30, 1000);
        var w = new RespWriter(256);
        m.WriteHistory(w, "command");
        Assert.Equal("*1\r\n*2\r\n:1000\r\n:50\r\n", System.Text.Encoding.ASCII.GetString(w.Written.Span));
    }

    [Fact]
    public void Monitor_history_keeps_the_last_160_seconds_of_samples()
    {
        var m = new LatencyMonitor();
        for (int i = 1; i <= 200; i++) m.Add("command", i, i);
        var w = new RespWriter(1 << 16);
        m.WriteHistory(w, "command");
        string text = System.Text.Encoding.ASCII.GetString(w.Written.Span);
        Assert.StartsWith("*160\r\n*2\r\n:41\r\n:41\r\n", text, StringComparison.Ordinal);
        Assert.EndsWith("*2\r\n:200\r\n:200\r\n", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Reset_matches_event_names_without_case()
    {
        var m = new LatencyMonitor();
        m.Add("command", 20, 1);
        m.Add("fast-command", 20, 1);
        Assert.Equal(1, m.Reset("COMMAND"));
        Assert.Equal(0, m.Reset("nosuch"));
        Assert.Equal(1, m.Reset(null));
    }

    [Fact]
    public void Graph_renders_the_sparkline_redis_draws()
    {
        var m = new LatencyMonitor();
        m.Add("command", 20, 998);
        m.Add("command", 51, 1000);
        // Captured from redis-server 7.0.15 for samples of 20 ms two seconds ago and 51 ms now.
        string expected = "command - high 51 ms, low 20 ms (all time high 51 ms)\n" + new string('-', 80) + "\n"
            + " #\n |\n |\n_|\n  \n20\nss\n";
        Assert.Equal(expected, m.Graph("command", 1000));
        Assert.Null(m.Graph("nosuch", 1000));
    }

    [Fact]
    public void Doctor_reports_each_event_and_the_advice_redis_gives()
    {
        var m = new LatencyMonitor();
        m.Add("command", 20, 999);
        m.Add("command", 50, 1000);
        var ctx = new LatencyMonitor.DoctorContext(ThresholdMs: 10, SlowlogSlowerThanUs: 10000, Hz: 10, AppendFsyncAlways: false, TransparentHugePages: false);
        string report = m.Doctor(ctx, 1000);
        Assert.StartsWith("Dave, I have observed latency spikes in this Redis instance. You don't mind talking about it, do you Dave?\n\n"
            + "1. command: 2 latency spikes (average 35ms, mean deviation 15ms, period 0.50 sec). Worst all time event 50ms.\n\nI have a few advices for you:\n\n"
            + "- Check your Slow Log", report, StringComparison.Ordinal);
        Assert.Contains("- Deleting, expiring or evicting", report, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_without_monitoring_explains_how_to_enable_it()
    {
        var ctx = new LatencyMonitor.DoctorContext(0, 10000, 10, false, false);
        Assert.StartsWith("I'm sorry, Dave, I can't do that.", new LatencyMonitor().Doctor(ctx, 1), StringComparison.Ordinal);
        var on = ctx with { ThresholdMs = 100 };
        Assert.StartsWith("Dave, no latency spike was observed", new LatencyMonitor().Doctor(on, 1), StringComparison.Ordinal);
    }
}
