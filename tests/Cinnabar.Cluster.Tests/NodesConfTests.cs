using Cinnabar.Cluster;
using Cinnabar.Cluster.Tests.Simulation;

namespace Cinnabar.Cluster.Tests;

/// <summary>nodes.conf / CLUSTER NODES against files written by a real redis-server 7.0.15
/// (Golden/nodes-redis-*.conf: a 3-node cluster with hostnames, a replica, a migrating and an
/// importing slot).</summary>
public sealed class NodesConfTests
{
    private const long Now = 1_800_000_000_000;

    private static string Golden(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name));

    /// <summary>The loader turns non-zero ping/pong times into "now", as clusterLoadConfig does,
    /// and a freshly loaded node has no links yet (every peer prints "disconnected").</summary>
    private static string WithLoadedTimes(string text) => string.Join('\n', text.Split('\n').Select(line =>
    {
        var f = line.Split(' ');
        if (f.Length < 8 || f[0] == "vars") return line;
        if (f[4] != "0") f[4] = Now.ToString();
        if (f[5] != "0") f[5] = Now.ToString();
        if (!f[2].Contains("myself", StringComparison.Ordinal)) f[7] = "disconnected";
        return string.Join(' ', f);
    }));

    [Theory]
    [InlineData("nodes-redis-27101.conf")]
    [InlineData("nodes-redis-27102.conf")]
    [InlineData("nodes-redis-27103.conf")]
    public void Loading_and_saving_a_redis_nodes_conf_gives_back_the_same_file(string file)
    {
        string text = Golden(file);
        var env = new RecordingEnvironment();
        var node = ClusterNode.Load(text, env, new ClusterOptions { AnnouncedPort = 0 }, new Random(1), Now);
        // Keep myself's announced address as it was in the file for the comparison.
        var myself = node.Myself;
        var line = text.Split('\n').First(l => l.Contains("myself", StringComparison.Ordinal));
        var addr = line.Split(' ')[1];
        myself.Port = int.Parse(addr[(addr.LastIndexOf(':') + 1)..addr.IndexOf('@')]);
        myself.CPort = int.Parse(addr[(addr.IndexOf('@') + 1)..addr.IndexOf(',')]);
        myself.Hostname = addr[(addr.IndexOf(',') + 1)..];
        Assert.Equal(WithLoadedTimes(text), node.ConfigText());
    }

    [Fact]
    public void A_loaded_config_knows_roles_slots_and_open_slots()
    {
        var node = ClusterNode.Load(Golden("nodes-redis-27101.conf"), new RecordingEnvironment(), new ClusterOptions(), new Random(1), Now);
        Assert.Equal("a252addf94b828383ae7e3ca5648bf96df70af86", node.Myself.Name);
        Assert.Equal(8001, node.Myself.NumSlots);
        Assert.Equal(2UL, node.CurrentEpoch);
        var other = node.Lookup("5577a58ee7fc177dff8798cfb60e6a24a3262def")!;
        Assert.Same(other, node.MigratingTo(100));
        Assert.Same(other, node.SlotOwner(8001));
        Assert.Null(node.SlotOwner(8002));
        var replica = node.Lookup("babaf596100a12936c16eb07b4fa25f9652738dc")!;
        Assert.Same(node.Myself, replica.Master);
        Assert.Equal(0UL, replica.ConfigEpoch); // a replica's epoch is loaded as 0
        Assert.Equal("host-27103.example", replica.Hostname);
    }

    [Theory]
    [InlineData("")]
    [InlineData("garbage\n")]
    [InlineData("a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1:1@2 master - 0 0 0 connected\n")] // no myself
    [InlineData("a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1 myself,master - 0 0 0 connected\n")] // no port
    [InlineData("tooshort 127.0.0.1:1@2 myself,master - 0 0 0 connected\n")]
    [InlineData("a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1:1@2 myself,master - 0 0 0 connected 0-16384\n")]
    [InlineData("a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1:1@2 myself,master - 0 0 0 connected [5->-zz]\n")]
    [InlineData("vars currentEpoch\n")]
    public void A_corrupt_file_is_refused_with_redis_message(string text)
    {
        var e = Assert.Throws<ClusterConfigException>(() =>
            ClusterNode.Load(text, new RecordingEnvironment(), new ClusterOptions(), new Random(1), Now));
        Assert.Equal("Unrecoverable error: corrupted cluster config file.", e.Message);
    }

    [Fact]
    public void An_unknown_flag_stops_loading_as_redis_panics()
    {
        var e = Assert.Throws<ClusterConfigException>(() => ClusterNode.Load(
            "a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1:1@2 myself,wizard - 0 0 0 connected\n",
            new RecordingEnvironment(), new ClusterOptions(), new Random(1), Now));
        Assert.Equal("Unknown flag in redis cluster config file", e.Message);
    }

    [Fact]
    public void An_address_without_bus_port_defaults_to_port_plus_10000()
    {
        var node = ClusterNode.Load(
            "a252addf94b828383ae7e3ca5648bf96df70af86 127.0.0.1:7000 myself,master - 0 0 3 connected 5 7-9\n" +
            "5577a58ee7fc177dff8798cfb60e6a24a3262def 127.0.0.1:7001 master - 0 0 4 connected\nvars currentEpoch 1 lastVoteEpoch 0\n",
            new RecordingEnvironment(), new ClusterOptions(), new Random(1), Now);
        Assert.Equal(17001, node.Lookup("5577a58ee7fc177dff8798cfb60e6a24a3262def")!.CPort);
        // currentEpoch is raised to the largest configEpoch found.
        Assert.Equal(4UL, node.CurrentEpoch);
        Assert.Equal(4, node.Myself.NumSlots);
    }

    [Fact]
    public void Flags_print_in_redis_order_and_noflags_when_none()
    {
        Assert.Equal("myself,master", ClusterNode.FlagsText(NodeFlags.Master | NodeFlags.Myself));
        Assert.Equal("slave,fail?,nofailover", ClusterNode.FlagsText(NodeFlags.NoFailover | NodeFlags.PFail | NodeFlags.Slave));
        Assert.Equal("noflags", ClusterNode.FlagsText(NodeFlags.None));
        Assert.Equal("noflags", ClusterNode.FlagsText(NodeFlags.Meet | NodeFlags.MigrateTo));
    }

    [Fact]
    public void A_fresh_node_saves_its_config_at_once_with_an_empty_ip()
    {
        var env = new RecordingEnvironment();
        var node = ClusterNode.CreateNew(env, new ClusterOptions { AnnouncedPort = 6398, AnnouncedCPort = 16398 }, new Random(5), Now);
        Assert.Matches("^[0-9a-f]{40} :6398@16398 myself,master - 0 0 0 connected\nvars currentEpoch 0 lastVoteEpoch 0\n$", env.Saved);
        Assert.Equal(env.Saved, node.ConfigText());
    }
}

/// <summary>A do-nothing environment that records what was saved.</summary>
internal sealed class RecordingEnvironment : IClusterEnvironment
{
    public string Saved = "";
    public int Connect(string ip, int cport) => 1;
    public void Send(int linkId, BusMessage message) { }
    public void CloseLink(int linkId) { }
    public void SaveConfig(string contents, bool fsync) => Saved = contents;
    public void Log(ClusterLogLevel level, string message) { }
    public void Publish(byte[] channel, byte[] message, bool shard) { }
    public bool HasSubscribers(bool shard) => false;
    public long ReplicationOffset => 0;
    public long MasterDataAgeMs => 0;
    public void ReplicateFrom(string ip, int port) { }
    public void StopReplicating() { }
    public bool IsReplicating => false;
    public int CountKeysInSlot(int slot) => 0;
    public void DeleteKeysInSlot(int slot) { }
    public void PauseWrites(long untilMs) { }
    public void UnpauseWrites() { }
    public void FlushAll() { }
}
