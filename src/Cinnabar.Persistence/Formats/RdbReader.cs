using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Reads RDB primitives from a stream, keeping a running CRC-64 of consumed bytes so the
/// trailing checksum can be verified. Throws <see cref="InvalidDataException"/> on malformed
/// input (the loader turns that into Redis's "Short read or OOM loading DB" / bad format errors).
/// </summary>
// The read path runs once, at startup, over millions of values: its hot methods are compiled
// fully optimized at once (AggressiveOptimization) instead of starting in tier 0, whose
// promotion is postponed while startup keeps the JIT busy (a 1M-key load ran 5-10% faster
// with tiering off altogether).
public sealed class RdbReader
{
    private readonly Stream _in;
    private readonly byte[] _buf = new byte[64 * 1024];
    private int _pos;
    private int _len;
    private ulong _crc;
    private int _crcFrom;

    public RdbReader(Stream input) => _in = input;

    public long Position { get; private set; }

    /// <summary>
    /// sanitize-dump-payload: validate every entry of packed payloads (listpacks, intsets) on
    /// load, as Redis's deep integrity validation does. Shallow checks run regardless.
    /// </summary>
    public bool DeepIntegrity { get; init; }

    /// <summary>Bytes left in the input when it is known (files, DUMP payloads); long.MaxValue for sockets.</summary>
    public long KnownRemaining => _in.CanSeek ? _in.Length - _in.Position + (_len - _pos) : long.MaxValue;

    /// <summary>
    /// A count read from the input, capped for pre-sizing a collection: each element needs at
    /// least <paramref name="minBytesEach"/> bytes of input, so a corrupt count cannot make us
    /// reserve more than the payload could hold.
    /// </summary>
    public int CapacityFor(long count, int minBytesEach = 1) =>
        (int)Math.Clamp(Math.Min(count, KnownRemaining / Math.Max(1, minBytesEach)), 0, 1 << 20);

    // Reads larger than this from an input of unknown length grow their buffer as the bytes
    // arrive, so a corrupt length field cannot allocate gigabytes before the stream runs dry.
    private const int UnboundedReadChunk = 1 << 20;

    private void Fill()
    {
        _crc = Crc64.Update(_crc, _buf.AsSpan(_crcFrom, _pos - _crcFrom));
        _len = _in.Read(_buf, 0, _buf.Length);
        _pos = 0;
        _crcFrom = 0;
        if (_len <= 0) throw new EndOfStreamException("Unexpected EOF reading RDB file");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public byte ReadByte()
    {
        if (_pos == _len) Fill();
        Position++;
        return _buf[_pos++];
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void ReadExactly(Span<byte> dest)
    {
        while (dest.Length > 0)
        {
            if (_pos == _len) Fill();
            int n = Math.Min(dest.Length, _len - _pos);
            _buf.AsSpan(_pos, n).CopyTo(dest);
            _pos += n;
            Position += n;
            dest = dest[n..];
        }
    }

    public byte[] ReadBytes(int n)
    {
        if (n < 0 || n > KnownRemaining) throw new EndOfStreamException("Unexpected EOF reading RDB file");
        if (n <= UnboundedReadChunk || _in.CanSeek)
        {
            var b = new byte[n];
            ReadExactly(b);
            return b;
        }
        var grown = new byte[UnboundedReadChunk];
        int have = 0;
        while (have < n)
        {
            if (have == grown.Length) Array.Resize(ref grown, (int)Math.Min(n, (long)grown.Length * 2));
            int step = Math.Min(grown.Length, n) - have;
            ReadExactly(grown.AsSpan(have, step));
            have += step;
        }
        return grown;
    }

    /// <summary>
    /// LZF expands at most 88 times (a 3-byte back-reference yields up to 264 bytes): a declared
    /// uncompressed length beyond that is corrupt, and refusing it early avoids a huge allocation.
    /// </summary>
    private static void CheckLzfLengths(int compressedLength, int uncompressedLength)
    {
        if (uncompressedLength == 0 || compressedLength == 0 || uncompressedLength > 88L * compressedLength + 8)
            throw new InvalidDataException("Invalid LZF compressed string");
    }

    /// <summary>CRC of everything consumed so far.</summary>
    public ulong ConsumedCrc()
    {
        _crc = Crc64.Update(_crc, _buf.AsSpan(_crcFrom, _pos - _crcFrom));
        _crcFrom = _pos;
        return _crc;
    }

    public void ReadHeader(out int version)
    {
        Span<byte> magic = stackalloc byte[9];
        ReadExactly(magic);
        if (!magic[..5].SequenceEqual("REDIS"u8)) throw new InvalidDataException("Wrong signature trying to load DB from file");
        if (!int.TryParse(Encoding.ASCII.GetString(magic[5..]), NumberStyles.None, CultureInfo.InvariantCulture, out version) || version < 1 || version > Rdb.Version)
            throw new InvalidDataException($"Can't handle RDB format version {Encoding.ASCII.GetString(magic[5..])}");
    }

    /// <summary>Reads a length; <paramref name="encoded"/> is true for the special string encodings (value = encoding type).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public ulong ReadLength(out bool encoded)
    {
        encoded = false;
        byte b = ReadByte();
        int type = (b & 0xC0) >> 6;
        switch (type)
        {
            case 0: return (ulong)(b & 0x3F);
            case 1: return (ulong)(((b & 0x3F) << 8) | ReadByte());
            case 3:
                encoded = true;
                return (ulong)(b & 0x3F);
        }
        Span<byte> tmp = stackalloc byte[8];
        if (b == Rdb.Len32Bit)
        {
            ReadExactly(tmp[..4]);
            return BinaryPrimitives.ReadUInt32BigEndian(tmp);
        }
        if (b == Rdb.Len64Bit)
        {
            ReadExactly(tmp);
            return BinaryPrimitives.ReadUInt64BigEndian(tmp);
        }
        throw new InvalidDataException($"Unknown length encoding {b} in rdbLoadLen()");
    }

    public ulong ReadLength() => ReadLength(out _);

    public int ReadLengthInt()
    {
        ulong v = ReadLength(out bool enc);
        if (enc || v > int.MaxValue) throw new InvalidDataException("bad length");
        return (int)v;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public byte[] ReadString()
    {
        ulong len = ReadLength(out bool encoded);
        if (!encoded)
        {
            if (len > int.MaxValue) throw new InvalidDataException("string too long");
            return ReadBytes((int)len);
        }
        return ReadStringEncoded((int)len);
    }

    private byte[] ReadStringEncoded(int encoding)
    {
        switch (encoding)
        {
            case Rdb.EncInt8: return Num((sbyte)ReadByte());
            case Rdb.EncInt16:
            {
                Span<byte> b = stackalloc byte[2];
                ReadExactly(b);
                return Num(BinaryPrimitives.ReadInt16LittleEndian(b));
            }
            case Rdb.EncInt32:
            {
                Span<byte> b = stackalloc byte[4];
                ReadExactly(b);
                return Num(BinaryPrimitives.ReadInt32LittleEndian(b));
            }
            case Rdb.EncLzf:
            {
                int clen = ReadLengthInt();
                int ulen = ReadLengthInt();
                CheckLzfLengths(clen, ulen);
                var c = ReadBytes(clen);
                var u = new byte[ulen];
                if (!Lzf.Decompress(c, u)) throw new InvalidDataException("Invalid LZF compressed string");
                return u;
            }
            default: throw new InvalidDataException($"Unknown RDB string encoding type {encoding}");
        }
    }

    private byte[] _scratch = new byte[256];
    private byte[] _lzfScratch = new byte[256];

    private static byte[] Grow(ref byte[] buf, int length)
    {
        if (buf.Length < length) buf = new byte[Math.Max(length, buf.Length * 2)];
        return buf;
    }

    /// <summary>
    /// Reads a string into the reader's scratch buffer, for payloads that are decoded and
    /// dropped (listpacks, intsets): valid until the next call. Saves an allocation per value.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public byte[] ReadStringScratch(out int length)
    {
        ulong len = ReadLength(out bool encoded);
        if (!encoded)
        {
            if (len > int.MaxValue) throw new InvalidDataException("string too long");
            length = (int)len;
            if (length > KnownRemaining) throw new EndOfStreamException("Unexpected EOF reading RDB file");
            if (length > UnboundedReadChunk && !_in.CanSeek) return ReadBytes(length);
            var b = Grow(ref _scratch, length);
            ReadExactly(b.AsSpan(0, length));
            return b;
        }
        if ((int)len == Rdb.EncLzf)
        {
            int clen = ReadLengthInt();
            length = ReadLengthInt();
            CheckLzfLengths(clen, length);
            if (clen > KnownRemaining) throw new EndOfStreamException("Unexpected EOF reading RDB file");
            var c = Grow(ref _lzfScratch, clen);
            var u = Grow(ref _scratch, length);
            ReadExactly(c.AsSpan(0, clen));
            if (!Lzf.Decompress(c.AsSpan(0, clen), u.AsSpan(0, length))) throw new InvalidDataException("Invalid LZF compressed string");
            return u;
        }
        var s = ReadStringEncoded((int)len);
        length = s.Length;
        return s;
    }

    public string ReadStringUtf8() => Encoding.UTF8.GetString(ReadString());

    private static byte[] Num(long v) => Listpack.Num(v);

    public double ReadDoubleBinary()
    {
        Span<byte> b = stackalloc byte[8];
        ReadExactly(b);
        return BinaryPrimitives.ReadDoubleLittleEndian(b);
    }

    /// <summary>The old string-formatted double (ZSET type 3): length byte, 253 nan, 254 +inf, 255 -inf.</summary>
    public double ReadDoubleString()
    {
        byte len = ReadByte();
        switch (len)
        {
            case 253: return double.NaN;
            case 254: return double.PositiveInfinity;
            case 255: return double.NegativeInfinity;
        }
        var s = ReadBytes(len);
        return double.Parse(Encoding.ASCII.GetString(s), NumberStyles.Float, CultureInfo.InvariantCulture);
    }

    public ulong ReadUInt64LE()
    {
        Span<byte> b = stackalloc byte[8];
        ReadExactly(b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    public long ReadMillis() => (long)ReadUInt64LE();

    public int ReadInt32LE()
    {
        Span<byte> b = stackalloc byte[4];
        ReadExactly(b);
        return BinaryPrimitives.ReadInt32LittleEndian(b);
    }
}
