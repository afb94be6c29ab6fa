using System.Buffers.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Storage;

/// <summary>
/// A string value. Like Redis it has three encodings: "int" (the value is a 64-bit integer kept
/// as a number, so INCR touches no bytes), "embstr" (created whole and at most 44 bytes) and
/// "raw" (larger, or modified in place by APPEND/SETRANGE/SETBIT).
/// </summary>
public sealed class StringObject : RedisObject
{
    public const int EmbstrMaxLength = 44;

    private byte[]? _bytes;
    private long _int;
    private bool _raw;

    private StringObject() { }

    public override RedisType Type => RedisType.String;

    public override string Encoding => _bytes == null ? "int" : _raw || _bytes.Length > EmbstrMaxLength ? "raw" : "embstr";

    public bool IsInt => _bytes == null;
    public long IntValue => _int;

    /// <summary>Creates a string from bytes it takes ownership of, trying the int encoding as Redis's tryObjectEncoding does.</summary>
    public static StringObject Create(byte[] value)
    {
        if (value.Length <= 20 && RequestParser.TryParseLong(value, out long n)) return new StringObject { _int = n };
        return new StringObject { _bytes = value };
    }

    public static StringObject Create(ReadOnlySpan<byte> value)
    {
        if (value.Length <= 20 && RequestParser.TryParseLong(value, out long n)) return new StringObject { _int = n };
        return new StringObject { _bytes = value.ToArray() };
    }

    public static StringObject FromLong(long value) => new() { _int = value };

    /// <summary>A string that keeps its bytes even when they look like an integer (createStringObject without tryObjectEncoding, e.g. INCRBYFLOAT's result).</summary>
    public static StringObject CreateNoIntEncoding(byte[] value) => new() { _bytes = value };

    /// <summary>A raw-encoded string (result of an in-place modification).</summary>
    public static StringObject CreateRaw(byte[] value) => new() { _bytes = value, _raw = true };

    public int Length
    {
        get
        {
            if (_bytes != null) return _bytes.Length;
            Span<byte> tmp = stackalloc byte[24];
            Utf8Formatter.TryFormat(_int, tmp, out int n);
            return n;
        }
    }

    /// <summary>The value's bytes (materialised for int-encoded values).</summary>
    public byte[] GetBytes()
    {
        if (_bytes != null) return _bytes;
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(_int, tmp, out int n);
        return tmp[..n].ToArray();
    }

    /// <summary>The bytes of a non-int value without copying, or null for int-encoded values.</summary>
    public byte[]? RawBytes => _bytes;

    public bool TryGetLong(out long value)
    {
        if (_bytes == null)
        {
            value = _int;
            return true;
        }
        return RequestParser.TryParseLong(_bytes, out value);
    }

    /// <summary>
    /// Replaces the value in place when it has the same length as the current (non-integer)
    /// bytes and would not be int-encoded; returns false otherwise. The result is embstr/raw by
    /// size, as a freshly created string would be.
    /// </summary>
    public bool TryOverwriteInPlace(ReadOnlySpan<byte> value)
    {
        var b = _bytes;
        if (b == null || b.Length != value.Length) return false;
        if (value.Length <= 20 && RequestParser.TryParseLong(value, out _)) return false;
        value.CopyTo(b);
        _raw = false;
        return true;
    }

    public void SetLong(long value)
    {
        _bytes = null;
        _raw = false;
        _int = value;
    }

    public override RedisObject Clone() => new StringObject { _bytes = _bytes == null ? null : (byte[])_bytes.Clone(), _int = _int, _raw = _raw, Lru = Lru };

    public override long MemoryUsage(int samples) => _bytes == null ? 16 : 16 + 8 + _bytes.Length + (_bytes.Length <= EmbstrMaxLength ? 3 : 8);
}
