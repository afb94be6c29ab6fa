using System.Buffers.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Storage;

/// <summary>
/// A set value with Redis 7.0's two encodings (7.0 has no listpack sets):
/// - "intset": a sorted array of 64-bit integers, while every member is the canonical text of an
///   integer (Redis's string2ll rules) and there are at most set-max-intset-entries members;
///   iteration is in ascending numeric order, which is why SMEMBERS of an intset is sorted;
/// - "hashtable": a <see cref="ByteTable{TValue}"/> of members.
/// Conversion is one-way (intset -> hashtable), as Redis's setTypeConvert.
/// Positions are array indexes for intset and stable entry indexes for hashtable.
/// </summary>
public sealed class SetObject : RedisObject, ISetMembers
{
    private List<long>? _ints;
    private ByteTable<byte>? _table;

    private SetObject() { }

    /// <summary>A new empty intset-encoded set (SINTERSTORE/SUNIONSTORE destinations start like this in Redis).</summary>
    public static SetObject CreateIntset() => new() { _ints = new List<long>() };

    public static SetObject CreateHashtable(int capacity = 4) => new() { _table = new ByteTable<byte>(capacity) };

    /// <summary>Redis's setTypeCreate: intset when the first member to be added is an integer.</summary>
    public static SetObject CreateFor(ReadOnlySpan<byte> firstMember) =>
        RequestParser.TryParseLong(firstMember, out _) ? CreateIntset() : CreateHashtable();

    public override RedisType Type => RedisType.Set;

    public override string Encoding => _ints != null ? "intset" : "hashtable";

    public bool IsIntset => _ints != null;

    /// <summary>The members of an intset-encoded set, sorted (null for hashtables).</summary>
    public IReadOnlyList<long>? Ints => _ints;

    public int Count => _ints != null ? _ints.Count : _table!.Count;

    public void ConvertToHashtable()
    {
        if (_ints == null) return;
        var t = new ByteTable<byte>(Math.Max(4, _ints.Count));
        foreach (long v in _ints) t.Set(ToBytes(v), 0);
        _table = t;
        _ints = null;
    }

    public static byte[] ToBytes(long v)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(v, tmp, out int n);
        return tmp[..n].ToArray();
    }

    /// <summary>Adds a member; returns true when it was not present. The span is copied if stored.</summary>
    public bool Add(ReadOnlySpan<byte> member)
    {
        if (_ints != null)
        {
            if (RequestParser.TryParseLong(member, out long v))
            {
                int i = _ints.BinarySearch(v);
                if (i >= 0) return false;
                _ints.Insert(~i, v);
                if (_ints.Count > EncodingLimits.SetMaxIntsetEntries) ConvertToHashtable();
                return true;
            }
            ConvertToHashtable();
        }
        _table!.GetOrAddRef(member, null, out bool existed);
        return !existed;
    }

    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_ints != null)
        {
            if (!RequestParser.TryParseLong(member, out long v)) return false;
            int i = _ints.BinarySearch(v);
            if (i < 0) return false;
            _ints.RemoveAt(i);
            return true;
        }
        return _table!.Remove(member);
    }

    public bool Contains(ReadOnlySpan<byte> member)
    {
        if (_ints != null) return RequestParser.TryParseLong(member, out long v) && _ints.BinarySearch(v) >= 0;
        return _table!.ContainsKey(member);
    }

    public int PositionLimit => _ints != null ? _ints.Count : _table!.Capacity;

    /// <summary>The member at a position (materialised for intsets), or false for a free hashtable slot.</summary>
    public bool TryGetAt(int position, out byte[] member)
    {
        if (_ints != null)
        {
            if ((uint)position < (uint)_ints.Count)
            {
                member = ToBytes(_ints[position]);
                return true;
            }
        }
        else if (_table!.IsUsed(position))
        {
            member = _table.KeyAt(position);
            return true;
        }
        member = null!;
        return false;
    }

    public bool IsUsedAt(int position) => _ints != null ? (uint)position < (uint)_ints.Count : _table!.IsUsed(position);

    public int RandomPosition(Random random)
    {
        if (_ints != null) return _ints.Count == 0 ? -1 : random.Next(_ints.Count);
        return _table!.RandomIndex(random);
    }

    /// <summary>The hashtable, for cursor scans (null while intset-encoded).</summary>
    public ByteTable<byte>? Table => _table;

    public IEnumerable<byte[]> EnumerateMembers()
    {
        if (_ints != null)
        {
            for (int i = 0; i < _ints.Count; i++) yield return ToBytes(_ints[i]);
            yield break;
        }
        for (int i = 0; i < _table!.Capacity; i++)
            if (_table.IsUsed(i)) yield return _table.KeyAt(i);
    }

    public override RedisObject Clone()
    {
        if (_ints != null) return new SetObject { _ints = new List<long>(_ints) };
        var t = new ByteTable<byte>(_table!.Count);
        foreach (var kv in _table) t.Set((byte[])kv.Key.Clone(), 0);
        return new SetObject { _table = t };
    }

    public override long MemoryUsage(int samples)
    {
        if (_ints != null) return 16 + (long)_ints.Count * (_ints.Count > 0 && NeedsWide() ? 8 : 4);
        long total = 64;
        int seen = 0;
        long bytes = 0;
        for (int i = 0; i < _table!.Capacity && (samples <= 0 || seen < samples); i++)
        {
            if (!_table.IsUsed(i)) continue;
            bytes += _table.KeyAt(i).Length + 40;
            seen++;
        }
        if (seen > 0) total += bytes * _table.Count / seen;
        return total;
    }

    private bool NeedsWide() => _ints![0] < int.MinValue || _ints[^1] > int.MaxValue;

    public override string ToString() => string.Join(",", EnumerateMembers().Select(m => System.Text.Encoding.UTF8.GetString(m)).ToArray()) + " (" + Encoding + ")";
}
