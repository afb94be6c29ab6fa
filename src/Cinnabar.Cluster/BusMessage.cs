namespace Cinnabar.Cluster;

// The cluster bus message model of Redis 7.0 (src/cluster.h). BusCodec turns these into the
// exact bytes of clusterMsg and back; ClusterNode consumes and produces them. Field names follow
// the C struct so that reading cluster.c alongside stays easy.

/// <summary>clusterMsg.type values; the comment is the CLUSTER INFO stats label.</summary>
public enum BusMessageType : ushort
{
    Ping = 0,                 // ping
    Pong = 1,                 // pong
    Meet = 2,                 // meet
    Fail = 3,                 // fail
    Publish = 4,              // publish
    FailoverAuthRequest = 5,  // auth-req
    FailoverAuthAck = 6,      // auth-ack
    Update = 7,               // update
    MfStart = 8,              // mfstart
    Module = 9,               // module
    PublishShard = 10,        // publishshard
}

/// <summary>Node flag bits (clusterNode.flags, the header's flags and gossip flags).</summary>
[Flags]
public enum NodeFlags : ushort
{
    None = 0,
    Master = 1,
    Slave = 2,
    PFail = 4,
    Fail = 8,
    Myself = 16,
    Handshake = 32,
    NoAddr = 64,
    Meet = 128,
    MigrateTo = 256,
    NoFailover = 512,
}

/// <summary>mflags[0] bits.</summary>
[Flags]
public enum MessageFlags : byte
{
    None = 0,
    Paused = 1,
    ForceAck = 2,
    ExtData = 4,
}

/// <summary>One clusterMsgDataGossip entry (104 bytes on the wire).</summary>
public sealed class GossipEntry
{
    public string NodeName = "";
    /// <summary>ping_sent in seconds (the node's ping_sent / 1000), as Redis sends it.</summary>
    public uint PingSentSeconds;
    public uint PongReceivedSeconds;
    public string Ip = "";
    public ushort Port;
    public ushort CPort;
    public NodeFlags Flags;
    public ushort PPort;
}

/// <summary>A ping extension this build does not interpret (kept for logging and re-encoding tests).</summary>
public sealed record PingExtension(ushort Type, byte[] Body);

/// <summary>
/// One decoded (or to-be-encoded) bus packet: the fixed header plus the type's payload.
/// Only the payload fields of <see cref="Type"/> are meaningful.
/// </summary>
public sealed class BusMessage
{
    public const int NameLength = 40;
    public const int SlotCount = 16384;

    public BusMessageType Type;
    public ushort Version = 1;
    /// <summary>Client port the sender announces.</summary>
    public ushort Port;
    public ulong CurrentEpoch;
    /// <summary>Sender's configEpoch, or its master's when the sender is a replica.</summary>
    public ulong ConfigEpoch;
    /// <summary>Replication offset of the sender.</summary>
    public ulong Offset;
    public string Sender = "";
    /// <summary>Slots of the sender, or of its master when the sender is a replica.</summary>
    public SlotBitmap MySlots = new();
    /// <summary>Master's name when the sender is a replica; null when it is a master (all-zero field).</summary>
    public string? SlaveOf;
    /// <summary>cluster-announce-ip, or empty (the receiver then uses the socket's peer address).</summary>
    public string MyIp = "";
    public ushort PPort;
    public ushort CPort;
    public NodeFlags Flags;
    /// <summary>0 = ok, 1 = fail.</summary>
    public byte State;
    public MessageFlags MFlags;

    // PING / PONG / MEET
    public List<GossipEntry> Gossip = new();
    /// <summary>Hostname extension (type 0); null when absent (which clears the receiver's copy).</summary>
    public string? Hostname;
    public List<PingExtension> OtherExtensions = new();

    // FAIL
    public string FailNodeName = "";

    // PUBLISH / PUBLISHSHARD
    public byte[] Channel = [];
    public byte[] Payload = [];

    // UPDATE
    public ulong UpdateConfigEpoch;
    public string UpdateNodeName = "";
    public SlotBitmap UpdateSlots = new();

    // MODULE
    public ulong ModuleId;
    public byte ModuleType;
    public byte[] ModuleData = [];
}
