using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Writes RDB primitives to a stream through a 64 KiB buffer, keeping a running CRC-64 of
/// everything written (rdbchecksum). Strings use Redis's rules: integer encoding when the
/// string is the canonical form of a 32-bit integer, LZF when compression is on, the string is
/// longer than 20 bytes and compression saves more than 4 bytes.
/// </summary>
public sealed class RdbWriter : IDisposable
{
    private readonly Stream _out;
    private byte[] _buf = new byte[64 * 1024];
    private int _len;
    private ulong _crc;

    public RdbWriter(Stream output, bool compress = true, bool checksum = true)
    {
        _out = output;
        Compress = compress;
        Checksum = checksum;
    }

    /// <summary>
    /// When set, a full buffer grows instead of being written out: the caller writes it with
    /// <see cref="FlushPending"/> at a moment of its choice (outside the execution lock, so a
    /// slow disk or replica socket never stalls command execution).
    /// </summary>
    public bool DeferFlush { get; init; }

    /// <summary>Reused to build listpack payloads without allocating.</summary>
    public ListpackBuilder ListpackScratch { get; } = new();

    public bool Compress { get; }
    public bool Checksum { get; }
    public long BytesWritten { get; private set; }

    private void MakeRoom()
    {
        if (DeferFlush) Array.Resize(ref _buf, _buf.Length * 2);
        else FlushBuffer();
    }

    /// <summary>Writes buffered bytes to the stream (see <see cref="DeferFlush"/>).</summary>
    public void FlushPending()
    {
        FlushBuffer();
        if (_buf.Length > 1 << 20) _buf = new byte[64 * 1024];
    }

    public void WriteByte(byte b)
    {
        if (_len == _buf.Length) MakeRoom();
        _buf[_len++] = b;
    }

    public void WriteBytes(ReadOnlySpan<byte> data)
    {
        while (data.Length > 0)
        {
            if (_len == _buf.Length) MakeRoom();
            int n = Math.Min(data.Length, _buf.Length - _len);
            data[..n].CopyTo(_buf.AsSpan(_len));
            _len += n;
            data = data[n..];
        }
    }

    private void FlushBuffer()
    {
        if (_len == 0) return;
        if (Checksum) _crc = Crc64.Update(_crc, _buf.AsSpan(0, _len));
        _out.Write(_buf, 0, _len);
        BytesWritten += _len;
        _len = 0;
    }

    public void Flush()
    {
        FlushBuffer();
        _out.Flush();
    }

    public void WriteHeader() => WriteBytes(Encoding.ASCII.GetBytes("REDIS" + Rdb.Version.ToString("D4", CultureInfo.InvariantCulture)));

    public void WriteLength(ulong len)
    {
        Span<byte> b = stackalloc byte[9];
        if (len < 1 << 6)
        {
            WriteByte((byte)len);
        }
        else if (len < 1 << 14)
        {
            WriteByte((byte)(((len >> 8) & 0xFF) | (Rdb.Len14Bit << 6)));
            WriteByte((byte)(len & 0xFF));
        }
        else if (len <= uint.MaxValue)
        {
            b[0] = Rdb.Len32Bit;
            BinaryPrimitives.WriteUInt32BigEndian(b[1..], (uint)len);
            WriteBytes(b[..5]);
        }
        else
        {
            b[0] = Rdb.Len64Bit;
            BinaryPrimitives.WriteUInt64BigEndian(b[1..], len);
            WriteBytes(b[..9]);
        }
    }

    public void WriteString(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 11 && Cinnabar.Protocol.RequestParser.TryParseLong(s, out long v) && TryWriteIntEncoded(v)) return;
        if (Compress && s.Length > 20 && TryWriteLzf(s)) return;
        WriteLength((ulong)s.Length);
        WriteBytes(s);
    }

    public void WriteString(string s) => WriteString(Encoding.UTF8.GetBytes(s));

    /// <summary>Writes an integer as a string value (int-encoded if it fits 32 bits, else as text).</summary>
    public void WriteIntegerString(long v)
    {
        if (TryWriteIntEncoded(v)) return;
        var text = Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture));
        WriteLength((ulong)text.Length);
        WriteBytes(text);
    }

    private bool TryWriteIntEncoded(long v)
    {
        if (v >= sbyte.MinValue && v <= sbyte.MaxValue)
        {
            WriteByte((3 << 6) | Rdb.EncInt8);
            WriteByte((byte)(sbyte)v);
            return true;
        }
        if (v >= short.MinValue && v <= short.MaxValue)
        {
            Span<byte> b = stackalloc byte[2];
            BinaryPrimitives.WriteInt16LittleEndian(b, (short)v);
            WriteByte((3 << 6) | Rdb.EncInt16);
            WriteBytes(b);
            return true;
        }
        if (v >= int.MinValue && v <= int.MaxValue)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(b, (int)v);
            WriteByte((3 << 6) | Rdb.EncInt32);
            WriteBytes(b);
            return true;
        }
        return false;
    }

    private bool TryWriteLzf(ReadOnlySpan<byte> s)
    {
        if (s.Length <= 4) return false;
        byte[] outBuf = System.Buffers.ArrayPool<byte>.Shared.Rent(s.Length);
        try
        {
            int clen = Lzf.Compress(s, outBuf.AsSpan(0, s.Length - 4));
            if (clen == 0) return false;
            WriteByte((3 << 6) | Rdb.EncLzf);
            WriteLength((ulong)clen);
            WriteLength((ulong)s.Length);
            WriteBytes(outBuf.AsSpan(0, clen));
            return true;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(outBuf);
        }
    }

    public void WriteDoubleBinary(double d)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, d);
        WriteBytes(b);
    }

    public void WriteUInt64LE(ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        WriteBytes(b);
    }

    public void WriteMillis(long ms) => WriteUInt64LE((ulong)ms);

    public void WriteAux(string key, string value)
    {
        WriteByte(Rdb.OpAux);
        WriteString(key);
        WriteString(value);
    }

    /// <summary>Writes EOF and the checksum (0 when rdbchecksum is off), then flushes.</summary>
    public void WriteEof()
    {
        WriteByte(Rdb.OpEof);
        FlushBuffer();
        ulong crc = Checksum ? _crc : 0;
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, crc);
        _out.Write(b);
        BytesWritten += 8;
        _out.Flush();
    }

    /// <summary>The CRC of everything written so far (flushes the buffer first).</summary>
    public ulong CurrentCrc()
    {
        FlushBuffer();
        return _crc;
    }

    public void Dispose() => FlushBuffer();
}
