namespace Cinnabar.Storage;

/// <summary>
/// Thresholds that decide when a small, compact encoding converts to the general one, as
/// Redis's *-max-* directives (set by CONFIG; read by the type classes). Conversion is one-way,
/// like Redis: a hashtable-encoded hash never goes back to listpack until it is reloaded.
/// </summary>
public static class EncodingLimits
{
    public static int HashMaxListpackEntries = 512;
    public static int HashMaxListpackValue = 64;
    public static int SetMaxIntsetEntries = 512;
    public static int ZsetMaxListpackEntries = 128;
    public static int ZsetMaxListpackValue = 64;
    /// <summary>list-max-listpack-size: positive = entries per node, negative = -1..-5 for 4..64 KiB nodes.</summary>
    public static int ListMaxListpackSize = -2;
    public static int ListCompressDepth;
    /// <summary>DEBUG QUICKLIST-PACKED-THRESHOLD: elements at least this long get a plain node in Redis (layout only here).</summary>
    public static long ListPackedThreshold = 1 << 30;
    public static int StreamNodeMaxBytes = 4096;
    public static int StreamNodeMaxEntries = 100;
}
