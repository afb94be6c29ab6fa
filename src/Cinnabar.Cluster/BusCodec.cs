using System.Buffers.Binary;
using System.Text;

namespace Cinnabar.Cluster;

// Cluster bus codec: BusMessage <-> the bytes of Redis 7.0's clusterMsg (src/cluster.h).
//
// Layout (all integers big-endian; src/cluster.h of 7.0.15, summarised in the shared
// redis-internals reference, section 1 "Cluster bus wire format"): a fixed
// 2256-byte header followed by the type's payload. Framing is two-step, as clusterReadHandler
// does: the first 8 bytes (sig + totlen) decide whether the link is sane, then exactly totlen
// bytes make one packet. PeekFrame implements the first step, Decode the checks of
// clusterProcessPacket that make Redis ignore a packet without closing the link.
//
// Invariants:
// - Decode never throws and never reads outside the packet: every length taken from the wire is
//   checked against the bytes actually present, in 64-bit arithmetic (Redis adds channel and
//   message lengths in 32 bits, so a wrapping sum could pass its check; we refuse such packets).
// - Encode produces what Redis 7.0.15 sends for the same message: zeroed unused fields, count =
//   gossip entries, the hostname extension only when a hostname is set (sizeof header 8 + name +
//   NUL, padded to 8, with mflags EXT_DATA and extensions = number written).
// - Fixed-size string fields (names, ips) are decoded as Latin-1 so that any byte survives a
//   decode/encode round trip; node names keep all 40 bytes, ips stop at their first NUL.
public enum FrameStatus { NeedMore, Ready, Invalid }

public static class BusCodec
{
    public const int HeaderLength = 2256;      // CLUSTERMSG_MIN_LEN
    public const int FullHeaderLength = 4352;  // sizeof(clusterMsg)
    public const int GossipEntryLength = 104;  // sizeof(clusterMsgDataGossip)
    public const int FailLength = HeaderLength + BusMessage.NameLength;
    public const int UpdateLength = HeaderLength + 8 + BusMessage.NameLength + SlotBitmap.ByteLength;
    public const int PublishFixedLength = HeaderLength + 8;   // + channel + message
    public const int ModuleFixedLength = HeaderLength + 13;   // + data
    public const int ExtensionHeaderLength = 8;
    public const ushort HostnameExtensionType = 0;
    public const int IpLength = 46;                           // NET_IP_STR_LEN

    private static ReadOnlySpan<byte> Signature => "RCmb"u8;

    // Header field offsets (static_asserts of src/cluster.h).
    private const int OffTotLen = 4, OffVer = 8, OffPort = 10, OffType = 12, OffCount = 14;
    private const int OffCurrentEpoch = 16, OffConfigEpoch = 24, OffOffset = 32, OffSender = 40;
    private const int OffMySlots = 80, OffSlaveOf = 2128, OffMyIp = 2168, OffExtensions = 2214;
    private const int OffPPort = 2246, OffCPort = 2248, OffFlags = 2250, OffState = 2252, OffMFlags = 2253;

    public static FrameStatus PeekFrame(ReadOnlySpan<byte> buffered, int maxFrameBytes, out int totalLength)
    {
        totalLength = 0;
        if (buffered.Length < 8) return FrameStatus.NeedMore;
        uint totlen = BinaryPrimitives.ReadUInt32BigEndian(buffered[OffTotLen..]);
        if (!buffered[..4].SequenceEqual(Signature) || totlen < HeaderLength || totlen > (uint)Math.Max(maxFrameBytes, 0))
            return FrameStatus.Invalid;
        totalLength = (int)totlen;
        return buffered.Length >= totalLength ? FrameStatus.Ready : FrameStatus.NeedMore;
    }

    public static string TypeLabel(BusMessageType type) => type switch
    {
        BusMessageType.Ping => "ping",
        BusMessageType.Pong => "pong",
        BusMessageType.Meet => "meet",
        BusMessageType.Fail => "fail",
        BusMessageType.Publish => "publish",
        BusMessageType.FailoverAuthRequest => "auth-req",
        BusMessageType.FailoverAuthAck => "auth-ack",
        BusMessageType.Update => "update",
        BusMessageType.MfStart => "mfstart",
        BusMessageType.Module => "module",
        BusMessageType.PublishShard => "publishshard",
        _ => "unknown", // clusterGetMessageTypeString
    };

    public static bool IsPingLike(BusMessageType type) =>
        type is BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet;

    // ---------------------------------------------------------------- decode

    public static BusMessage? Decode(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < HeaderLength || !packet[..4].SequenceEqual(Signature)) return null;
        if (BinaryPrimitives.ReadUInt32BigEndian(packet[OffTotLen..]) != (uint)packet.Length) return null;
        if (BinaryPrimitives.ReadUInt16BigEndian(packet[OffVer..]) != 1) return null; // CLUSTER_PROTO_VER

        var message = DecodeHeader(packet);
        ReadOnlySpan<byte> data = packet[HeaderLength..];
        bool ok = message.Type switch
        {
            BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet => DecodePing(packet, data, message),
            BusMessageType.Fail => DecodeFail(data, message),
            BusMessageType.Publish or BusMessageType.PublishShard => DecodePublish(data, message),
            BusMessageType.FailoverAuthRequest or BusMessageType.FailoverAuthAck or BusMessageType.MfStart => data.IsEmpty,
            BusMessageType.Update => DecodeUpdate(data, message),
            BusMessageType.Module => DecodeModule(data, message),
            _ => true, // unknown type: Redis takes totlen as it is (explen = totlen)
        };
        return ok ? message : null;
    }

    private static BusMessage DecodeHeader(ReadOnlySpan<byte> p)
    {
        var slaveOf = p.Slice(OffSlaveOf, BusMessage.NameLength);
        return new BusMessage
        {
            Version = BinaryPrimitives.ReadUInt16BigEndian(p[OffVer..]),
            Port = BinaryPrimitives.ReadUInt16BigEndian(p[OffPort..]),
            Type = (BusMessageType)BinaryPrimitives.ReadUInt16BigEndian(p[OffType..]),
            CurrentEpoch = BinaryPrimitives.ReadUInt64BigEndian(p[OffCurrentEpoch..]),
            ConfigEpoch = BinaryPrimitives.ReadUInt64BigEndian(p[OffConfigEpoch..]),
            Offset = BinaryPrimitives.ReadUInt64BigEndian(p[OffOffset..]),
            Sender = ReadName(p[OffSender..]),
            MySlots = new SlotBitmap(p.Slice(OffMySlots, SlotBitmap.ByteLength)),
            // CLUSTER_NODE_NULL_NAME (all zeros) means "I am a master".
            SlaveOf = slaveOf.ContainsAnyExcept((byte)0) ? Latin1(slaveOf) : null,
            MyIp = ReadCString(p.Slice(OffMyIp, IpLength)),
            PPort = BinaryPrimitives.ReadUInt16BigEndian(p[OffPPort..]),
            CPort = BinaryPrimitives.ReadUInt16BigEndian(p[OffCPort..]),
            Flags = (NodeFlags)BinaryPrimitives.ReadUInt16BigEndian(p[OffFlags..]),
            State = p[OffState],
            MFlags = (MessageFlags)p[OffMFlags],
        };
    }

    // PING/PONG/MEET: count gossip entries, then (only when mflags has EXT_DATA) `extensions`
    // extensions; totlen must be exactly the sum (clusterProcessPacket's explen check).
    private static bool DecodePing(ReadOnlySpan<byte> packet, ReadOnlySpan<byte> data, BusMessage m)
    {
        int count = BinaryPrimitives.ReadUInt16BigEndian(packet[OffCount..]);
        long gossipBytes = (long)count * GossipEntryLength;
        if (gossipBytes > data.Length) return false;
        m.Gossip = new List<GossipEntry>(count);
        for (int i = 0; i < count; i++)
            m.Gossip.Add(DecodeGossip(data.Slice(i * GossipEntryLength, GossipEntryLength)));

        ReadOnlySpan<byte> rest = data[(int)gossipBytes..];
        if ((m.MFlags & MessageFlags.ExtData) != 0)
        {
            int extensions = BinaryPrimitives.ReadUInt16BigEndian(packet[OffExtensions..]);
            for (int i = 0; i < extensions; i++)
            {
                if (rest.Length < ExtensionHeaderLength) return false;
                uint length = BinaryPrimitives.ReadUInt32BigEndian(rest);
                // Redis checks length % 8 and that it fits, on the low 16 bits only; a length that
                // does not fit 16 bits, or is shorter than its own header, would make Redis read
                // outside the packet, so such packets are refused here.
                if (length % 8 != 0 || length < ExtensionHeaderLength || length > ushort.MaxValue || length > rest.Length)
                    return false;
                ushort type = BinaryPrimitives.ReadUInt16BigEndian(rest[4..]);
                ReadOnlySpan<byte> body = rest[ExtensionHeaderLength..(int)length];
                if (type == HostnameExtensionType) m.Hostname = ReadCString(body); // the last one wins, as in Redis
                else m.OtherExtensions.Add(new PingExtension(type, body.ToArray()));
                rest = rest[(int)length..];
            }
        }
        return rest.IsEmpty;
    }

    private static GossipEntry DecodeGossip(ReadOnlySpan<byte> g) => new()
    {
        NodeName = ReadName(g),
        PingSentSeconds = BinaryPrimitives.ReadUInt32BigEndian(g[40..]),
        PongReceivedSeconds = BinaryPrimitives.ReadUInt32BigEndian(g[44..]),
        Ip = ReadCString(g.Slice(48, IpLength)),
        Port = BinaryPrimitives.ReadUInt16BigEndian(g[94..]),
        CPort = BinaryPrimitives.ReadUInt16BigEndian(g[96..]),
        Flags = (NodeFlags)BinaryPrimitives.ReadUInt16BigEndian(g[98..]),
        PPort = BinaryPrimitives.ReadUInt16BigEndian(g[100..]),
    };

    private static bool DecodeFail(ReadOnlySpan<byte> data, BusMessage m)
    {
        if (data.Length != BusMessage.NameLength) return false;
        m.FailNodeName = ReadName(data);
        return true;
    }

    private static bool DecodePublish(ReadOnlySpan<byte> data, BusMessage m)
    {
        if (data.Length < 8) return false;
        uint channelLength = BinaryPrimitives.ReadUInt32BigEndian(data);
        uint messageLength = BinaryPrimitives.ReadUInt32BigEndian(data[4..]);
        if (8L + channelLength + messageLength != data.Length) return false;
        m.Channel = data.Slice(8, (int)channelLength).ToArray();
        m.Payload = data.Slice(8 + (int)channelLength, (int)messageLength).ToArray();
        return true;
    }

    private static bool DecodeUpdate(ReadOnlySpan<byte> data, BusMessage m)
    {
        if (data.Length != UpdateLength - HeaderLength) return false;
        m.UpdateConfigEpoch = BinaryPrimitives.ReadUInt64BigEndian(data);
        m.UpdateNodeName = ReadName(data[8..]);
        m.UpdateSlots = new SlotBitmap(data.Slice(8 + BusMessage.NameLength, SlotBitmap.ByteLength));
        return true;
    }

    // clusterMsgModule: module_id is copied in host order by the sender (little-endian on the
    // platforms Redis runs on), len is big-endian, then one type byte and the data.
    private static bool DecodeModule(ReadOnlySpan<byte> data, BusMessage m)
    {
        if (data.Length < ModuleFixedLength - HeaderLength) return false;
        uint length = BinaryPrimitives.ReadUInt32BigEndian(data[8..]);
        if (13L + length != data.Length) return false;
        m.ModuleId = BinaryPrimitives.ReadUInt64LittleEndian(data);
        m.ModuleType = data[12];
        m.ModuleData = data[13..].ToArray();
        return true;
    }

    private static string ReadName(ReadOnlySpan<byte> field) => Latin1(field[..BusMessage.NameLength]);

    private static string ReadCString(ReadOnlySpan<byte> field)
    {
        int nul = field.IndexOf((byte)0);
        return Latin1(nul < 0 ? field : field[..nul]);
    }

    private static string Latin1(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    // ---------------------------------------------------------------- encode

    public static byte[] Encode(BusMessage message)
    {
        var bytes = new byte[GetEncodedLength(message)];
        Encode(message, bytes);
        return bytes;
    }

    /// <summary>Exact totlen of <paramref name="message"/> once encoded.</summary>
    public static int GetEncodedLength(BusMessage message) => message.Type switch
    {
        BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet =>
            checked(HeaderLength + GossipEntryLength * message.Gossip.Count + ExtensionsLength(message)),
        BusMessageType.Fail => FailLength,
        BusMessageType.Publish or BusMessageType.PublishShard =>
            checked(PublishFixedLength + message.Channel.Length + message.Payload.Length),
        BusMessageType.Update => UpdateLength,
        BusMessageType.Module => checked(ModuleFixedLength + message.ModuleData.Length),
        _ => HeaderLength,
    };

    /// <summary>Writes the packet into <paramref name="destination"/> (zero-filled first) and returns its length.</summary>
    public static int Encode(BusMessage message, Span<byte> destination)
    {
        int totlen = GetEncodedLength(message);
        if (destination.Length < totlen) throw new ArgumentException("destination too small", nameof(destination));
        Span<byte> p = destination[..totlen];
        p.Clear();
        bool pingLike = IsPingLike(message.Type);
        int extensions = pingLike ? ExtensionCount(message) : 0;
        if (pingLike && message.Gossip.Count > ushort.MaxValue) throw new ArgumentException("too many gossip entries", nameof(message));

        Signature.CopyTo(p);
        BinaryPrimitives.WriteUInt32BigEndian(p[OffTotLen..], (uint)totlen);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffVer..], message.Version);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffPort..], message.Port);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffType..], (ushort)message.Type);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffCount..], pingLike ? (ushort)message.Gossip.Count : (ushort)0);
        BinaryPrimitives.WriteUInt64BigEndian(p[OffCurrentEpoch..], message.CurrentEpoch);
        BinaryPrimitives.WriteUInt64BigEndian(p[OffConfigEpoch..], message.ConfigEpoch);
        BinaryPrimitives.WriteUInt64BigEndian(p[OffOffset..], message.Offset);
        WriteField(p.Slice(OffSender, BusMessage.NameLength), message.Sender);
        message.MySlots.Bytes.CopyTo(p[OffMySlots..]);
        if (message.SlaveOf is not null) WriteField(p.Slice(OffSlaveOf, BusMessage.NameLength), message.SlaveOf);
        WriteField(p.Slice(OffMyIp, IpLength), message.MyIp);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffExtensions..], (ushort)extensions);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffPPort..], message.PPort);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffCPort..], message.CPort);
        BinaryPrimitives.WriteUInt16BigEndian(p[OffFlags..], (ushort)message.Flags);
        p[OffState] = message.State;
        // EXT_DATA is derived from what is actually written (clusterSendPing sets it with the hostname).
        var mflags = message.MFlags & ~MessageFlags.ExtData;
        if (extensions > 0) mflags |= MessageFlags.ExtData;
        p[OffMFlags] = (byte)mflags;

        Span<byte> data = p[HeaderLength..];
        switch (message.Type)
        {
            case BusMessageType.Ping or BusMessageType.Pong or BusMessageType.Meet: EncodePing(message, data); break;
            case BusMessageType.Fail: WriteField(data, message.FailNodeName); break;
            case BusMessageType.Publish or BusMessageType.PublishShard: EncodePublish(message, data); break;
            case BusMessageType.Update: EncodeUpdate(message, data); break;
            case BusMessageType.Module: EncodeModule(message, data); break;
        }
        return totlen;
    }

    private static bool HasHostname(BusMessage m) => !string.IsNullOrEmpty(m.Hostname);

    private static int ExtensionCount(BusMessage m) => (HasHostname(m) ? 1 : 0) + m.OtherExtensions.Count;

    private static int ExtensionsLength(BusMessage m)
    {
        int total = HasHostname(m) ? HostnameExtensionLength(m.Hostname!) : 0;
        foreach (var ext in m.OtherExtensions) total = checked(total + ExtensionHeaderLength + Align8(ext.Body.Length));
        return total;
    }

    // getHostnamePingExtSize: header + hostname + NUL, rounded up to 8.
    private static int HostnameExtensionLength(string hostname) =>
        ExtensionHeaderLength + Align8(Encoding.Latin1.GetByteCount(hostname) + 1);

    private static int Align8(int n) => checked((n + 7) & ~7);

    private static void EncodePing(BusMessage m, Span<byte> data)
    {
        int at = 0;
        foreach (var g in m.Gossip)
        {
            EncodeGossip(g, data.Slice(at, GossipEntryLength));
            at += GossipEntryLength;
        }
        if (HasHostname(m))
        {
            int length = HostnameExtensionLength(m.Hostname!);
            WriteExtensionHeader(data[at..], length, HostnameExtensionType);
            Encoding.Latin1.GetBytes(m.Hostname!, data[(at + ExtensionHeaderLength)..]);
            at += length;
        }
        foreach (var ext in m.OtherExtensions)
        {
            int length = ExtensionHeaderLength + Align8(ext.Body.Length);
            WriteExtensionHeader(data[at..], length, ext.Type);
            ext.Body.CopyTo(data[(at + ExtensionHeaderLength)..]);
            at += length;
        }
    }

    private static void WriteExtensionHeader(Span<byte> at, int length, ushort type)
    {
        BinaryPrimitives.WriteUInt32BigEndian(at, (uint)length);
        BinaryPrimitives.WriteUInt16BigEndian(at[4..], type);
    }

    private static void EncodeGossip(GossipEntry g, Span<byte> e)
    {
        WriteField(e[..BusMessage.NameLength], g.NodeName);
        BinaryPrimitives.WriteUInt32BigEndian(e[40..], g.PingSentSeconds);
        BinaryPrimitives.WriteUInt32BigEndian(e[44..], g.PongReceivedSeconds);
        WriteField(e.Slice(48, IpLength), g.Ip);
        BinaryPrimitives.WriteUInt16BigEndian(e[94..], g.Port);
        BinaryPrimitives.WriteUInt16BigEndian(e[96..], g.CPort);
        BinaryPrimitives.WriteUInt16BigEndian(e[98..], (ushort)g.Flags);
        BinaryPrimitives.WriteUInt16BigEndian(e[100..], g.PPort);
    }

    private static void EncodePublish(BusMessage m, Span<byte> data)
    {
        BinaryPrimitives.WriteUInt32BigEndian(data, (uint)m.Channel.Length);
        BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)m.Payload.Length);
        m.Channel.CopyTo(data[8..]);
        m.Payload.CopyTo(data[(8 + m.Channel.Length)..]);
    }

    private static void EncodeUpdate(BusMessage m, Span<byte> data)
    {
        BinaryPrimitives.WriteUInt64BigEndian(data, m.UpdateConfigEpoch);
        WriteField(data.Slice(8, BusMessage.NameLength), m.UpdateNodeName);
        m.UpdateSlots.Bytes.CopyTo(data[(8 + BusMessage.NameLength)..]);
    }

    private static void EncodeModule(BusMessage m, Span<byte> data)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(data, m.ModuleId);
        BinaryPrimitives.WriteUInt32BigEndian(data[8..], (uint)m.ModuleData.Length);
        data[12] = m.ModuleType;
        m.ModuleData.CopyTo(data[13..]);
    }

    // Latin-1 into a zeroed fixed-size field, truncated to the field (node names fill all 40
    // bytes; ips and the hostname are NUL-padded by the zeroing).
    private static void WriteField(Span<byte> field, string value)
    {
        int n = Math.Min(value.Length, field.Length);
        Encoding.Latin1.GetBytes(value.AsSpan(0, n), field);
    }
}
