using System.Text;
using Cinnabar.Persistence.Formats;
using FsCheck.Xunit;

namespace Cinnabar.Persistence.Tests;

/// <summary>Golden bytes captured from redis-server 7.0.15 (DUMP payloads) and format round trips.</summary>
public sealed class FormatTests
{
    private static byte[] Hex(string h) => Convert.FromHexString(h);
    private static List<string> Str(List<byte[]> l) => l.Select(b => Encoding.ASCII.GetString(b)).ToList();

    // DUMP of HSET h f1 v1 f2 123 on redis 7.0.15
    private const string DumpHash = "10151500000004008266310382763103826632037b01ff0a004ac585b69f9c1e83";
    // DUMP of RPUSH l a 1 -5000 100000
    private const string DumpList = "120102151500000004008161020101f178ec03f2a0860104ff0a00302e063628effba9";
    // DUMP of SADD si 1 2 300 70000
    private const string DumpIntset = "0b18040000000400000001000000020000002c010000701101000a001440c9b9e6eb5e6a";
    // DUMP of SET lstr with 61 'a'
    private const string DumpLzf = "00c3093d016161e030000161610a0059f1726340a0b02f";

    [Fact]
    public void Crc64_matches_redis_check_value() =>
        Assert.Equal(0xe9c6d914c4b8d9caUL, Crc64.Compute("123456789"u8));

    [Theory]
    [InlineData(DumpHash)]
    [InlineData(DumpList)]
    [InlineData(DumpIntset)]
    [InlineData(DumpLzf)]
    public void Dump_payload_trailer_is_version_and_crc64(string hex)
    {
        var p = Hex(hex);
        Assert.Equal(10, p[^10]);
        Assert.Equal(0, p[^9]);
        Assert.Equal(BitConverter.ToUInt64(p, p.Length - 8), Crc64.Compute(p.AsSpan(0, p.Length - 8)));
    }

    [Fact]
    public void Listpack_from_redis_decodes_and_reencodes_identically()
    {
        var p = Hex(DumpHash);
        var lp = p.AsSpan(2, 0x15).ToArray();
        var items = Listpack.Decode(lp);
        Assert.Equal(new[] { "f1", "v1", "f2", "123" }, Str(items));
        Assert.Equal(lp, Listpack.Encode(items));
    }

    [Fact]
    public void Listpack_integer_encodings_match_redis()
    {
        var p = Hex(DumpList);
        var lp = p.AsSpan(4, 0x15).ToArray();
        var items = Listpack.Decode(lp);
        Assert.Equal(new[] { "a", "1", "-5000", "100000" }, Str(items));
        Assert.Equal(lp, Listpack.Encode(items));
    }

    [Fact]
    public void Intset_from_redis_round_trips()
    {
        var p = Hex(DumpIntset);
        var set = p.AsSpan(2, 0x18).ToArray();
        var values = LegacyEncodings.DecodeIntset(set);
        Assert.Equal(new long[] { 1, 2, 300, 70000 }, values);
        Assert.Equal(set, LegacyEncodings.EncodeIntset(values));
    }

    [Fact]
    public void Lzf_string_from_redis_decompresses()
    {
        var p = Hex(DumpLzf);
        var reader = new RdbReader(new MemoryStream(p, 1, p.Length - 11));
        Assert.Equal(new string('a', 61), Encoding.ASCII.GetString(reader.ReadString()));
    }

    [Property(MaxTest = 200)]
    public bool Lzf_round_trips_any_input(byte[] data)
    {
        // Repetitive data compresses; random data may not (Compress returns 0 then).
        var input = data.Concat(data).Concat(data).ToArray();
        var outBuf = new byte[input.Length + 64];
        int n = Lzf.Compress(input, outBuf);
        if (n == 0) return input.Length < 16;
        var back = new byte[input.Length];
        return Lzf.Decompress(outBuf.AsSpan(0, n), back) && back.AsSpan().SequenceEqual(input);
    }

    [Fact]
    public void Rdb_strings_use_int_and_lzf_encodings()
    {
        var ms = new MemoryStream();
        using (var w = new RdbWriter(ms))
        {
            w.WriteString("12345"u8);
            w.WriteString(Encoding.ASCII.GetBytes(new string('a', 61)));
            w.WriteString("hello"u8);
            w.WriteLength(70000);
        }
        var bytes = ms.ToArray();
        Assert.Equal(new byte[] { 0xc1, 0x39, 0x30 }, bytes[..3]);
        var r = new RdbReader(new MemoryStream(bytes));
        Assert.Equal("12345", Encoding.ASCII.GetString(r.ReadString()));
        Assert.Equal(new string('a', 61), Encoding.ASCII.GetString(r.ReadString()));
        Assert.Equal("hello", Encoding.ASCII.GetString(r.ReadString()));
        Assert.Equal(70000UL, r.ReadLength());
    }

    [Fact]
    public void Ziplist_decodes_all_integer_encodings()
    {
        // zlbytes, zltail, zllen, entries: "ab", 7 (immediate), -2 (int8), 1000 (int16), then end
        var entries = new List<byte>
        {
            0, 0x02, (byte)'a', (byte)'b',
            4, 0xF8,
            2, 0xFE, 0xFE,
            3, 0xC0, 0xE8, 0x03,
            0xFF,
        };
        var zl = new byte[10].Concat(entries).ToArray();
        Assert.Equal(new[] { "ab", "7", "-2", "1000" }, Str(LegacyEncodings.DecodeZiplist(zl)));
    }
}
