using System.Diagnostics;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>
/// RDB files written by Debian's redis-server 7.0.15 (Golden/make-golden.sh) load with exactly
/// the contents and encodings redis-server itself loads (Golden/*.expected, rendered by
/// describe.py), and Cinnabar's re-save of each passes redis-check-rdb and loads back the same.
/// </summary>
public sealed class GoldenFileTests
{
    public static TheoryData<string> Cases => new()
    {
        "strings", "list-quicklist", "set-intset", "set-hashtable", "hash-listpack", "hash-hashtable",
        "zset-listpack", "zset-skiplist", "stream", "expiry", "multi-db", "function",
    };

    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", name);

    private static (Keyspace Ks, RdbLoadResult Result) Load(Stream input)
    {
        // Golden files carry absolute expiry times: load with the clock set to when they were saved.
        long now = GoldenClock.CreationTimeMs(input);
        var ks = new Keyspace(16) { NowMs = now };
        var result = RdbFile.Load(input, ks, skipExpired: true, now);
        return (ks, result);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Golden_rdb_loads_with_redis_contents_and_encodings(string name)
    {
        using var f = File.OpenRead(Golden(name + ".rdb"));
        var (ks, result) = Load(f);
        Assert.Equal("7.0.15", result.Aux["redis-ver"]);
        Assert.Equal(10, result.Version);
        Assert.Equal(File.ReadAllText(Golden(name + ".expected")), GoldenDescriber.Render(ks, result.FunctionLibraries));
    }

    [Fact]
    public void Golden_expiry_rdb_skips_the_key_already_expired_when_saved()
    {
        using var f = File.OpenRead(Golden("expiry.rdb"));
        var (ks, result) = Load(f);
        Assert.Equal(1, result.ExpiredSkipped);
        Assert.Equal(3, result.KeysLoaded);
        Assert.Null(ks[0].Lookup("e:gone"u8));
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Resaved_golden_rdb_passes_redis_check_rdb_and_loads_back_the_same(string name)
    {
        Keyspace ks;
        RdbLoadResult first;
        using (var f = File.OpenRead(Golden(name + ".rdb"))) (ks, first) = Load(f);
        var ms = new MemoryStream();
        var gate = new object();
        List<DbSnapshot> snaps;
        lock (gate) snaps = RdbFile.BeginSnapshots(ks);
        RdbFile.Write(ms, snaps, gate, new RdbSaveOptions
        {
            FunctionLibraries = first.FunctionLibraries,
            CreationTimeSeconds = long.Parse(first.Aux["ctime"], System.Globalization.CultureInfo.InvariantCulture),
        });
        var bytes = ms.ToArray();

        var path = Path.Combine(Path.GetTempPath(), $"cinnabar-golden-{name}-{Guid.NewGuid():N}.rdb");
        File.WriteAllBytes(path, bytes);
        try
        {
            var psi = new ProcessStartInfo("/usr/bin/redis-check-rdb", path) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            Assert.True(p.WaitForExit(30000));
            Assert.True(p.ExitCode == 0, output);
            Assert.Contains("RDB looks OK", output);
        }
        finally
        {
            File.Delete(path);
        }
        var (back, second) = Load(new MemoryStream(bytes));
        Assert.Equal(File.ReadAllText(Golden(name + ".expected")), GoldenDescriber.Render(back, second.FunctionLibraries));
    }
}
