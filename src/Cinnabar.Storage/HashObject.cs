namespace Cinnabar.Storage;

/// <summary>
/// A hash value with Redis 7.0's two encodings:
/// - "listpack": a flat list of field/value arrays in insertion order (updates keep the position,
///   new fields are appended), while it has at most hash-max-listpack-entries fields and every
///   field and value is at most hash-max-listpack-value bytes; lookups are linear, as in Redis;
/// - "hashtable": a <see cref="ByteTable{TValue}"/> from field to value.
/// Conversion is one-way (listpack -> hashtable), as Redis's hashTypeConvert.
/// Positions (<see cref="PositionLimit"/>, <see cref="TryGetAt"/>) are pair ordinals for listpack
/// and stable entry indexes for hashtable, so callers can iterate, sample and scan either encoding.
/// </summary>
public sealed class HashObject : RedisObject
{
    private List<byte[]>? _pairs;

    public HashObject() => _pairs = new();

    /// <summary>A listpack-encoded hash with room for <paramref name="fields"/> fields (RDB loading knows the size).</summary>
    public HashObject(int fields) => _pairs = new(Math.Clamp(fields, 0, EncodingLimits.HashMaxListpackEntries) * 2);
    private ByteTable<byte[]>? _table;

    public override RedisType Type => RedisType.Hash;

    public override string Encoding => _pairs != null ? "listpack" : "hashtable";

    public bool IsListpack => _pairs != null;

    public int Count => _pairs != null ? _pairs.Count / 2 : _table!.Count;

    /// <summary>Converts now if any of the given lengths exceeds hash-max-listpack-value (Redis's hashTypeTryConversion).</summary>
    public void ConvertIfTooLong(int length)
    {
        if (_pairs != null && length > EncodingLimits.HashMaxListpackValue) ConvertToHashtable();
    }

    public void ConvertToHashtable()
    {
        if (_pairs == null) return;
        var t = new ByteTable<byte[]>(Math.Max(4, _pairs.Count / 2));
        for (int i = 0; i < _pairs.Count; i += 2) t.Set(_pairs[i], _pairs[i + 1]);
        _table = t;
        _pairs = null;
    }

    private int FindPair(ReadOnlySpan<byte> field)
    {
        var p = _pairs!;
        for (int i = 0; i < p.Count; i += 2)
            if (field.SequenceEqual(p[i])) return i;
        return -1;
    }

    public byte[]? Get(ReadOnlySpan<byte> field)
    {
        if (_pairs != null)
        {
            int i = FindPair(field);
            return i < 0 ? null : _pairs[i + 1];
        }
        return _table!.TryGetValue(field, out var v) ? v : null;
    }

    public bool Exists(ReadOnlySpan<byte> field) => _pairs != null ? FindPair(field) >= 0 : _table!.ContainsKey(field);

    /// <summary>Sets field to value (both owned by the hash from now on); returns true when the field is new.</summary>
    public bool Set(byte[] field, byte[] value)
    {
        if (_pairs != null && (field.Length > EncodingLimits.HashMaxListpackValue || value.Length > EncodingLimits.HashMaxListpackValue))
            ConvertToHashtable();
        if (_pairs != null)
        {
            int i = FindPair(field);
            if (i >= 0)
            {
                _pairs[i + 1] = value;
                return false;
            }
            _pairs.Add(field);
            _pairs.Add(value);
            if (_pairs.Count / 2 > EncodingLimits.HashMaxListpackEntries) ConvertToHashtable();
            return true;
        }
        ref byte[] slot = ref _table!.GetOrAddRef(field, field, out bool existed);
        slot = value;
        return !existed;
    }

    public bool Delete(ReadOnlySpan<byte> field)
    {
        if (_pairs != null)
        {
            int i = FindPair(field);
            if (i < 0) return false;
            _pairs.RemoveRange(i, 2);
            return true;
        }
        return _table!.Remove(field);
    }

    /// <summary>Exclusive upper bound of positions.</summary>
    public int PositionLimit => _pairs != null ? _pairs.Count / 2 : _table!.Capacity;

    /// <summary>The entry at a position, or false when the position is free (hashtable holes).</summary>
    public bool TryGetAt(int position, out byte[] field, out byte[] value)
    {
        if (_pairs != null)
        {
            if ((uint)position < (uint)(_pairs.Count / 2))
            {
                field = _pairs[position * 2];
                value = _pairs[position * 2 + 1];
                return true;
            }
        }
        else if (_table!.IsUsed(position))
        {
            field = _table.KeyAt(position);
            value = _table.ValueAt(position);
            return true;
        }
        field = null!;
        value = null!;
        return false;
    }

    /// <summary>A uniformly random used position (-1 when empty).</summary>
    public int RandomPosition(Random random)
    {
        if (_pairs != null) return _pairs.Count == 0 ? -1 : random.Next(_pairs.Count / 2);
        return _table!.RandomIndex(random);
    }

    /// <summary>The hashtable, for cursor scans of hashtable-encoded hashes (null for listpack).</summary>
    public ByteTable<byte[]>? Table => _table;

    public override RedisObject Clone()
    {
        var h = new HashObject();
        if (_pairs != null)
        {
            h._pairs = new List<byte[]>(_pairs.Count);
            foreach (var b in _pairs) h._pairs.Add((byte[])b.Clone());
        }
        else
        {
            h._pairs = null;
            h._table = new ByteTable<byte[]>(_table!.Count);
            foreach (var kv in _table) h._table.Set((byte[])kv.Key.Clone(), (byte[])kv.Value.Clone());
        }
        return h;
    }

    public override long MemoryUsage(int samples)
    {
        long total = 48;
        int seen = 0;
        long sampleBytes = 0;
        for (int p = 0; p < PositionLimit && (samples <= 0 || seen < samples); p++)
        {
            if (!TryGetAt(p, out var f, out var v)) continue;
            sampleBytes += f.Length + v.Length + (_pairs != null ? 4 : 64);
            seen++;
        }
        if (seen > 0) total += sampleBytes * Count / seen;
        return total;
    }
}
