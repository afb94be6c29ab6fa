using System.Buffers.Binary;
using System.Text;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// A set of string keys that iterates in the order of redis-cli's dict (the hash table of
/// Redis 7.0's dict.c keyed by SipHash-1-2 with redis-cli's all-zero seed, growing by powers of
/// two with incremental rehashing). redis-cli lists open slots and fixes uncovered slots in its
/// dict's order, so the same order is needed to print the same lines.
/// </summary>
public sealed class CmDict
{
    private sealed class Entry(string key, ulong hash)
    {
        public string Key { get; } = key;
        public ulong Hash { get; } = hash;
        public Entry? Next { get; set; }
    }

    private readonly Entry?[]?[] _tables = new Entry?[]?[2];
    private readonly long[] _used = new long[2];
    private long _rehashIdx = -1;

    private bool Rehashing => _rehashIdx != -1;

    public long Count => _used[0] + _used[1];

    /// <summary>dictAdd / dictReplace of the key: a rehash step, then an insert unless present.</summary>
    public bool Add(string key)
    {
        if (Rehashing) Rehash(1);
        ulong h = Hash(key);
        ExpandIfNeeded();
        long idx = 0;
        for (int t = 0; t <= 1; t++)
        {
            var table = _tables[t]!;
            idx = (long)(h & (ulong)(table.Length - 1));
            for (var e = table[idx]; e != null; e = e.Next)
                if (e.Key == key) return false;
            if (!Rehashing) break;
        }
        int ht = Rehashing ? 1 : 0;
        var tab = _tables[ht]!;
        tab[idx] = new Entry(key, h) { Next = tab[idx] };
        _used[ht]++;
        return true;
    }

    /// <summary>dictFind: a rehash step (when not empty), then the lookup.</summary>
    public bool Contains(string key)
    {
        if (Count == 0) return false;
        if (Rehashing) Rehash(1);
        ulong h = Hash(key);
        for (int t = 0; t <= 1; t++)
        {
            var table = _tables[t];
            if (table == null) break;
            for (var e = table[(long)(h & (ulong)(table.Length - 1))]; e != null; e = e.Next)
                if (e.Key == key) return true;
            if (!Rehashing) break;
        }
        return false;
    }

    /// <summary>The keys in dictNext order (table 0, then table 1 while rehashing; each bucket newest first).</summary>
    public List<string> Keys()
    {
        var list = new List<string>();
        for (int t = 0; t <= (Rehashing ? 1 : 0); t++)
        {
            var table = _tables[t];
            if (table == null) continue;
            foreach (var head in table)
                for (var e = head; e != null; e = e.Next) list.Add(e.Key);
        }
        return list;
    }

    private void ExpandIfNeeded()
    {
        if (Rehashing) return;
        if (_tables[0] == null)
        {
            Expand(4);
            return;
        }
        if (_used[0] >= _tables[0]!.Length) Expand(_used[0] + 1);
    }

    private void Expand(long size)
    {
        long real = 4;
        while (real < size) real *= 2;
        var n = new Entry?[real];
        if (_tables[0] == null)
        {
            _tables[0] = n;
            return;
        }
        _tables[1] = n;
        _rehashIdx = 0;
    }

    private void Rehash(int n)
    {
        int emptyVisits = n * 10;
        var t0 = _tables[0]!;
        while (n-- > 0 && _used[0] != 0)
        {
            while (t0[_rehashIdx] == null)
            {
                _rehashIdx++;
                if (--emptyVisits == 0) return;
            }
            var t1 = _tables[1]!;
            var e = t0[_rehashIdx];
            while (e != null)
            {
                var next = e.Next;
                long h = (long)(e.Hash & (ulong)(t1.Length - 1));
                e.Next = t1[h];
                t1[h] = e;
                _used[0]--;
                _used[1]++;
                e = next;
            }
            t0[_rehashIdx] = null;
            _rehashIdx++;
        }
        if (_used[0] == 0)
        {
            _tables[0] = _tables[1];
            _used[0] = _used[1];
            _tables[1] = null;
            _used[1] = 0;
            _rehashIdx = -1;
        }
    }

    private static ulong Rotl(ulong x, int b) => (x << b) | (x >> (64 - b));

    /// <summary>SipHash-1-2 with a zero key (Redis's dictGenHashFunction with an unset seed).</summary>
    public static ulong Hash(string key)
    {
        byte[] m = Encoding.UTF8.GetBytes(key);
        ulong v0 = 0x736f6d6570736575UL, v1 = 0x646f72616e646f6dUL, v2 = 0x6c7967656e657261UL, v3 = 0x7465646279746573UL;
        ulong b = (ulong)m.Length << 56;
        int end = m.Length - (m.Length % 8);
        void Round()
        {
            v0 += v1; v1 = Rotl(v1, 13); v1 ^= v0; v0 = Rotl(v0, 32);
            v2 += v3; v3 = Rotl(v3, 16); v3 ^= v2;
            v0 += v3; v3 = Rotl(v3, 21); v3 ^= v0;
            v2 += v1; v1 = Rotl(v1, 17); v1 ^= v2; v2 = Rotl(v2, 32);
        }
        for (int i = 0; i < end; i += 8)
        {
            ulong w = BinaryPrimitives.ReadUInt64LittleEndian(m.AsSpan(i, 8));
            v3 ^= w;
            Round();
            v0 ^= w;
        }
        for (int i = m.Length % 8 - 1; i >= 0; i--) b |= (ulong)m[end + i] << (8 * i);
        v3 ^= b;
        Round();
        v0 ^= b;
        v2 ^= 0xff;
        Round();
        Round();
        return v0 ^ v1 ^ v2 ^ v3;
    }
}

/// <summary>
/// glibc's srand()/rand() (the additive feedback generator of random_r, TYPE_3). redis-cli seeds
/// it with time(NULL) before its random choices (replica placement, covering slots), so within
/// one second it makes the same choices; this reproduces them.
/// </summary>
public sealed class GlibcRand
{
    private readonly List<uint> _r = new(400);

    public GlibcRand(uint seed)
    {
        int s = (int)seed;
        if (s == 0) s = 1;
        _r.Add((uint)s);
        for (int i = 1; i < 31; i++)
        {
            long v = 16807L * (int)_r[i - 1] % 2147483647;
            if (v < 0) v += 2147483647;
            _r.Add((uint)v);
        }
        for (int i = 31; i < 34; i++) _r.Add(_r[i - 31]);
        for (int i = 34; i < 344; i++) _r.Add(unchecked(_r[i - 31] + _r[i - 3]));
    }

    /// <summary>srand(time(NULL)).</summary>
    public static GlibcRand FromClock() => new((uint)DateTimeOffset.UtcNow.ToUnixTimeSeconds());

    /// <summary>rand(): 0 .. 2^31-1.</summary>
    public int Next()
    {
        int n = _r.Count;
        uint v = unchecked(_r[n - 31] + _r[n - 3]);
        _r.Add(v);
        if (_r.Count > 1024) _r.RemoveRange(0, _r.Count - 64);
        return (int)(v >> 1);
    }
}
