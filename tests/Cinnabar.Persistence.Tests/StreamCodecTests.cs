using System.Text;
using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>
/// Stream DUMP payloads (RDB type 19) captured from redis-server 7.0.15 with
/// stream-node-max-entries 100. Our encoder must produce the same bytes for the same logical
/// stream, including the LZF-compressed node listpacks.
/// </summary>
public sealed class StreamCodecTests
{
    // s1: XADD s1 1-1 a 1
    // s2: 250 entries i-0 {f: i, g: v<i>} (3 nodes)
    // s3: 1-0 {a 1 b 2}, 1-1 {a 3 b 4}, 2-0 {c 5}, 5-7 {a <long string> b -5} (non-"same fields" entries)
    // s4: 1-0..5-0 {x: i*1000}, XDEL 2-0 4-0 (tombstones)
    // s5: 1-0..5-0 {k v}; XGROUP CREATE g1 0, g2 $; XREADGROUP g1 alice COUNT 2, bob COUNT 1
    // s6: 1700000000000-0 {a b}, 1700000000123-5 {a c}, 1700000099999-70000 {a c b x} (large deltas)
    // s7: 1-0..20-0 {n: i}; XTRIM MAXLEN = 15 (exact trim tombstones inside the node)
    // s8: XADD 1-0 then XDEL 1-0 (empty stream, no nodes)
    private const string Dump_s1 =
        "130110000000000000000100000000000000011c1c0000000a00010100010101816102000102010001000101010401ff0101"
        + "010101000001000a00297d780fd88aa62c";
    private const string Dump_s2 =
        "13031000000000000000010000000000000000c3443b45e911e90500005e0264010001020181660281670240090000200106"
        + "0101827631030520170001200d0002200d0032600d401d0003200d0033600d0003201b0004200d0034600d0004200d000520"
        + "0d0035600d0005200d0006200d0036600d0006200d0007200d0037600d0007200d0008200d0038600d0008200d0009200d00"
        + "39600d0009200d060a018376313004407e000a200e000b400e0031600e000b200e000c400e0032600e000c200e000d400e00"
        + "33600e000d200e000e400e0034600e000e200e000f400e0035600e000f200e0010400e0036600e0010200e0011400e003760"
        + "0e0011200e0012400e0038600e0012200e0013400e0039600e0013200e0014200e003280950014200e0015400e8095001520"
        + "0e0016400e80950016200e0017400e80950017200e0018400e80950018200e0019400e80950019200e001a400e8095001a20"
        + "0e001b400e8095001b200e001c400e8095001c200e001d400e8095001d200e001e200e00338095001e200e001f400e809500"
        + "1f200e0020400e80950020200e0021400e80950021200e0022400e80950022200e0023400e80950023200e0024400e809500"
        + "24200e0025400e80950025200e0026400e80950026200e0027400e80950027200e0028200e003480950028200e0029400e80"
        + "950029200e002a400e8095002a200e002b400e8095002b200e002c400e8095002c200e002d400e8095002d200e002e400e80"
        + "95002e200e002f400e8095002f200e0030400e80950030200e0031400e80950031200e0032200e003580950032200e003340"
        + "0e80950033200e0034400e80950034200e0035400e80950035200e0036400e80950036200e0037400e80950037200e003840"
        + "0e80950038200e0039400e80950039200e003a400e8095003a200e003b400e8095003b200e003c200e00368095003c200e00"
        + "3d400e8095003d200e003e400e8095003e200e003f400e8095003f200e0040400e80950040200e0041400e80950041200e00"
        + "42400e80950042200e0043400e80950043200e0044400e80950044200e0045400e80950045200e0046200e00378095004620"
        + "0e0047400e80950047200e0048400e80950048200e0049400e80950049200e004a400e8095004a200e004b400e8095004b20"
        + "0e004c400e8095004c200e004d400e8095004d200e004e400e8095004e200e004f400e8095004f200e0050200e0038809500"
        + "50200e0051400e80950051200e0052400e80950052200e0053400e80950053200e0054400e80950054200e0055400e809500"
        + "55200e0056400e80950056200e0057400e80950057200e0058400e80950058200e0059400e80950059200e005a200e003980"
        + "95005a200e005b400e8095005b200e005c400e8095005c200e005d400e8095005d200e005e400e8095005e200e005f400e80"
        + "95005f200e0060400e80950060200e0061400e80950061200e0062400e80950062200e0063400e80950063200e0264018425"
        + "450430050501ff1000000000000000650000000000000000c3442e469e119e0600005e026401000102018166028167024009"
        + "000020010865018476313031050520190001200f0066600f0032600f40210067600f0033600f0003201f0068600f0034600f"
        + "0004200f0069600f0035600f0005200f006a600f0036600f0006200f006b600f0037600f0007200f006c600f0038600f0008"
        + "200f006d600f0039600f0009200f006e400f013130600f000a200f006f600f809f000b200f0070600f809f000c200f007160"
        + "0f809f000d200f0072600f809f000e200f0073600f809f000f200f0074600f809f0010200f0075600f809f0011200f007660"
        + "0f809f0012200f0077600f809f0013200f0078400f0032809f0014200f0079600f809f0015200f007a600f809f0016200f00"
        + "7b600f809f0017200f007c600f809f0018200f007d600f809f0019200f007e600f809f001a200f007f600f809f001b200f02"
        + "c0800221b0003280a0001c40100081601080a1001d401000824010003380a2001e40100083601080a3001f40100084601080"
        + "a4002040100085601080a5002140100086601080a6002240100087601080a7002340100088601080a8002440100089601080"
        + "a900254010008a601080a900264010008b601080a900274010008c4010003480a900284010008d601080a900294010008e60"
        + "1080a9002a4010008f601080a9002b40100090601080a9002c40100091601080a9002d40100092601080a9002e4010009360"
        + "1080a9002f40100094601080a9003040100095601080a90031401000964010003580a9003240100097601080a90033401000"
        + "98601080a9003440100099601080a900354010009a601080a900364010009b601080a900374010009c601080a90038401000"
        + "9d601080a900394010009e601080a9003a4010009f601080a9003b401000a04010003680a9003c401000a1601080a9003d40"
        + "1000a2601080a9003e401000a3601080a9003f401000a4601080a90040401000a5601080a90041401000a6601080a9004240"
        + "1000a7601080a90043401000a8601080a90044401000a9601080a90045401000aa4010003780a90046401000ab601080a900"
        + "47401000ac601080a90048401000ad601080a90049401000ae601080a9004a401000af601080a9004b401000b0601080a900"
        + "4c401000b1601080a9004d401000b2601080a9004e401000b3601080a9004f401000b44010003880a90050401000b5601080"
        + "a90051401000b6601080a90052401000b7601080a90053401000b8601080a90054401000b9601080a90055401000ba601080"
        + "a90056401000bb601080a90057401000bc601080a90058401000bd601080a90059401000be4010003980a9005a401000bf60"
        + "1080a9005b401000c0601080a9005c401000c1601080a9005d401000c2601080a9005e401000c3601080a9005f401000c460"
        + "1080a90060401000c5601080a90061401000c6601080a90062401000c7601080a90063401000c8201001323020a90101ff10"
        + "00000000000000c90000000000000000c3422d43671167030000320132010001020181660281670240090000200109c0c902"
        + "84763230310505201a0001401000ca601000326010402301c0cb6010003360100003402100cc6010003460100004401000cd"
        + "6010003560100005401000ce6010003660100006401000cf6010003760100007401000d06010003860100008401000d16010"
        + "003960100009401000d240100131306010000a401000d3601080a9000b401000d4601080a9000c401000d5601080a9000d40"
        + "1000d6601080a9000e401000d7601080a9000f401000d8601080a90010401000d9601080a90011401000da601080a9001240"
        + "1000db601080a90013401000dc4010003280a90014401000dd601080a90015401000de601080a90016401000df601080a900"
        + "17401000e0601080a90018401000e1601080a90019401000e2601080a9001a401000e3601080a9001b401000e4601080a900"
        + "1c401000e5601080a9001d401000e64010003380a9001e401000e7601080a9001f401000e8601080a90020401000e9601080"
        + "a90021401000ea601080a90022401000eb601080a90023401000ec601080a90024401000ed601080a90025401000ee601080"
        + "a90026401000ef601080a90027401000f04010003480a90028401000f1601080a90029401000f2601080a9002a401000f360"
        + "1080a9002b401000f4601080a9002c401000f5601080a9002d401000f6601080a9002e401000f7601080a9002f401000f860"
        + "1080a90030401000f9601080a90031401000fa4010003520a90101ff40fa40fa000100000040fa000a00708f7a6aed04ce43";
    private const string Dump_s3 =
        "13011000000000000000010000000000000000c3406a407011700000001f0004010001020181610281620240090000200100"
        + "01201100052003400902030104200b4009400305816302050106201a1504010701a768656c6c6f20776f726c642074686973"
        + "2020020a61206c6f6e67207374726920060776616c756528dffb203500ff0405070100000004000a001c7a4ca7bf467f1d";
    private const string Dump_s4 =
        "13011000000000000000010000000000000000404a4a0000001e000301020101018178020001020100010001c3e802040103"
        + "0101010001c7d0020401020102010001cbb8020401030103010001cfa0020401020104010001f18813030401ff0305000100"
        + "040005000a00350eb31be94b2da4";
    private const string Dump_s5 =
        "13011000000000000000010000000000000000c333404911490000001e00050100010101816b02000102200a050001817602"
        + "04200a0001e0010a4017a0150003e001150004a00a0101ff0505000100000005020267310300030300000000000000010000"
        + "00000000000081c3cd04a2010000010000000000000002000000000000000081c3cd04a20100000100000000000000030000"
        + "00000000000081c3cd04a2010000010205616c69636581c3cd04a20100000200000000000000010000000000000000000000"
        + "0000000002000000000000000003626f6281c3cd04a20100000100000000000000030000000000000000026732050081ffff"
        + "ffffffffffff00000a0079ee100c3a14c522";
    private const string Dump_s6 =
        "1301100000018bcfe56800000000000000000040444400000018000301000101018161020001020100010001816202040102"
        + "017b01050181630204010001f29f860104f27011010402018161028163028162028178020801ff03810000018bcfe6ee9f80"
        + "00011170810000018bcfe5680000000003000a00179345d676e48898";
    private const string Dump_s7 =
        "13011000000000000000010000000000000000c340b740da13da00000069000f0105010101816e0200010301002001020101"
        + "04200900012009000260090002200900036009401f00042001400d000020360004201b000520090006600900062009000760"
        + "090007200900086009000820090009600900092009000a6009000a2009000b6009000b2009000c6009000c2009000d600900"
        + "0d2009000e6009000e2009000f6009000f200900106009001020090011600900112009001260090012200900136009001320"
        + "090014200900ff0f14000600000014000a008e50ad6706d30568";
    private const string Dump_s8 =
        "13000001000000010001000a007788227e968c8dbc";

    private const long GroupTime = 1795376923521; // the delivery/seen time inside Dump_s5

    private static byte[] B(string s) => Encoding.ASCII.GetBytes(s);
    private static StreamId Id(ulong ms, ulong seq = 0) => new(ms, seq);

    private static byte[][] Fv(params string[] items)
    {
        var r = new byte[items.Length][];
        for (int i = 0; i < items.Length; i++) r[i] = B(items[i]);
        return r;
    }

    // The DUMP payload without its 10-byte trailer (RDB version + CRC64).
    private static string Body(string dump) => dump[..^20];

    private static string Encode(RedisObject value)
    {
        using var ms = new MemoryStream();
        using (var w = new RdbWriter(ms, compress: true, checksum: false))
        {
            RdbValueCodec.Write(w, value);
            w.Flush();
        }
        return Convert.ToHexString(ms.ToArray()).ToLowerInvariant();
    }

    private static RedisObject Decode(string dump)
    {
        var bytes = Convert.FromHexString(dump);
        var r = new RdbReader(new MemoryStream(bytes, 0, bytes.Length - 10));
        byte type = r.ReadByte();
        return RdbValueCodec.Read(r, type);
    }

    public static TheoryData<string> AllDumps => new() { Dump_s1, Dump_s2, Dump_s3, Dump_s4, Dump_s5, Dump_s6, Dump_s7, Dump_s8 };

    [Theory]
    [MemberData(nameof(AllDumps))]
    public void Redis_stream_payload_round_trips_byte_identical(string dump)
    {
        var value = Decode(dump);
        Assert.IsType<StreamObject>(value);
        Assert.Equal(Body(dump), Encode(value));
    }

    [Fact]
    public void Single_entry_stream_encodes_like_redis()
    {
        var s = new StreamObject();
        s.Append(Id(1, 1), Fv("a", "1"));
        Assert.Equal(Body(Dump_s1), Encode(s));
    }

    [Fact]
    public void Multi_node_stream_encodes_like_redis()
    {
        int saved = EncodingLimits.StreamNodeMaxEntries;
        EncodingLimits.StreamNodeMaxEntries = 100;
        try
        {
            var s = new StreamObject();
            for (int i = 1; i <= 250; i++) s.Append(Id((ulong)i), Fv("f", i.ToString(System.Globalization.CultureInfo.InvariantCulture), "g", "v" + i));
            Assert.Equal(3, s.Nodes.Count);
            Assert.Equal(Body(Dump_s2), Encode(s));
        }
        finally
        {
            EncodingLimits.StreamNodeMaxEntries = saved;
        }
    }

    [Fact]
    public void Entries_with_other_fields_than_the_master_encode_like_redis()
    {
        var s = new StreamObject();
        s.Append(Id(1, 0), Fv("a", "1", "b", "2"));
        s.Append(Id(1, 1), Fv("a", "3", "b", "4"));
        s.Append(Id(2, 0), Fv("c", "5"));
        s.Append(Id(5, 7), Fv("a", "hello world this is a long string value", "b", "-5"));
        Assert.Equal(Body(Dump_s3), Encode(s));
    }

    [Fact]
    public void Deleted_entries_encode_like_redis()
    {
        var s = new StreamObject();
        for (ulong i = 1; i <= 5; i++) s.Append(Id(i), Fv("x", (i * 1000).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(s.Delete(Id(2)));
        Assert.True(s.Delete(Id(4)));
        Assert.Equal(Body(Dump_s4), Encode(s));
    }

    [Fact]
    public void Consumer_groups_with_pending_entries_encode_like_redis()
    {
        var s = new StreamObject();
        for (ulong i = 1; i <= 5; i++) s.Append(Id(i), Fv("k", "v"));
        var g1 = new ConsumerGroup(B("g1"), Id(3), 3);
        s.Groups[g1.Name] = g1;
        s.Groups[B("g2")] = new ConsumerGroup(B("g2"), Id(5), StreamObject.InvalidEntriesRead);
        var alice = g1.GetOrCreateConsumer(B("alice"), GroupTime, out _);
        var bob = g1.GetOrCreateConsumer(B("bob"), GroupTime, out _);
        foreach (var (id, c) in new[] { (Id(1), alice), (Id(2), alice), (Id(3), bob) })
        {
            var p = new PendingEntry { DeliveryTimeMs = GroupTime, DeliveryCount = 1, Consumer = c };
            g1.Pel[id] = p;
            c.Pel[id] = p;
        }
        Assert.Equal(Body(Dump_s5), Encode(s));
    }

    [Fact]
    public void Large_id_deltas_encode_like_redis()
    {
        var s = new StreamObject();
        s.Append(Id(1700000000000), Fv("a", "b"));
        s.Append(Id(1700000000123, 5), Fv("a", "c"));
        s.Append(Id(1700000099999, 70000), Fv("a", "c", "b", "x"));
        Assert.Equal(Body(Dump_s6), Encode(s));
    }

    [Fact]
    public void Exact_trim_tombstones_encode_like_redis()
    {
        var s = new StreamObject();
        for (ulong i = 1; i <= 20; i++) s.Append(Id(i), Fv("n", i.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(5, s.Trim(true, 15, default, false, 0));
        Assert.Equal(Body(Dump_s7), Encode(s));
    }

    [Fact]
    public void Emptied_stream_encodes_like_redis()
    {
        var s = new StreamObject();
        s.Append(Id(1), Fv("a", "1"));
        Assert.True(s.Delete(Id(1)));
        Assert.Empty(s.Nodes);
        Assert.Equal(Body(Dump_s8), Encode(s));
    }

    [Fact]
    public void Decoded_payload_has_the_logical_content()
    {
        var s = Assert.IsType<StreamObject>(Decode(Dump_s4));
        Assert.Equal(3, s.Length);
        Assert.Equal(Id(4), s.MaxDeletedId);
        Assert.Equal(5, s.EntriesAdded);
        var ids = s.Range(StreamId.Zero, StreamId.Max, false).Select(e => e.Id.Ms).ToArray();
        Assert.Equal(new ulong[] { 1, 3, 5 }, ids);
        var g = Assert.IsType<StreamObject>(Decode(Dump_s5)).Groups[B("g1")];
        Assert.Equal(3, g.Pel.Count);
        Assert.Equal(2, g.Consumers[B("alice")].Pel.Count);
        Assert.Same(g.Consumers[B("bob")], g.Pel[Id(3)].Consumer);
    }

    [Fact]
    public void Lzf_output_matches_liblzf_for_a_match_reaching_the_input_end()
    {
        // DUMP of SET k with 21 and 22 'a' on redis 7.0.15 (liblzf's 16-byte unrolled match check).
        var a21 = new byte[21];
        Array.Fill(a21, (byte)'a');
        var o = new byte[17];
        int n = Lzf.Compress(a21, o);
        Assert.Equal("016161e00a00", Convert.ToHexString(o, 0, n).ToLowerInvariant());
        var a22 = new byte[22];
        Array.Fill(a22, (byte)'a');
        o = new byte[18];
        n = Lzf.Compress(a22, o);
        Assert.Equal("016161e00a000061", Convert.ToHexString(o, 0, n).ToLowerInvariant());
    }
}
