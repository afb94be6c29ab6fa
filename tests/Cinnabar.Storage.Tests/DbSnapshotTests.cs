using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Cinnabar.Storage.Tests;

public sealed class DbSnapshotTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static Dictionary<string, string> Collect(DbSnapshot snap, Action<int> between)
    {
        var result = new Dictionary<string, string>();
        int step = 0;
        while (!snap.TableDone)
        {
            snap.Step(3, (k, v, _) => result.Add(Encoding.UTF8.GetString(k), Encoding.UTF8.GetString(((StringObject)v).GetBytes())));
            between(step++);
        }
        snap.Db.EndSnapshot(snap);
        foreach (var (k, v, _) in snap.TakePreserved())
            result.Add(Encoding.UTF8.GetString(k), Encoding.UTF8.GetString(((StringObject)v).GetBytes()));
        return result;
    }

    [Fact]
    public void Snapshot_sees_values_as_of_its_start_despite_writes_deletes_and_adds()
    {
        var ks = new Keyspace(1);
        var db = ks[0];
        for (int i = 0; i < 50; i++) db.Set(B("k" + i), StringObject.Create(B("v" + i)));
        var snap = db.BeginSnapshot();
        var got = Collect(snap, step =>
        {
            db.Set(B("k" + (step * 7 % 50)), StringObject.Create(B("changed")));
            db.Delete(B("k" + (step * 11 % 50)));
            db.Set(B("new" + step), StringObject.Create(B("n")));
        });
        Assert.Equal(50, got.Count);
        for (int i = 0; i < 50; i++) Assert.Equal("v" + i, got["k" + i]);
    }

    [Fact]
    public void Preserved_bytes_count_copies_of_unwalked_keys_only()
    {
        var ks = new Keyspace(1);
        var db = ks[0];
        for (int i = 0; i < 10; i++) db.Set(B("cow" + i), StringObject.Create(new byte[1000]));
        var snap = db.BeginSnapshot();
        Assert.Equal(0, snap.PreservedBytes);
        db.Set(B("cownew"), StringObject.Create(new byte[1000]));   // a new key copies nothing
        Assert.Equal(0, snap.PreservedBytes);
        db.Set(B("cow3"), StringObject.Create(B("x")));             // not walked yet: its old value is copied
        long oneCopy = snap.PreservedBytes;
        Assert.InRange(oneCopy, 1000 + 4, 1200);
        db.Set(B("cow3"), StringObject.Create(B("y")));             // already copied: nothing more
        Assert.Equal(oneCopy, snap.PreservedBytes);
        while (!snap.TableDone) snap.Step(100, (_, _, _) => { });
        db.Set(B("cow5"), StringObject.Create(B("z")));             // walked: written already, no copy
        Assert.Equal(oneCopy, snap.PreservedBytes);
        db.EndSnapshot(snap);
    }

    [Fact]
    public void Flush_during_snapshot_detaches_it_and_keeps_the_old_data()
    {
        var ks = new Keyspace(1);
        var db = ks[0];
        for (int i = 0; i < 20; i++) db.Set(B("k" + i), StringObject.Create(B("v" + i)));
        var snap = db.BeginSnapshot();
        var got = Collect(snap, step =>
        {
            if (step == 1) db.Clear();
            db.Set(B("after" + step), StringObject.Create(B("x")));
        });
        Assert.Equal(20, got.Count);
        Assert.DoesNotContain(got.Keys, k => k.StartsWith("after", StringComparison.Ordinal));
    }

    [Property(MaxTest = 100)]
    public bool Snapshot_equals_initial_state_under_random_writes(int seed, PositiveInt size)
    {
        var rnd = new Random(seed);
        int n = size.Get % 200 + 1;
        var ks = new Keyspace(1);
        var db = ks[0];
        var model = new Dictionary<string, string>();
        for (int i = 0; i < n; i++)
        {
            string k = "k" + rnd.Next(n * 2), v = "v" + rnd.Next(1000);
            db.Set(B(k), StringObject.Create(B(v)));
            model[k] = v;
        }
        var snap = db.BeginSnapshot();
        var got = Collect(snap, _ =>
        {
            for (int j = 0; j < 5; j++)
            {
                string k = "k" + rnd.Next(n * 2);
                switch (rnd.Next(3))
                {
                    case 0: db.Set(B(k), StringObject.Create(B("w"))); break;
                    case 1: db.Delete(B(k)); break;
                    default: db.LookupWrite(B(k)); break;
                }
            }
        });
        return got.Count == model.Count && model.All(kv => got.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }
}

public sealed class OverlappingSnapshotTests
{
    [Fact]
    public void Two_overlapping_snapshots_each_see_their_own_start()
    {
        var ks = new Keyspace(1);
        var db = ks[0];
        db.Set("a"u8, StringObject.Create("1"u8));
        var first = db.BeginSnapshot();
        db.Set("a"u8, StringObject.Create("2"u8));
        var second = db.BeginSnapshot();
        db.Set("a"u8, StringObject.Create("3"u8));
        string Value(DbSnapshot s)
        {
            string? v = null;
            while (!s.TableDone) s.Step(10, (_, o, _) => v = System.Text.Encoding.UTF8.GetString(((StringObject)o).GetBytes()));
            db.EndSnapshot(s);
            foreach (var (_, o, _) in s.TakePreserved()) v = System.Text.Encoding.UTF8.GetString(((StringObject)o).GetBytes());
            return v!;
        }
        Assert.Equal("1", Value(first));
        Assert.Equal("2", Value(second));
        Assert.False(db.SnapshotInProgress);
    }
}
