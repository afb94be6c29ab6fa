using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using Cinnabar.Storage;

namespace Cinnabar.Storage.Bench;

/// <summary>
/// Cost of the per-slot key index (docs/design/slot-index.md): the same Db operations with the
/// index off (standalone, the default) and on (cluster-enabled yes). Each invocation runs one
/// batch of <see cref="Batch"/> operations over a db pre-filled with <see cref="Keys"/> keys;
/// figures are per operation.
/// </summary>
[MemoryDiagnoser]
public class SlotIndexBenchmarks
{
    private const int Batch = 1024;

    [Params(false, true)]
    public bool SlotIndex { get; set; }

    [Params(200_000)]
    public int Keys { get; set; }

    private Db _db = null!;
    private byte[][] _present = null!;
    private byte[][] _absent = null!;
    private StringObject _value = null!;

    [GlobalSetup]
    public void Setup()
    {
        var ks = new Keyspace(1) { NowMs = 1_700_000_000_000 };
        if (SlotIndex) ks.EnableSlotIndex();
        _db = ks[0];
        _value = StringObject.Create("value"u8);
        for (int i = 0; i < Keys; i++) _db.Add(Key("key:", i), StringObject.Create("v"u8));
        var rnd = new Random(42);
        _present = new byte[Batch][];
        _absent = new byte[Batch][];
        for (int i = 0; i < Batch; i++)
        {
            _present[i] = Key("key:", rnd.Next(Keys));
            _absent[i] = Key("new:", i);
        }
    }

    private static byte[] Key(string prefix, int n) => Encoding.ASCII.GetBytes(prefix + n.ToString("D9", CultureInfo.InvariantCulture));

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Lookup()
    {
        int found = 0;
        foreach (var k in _present)
            if (_db.Lookup(k) != null) found++;
        return found;
    }

    /// <summary>A new key added (dbAdd) and deleted again: both index paths, table size steady.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void AddThenDelete()
    {
        foreach (var k in _absent)
        {
            _db.Add(k, _value);
            _db.Delete(k);
        }
    }

    /// <summary>SET over an existing key: no index work either way.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public void Overwrite()
    {
        foreach (var k in _present) _db.Set(k, _value);
    }
}

/// <summary>CRC16 + hash tag of a typical key, the fixed part of every index update.</summary>
public class HashSlotBenchmarks
{
    private readonly byte[] _key = "key:000123456"u8.ToArray();
    private readonly byte[] _tagged = "{user1000}.following"u8.ToArray();

    [Benchmark]
    public int Plain() => HashSlot.Of(_key);

    [Benchmark]
    public int Tagged() => HashSlot.Of(_tagged);
}
