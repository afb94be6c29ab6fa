using System.Buffers.Text;
using System.Runtime.CompilerServices;
using System.Text;

namespace Cinnabar.Protocol;

/// <summary>
/// Writes RESP2/RESP3 replies into a growable byte buffer owned by one connection. RESP3-only
/// types degrade to their RESP2 forms the way Redis does (map -> flat array, set -> array,
/// double -> bulk string, null -> $-1 or *-1, bool -> integer, verbatim -> bulk, push -> array).
/// </summary>
public sealed class RespWriter
{
    private static readonly byte[] Crlf = "\r\n"u8.ToArray();
    private byte[] _buffer;
    private int _length;

    public RespWriter(int initialCapacity = 16 * 1024)
    {
        _buffer = new byte[initialCapacity];
    }

    /// <summary>2 or 3.</summary>
    public int Protocol { get; set; } = 2;

    public int Length => _length;
    public byte[] Buffer => _buffer;
    public ReadOnlyMemory<byte> Written => new(_buffer, 0, _length);

    public void Clear() => _length = 0;

    /// <summary>Drops everything written after <paramref name="length"/> (used to discard replies).</summary>
    public void Truncate(int length) => _length = length;

    /// <summary>Swaps the storage with another writer's, so the filled buffer can be sent while new replies accumulate.</summary>
    public void SwapWith(RespWriter other)
    {
        (_buffer, other._buffer) = (other._buffer, _buffer);
        (_length, other._length) = (other._length, _length);
    }

    /// <summary>Gives the writer a buffer of <paramref name="capacity"/> bytes, keeping what is written (at least that much room).</summary>
    public void Reallocate(int capacity)
    {
        capacity = Math.Max(capacity, _length);
        if (capacity == _buffer.Length) return;
        var next = new byte[capacity];
        _buffer.AsSpan(0, _length).CopyTo(next);
        NoteReleased(_buffer);
        _buffer = next;
    }

    /// <summary>Shrinks an oversized idle buffer back to its initial size.</summary>
    public void TrimIfIdle(int maxIdleCapacity)
    {
        if (_length == 0 && _buffer.Length > maxIdleCapacity)
        {
            NoteReleased(_buffer);
            _buffer = new byte[maxIdleCapacity];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> GetSpan(int size)
    {
        if (_buffer.Length - _length < size) Grow(size);
        return _buffer.AsSpan(_length);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Advance(int count) => _length += count;

    private void Grow(int size)
    {
        long newSize = Math.Max((long)_buffer.Length * 2, (long)_length + size);
        if (newSize > Array.MaxLength) newSize = Array.MaxLength;
        NoteReleased(_buffer);
        Array.Resize(ref _buffer, (int)newSize);
    }

    // Dropped buffers that only a full collection reclaims (85,000 bytes and more live on the large
    // object heap; smaller ones once they are old) are tracked by weak reference: each counts as released until
    // the collector has actually reclaimed it, whenever that collection runs. A running total
    // snapshotted at some later observation would miss buffers dropped between a collection and
    // that observation, and count them as used memory until the next full collection.
    private static readonly List<(WeakReference Buffer, long Bytes)> _released = new();

    /// <summary>Bytes of dropped buffers the garbage collector has not reclaimed yet; the
    /// server's memory accounting (used_memory) subtracts them.</summary>
    public static long ReleasedBytes
    {
        get
        {
            lock (_released)
            {
                long sum = 0;
                for (int i = _released.Count - 1; i >= 0; i--)
                {
                    if (_released[i].Buffer.IsAlive)
                    {
                        sum += _released[i].Bytes;
                        continue;
                    }
                    _released[i] = _released[^1];
                    _released.RemoveAt(_released.Count - 1);
                }
                return sum;
            }
        }
    }

    /// <summary>Records that <paramref name="buffer"/> is no longer used (tracked when on the large object heap).</summary>
    public static void NoteReleased(byte[] buffer) => NoteReleased(buffer, buffer.Length);

    /// <summary>Records that <paramref name="array"/>, of <paramref name="bytes"/> bytes, is no longer used.</summary>
    public static void NoteReleased(Array array, long bytes)
    {
        // A small young array goes with the next young collection; a large one (large object
        // heap) or an old one waits for a full collection, counted as released until then.
        if (bytes < 85_000 && GC.GetGeneration(array) < GC.MaxGeneration) return;
        lock (_released)
        {
            // Bounded: entries whose array was reclaimed are dropped before the list doubles.
            if (_released.Count >= _releasedPruneAt)
            {
                _released.RemoveAll(static e => !e.Buffer.IsAlive);
                _releasedPruneAt = Math.Max(1024, _released.Count * 2);
            }
            _released.Add((new WeakReference(array), bytes));
        }
    }

    private static int _releasedPruneAt = 1024;

    public void WriteRaw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    public void WriteRaw(string ascii)
    {
        var span = GetSpan(Encoding.UTF8.GetMaxByteCount(ascii.Length));
        _length += Encoding.UTF8.GetBytes(ascii, span);
    }

    private void WritePrefixedNumber(byte prefix, long value)
    {
        var span = GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(value, span[1..], out int n);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        _length += n + 3;
    }

    public void WriteOk() => WriteRaw("+OK\r\n"u8);

    public void WriteSimpleString(ReadOnlySpan<byte> s)
    {
        var span = GetSpan(s.Length + 3);
        span[0] = (byte)'+';
        s.CopyTo(span[1..]);
        span[s.Length + 1] = (byte)'\r';
        span[s.Length + 2] = (byte)'\n';
        _length += s.Length + 3;
    }

    public void WriteSimpleString(string s)
    {
        WriteRaw("+"u8);
        WriteRaw(s);
        WriteRaw(Crlf);
    }

    /// <summary>Writes an error. <paramref name="message"/> must carry its code ("ERR ...", "WRONGTYPE ...").</summary>
    public void WriteError(string message)
    {
        WriteRaw("-"u8);
        // Redis replaces newlines in error messages with spaces so the protocol stays intact.
        if (message.Contains('\r') || message.Contains('\n')) message = message.Replace('\r', ' ').Replace('\n', ' ');
        WriteRaw(message);
        WriteRaw(Crlf);
    }

    public void WriteInteger(long value) => WritePrefixedNumber((byte)':', value);

    public void WriteArrayHeader(long count) => WritePrefixedNumber((byte)'*', count);

    public void WriteMapHeader(long pairs)
    {
        if (Protocol >= 3) WritePrefixedNumber((byte)'%', pairs);
        else WritePrefixedNumber((byte)'*', pairs * 2);
    }

    public void WriteSetHeader(long count) => WritePrefixedNumber(Protocol >= 3 ? (byte)'~' : (byte)'*', count);

    public void WritePushHeader(long count) => WritePrefixedNumber(Protocol >= 3 ? (byte)'>' : (byte)'*', count);

    public void WriteBulk(ReadOnlySpan<byte> value)
    {
        var span = GetSpan(value.Length + 16);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(value.Length, span[1..], out int n);
        int p = n + 1;
        span[p++] = (byte)'\r';
        span[p++] = (byte)'\n';
        value.CopyTo(span[p..]);
        p += value.Length;
        span[p++] = (byte)'\r';
        span[p++] = (byte)'\n';
        _length += p;
    }

    public void WriteBulk(string value)
    {
        int max = Encoding.UTF8.GetByteCount(value);
        var span = GetSpan(max + 16);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(max, span[1..], out int n);
        int p = n + 1;
        span[p++] = (byte)'\r';
        span[p++] = (byte)'\n';
        p += Encoding.UTF8.GetBytes(value, span[p..]);
        span[p++] = (byte)'\r';
        span[p++] = (byte)'\n';
        _length += p;
    }

    /// <summary>An integer sent as a bulk string (e.g. GET of an int-encoded string).</summary>
    public void WriteBulkInteger(long value)
    {
        Span<byte> tmp = stackalloc byte[24];
        Utf8Formatter.TryFormat(value, tmp, out int n);
        WriteBulk(tmp[..n]);
    }

    public void WriteNull()
    {
        if (Protocol >= 3) WriteRaw("_\r\n"u8);
        else WriteRaw("$-1\r\n"u8);
    }

    public void WriteNullArray()
    {
        if (Protocol >= 3) WriteRaw("_\r\n"u8);
        else WriteRaw("*-1\r\n"u8);
    }

    public void WriteEmptyArray() => WriteRaw("*0\r\n"u8);

    public void WriteBool(bool value)
    {
        if (Protocol >= 3) WriteRaw(value ? "#t\r\n"u8 : "#f\r\n"u8);
        else WriteRaw(value ? ":1\r\n"u8 : ":0\r\n"u8);
    }

    /// <summary>A double: RESP3 ',' type, or in RESP2 a bulk string formatted as Redis 7.0 does (%.17g).</summary>
    public void WriteDouble(double value)
    {
        string text = NumberFormat.FormatDouble(value);
        if (Protocol >= 3)
        {
            WriteRaw(","u8);
            WriteRaw(text);
            WriteRaw(Crlf);
        }
        else WriteBulk(text);
    }

    public void WriteVerbatim(string text, string format = "txt")
    {
        if (Protocol >= 3)
        {
            int len = Encoding.UTF8.GetByteCount(text) + 4;
            WritePrefixedNumber((byte)'=', len);
            WriteRaw(format);
            WriteRaw(":"u8);
            WriteRaw(text);
            WriteRaw(Crlf);
        }
        else WriteBulk(text);
    }

    public void WriteBigNumber(string digits)
    {
        if (Protocol >= 3)
        {
            WriteRaw("("u8);
            WriteRaw(digits);
            WriteRaw(Crlf);
        }
        else WriteBulk(digits);
    }

    public void WriteBulkArray(IReadOnlyList<byte[]> items)
    {
        WriteArrayHeader(items.Count);
        for (int i = 0; i < items.Count; i++) WriteBulk(items[i]);
    }

    public void WriteBulkOrNull(byte[]? value)
    {
        if (value == null) WriteNull();
        else WriteBulk(value);
    }
}
