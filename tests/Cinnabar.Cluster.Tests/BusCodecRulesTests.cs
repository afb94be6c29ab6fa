using System.Buffers.Binary;
using System.Text;

namespace Cinnabar.Cluster.Tests;

// Framing (clusterReadHandler), the ignore rules of clusterProcessPacket, and encoding details,
// on hand-built packets.
public sealed class BusCodecRulesTests
{
    private const int MaxFrame = 1 << 20;

    // ------------------------------------------------------------ PeekFrame

    [Fact]
    public void PeekFrame_needs_eight_bytes_before_judging()
    {
        Assert.Equal(FrameStatus.NeedMore, BusCodec.PeekFrame([], MaxFrame, out _));
        Assert.Equal(FrameStatus.NeedMore, BusCodec.PeekFrame("XXXXXXX"u8, MaxFrame, out _));
    }

    [Fact]
    public void PeekFrame_rejects_a_bad_signature()
    {
        byte[] packet = BusCodec.Encode(Ping());
        packet[3] = (byte)'B';
        Assert.Equal(FrameStatus.Invalid, BusCodec.PeekFrame(packet.AsSpan(0, 8), MaxFrame, out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(16)]
    [InlineData(2255)]
    public void PeekFrame_rejects_totlen_below_the_minimum_header(int totlen)
    {
        byte[] head = Head(totlen);
        Assert.Equal(FrameStatus.Invalid, BusCodec.PeekFrame(head, MaxFrame, out _));
    }

    [Fact]
    public void PeekFrame_rejects_totlen_above_the_limit()
    {
        Assert.Equal(FrameStatus.Invalid, BusCodec.PeekFrame(Head(10_001), 10_000, out _));
        Assert.Equal(FrameStatus.Invalid, BusCodec.PeekFrame(Head(unchecked((int)0xFFFFFFFF)), int.MaxValue, out _));
        Assert.Equal(FrameStatus.NeedMore, BusCodec.PeekFrame(Head(10_000), 10_000, out int length));
        Assert.Equal(10_000, length);
    }

    [Fact]
    public void PeekFrame_waits_for_the_whole_packet_then_reports_its_length()
    {
        byte[] packet = BusCodec.Encode(Ping(hostname: "h"));
        Assert.Equal(FrameStatus.NeedMore, BusCodec.PeekFrame(packet.AsSpan(0, 8), MaxFrame, out int length));
        Assert.Equal(packet.Length, length);
        Assert.Equal(FrameStatus.NeedMore, BusCodec.PeekFrame(packet.AsSpan(0, packet.Length - 1), MaxFrame, out _));
        Assert.Equal(FrameStatus.Ready, BusCodec.PeekFrame(packet, MaxFrame, out length));
        Assert.Equal(packet.Length, length);
    }

    [Fact]
    public void PeekFrame_reports_only_the_first_of_two_buffered_packets()
    {
        byte[] first = BusCodec.Encode(Ping(hostname: "first"));
        byte[] second = BusCodec.Encode(Fail());
        Assert.Equal(FrameStatus.Ready, BusCodec.PeekFrame([.. first, .. second], MaxFrame, out int length));
        Assert.Equal(first.Length, length);
    }

    // ------------------------------------------------------------ Decode ignore rules

    [Fact]
    public void Decode_ignores_protocol_version_2()
    {
        byte[] packet = BusCodec.Encode(Ping());
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(8), 2);
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_ignores_a_packet_whose_totlen_is_not_its_length()
    {
        byte[] packet = BusCodec.Encode(Ping());
        Assert.Null(BusCodec.Decode([.. packet, 0]));
        Assert.Null(BusCodec.Decode(packet.AsSpan(0, packet.Length - 1)));
        Assert.Null(BusCodec.Decode(packet.AsSpan(0, 100)));
    }

    [Fact]
    public void Decode_ignores_a_bad_signature()
    {
        byte[] packet = BusCodec.Encode(Ping());
        packet[0] = (byte)'r';
        Assert.Null(BusCodec.Decode(packet));
    }

    [Theory]
    [InlineData(BusMessageType.Fail, 0)]
    [InlineData(BusMessageType.Fail, 8)]
    [InlineData(BusMessageType.Fail, -40)]
    [InlineData(BusMessageType.FailoverAuthRequest, 8)]
    [InlineData(BusMessageType.FailoverAuthAck, 40)]
    [InlineData(BusMessageType.MfStart, 1)]
    [InlineData(BusMessageType.Update, -8)]
    [InlineData(BusMessageType.Update, 8)]
    public void Decode_ignores_fixed_size_types_of_the_wrong_length(BusMessageType type, int delta)
    {
        var message = type switch
        {
            BusMessageType.Fail => Fail(),
            BusMessageType.Update => Update(),
            _ => new BusMessage { Type = type, Sender = Name('a') },
        };
        byte[] good = BusCodec.Encode(message);
        Assert.NotNull(BusCodec.Decode(good));
        if (delta == 0)
        {
            // A FAIL that is only a header (no node name).
            Assert.Null(BusCodec.Decode(WithLength(good, BusCodec.HeaderLength)));
            return;
        }
        Assert.Null(BusCodec.Decode(WithLength(good, good.Length + delta)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(-1)]
    [InlineData(200)]
    public void Decode_ignores_a_ping_whose_count_does_not_match_totlen(int countDelta)
    {
        byte[] packet = BusCodec.Encode(Ping(gossip: 2));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(14), (ushort)(2 + countDelta));
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_ignores_a_ping_with_a_partial_gossip_entry()
    {
        byte[] packet = BusCodec.Encode(Ping(gossip: 1));
        Assert.Null(BusCodec.Decode(WithLength(packet, packet.Length - 4)));
    }

    [Theory]
    [InlineData(20)]     // not a multiple of 8
    [InlineData(12)]
    [InlineData(32)]     // past the end of the packet
    [InlineData(0)]      // shorter than its own header
    [InlineData(65560)]  // does not fit the 16 bits Redis checks
    public void Decode_ignores_a_ping_with_a_bad_extension_length(uint length)
    {
        byte[] packet = BusCodec.Encode(Ping(hostname: "node-x")); // one 16-byte extension
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(BusCodec.HeaderLength), length);
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_ignores_a_ping_announcing_more_extensions_than_it_holds()
    {
        byte[] packet = BusCodec.Encode(Ping(hostname: "node-x"));
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2214), 2);
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_ignores_bytes_after_the_last_extension()
    {
        byte[] packet = BusCodec.Encode(Ping(hostname: "node-x"));
        Assert.Null(BusCodec.Decode(WithLength([.. packet, .. new byte[8]], packet.Length + 8)));
    }

    [Fact]
    public void Decode_reads_extensions_only_when_ext_data_is_flagged()
    {
        byte[] withExt = BusCodec.Encode(Ping(hostname: "node-x"));
        byte[] noFlag = (byte[])withExt.Clone();
        noFlag[2253] = 0;
        // The extension bytes now count as trailing garbage: totlen differs from 2256 + gossip.
        Assert.Null(BusCodec.Decode(noFlag));

        // extensions = 1 without EXT_DATA and without data: a plain ping, no hostname.
        byte[] plain = BusCodec.Encode(Ping());
        BinaryPrimitives.WriteUInt16BigEndian(plain.AsSpan(2214), 1);
        var m = BusCodec.Decode(plain);
        Assert.NotNull(m);
        Assert.Null(m.Hostname);
    }

    [Theory]
    [InlineData(5u, 0u, 1)]                 // lengths sum past the packet
    [InlineData(0u, 0u, 0)]                 // lengths sum short of the packet
    [InlineData(0xFFFFFFFFu, 0x0Du, 0)]     // 32-bit sum would wrap to the right value
    public void Decode_ignores_a_publish_whose_lengths_do_not_add_up(uint channelLength, uint messageLength, int _)
    {
        byte[] packet = BusCodec.Encode(Publish("chan", "msg"));
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(2256), channelLength);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(2260), messageLength);
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_ignores_a_publish_without_its_length_fields()
    {
        byte[] packet = BusCodec.Encode(new BusMessage { Type = BusMessageType.FailoverAuthAck, Sender = Name('a') });
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(12), (ushort)BusMessageType.Publish);
        Assert.Null(BusCodec.Decode(packet));
    }

    [Fact]
    public void Decode_returns_unknown_types_with_only_the_header()
    {
        var message = Ping();
        byte[] packet = [.. BusCodec.Encode(message), 1, 2, 3];
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(12), 42);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), (uint)packet.Length);
        var m = BusCodec.Decode(packet);
        Assert.NotNull(m);
        Assert.Equal((BusMessageType)42, m.Type);
        Assert.Equal("unknown", BusCodec.TypeLabel(m.Type));
        Assert.Equal(message.Sender, m.Sender);
        Assert.Equal(message.CurrentEpoch, m.CurrentEpoch);
        Assert.Empty(m.Gossip);
    }

    [Fact]
    public void Decode_keeps_unknown_extensions_and_the_last_hostname()
    {
        var message = Ping(hostname: "first");
        message.OtherExtensions.Add(new PingExtension(3, Encoding.ASCII.GetBytes("shard-id-bytes\0\0")));
        byte[] packet = BusCodec.Encode(message);
        var m = BusCodec.Decode(packet);
        Assert.NotNull(m);
        Assert.Equal("first", m.Hostname);
        var ext = Assert.Single(m.OtherExtensions);
        Assert.Equal(3, ext.Type);
        Assert.Equal("shard-id-bytes\0\0", Encoding.ASCII.GetString(ext.Body));
        Assert.Equal(packet, BusCodec.Encode(m));
    }

    // ------------------------------------------------------------ Encode

    [Theory]
    [InlineData("a", 16)]
    [InlineData("1234567", 16)]     // 7 + NUL = 8
    [InlineData("12345678", 24)]    // 8 + NUL = 9, padded to 16
    [InlineData("node-a.example", 24)]
    public void Encode_pads_the_hostname_extension_to_eight_bytes_after_its_nul(string hostname, int extensionLength)
    {
        byte[] packet = BusCodec.Encode(Ping(hostname: hostname));
        Assert.Equal(BusCodec.HeaderLength + extensionLength, packet.Length);
        Assert.Equal((uint)extensionLength, BinaryPrimitives.ReadUInt32BigEndian(packet.AsSpan(2256)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(2260))); // type HOSTNAME
        Assert.Equal(4, packet[2253]);                                              // EXT_DATA
        Assert.Equal(1, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(2214))); // extensions
        Assert.Equal(hostname, BusCodec.Decode(packet)!.Hostname);
    }

    [Fact]
    public void Encode_without_hostname_writes_no_extension_and_clears_ext_data()
    {
        var message = Ping(hostname: "");
        message.MFlags = MessageFlags.ExtData | MessageFlags.Paused;
        byte[] packet = BusCodec.Encode(message);
        Assert.Equal(BusCodec.HeaderLength, packet.Length);
        Assert.Equal((byte)MessageFlags.Paused, packet[2253]);
        Assert.Null(BusCodec.Decode(packet)!.Hostname);
    }

    [Fact]
    public void Encode_writes_gossip_count_and_entries()
    {
        var message = Ping(gossip: 3);
        byte[] packet = BusCodec.Encode(message);
        Assert.Equal(BusCodec.HeaderLength + 3 * BusCodec.GossipEntryLength, packet.Length);
        Assert.Equal(3, BinaryPrimitives.ReadUInt16BigEndian(packet.AsSpan(14)));
        var m = BusCodec.Decode(packet)!;
        for (int i = 0; i < 3; i++)
        {
            var (want, got) = (message.Gossip[i], m.Gossip[i]);
            Assert.Equal((want.NodeName, want.PingSentSeconds, want.PongReceivedSeconds, want.Ip, want.Port, want.CPort, want.Flags, want.PPort),
                (got.NodeName, got.PingSentSeconds, got.PongReceivedSeconds, got.Ip, got.Port, got.CPort, got.Flags, got.PPort));
        }
    }

    [Fact]
    public void Encode_writes_header_fields_big_endian_at_their_offsets()
    {
        var m = Ping();
        m.Port = 0x1234; m.CPort = 0x5678; m.PPort = 0x9ABC;
        m.CurrentEpoch = 0x0102030405060708; m.ConfigEpoch = 9; m.Offset = 0xFFEE;
        m.SlaveOf = Name('f'); m.MyIp = "10.0.0.1"; m.Flags = NodeFlags.Slave | NodeFlags.Myself; m.State = 1;
        byte[] p = BusCodec.Encode(m);
        Assert.Equal(Convert.FromHexString("52436D62000008D0000112340000000001020304050607080000000000000009000000000000FFEE"), p[..40]);
        Assert.Equal(Encoding.ASCII.GetBytes(Name('a')), p[40..80]);
        Assert.Equal(Encoding.ASCII.GetBytes(Name('f')), p[2128..2168]);
        Assert.Equal(Encoding.ASCII.GetBytes("10.0.0.1").Concat(new byte[38]), p[2168..2214]);
        Assert.Equal(Convert.FromHexString("9ABC" + "5678" + "0012" + "01" + "000000"), p[2246..2256]);
        Assert.All(p[2216..2246], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Encode_master_sender_writes_an_all_zero_slaveof()
    {
        byte[] p = BusCodec.Encode(Ping());
        Assert.All(p[2128..2168], b => Assert.Equal(0, b));
        Assert.Null(BusCodec.Decode(p)!.SlaveOf);
    }

    [Fact]
    public void Module_message_keeps_module_id_in_host_order_and_round_trips()
    {
        var message = new BusMessage
        {
            Type = BusMessageType.Module, Sender = Name('a'), ModuleId = 0x1122334455667788, ModuleType = 7,
            ModuleData = [1, 2, 3, 4, 5],
        };
        byte[] p = BusCodec.Encode(message);
        Assert.Equal(2269 + 5, p.Length);
        Assert.Equal(Convert.FromHexString("8877665544332211" + "00000005" + "07" + "0102030405"), p[2256..]);
        var m = BusCodec.Decode(p)!;
        Assert.Equal((0x1122334455667788UL, (byte)7), (m.ModuleId, m.ModuleType));
        Assert.Equal(message.ModuleData, m.ModuleData);
        Assert.Null(BusCodec.Decode(WithLength([.. p, 9], p.Length + 1)));
    }

    [Fact]
    public void Publish_round_trips_binary_channel_and_message()
    {
        byte[] p = BusCodec.Encode(Publish("ch\0\xff", "m\r\n"));
        Assert.Equal(2264 + 4 + 3, p.Length);
        var m = BusCodec.Decode(p)!;
        Assert.Equal(BusMessageType.Publish, m.Type);
        Assert.Equal(new byte[] { (byte)'c', (byte)'h', 0, 0xff }, m.Channel);
        Assert.Equal("m\r\n"u8.ToArray(), m.Payload);
    }

    [Fact]
    public void Type_labels_are_the_cluster_info_names()
    {
        string[] expected = ["ping", "pong", "meet", "fail", "publish", "auth-req", "auth-ack", "update", "mfstart", "module", "publishshard"];
        for (int t = 0; t < expected.Length; t++) Assert.Equal(expected[t], BusCodec.TypeLabel((BusMessageType)t));
        Assert.Equal("unknown", BusCodec.TypeLabel((BusMessageType)11));
    }

    // ------------------------------------------------------------ helpers

    internal static string Name(char c) => new(c, BusMessage.NameLength);

    internal static BusMessage Ping(int gossip = 0, string? hostname = null)
    {
        var m = new BusMessage
        {
            Type = BusMessageType.Ping, Sender = Name('a'), Port = 7000, CPort = 17000, CurrentEpoch = 5, ConfigEpoch = 4,
            Flags = NodeFlags.Master | NodeFlags.Myself, Hostname = hostname,
        };
        for (int slot = 0; slot < 100; slot++) m.MySlots.Set(slot);
        for (int i = 0; i < gossip; i++)
        {
            m.Gossip.Add(new GossipEntry
            {
                NodeName = Name((char)('b' + i)), PingSentSeconds = (uint)(1000 + i), PongReceivedSeconds = (uint)(2000 + i),
                Ip = "127.0.0." + (i + 2), Port = (ushort)(7001 + i), CPort = (ushort)(17001 + i), Flags = NodeFlags.Master, PPort = (ushort)i,
            });
        }
        return m;
    }

    internal static BusMessage Fail() => new() { Type = BusMessageType.Fail, Sender = Name('a'), FailNodeName = Name('c') };

    internal static BusMessage Update()
    {
        var m = new BusMessage { Type = BusMessageType.Update, Sender = Name('a'), UpdateConfigEpoch = 12, UpdateNodeName = Name('b') };
        m.UpdateSlots.Set(16383);
        return m;
    }

    internal static BusMessage Publish(string channel, string message) => new()
    {
        Type = BusMessageType.Publish, Sender = Name('a'),
        Channel = Encoding.Latin1.GetBytes(channel), Payload = Encoding.Latin1.GetBytes(message),
    };

    private static byte[] Head(int totlen)
    {
        byte[] head = [.. "RCmb"u8, 0, 0, 0, 0];
        BinaryPrimitives.WriteInt32BigEndian(head.AsSpan(4), totlen);
        return head;
    }

    // The packet resized to `length` bytes (zero-extended or cut) with totlen saying so, as a
    // framing layer would hand it over.
    private static byte[] WithLength(byte[] packet, int length)
    {
        var copy = new byte[length];
        packet.AsSpan(0, Math.Min(length, packet.Length)).CopyTo(copy);
        BinaryPrimitives.WriteUInt32BigEndian(copy.AsSpan(4), (uint)length);
        return copy;
    }
}
