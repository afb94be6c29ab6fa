using System.Diagnostics;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

public sealed class RdbFileTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    private static string S(RedisObject? o) => Encoding.UTF8.GetString(((StringObject)o!).GetBytes());
    private static string Golden(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", name);

    [Fact]
    public void Loads_string_dump_written_by_redis_7_0()
    {
        // The file's TTLs are absolute: load it with the clock at the moment redis-server saved it.
        long madeAtMs = GoldenClock.CreationTimeMs(Golden("strings-7.0.rdb"));
        var ks = new Keyspace(16) { NowMs = madeAtMs };
        using var f = File.OpenRead(Golden("strings-7.0.rdb"));
        var result = RdbFile.Load(f, ks, skipExpired: true, ks.NowMs);
        Assert.Equal("7.0.15", result.Aux["redis-ver"]);
        Assert.Equal(10, result.Version);
        Assert.Equal("1", S(ks[0].Lookup("a"u8)));
        Assert.Equal("hello", S(ks[0].Lookup("b"u8)));
        Assert.Equal("1234567890123", S(ks[0].Lookup("c"u8)));
        Assert.Equal(new string('x', 100), S(ks[0].Lookup("d"u8)));
        Assert.True(ks[0].GetExpire("e"u8) > 0);
        Assert.Equal("inthree", S(ks[3].Lookup("z"u8)));
    }

    private static byte[] SaveToBytes(Keyspace ks, RdbSaveOptions? o = null)
    {
        var ms = new MemoryStream();
        var gate = new object();
        List<DbSnapshot> snaps;
        lock (gate) snaps = RdbFile.BeginSnapshots(ks);
        RdbFile.Write(ms, snaps, gate, o ?? new RdbSaveOptions());
        return ms.ToArray();
    }

    [Fact]
    public void Saved_file_loads_back_identically()
    {
        var ks = new Keyspace(4) { NowMs = 1_700_000_000_000 };
        for (int i = 0; i < 1000; i++) ks[i % 4].Set(B("key:" + i), StringObject.Create(B(i % 3 == 0 ? i.ToString() : new string('v', i % 50 + 1))));
        ks[1].SetExpire("key:1"u8, 1_800_000_000_000);
        var bytes = SaveToBytes(ks);
        var back = new Keyspace(4);
        RdbFile.Load(new MemoryStream(bytes), back, skipExpired: true, 1_700_000_000_000);
        for (int d = 0; d < 4; d++) Assert.Equal(ks[d].Count, back[d].Count);
        for (int i = 0; i < 1000; i++) Assert.Equal(S(ks[i % 4].Lookup(B("key:" + i))), S(back[i % 4].Lookup(B("key:" + i))));
        Assert.Equal(1_800_000_000_000, back[1].GetExpire("key:1"u8));
    }

    [Theory]
    [InlineData(true, 100)]
    [InlineData(false, 2)]
    [InlineData(false, 300)]
    public void Sorted_sets_of_both_encodings_load_back_with_every_member(bool listpack, int count)
    {
        // Skiplist zsets are written tail to head (as Redis does); every member must come back.
        var ks = new Keyspace(1);
        var z = new ZSetObject(listpack);
        for (int i = 0; i < count; i++) z.Insert(B("m" + i), i * 1.5 - 7);
        ks[0].Set("z"u8, z);
        var back = new Keyspace(1);
        RdbFile.Load(new MemoryStream(SaveToBytes(ks)), back, skipExpired: true, 0);
        var loaded = (ZSetObject)back[0].Lookup("z"u8)!;
        Assert.Equal(count, loaded.Count);
        // Small enough sets load as listpack whatever they were saved as (rdbLoadObject converts).
        Assert.Equal(listpack || count <= 128, loaded.IsListpack);
        var w = loaded.Walk(0, reverse: false);
        for (int i = 0; i < count; i++)
        {
            Assert.True(w.MoveNext());
            Assert.Equal("m" + i, Encoding.UTF8.GetString(w.Member));
            Assert.Equal(i * 1.5 - 7, w.Score);
        }
        Assert.False(w.MoveNext());
    }

    [Fact]
    public void Corrupted_checksum_is_detected()
    {
        var ks = new Keyspace(1);
        ks[0].Set("k"u8, StringObject.Create(B("value")));
        var bytes = SaveToBytes(ks);
        bytes[^3] ^= 0xFF;
        Assert.Throws<InvalidDataException>(() => RdbFile.Load(new MemoryStream(bytes), new Keyspace(1), true, 0));
    }

    [Fact]
    public void Redis_check_rdb_accepts_our_file()
    {
        if (!File.Exists("/usr/bin/redis-check-rdb")) throw new InvalidOperationException("redis-tools not installed");
        var ks = new Keyspace(16);
        for (int i = 0; i < 200; i++) ks[i % 3].Set(B("k" + i), StringObject.Create(B(new string((char)('a' + i % 26), i + 1))));
        var path = Path.Combine(Path.GetTempPath(), $"cinnabar-check-{Guid.NewGuid():N}.rdb");
        File.WriteAllBytes(path, SaveToBytes(ks));
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
    }
}
