using System.Text;
using System.Text.Json;

namespace Cinnabar.Cluster.Tests;

// Decodes every packet captured from redis-server 7.0.15 (Golden/capture.py) and checks its fields
// against what the capture script set up; then re-encodes it to the very same bytes.
public sealed class BusCodecGoldenTests
{
    private const NodeFlags MasterMyself = NodeFlags.Master | NodeFlags.Myself;
    private const NodeFlags ReplicaMyself = NodeFlags.Slave | NodeFlags.Myself;

    public static TheoryData<string> Captures() => new(Golden.CaptureNames);

    [Theory]
    [MemberData(nameof(Captures))]
    public void Captured_packet_reencodes_to_identical_bytes(string capture)
    {
        byte[] packet = Golden.Read(capture);
        BusMessage message = BusCodec.Decode(packet) ?? throw new Xunit.Sdk.XunitException(capture + " did not decode");
        Assert.Equal(packet, BusCodec.Encode(message));
        Assert.Equal(packet.Length, BusCodec.GetEncodedLength(message));
    }

    [Theory]
    [MemberData(nameof(Captures))]
    public void Captured_packet_is_one_ready_frame(string capture)
    {
        byte[] packet = Golden.Read(capture);
        Assert.Equal(FrameStatus.Ready, BusCodec.PeekFrame(packet, 1 << 20, out int totalLength));
        Assert.Equal(packet.Length, totalLength);
        Assert.Equal("RCmb"u8.ToArray(), packet[..4]);
    }

    [Fact]
    public void Meet_from_master_with_hostname_carries_one_padded_hostname_extension()
    {
        byte[] packet = Golden.Read("meet");
        var m = Decode("meet");
        Assert.Equal(BusMessageType.Meet, m.Type);
        AssertMasterA(m);
        Assert.Equal(3UL, m.CurrentEpoch); // SET-CONFIG-EPOCH 3 raised currentEpoch; no peer known yet
        Assert.Equal(MasterMyself, m.Flags);
        Assert.Equal(1, m.State); // cluster_state fail
        Assert.Empty(m.Gossip);
        Assert.Equal("node-a.example", m.Hostname);
        Assert.Empty(m.OtherExtensions);
        Assert.Equal(MessageFlags.ExtData, m.MFlags);
        // 2256 + one extension: length 24, type 0, "node-a.example" NUL-padded to 16.
        Assert.Equal(2280, packet.Length);
        Assert.Equal(Convert.FromHexString("00000018" + "0000" + "0000"), packet[2256..2264]);
        Assert.Equal(Encoding.ASCII.GetBytes("node-a.example\0\0"), packet[2264..]);
        Assert.Equal([0, 1], packet[2214..2216]); // extensions = 1
    }

    [Theory]
    [InlineData("ping", BusMessageType.Ping)]
    [InlineData("pong", BusMessageType.Pong)]
    public void Ping_and_pong_gossip_about_the_known_peers(string capture, BusMessageType type)
    {
        var m = Decode(capture);
        Assert.Equal(type, m.Type);
        AssertMasterA(m);
        Assert.Equal(4UL, m.CurrentEpoch); // adopted from fake C (currentEpoch 4)
        // A has a replica (fake D): clusterNodeAddSlave marks it MIGRATE_TO.
        Assert.Equal(MasterMyself | NodeFlags.MigrateTo, m.Flags);
        Assert.Equal("node-a.example", m.Hostname);
        Assert.Equal(MessageFlags.ExtData, m.MFlags);
        Assert.InRange(m.Gossip.Count, 1, 3); // wanted = 3 of the 4 other nodes minus the receiver
        foreach (var g in m.Gossip)
        {
            AssertGossipAboutFake(g);
            Assert.Equal(NodeFlags.None, g.Flags & (NodeFlags.PFail | NodeFlags.Fail));
        }
        Assert.Equal(m.Gossip.Count, m.Gossip.Select(g => g.NodeName).Distinct().Count());
    }

    [Fact]
    public void Ping_appends_pfail_nodes_to_the_gossip()
    {
        var m = Decode("ping-pfail");
        Assert.Equal(BusMessageType.Ping, m.Type);
        AssertMasterA(m);
        foreach (var g in m.Gossip) AssertGossipAboutFake(g);
        var c = Assert.Single(m.Gossip, g => (g.Flags & NodeFlags.PFail) != 0);
        Assert.Equal(Golden.Fake("c").GetProperty("name").GetString(), c.NodeName);
        Assert.True(c.PingSentSeconds > 0, "a PFAIL node has a ping pending");
        Assert.Equal(m.Gossip[^1], c); // PFAIL entries are added after the random ones
    }

    [Fact]
    public void Publish_carries_binary_safe_channel_and_message()
    {
        byte[] packet = Golden.Read("publish");
        var m = Decode("publish");
        Assert.Equal(BusMessageType.Publish, m.Type);
        AssertMasterA(m);
        Assert.Equal("news"u8.ToArray(), m.Channel);
        byte[] expectedPayload = [.. "hello\0world"u8, 0xff];
        Assert.Equal(expectedPayload, m.Payload);
        Assert.Equal(2264 + 4 + 12, packet.Length);
        Assert.Equal(Convert.FromHexString("00000004" + "0000000C"), packet[2256..2264]);
        Assert.Empty(m.Gossip);
        Assert.Null(m.Hostname);
        Assert.Equal(MessageFlags.None, m.MFlags);
    }

    [Fact]
    public void Publish_longer_than_the_full_header_is_one_packet()
    {
        var m = Decode("publish-large");
        Assert.Equal(BusMessageType.Publish, m.Type);
        AssertMasterA(m);
        Assert.Equal("news"u8.ToArray(), m.Channel);
        Assert.Equal(Enumerable.Range(0, 5000).Select(i => (byte)(i % 251)), m.Payload);
        Assert.Equal(2264 + 4 + 5000, Golden.Read("publish-large").Length);
    }

    [Fact]
    public void Publishshard_goes_to_the_shard_replica()
    {
        var m = Decode("publishshard");
        Assert.Equal(BusMessageType.PublishShard, m.Type);
        AssertMasterA(m);
        Assert.Equal(Golden.Master.GetProperty("shard_channel").GetString(), Encoding.ASCII.GetString(m.Channel));
        Assert.Equal("sharded message", Encoding.ASCII.GetString(m.Payload));
    }

    [Fact]
    public void Update_tells_the_claimer_the_owners_epoch_and_slots()
    {
        var m = Decode("update");
        Assert.Equal(BusMessageType.Update, m.Type);
        Assert.Equal(BusCodec.FullHeaderLength, Golden.Read("update").Length);
        AssertMasterA(m);
        Assert.Equal(3UL, m.UpdateConfigEpoch);
        Assert.Equal(Golden.MasterName, m.UpdateNodeName);
        AssertSlots(m.UpdateSlots, 0, 5460);
    }

    [Fact]
    public void Fail_names_the_failed_node()
    {
        var m = Decode("fail");
        Assert.Equal(BusMessageType.Fail, m.Type);
        Assert.Equal(2296, Golden.Read("fail").Length);
        AssertMasterA(m);
        Assert.Equal(Golden.Fake("c").GetProperty("name").GetString(), m.FailNodeName);
    }

    [Fact]
    public void Auth_ack_is_a_bare_header_after_adopting_the_requests_epoch()
    {
        var m = Decode("auth-ack");
        Assert.Equal(BusMessageType.FailoverAuthAck, m.Type);
        AssertMasterA(m);
        Assert.Equal(10UL, m.CurrentEpoch); // the fake replica's request carried currentEpoch 10
        Assert.Equal(BusCodec.HeaderLength, Golden.Read("auth-ack").Length);
    }

    [Fact]
    public void Meet_without_hostname_has_no_extension_and_no_ip()
    {
        var m = Decode("meet-nohostname");
        Assert.Equal(BusMessageType.Meet, m.Type);
        AssertReplicaNodeHeader(m);
        Assert.Equal(MasterMyself, m.Flags); // still a master without slots at MEET time
        Assert.Null(m.SlaveOf);
        Assert.True(m.MySlots.IsEmpty);
        Assert.Equal(0UL, m.CurrentEpoch);
        Assert.Equal(0UL, m.ConfigEpoch);
        Assert.Null(m.Hostname);
        Assert.Equal(MessageFlags.None, m.MFlags);
        Assert.Equal([0, 0], Golden.Read("meet-nohostname")[2214..2216]);
    }

    [Fact]
    public void Replica_ping_carries_its_masters_slots_and_config_epoch()
    {
        var m = Decode("ping-replica");
        Assert.Equal(BusMessageType.Ping, m.Type);
        AssertReplicaOfB(m);
        Assert.Equal(8UL, m.CurrentEpoch);
        Assert.Empty(m.Gossip); // it knows only its master
        Assert.Null(m.Hostname);
    }

    [Fact]
    public void Mfstart_is_sent_by_the_replica_to_its_master()
    {
        var m = Decode("mfstart");
        Assert.Equal(BusMessageType.MfStart, m.Type);
        AssertReplicaOfB(m);
        Assert.Equal(MessageFlags.None, m.MFlags);
    }

    [Fact]
    public void Forced_failover_auth_request_sets_forceack_and_bumps_the_epoch()
    {
        var m = Decode("auth-req");
        Assert.Equal(BusMessageType.FailoverAuthRequest, m.Type);
        AssertReplicaOfB(m);
        Assert.Equal(MessageFlags.ForceAck, m.MFlags);
        Assert.Equal(9UL, m.CurrentEpoch); // the master's 8, plus one for the election
    }

    private static BusMessage Decode(string capture) =>
        BusCodec.Decode(Golden.Read(capture)) ?? throw new Xunit.Sdk.XunitException(capture + " did not decode");

    // Node A: master of 0-5460 with configEpoch 3, announce-ip 127.0.0.1, no replication traffic.
    private static void AssertMasterA(BusMessage m)
    {
        var a = Golden.Master;
        Assert.Equal(1, m.Version);
        Assert.Equal(Golden.MasterName, m.Sender);
        Assert.Equal(a.GetProperty("port").GetInt32(), m.Port);
        Assert.Equal(a.GetProperty("cport").GetInt32(), m.CPort);
        Assert.Equal(0, m.PPort);
        Assert.Equal("127.0.0.1", m.MyIp);
        Assert.Null(m.SlaveOf);
        Assert.Equal(3UL, m.ConfigEpoch);
        Assert.Equal(0UL, m.Offset);
        Assert.Equal(MasterMyself, m.Flags & (MasterMyself | NodeFlags.Slave));
        AssertSlots(m.MySlots, 0, 5460);
    }

    private static void AssertReplicaNodeHeader(BusMessage m)
    {
        var r = Golden.Replica;
        Assert.Equal(r.GetProperty("name").GetString(), m.Sender);
        Assert.Equal(r.GetProperty("port").GetInt32(), m.Port);
        Assert.Equal(r.GetProperty("cport").GetInt32(), m.CPort);
        Assert.Equal("", m.MyIp);
        Assert.Equal(0UL, m.Offset);
    }

    // Node R after CLUSTER REPLICATE of fake B (all slots, configEpoch 7, currentEpoch 8).
    private static void AssertReplicaOfB(BusMessage m)
    {
        AssertReplicaNodeHeader(m);
        Assert.Equal(ReplicaMyself, m.Flags);
        Assert.Equal(Golden.Replica.GetProperty("master").GetProperty("name").GetString(), m.SlaveOf);
        Assert.Equal(7UL, m.ConfigEpoch);
        AssertSlots(m.MySlots, 0, BusMessage.SlotCount - 1);
    }

    private static void AssertGossipAboutFake(GossipEntry g)
    {
        string letter = g.NodeName[..1];
        Assert.Contains(letter, new[] { "b", "c", "d", "e" });
        JsonElement fake = Golden.Fake(letter);
        Assert.Equal(fake.GetProperty("name").GetString(), g.NodeName);
        Assert.Equal("127.0.0.1", g.Ip);
        Assert.Equal(fake.GetProperty("port").GetInt32(), g.Port);
        Assert.Equal(fake.GetProperty("cport").GetInt32(), g.CPort);
        Assert.Equal(0, g.PPort);
        Assert.True(g.PongReceivedSeconds > 0);
        // b and c are masters, d and e replicas.
        NodeFlags role = letter is "b" or "c" ? NodeFlags.Master : NodeFlags.Slave;
        Assert.Equal(role, g.Flags & (NodeFlags.Master | NodeFlags.Slave));
    }

    private static void AssertSlots(SlotBitmap slots, int first, int last)
    {
        Assert.Equal(last - first + 1, slots.Count);
        Assert.True(slots.Get(first) && slots.Get(last));
    }
}
