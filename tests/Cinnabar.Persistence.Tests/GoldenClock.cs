using System.Globalization;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>
/// The clock a golden file is loaded with: the moment redis-server saved it (its "ctime" aux
/// field), so absolute TTLs in it mean the same on any later day the tests run.
/// </summary>
internal static class GoldenClock
{
    public static long CreationTimeMs(string path)
    {
        using var f = File.OpenRead(path);
        return CreationTimeMs(f);
    }

    /// <summary>Reads the stream's ctime and rewinds it.</summary>
    public static long CreationTimeMs(Stream rdb)
    {
        long start = rdb.Position;
        var scratch = new Keyspace(16);
        var result = RdbFile.Load(rdb, scratch, skipExpired: false, 0);
        rdb.Position = start;
        return long.Parse(result.Aux["ctime"], CultureInfo.InvariantCulture) * 1000;
    }
}
