using System.Text;
using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>
/// Corrupt DUMP payload bodies (type byte + value) fail with Redis's reason and never with any
/// other exception; huge length fields fail before allocating. The hex inputs are payloads from
/// Redis 7.0.15's integration/corrupt-dump tests (without the version/CRC trailer).
/// </summary>
public sealed class CorruptPayloadTests
{
    private static RedisObject Read(byte[] body, bool deep = false)
    {
        var r = new RdbReader(new MemoryStream(body)) { DeepIntegrity = deep };
        byte type = r.ReadByte();
        return RdbValueCodec.Read(r, type);
    }

    private static string Reason(byte[] body, bool deep = false)
    {
        var e = Assert.ThrowsAny<Exception>(() => Read(body, deep));
        Assert.True(e is InvalidDataException or EndOfStreamException or RdbEmptyKeyException, e.ToString());
        return e.Message;
    }

    private static byte[] Hex(string s) => Convert.FromHexString(s);

    [Fact]
    public void Hash_ziplist_with_bad_entry_length_fails_the_ziplist_check()
    {
        // "hash with valid zip list header, invalid entry len"
        var body = Hex("0D1B1B000000160000000400000261000402620004146300040264" + "00FF");
        Assert.Equal("Hash ziplist integrity check failed.", Reason(body));
    }

    [Fact]
    public void Hash_ziplist_with_duplicate_fields_fails_the_ziplist_check()
    {
        var body = Hex("0D1B1B000000160000000400000261000402620004026100040264" + "00FF");
        Assert.Equal("Hash ziplist integrity check failed.", Reason(body));
    }

    [Fact]
    public void Quicklist_node_of_zero_bytes_is_refused()
    {
        Assert.Equal("Quicklist integrity check failed.", Reason(Hex("12010100")));
    }

    [Fact]
    public void Empty_intset_is_refused()
    {
        // width 2, count 0
        var intset = new byte[] { 2, 0, 0, 0, 0, 0, 0, 0 };
        var body = new byte[] { 11, (byte)intset.Length }.Concat(intset).ToArray();
        Assert.Equal("Intset integrity check failed.", Reason(body));
    }

    [Fact]
    public void Unsorted_intset_passes_shallow_checks_but_not_deep_ones()
    {
        var intset = new byte[] { 2, 0, 0, 0, 2, 0, 0, 0, 5, 0, 3, 0 };
        var body = new byte[] { 11, (byte)intset.Length }.Concat(intset).ToArray();
        Assert.Equal(2, ((SetObject)Read(body)).Count);
        Assert.Equal("Intset integrity check failed.", Reason(body, deep: true));
    }

    [Fact]
    public void Listpack_with_lying_backlen_fails_only_the_deep_check()
    {
        // hash listpack {a: b}: entries 0x81 'a' backlen 2, 0x81 'b' backlen 2; corrupt the first backlen.
        var lp = new byte[] { 13, 0, 0, 0, 2, 0, 0x81, (byte)'a', 9, 0x81, (byte)'b', 2, 0xFF };
        var body = new byte[] { 16, (byte)lp.Length }.Concat(lp).ToArray();
        Assert.Equal(1, ((HashObject)Read(body)).Count);
        Assert.Equal("Hash listpack integrity check failed.", Reason(body, deep: true));
    }

    [Fact]
    public void Listpack_whose_size_header_lies_always_fails()
    {
        var lp = new byte[] { 99, 0, 0, 0, 2, 0, 0x81, (byte)'a', 2, 0x81, (byte)'b', 2, 0xFF };
        var body = new byte[] { 16, (byte)lp.Length }.Concat(lp).ToArray();
        Assert.Equal("Hash listpack integrity check failed.", Reason(body));
    }

    [Fact]
    public void Listpack_string_running_past_the_end_fails_without_deep_checks()
    {
        // 0xF0: 32-bit string length (2 GiB) inside a 12-byte listpack.
        var lp = new byte[] { 12, 0, 0, 0, 1, 0, 0xF0, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF };
        var body = new byte[] { 18, 1, 2, (byte)lp.Length }.Concat(lp).ToArray();
        Assert.Equal("Listpack integrity check failed.", Reason(body));
    }

    [Fact]
    public void Huge_string_length_fails_as_a_short_read_without_allocating_it()
    {
        // RDB 32-bit length 0x7FFFFFF0 with 3 bytes of data behind it.
        var body = new byte[] { 0, 0x80, 0x7F, 0xFF, 0xFF, 0xF0, 1, 2, 3 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.IsType<EndOfStreamException>(Assert.ThrowsAny<Exception>(() => Read(body)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Huge_lzf_uncompressed_length_is_refused_before_allocating()
    {
        // LZF string: compressed length 3, uncompressed length 0x7FFFFFFF.
        var body = new byte[] { 0, 0xC3, 3, 0x80, 0x7F, 0xFF, 0xFF, 0xFF, 0, (byte)'a', 0 };
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal("Invalid LZF compressed string", Reason(body));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20);
    }

    [Fact]
    public void Huge_set_count_does_not_presize_a_giant_table()
    {
        // Set with 2^32-1 members announced and one present.
        var body = new byte[] { 2, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 1, (byte)'a' };
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.IsType<InvalidDataException>(Assert.ThrowsAny<Exception>(() => Read(body)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Fact]
    public void Empty_collections_are_reported_as_empty_keys()
    {
        Assert.IsType<RdbEmptyKeyException>(Assert.ThrowsAny<Exception>(() => Read(new byte[] { 4, 0 })));
        Assert.IsType<RdbEmptyKeyException>(Assert.ThrowsAny<Exception>(() => Read(new byte[] { 5, 0 })));
    }

    [Fact]
    public void Zset_with_nan_score_is_refused()
    {
        var nan = BitConverter.GetBytes(double.NaN);
        var body = new byte[] { 5, 1, 1, (byte)'m' }.Concat(nan).ToArray();
        Assert.Equal("Zset with NAN score detected", Reason(body));
    }

    [Fact]
    public void Stream_with_duplicate_consumers_is_refused()
    {
        // "stream with duplicate consumers" (type 15, no nodes, one group with two consumers "name").
        var body = Hex("0F0000000001076D7967726F7570000000" + "02046E616D652A4CAA9A7D01000000046E616D652B4CAA9A7D0100000000");
        Assert.Equal("Duplicate stream consumer detected.", Reason(body));
    }

    [Fact]
    public void Stream_whose_length_disagrees_with_its_entries_is_refused()
    {
        var s = new StreamObject();
        s.Append(new StreamId(1, 0), [Encoding.ASCII.GetBytes("f"), Encoding.ASCII.GetBytes("v")]);
        s.LastId = new StreamId(1, 0);
        var ms = new MemoryStream();
        var w = new RdbWriter(ms, compress: false, checksum: false);
        RdbValueCodec.Write(w, s);
        w.Flush();
        var good = ms.ToArray();
        Assert.IsType<StreamObject>(Read(good));
        // The length field follows the node: it is the byte after the listpack; bump it from 1 to 3.
        var bad = (byte[])good.Clone();
        int lengthAt = Array.LastIndexOf(bad, (byte)0xFF) + 1;
        Assert.Equal(1, bad[lengthAt]);
        bad[lengthAt] = 3;
        Assert.Equal("Stream length inconsistent with rax entries", Reason(bad));
    }
}
