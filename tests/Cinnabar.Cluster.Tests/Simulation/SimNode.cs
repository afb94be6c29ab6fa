using Cinnabar.Cluster;

namespace Cinnabar.Cluster.Tests.Simulation;

/// <summary>One simulated process: a ClusterNode plus the environment it acts through.</summary>
public sealed class SimNode : IClusterEnvironment
{
    private readonly SimCluster _net;

    public int Index { get; }
    public int Port => 30000 + Index;
    public int BusPort => Port + 10000;
    public bool Alive { get; set; } = true;
    public ClusterNode Node { get; private set; }
    public int Saves { get; private set; }
    public List<string> LogLines { get; } = new();
    /// <summary>Our replication offset (a master's grows with writes; a replica copies its master's).</summary>
    public long Offset { get; set; }
    public (string Ip, int Port)? ReplicatingFrom { get; private set; }
    public long PausedUntil { get; private set; }
    /// <summary>SIGSTOP'd until this simulated time (see SimCluster.Stop).</summary>
    public long StoppedUntil { get; set; }

    internal SimNode(SimCluster net, int index, Random rng, long nodeTimeoutMs, string hostname)
    {
        _net = net;
        Index = index;
        var options = new ClusterOptions
        {
            NodeTimeoutMs = nodeTimeoutMs,
            AnnouncedPort = Port,
            AnnouncedCPort = BusPort,
            AnnounceHostname = hostname,
        };
        Node = ClusterNode.CreateNew(this, options, rng, net.Now);
    }

    /// <summary>A restart from the last saved nodes.conf (links gone, state rebuilt from the file).</summary>
    public void RestartFromConfig(Random rng)
    {
        Node = ClusterNode.Load(SavedConfig, this, Node.Options, rng, _net.Now);
        Alive = true;
    }

    private readonly Dictionary<int, List<byte[]>> _queued = new();

    internal void Queue(int linkId, byte[] frame)
    {
        if (!_queued.TryGetValue(linkId, out var l)) _queued[linkId] = l = new List<byte[]>();
        l.Add(frame);
    }

    internal IEnumerable<byte[]> TakeQueued(int linkId) =>
        _queued.Remove(linkId, out var l) ? l : [];

    public void Meet(SimNode other) => Assert.True(Node.StartHandshake("127.0.0.1", other.Port, other.BusPort, _net.Now));

    int IClusterEnvironment.Connect(string ip, int cport) => _net.Connect(this, ip, cport);
    void IClusterEnvironment.Send(int linkId, BusMessage message) => _net.Send(this, linkId, message);
    void IClusterEnvironment.CloseLink(int linkId) => _net.Close(linkId);

    void IClusterEnvironment.SaveConfig(string contents, bool fsync)
    {
        SavedConfig = contents;
        Saves++;
    }

    void IClusterEnvironment.SaveConfig(Func<string> contents, bool fsync)
    {
        Saves++;
        if (_net.KeepConfigs) SavedConfig = contents();
    }

    /// <summary>The nodes.conf text of the last save (empty when the simulation keeps none).</summary>
    public string SavedConfig { get; private set; } = "";

    void IClusterEnvironment.Log(ClusterLogLevel level, string message) => LogLines.Add(message);
    void IClusterEnvironment.Publish(byte[] channel, byte[] message, bool shard) => Published.Add((channel, message, shard));
    public List<(byte[] Channel, byte[] Message, bool Shard)> Published { get; } = new();
    bool IClusterEnvironment.HasSubscribers(bool shard) => true;
    long IClusterEnvironment.ReplicationOffset => Offset;
    long IClusterEnvironment.MasterDataAgeMs => 0;

    void IClusterEnvironment.ReplicateFrom(string ip, int port) => ReplicatingFrom = (ip, port);
    void IClusterEnvironment.StopReplicating() => ReplicatingFrom = null;
    bool IClusterEnvironment.IsReplicating => ReplicatingFrom != null;
    int IClusterEnvironment.CountKeysInSlot(int slot) => 0;
    void IClusterEnvironment.DeleteKeysInSlot(int slot) { }
    void IClusterEnvironment.PauseWrites(long untilMs) => PausedUntil = untilMs;
    void IClusterEnvironment.UnpauseWrites() => PausedUntil = 0;
    void IClusterEnvironment.FlushAll() { }

    public override string ToString() => $"node{Index}:{Node.Myself.Name[..8]}";
}
