namespace Cinnabar.Storage;

/// <summary>
/// Redis's LFU counter (evict.c): the 24-bit Lru field holds 16 bits of "last decrement time"
/// in minutes and an 8-bit logarithmic access counter. New keys start at 5 so they are not
/// evicted at once; the counter decays by one per lfu-decay-time minutes of idleness.
/// </summary>
public static class Lfu
{
    public const int InitVal = 5;
    public const uint LruClockMax = (1 << 24) - 1;

    public static int Counter(uint lru) => (int)(lru & 0xFF);
    public static long DecrTime(uint lru) => lru >> 8;
    public static uint Pack(long minutes, int counter) => ((uint)(minutes & 0xFFFF) << 8) | (uint)(counter & 0xFF);

    public static long MinutesElapsed(uint lru, long nowMs)
    {
        long now = (nowMs / 60000) & 0xFFFF;
        long then = DecrTime(lru);
        return now >= then ? now - then : 65535 - then + now;
    }

    /// <summary>The counter after decay, without updating it (OBJECT FREQ, eviction).</summary>
    public static int Decayed(uint lru, long nowMs, int decayTime)
    {
        int counter = Counter(lru);
        long periods = decayTime > 0 ? MinutesElapsed(lru, nowMs) / decayTime : 0;
        return periods >= counter ? 0 : counter - (int)periods;
    }

    public static uint Access(uint lru, long nowMs, int logFactor, int decayTime)
    {
        int counter = Decayed(lru, nowMs, decayTime);
        if (counter < 255)
        {
            double r = Random.Shared.NextDouble();
            double baseval = Math.Max(counter - InitVal, 0);
            double p = 1.0 / (baseval * logFactor + 1);
            if (r < p) counter++;
        }
        return Pack(nowMs / 60000, counter);
    }
}
