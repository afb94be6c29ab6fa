namespace Cinnabar.Storage;

public enum RedisType : byte
{
    String = 0,
    List = 1,
    Set = 2,
    ZSet = 3,
    Hash = 4,
    Stream = 6,
}

/// <summary>
/// Base of every value in the keyspace. Each type's class alone knows its encodings
/// (house rule 1); command handlers use its API. <see cref="Lru"/> holds the LRU clock
/// (seconds resolution, as Redis's 24-bit clock) or, under an LFU policy, the LFU counter
/// and decrement time packed as Redis does.
/// </summary>
public abstract class RedisObject
{
    public uint Lru;

    public abstract RedisType Type { get; }

    /// <summary>The OBJECT ENCODING name ("embstr", "listpack", "hashtable" ...).</summary>
    public abstract string Encoding { get; }

    /// <summary>A deep copy (COPY command, snapshots).</summary>
    public abstract RedisObject Clone();

    /// <summary>Approximate bytes used, for MEMORY USAGE and maxmemory accounting.</summary>
    public abstract long MemoryUsage(int samples);

    public static string TypeName(RedisType t) => t switch
    {
        RedisType.String => "string",
        RedisType.List => "list",
        RedisType.Set => "set",
        RedisType.ZSet => "zset",
        RedisType.Hash => "hash",
        RedisType.Stream => "stream",
        _ => "none",
    };
}

/// <summary>Implemented by set values so other families (ZUNIONSTORE with set inputs, SORT) can read members.</summary>
public interface ISetMembers
{
    int Count { get; }
    IEnumerable<byte[]> EnumerateMembers();
}
