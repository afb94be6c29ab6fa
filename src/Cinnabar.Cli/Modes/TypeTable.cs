using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace Cinnabar.Cli.Modes;

/// <summary>
/// The order in which redis-cli's --bigkeys/--memkeys summary lists the key types. redis-cli keeps
/// them in a Redis dict (SipHash-1-2 with an all-zero seed, chained buckets, incremental
/// rehashing one bucket per lookup) and prints them in its iteration order, which therefore
/// depends on how many lookups happened: with few keys the table is still half rehashed. This
/// models that table so the summaries come out in the same order.
/// </summary>
internal sealed class TypeTable<T>
{
    private sealed class Entry(string key, T value)
    {
        public string Key { get; } = key;
        public T Value { get; } = value;
        public Entry? Next;
    }

    private Entry?[] _t0 = [];
    private Entry?[] _t1 = [];
    private int _used0, _used1;
    private int _rehashIdx = -1;

    private bool Rehashing => _rehashIdx != -1;

    public int Count => _used0 + _used1;

    public void Add(string key, T value)
    {
        if (Rehashing) RehashStep();
        ExpandIfNeeded();
        var table = Rehashing ? _t1 : _t0;
        int idx = (int)(Hash(key) & (ulong)(table.Length - 1));
        table[idx] = new Entry(key, value) { Next = table[idx] };
        if (Rehashing) _used1++;
        else _used0++;
    }

    public bool TryFind(string key, out T value)
    {
        value = default!;
        if (Count == 0) return false;
        if (Rehashing) RehashStep();
        foreach (var table in Rehashing ? new[] { _t0, _t1 } : [_t0])
        {
            if (table.Length == 0) continue;
            for (var e = table[(int)(Hash(key) & (ulong)(table.Length - 1))]; e != null; e = e.Next)
            {
                if (e.Key == key)
                {
                    value = e.Value;
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>Values in the dict's iteration order (table 0, then table 1 while rehashing).</summary>
    public IEnumerable<T> Values()
    {
        foreach (var table in Rehashing ? new[] { _t0, _t1 } : [_t0])
            foreach (var head in table)
                for (var e = head; e != null; e = e.Next)
                    yield return e.Value;
    }

    private void ExpandIfNeeded()
    {
        if (Rehashing) return;
        if (_t0.Length == 0)
        {
            _t0 = new Entry?[4];
            return;
        }
        if (_used0 < _t0.Length) return;
        int size = 4;
        while (size < _used0 + 1) size *= 2;
        _t1 = new Entry?[size];
        _used1 = 0;
        _rehashIdx = 0;
    }

    private void RehashStep()
    {
        int emptyVisits = 10;
        if (_used0 != 0)
        {
            while (_t0[_rehashIdx] == null)
            {
                _rehashIdx++;
                if (--emptyVisits == 0) return;
            }
            var e = _t0[_rehashIdx];
            while (e != null)
            {
                var next = e.Next;
                int idx = (int)(Hash(e.Key) & (ulong)(_t1.Length - 1));
                e.Next = _t1[idx];
                _t1[idx] = e;
                _used0--;
                _used1++;
                e = next;
            }
            _t0[_rehashIdx] = null;
            _rehashIdx++;
        }
        if (_used0 == 0)
        {
            _t0 = _t1;
            _used0 = _used1;
            _t1 = [];
            _used1 = 0;
            _rehashIdx = -1;
        }
    }

    /// <summary>SipHash-1-2 with a zero key (Redis's dictGenHashFunction with an unset seed).</summary>
    internal static ulong Hash(string key)
    {
        var input = Encoding.UTF8.GetBytes(key);
        ulong v0 = 0x736f6d6570736575UL, v1 = 0x646f72616e646f6dUL, v2 = 0x6c7967656e657261UL, v3 = 0x7465646279746573UL;
        ulong b = (ulong)input.Length << 56;
        int whole = input.Length - input.Length % 8;
        for (int i = 0; i < whole; i += 8)
        {
            ulong m = BinaryPrimitives.ReadUInt64LittleEndian(input.AsSpan(i, 8));
            v3 ^= m;
            Round(ref v0, ref v1, ref v2, ref v3);
            v0 ^= m;
        }
        for (int i = input.Length - 1; i >= whole; i--) b |= (ulong)input[i] << (8 * (i - whole));
        v3 ^= b;
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= b;
        v2 ^= 0xff;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
