using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Xunit;

namespace Cinnabar.Storage.Tests;

/// <summary>Checks a db's slot index against a brute-force recount of every slot.</summary>
internal static class SlotIndexOracle
{
    public static void AssertExact(Db db)
    {
        Assert.True(db.SlotIndexEnabled);
        var expected = new Dictionary<int, HashSet<string>>();
        var dict = db.Dict;
        for (int i = dict.NextUsed(0); i >= 0; i = dict.NextUsed(i + 1))
        {
            byte[] key = dict.KeyAt(i);
            int slot = HashSlot.Of(key);
            if (!expected.TryGetValue(slot, out var set)) expected[slot] = set = new HashSet<string>(StringComparer.Ordinal);
            set.Add(Encoding.Latin1.GetString(key));
        }
        int total = 0;
        var listed = new List<byte[]>();
        for (int slot = 0; slot < HashSlot.Count; slot++)
        {
            int count = db.CountKeysInSlot(slot);
            total += count;
            int want = expected.TryGetValue(slot, out var keys) ? keys.Count : 0;
            if (count != want) Assert.Fail($"db {db.Index} slot {slot}: index counts {count}, table holds {want}");
            if (want == 0) continue;
            listed.Clear();
            // Asking for more than the table holds: a corrupt (cyclic or stale) list shows as a count mismatch.
            Assert.Equal(count, db.GetKeysInSlot(slot, db.Count + 1, listed));
            var got = listed.Select(k => Encoding.Latin1.GetString(k)).ToHashSet(StringComparer.Ordinal);
            Assert.Equal(count, got.Count); // no key listed twice
            Assert.True(keys!.SetEquals(got), $"db {db.Index} slot {slot}: listed keys differ");
        }
        Assert.Equal(db.Count, total);
    }
}

public sealed class SlotIndexTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);
    private static StringObject V(string s = "v") => StringObject.Create(B(s));

    private static Keyspace Indexed(int databases = 1)
    {
        var ks = new Keyspace(databases) { NowMs = 1_000_000 };
        ks.EnableSlotIndex();
        return ks;
    }

    private static List<string> KeysIn(Db db, int slot, int max = -1)
    {
        var into = new List<byte[]>();
        // Never unbounded: a corrupt (cyclic) list must fail the test, not exhaust memory.
        db.GetKeysInSlot(slot, max < 0 ? db.Count + 1 : max, into);
        return into.Select(k => Encoding.UTF8.GetString(k)).ToList();
    }

    [Fact]
    public void Index_is_off_by_default_and_slot_queries_then_refuse()
    {
        var ks = new Keyspace(1);
        ks[0].Set("k"u8, V());
        Assert.False(ks.SlotIndexEnabled);
        Assert.False(ks[0].SlotIndexEnabled);
        Assert.Null(ks[0].Dict.Slots);
        Assert.Throws<InvalidOperationException>(() => ks[0].CountKeysInSlot(0));
        Assert.Throws<InvalidOperationException>(() => ks[0].GetKeysInSlot(0, 10, new List<byte[]>()));
    }

    [Fact]
    public void Count_and_keys_follow_sets_and_deletes()
    {
        var db = Indexed()[0];
        int slot = HashSlot.Of("t"u8);
        db.Set(B("{t}a"), V());
        db.Set(B("{t}b"), V());
        db.Set(B("other"), V());
        db.Set(B("{t}a"), V("overwritten"));
        Assert.Equal(2, db.CountKeysInSlot(slot));
        Assert.Equal(1, db.CountKeysInSlot(HashSlot.Of("other"u8)));
        Assert.True(db.Delete(B("{t}a")));
        Assert.False(db.Delete(B("{t}a")));
        Assert.Equal(["{t}b"], KeysIn(db, slot));
        SlotIndexOracle.AssertExact(db);
    }

    [Fact]
    public void Keys_are_listed_newest_first_as_redis_does()
    {
        // Checked live on redis-server 7.0.15: SET {t}a..{t}d, then DEL+SET {t}b, RENAME {t}a {t}z,
        // SET {t}c (overwrite keeps its place) => {t}z {t}b {t}d {t}c.
        var db = Indexed()[0];
        int slot = HashSlot.Of("t"u8);
        foreach (var k in new[] { "a", "b", "c", "d" }) db.Set(B("{t}" + k), V());
        Assert.Equal(["{t}d", "{t}c", "{t}b", "{t}a"], KeysIn(db, slot));
        db.Delete(B("{t}b"));
        db.Set(B("{t}b"), V());
        Assert.Equal(["{t}b", "{t}d", "{t}c", "{t}a"], KeysIn(db, slot));
        Assert.Equal(["{t}b", "{t}d"], KeysIn(db, slot, 2));
        Rename(db, "{t}a", "{t}z");
        db.Set(B("{t}c"), V("9"));
        Assert.Equal(["{t}z", "{t}b", "{t}d", "{t}c"], KeysIn(db, slot));
    }

    [Fact]
    public void Get_keys_returns_at_most_max_count_and_appends()
    {
        var db = Indexed()[0];
        for (int i = 0; i < 10; i++) db.Set(B("{s}" + i), V());
        var into = new List<byte[]> { B("already") };
        Assert.Equal(3, db.GetKeysInSlot(HashSlot.Of("s"u8), 3, into));
        Assert.Equal(4, into.Count);
        Assert.Equal(0, db.GetKeysInSlot(HashSlot.Of("s"u8), 0, into));
        Assert.Equal(0, db.GetKeysInSlot(HashSlot.Of("empty-slot"u8), 5, into));
    }

    [Fact]
    public void Slot_out_of_range_is_rejected()
    {
        var db = Indexed()[0];
        Assert.Throws<ArgumentOutOfRangeException>(() => db.CountKeysInSlot(HashSlot.Count));
        Assert.Throws<ArgumentOutOfRangeException>(() => db.GetKeysInSlot(-1, 1, new List<byte[]>()));
    }

    [Fact]
    public void Dropping_a_slot_by_collecting_then_deleting_empties_only_that_slot()
    {
        var db = Indexed()[0];
        for (int i = 0; i < 3000; i++) db.Set(B("{drop}" + i), V());
        for (int i = 0; i < 3000; i++) db.Set(B("keep" + i), V());
        int slot = HashSlot.Of("drop"u8);
        int before = db.Count;
        var keys = new List<byte[]>();
        db.GetKeysInSlot(slot, db.Count + 1, keys);
        foreach (var k in keys) Assert.True(db.Delete(k));
        Assert.Equal(0, db.CountKeysInSlot(slot));
        Assert.Equal(before - 3000, db.Count);
        SlotIndexOracle.AssertExact(db);
    }

    [Fact]
    public void Dropping_a_slot_in_batches_terminates_with_the_slot_empty()
    {
        var db = Indexed()[0];
        for (int i = 0; i < 1000; i++) db.Set(B("{batch}" + i), V());
        int slot = HashSlot.Of("batch"u8);
        var keys = new List<byte[]>();
        int rounds = 0;
        while (db.CountKeysInSlot(slot) > 0)
        {
            keys.Clear();
            db.GetKeysInSlot(slot, 64, keys);
            foreach (var k in keys) db.Delete(k);
            Assert.True(++rounds <= 16);
        }
        Assert.Equal(0, db.Count);
    }

    [Fact]
    public void Deleting_every_key_resets_the_table_and_the_index_stays_exact()
    {
        var db = Indexed()[0];
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 500; i++) db.Set(B("r" + i), V());
            SlotIndexOracle.AssertExact(db);
            for (int i = 0; i < 500; i++) db.Delete(B("r" + i));
            Assert.Equal(0, db.Dict.Slots!.Total);
            SlotIndexOracle.AssertExact(db);
        }
    }

    [Fact]
    public void Growth_and_reserve_keep_the_index_exact()
    {
        var db = Indexed()[0];
        db.Reserve(10_000, 0);
        for (int i = 0; i < 20_000; i++) db.Add(B("g" + i), V());
        for (int i = 0; i < 20_000; i += 3) db.Delete(B("g" + i));
        for (int i = 0; i < 5000; i++) db.Add(B("h" + i), V()); // reuses freed entries
        SlotIndexOracle.AssertExact(db);
    }

    [Fact]
    public void Add_of_an_existing_key_replaces_it_without_counting_twice()
    {
        var db = Indexed()[0];
        db.Add(B("dup"), V("1"));
        db.Add(B("dup"), V("2"));
        Assert.Equal(1, db.CountKeysInSlot(HashSlot.Of("dup"u8)));
    }

    [Fact]
    public void Lazy_and_active_expiry_unindex_the_key()
    {
        var ks = Indexed();
        var db = ks[0];
        db.Set(B("{e}lazy"), V());
        db.Set(B("{e}active"), V());
        db.Set(B("{e}stays"), V());
        db.SetExpire(B("{e}lazy"), ks.NowMs + 10);
        db.SetExpire(B("{e}active"), ks.NowMs + 10);
        int slot = HashSlot.Of("e"u8);
        ks.NowMs += 100;
        // Logically expired but not yet deleted keys are counted, as Redis's countkeysinslot does.
        Assert.Equal(3, db.CountKeysInSlot(slot));
        Assert.Null(db.LookupRead(B("{e}lazy")));
        Assert.Equal(2, db.CountKeysInSlot(slot));
        while (db.Expires.Count > 0) db.ActiveExpireSample(20, new Random(1));
        Assert.Equal(["{e}stays"], KeysIn(db, slot));
        SlotIndexOracle.AssertExact(db);
    }

    [Fact]
    public void Rename_moves_the_key_to_its_new_slot()
    {
        var db = Indexed()[0];
        db.Set(B("{from}k"), V());
        Rename(db, "{from}k", "{to}k");
        Assert.Equal(0, db.CountKeysInSlot(HashSlot.Of("from"u8)));
        Assert.Equal(["{to}k"], KeysIn(db, HashSlot.Of("to"u8)));
    }

    [Fact]
    public void Flush_empties_every_slot_with_or_without_a_snapshot_in_progress()
    {
        var ks = Indexed(2);
        for (int i = 0; i < 100; i++)
        {
            ks[0].Set(B("{f}" + i), V());
            ks[1].Set(B("{f}" + i), V());
        }
        var snap = ks[0].BeginSnapshot();
        ks.FlushAll();
        Assert.True(ks[0].SlotIndexEnabled);
        Assert.Equal(0, ks[0].CountKeysInSlot(HashSlot.Of("f"u8)));
        Assert.Equal(0, ks[1].CountKeysInSlot(HashSlot.Of("f"u8)));
        ks[0].Set(B("{f}after"), V());
        Assert.Equal(["{f}after"], KeysIn(ks[0], HashSlot.Of("f"u8)));
        // The detached snapshot still walks the old table.
        int emitted = 0;
        while (!snap.TableDone) emitted += snap.Step(1000, (_, _, _) => { });
        Assert.Equal(100, emitted);
        SlotIndexOracle.AssertExact(ks[0]);
        SlotIndexOracle.AssertExact(ks[1]);
    }

    [Fact]
    public void Swapdb_swaps_the_indexes_with_the_dbs()
    {
        var ks = Indexed(2);
        ks[0].Set(B("{zero}k"), V());
        ks[1].Set(B("{one}k"), V());
        ks.SwapDb(0, 1);
        Assert.Equal(1, ks[0].CountKeysInSlot(HashSlot.Of("one"u8)));
        Assert.Equal(0, ks[0].CountKeysInSlot(HashSlot.Of("zero"u8)));
        Assert.Equal(1, ks[1].CountKeysInSlot(HashSlot.Of("zero"u8)));
    }

    [Fact]
    public void Enabling_with_keys_present_indexes_them()
    {
        var ks = new Keyspace(1);
        for (int i = 0; i < 300; i++) ks[0].Set(B("pre" + i), V());
        ks[0].Delete(B("pre7"));
        ks.EnableSlotIndex();
        ks.EnableSlotIndex(); // idempotent
        SlotIndexOracle.AssertExact(ks[0]);
    }

    [Fact]
    public void Dbs_loaded_elsewhere_are_indexed_when_swapped_in()
    {
        // A replica's swapdb diskless load fills a temporary Keyspace and then ReplaceAll()s.
        var ks = Indexed(2);
        var temp = new Keyspace(2);
        for (int i = 0; i < 200; i++) temp[0].Add(B("loaded" + i), V());
        ks.ReplaceAll([temp[0], temp[1]]);
        Assert.True(ks[1].SlotIndexEnabled);
        SlotIndexOracle.AssertExact(ks[0]);
        var detached = ks.NewDetachedDb(0);
        Assert.True(detached.SlotIndexEnabled);
    }

    [Fact]
    public void Rdb_style_bulk_load_keeps_the_index_exact()
    {
        // What RdbFile.Load does: Reserve from RESIZEDB, Add each key, SetExpire when it has one.
        var ks = Indexed();
        var db = ks[0];
        db.Reserve(5000, 2500);
        for (int i = 0; i < 5000; i++)
        {
            var key = B("{l" + (i % 17).ToString(CultureInfo.InvariantCulture) + "}" + i.ToString(CultureInfo.InvariantCulture));
            db.Add(key, V());
            if (i % 2 == 0) db.SetExpire(key, ks.NowMs + 1000);
        }
        SlotIndexOracle.AssertExact(db);
        Assert.Equal(5000 / 17 + 1, db.CountKeysInSlot(HashSlot.Of("l0"u8)));
    }

    /// <summary>RENAME as KeyCommands does it: delete the destination and the source, add the destination.</summary>
    internal static void Rename(Db db, string from, string to)
    {
        var o = db.LookupWrite(B(from))!;
        long expire = db.GetExpire(B(from));
        if (db.LookupWrite(B(to)) != null) db.Delete(B(to));
        db.Delete(B(from));
        db.Add(B(to), o);
        if (expire != -1) db.SetExpire(B(to), expire);
    }

    /// <summary>
    /// Random sequences of set / add / delete / rename / expire / lazy and active expiry / flush
    /// (with and without a snapshot) / swapdb / move over two dbs: after every operation each
    /// db's index equals a brute-force recount of every slot. Keys share a few hash tags so that
    /// slots hold several keys and list unlinking is exercised in the middle, head and tail.
    /// </summary>
    [Property(MaxTest = 150)]
    public bool Index_matches_a_recount_after_every_operation(byte[] ops)
    {
        var ks = Indexed(2);
        var current = 0;
        var snapshots = new List<DbSnapshot>();
        for (int i = 0; i + 2 < ops.Length; i += 3)
        {
            Apply(ks, ref current, snapshots, ops[i], ops[i + 1], ops[i + 2]);
            SlotIndexOracle.AssertExact(ks[0]);
            SlotIndexOracle.AssertExact(ks[1]);
        }
        return true;
    }

    [Fact]
    public void Index_matches_a_recount_over_long_seeded_runs()
    {
        // Larger key pools and longer runs than the property (growth, free-list reuse, table resets).
        for (int seed = 0; seed < 4; seed++)
        {
            var rnd = new Random(seed);
            var ks = Indexed(2);
            var current = 0;
            var snapshots = new List<DbSnapshot>();
            for (int step = 0; step < 20_000; step++)
            {
                byte kind = (byte)rnd.Next(256);
                if (kind % 12 == 7 && rnd.Next(50) != 0) kind = 0; // flushes rare, so tables grow
                Apply(ks, ref current, snapshots, kind, (byte)rnd.Next(256), (byte)rnd.Next(256), keyPool: 4096);
                if (step % 2000 == 0)
                {
                    SlotIndexOracle.AssertExact(ks[0]);
                    SlotIndexOracle.AssertExact(ks[1]);
                }
            }
            SlotIndexOracle.AssertExact(ks[0]);
            SlotIndexOracle.AssertExact(ks[1]);
        }
    }

    private static byte[] Key(int n) =>
        B(n % 3 == 0 ? "{tag" + (n % 4).ToString(CultureInfo.InvariantCulture) + "}" + n.ToString(CultureInfo.InvariantCulture) : "key" + n.ToString(CultureInfo.InvariantCulture));

    private static void Apply(Keyspace ks, ref int current, List<DbSnapshot> snapshots, byte kind, byte a, byte b, int keyPool = 64)
    {
        var db = ks[current];
        int na = keyPool <= 256 ? a % keyPool : (a * 256 + b) % keyPool;
        byte[] ka = Key(na), kb = Key(b % Math.Min(keyPool, 64));
        switch (kind % 12)
        {
            case 0:
            case 1:
                db.Set(ka, V());
                break;
            case 2:
                if (db.LookupWrite(ka) == null) db.Add(ka, V());
                break;
            case 3:
                db.Delete(ka);
                break;
            case 4:
                if (db.LookupWrite(ka) != null && !ka.AsSpan().SequenceEqual(kb)) Rename(db, Encoding.UTF8.GetString(ka), Encoding.UTF8.GetString(kb));
                break;
            case 5:
                // Some TTLs already passed, some in the future.
                if (db.Exists(ka)) db.SetExpire(ka, ks.NowMs + ((b % 3) - 1) * 1000);
                break;
            case 6:
                ks.NowMs += 500;
                if ((b & 1) == 0) db.LookupRead(ka);
                else db.ActiveExpireSample(20, new Random(b));
                break;
            case 7:
                if ((b & 1) == 0) snapshots.Add(db.BeginSnapshot());
                db.Clear();
                break;
            case 8:
                ks.SwapDb(0, 1);
                break;
            case 9:
            {
                // MOVE: add to the other db when absent there, then delete here.
                var other = ks[1 - current];
                var o = db.LookupWrite(ka);
                if (o != null && other.LookupWrite(ka) == null)
                {
                    other.Add(ka, o);
                    db.Delete(ka);
                }
                break;
            }
            case 10:
                current = 1 - current;
                break;
            default:
                // A snapshot walked to its end and finished (copy-on-write paths run meanwhile).
                if (snapshots.Count > 0)
                {
                    var s = snapshots[^1];
                    snapshots.RemoveAt(snapshots.Count - 1);
                    while (!s.TableDone) s.Step(16, (_, _, _) => { });
                    s.Db.EndSnapshot(s);
                }
                else
                {
                    snapshots.Add(db.BeginSnapshot());
                }
                break;
        }
    }
}
