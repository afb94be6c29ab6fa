namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>redis_mode in INFO server (sentinel sets "sentinel").</summary>
    public string ServerMode { get; set; } = "standalone";

    /// <summary>Peak of <see cref="UsedMemory"/> seen by INFO / the cron (used_memory_peak).</summary>
    public long UsedMemoryPeak;

    /// <summary>Managed heap right after start, Redis's used_memory_startup.</summary>
    public long UsedMemoryStartup { get; } = GC.GetTotalMemory(false);

    /// <summary>Extra INFO sections from subsystems (name -> body lines), e.g. "sentinel".</summary>
    public Dictionary<string, Func<IEnumerable<string>>> ExtraInfoSections { get; } = new(StringComparer.OrdinalIgnoreCase);
}
