namespace Cinnabar.Cli.Modes;

/// <summary>Fetches a server's RDB over the replication protocol (redis-cli's getRDB).</summary>
public static class RdbFetcher
{
    /// <summary>
    /// On an open, authenticated connection: REPLCONF capa/rdb-only (and rdb-filter-only functions
    /// when functionsOnly), SYNC, then writes the payload to path ("-" = stdout), printing
    /// redis-cli's progress lines ("SYNC sent to master, writing N bytes to 'path'", "Transfer
    /// finished with success."). Returns false with err set.
    /// </summary>
    public static bool Fetch(Connection conn, string path, bool functionsOnly, out string? err)
    {
        err = "not implemented yet";
        return false;
    }
}
