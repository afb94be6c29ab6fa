namespace Cinnabar.Cluster;

public enum ClusterLogLevel { Debug, Verbose, Notice, Warning }

/// <summary>
/// Everything <see cref="ClusterNode"/> needs from the outside world. The server implements it
/// with sockets, files and the replication subsystem; the simulation with an in-memory network.
/// </summary>
public interface IClusterEnvironment
{
    /// <summary>Starts an outbound bus connection to ip:cport and returns its link id at once.
    /// Success is reported through <see cref="ClusterNode.LinkEstablished"/>, a failure through
    /// <see cref="ClusterNode.LinkClosed"/>.</summary>
    int Connect(string ip, int cport);

    void Send(int linkId, BusMessage message);

    /// <summary>Closes a link; must not call back into the state machine.</summary>
    void CloseLink(int linkId);

    /// <summary>Writes nodes.conf (contents given) atomically; fsync when asked.</summary>
    void SaveConfig(string contents, bool fsync);

    /// <summary>
    /// Writes nodes.conf, its text made by <paramref name="contents"/> (what the state machine
    /// calls). An environment that keeps no file may skip making the text, which costs a line per
    /// known node: a simulation of a thousand nodes would otherwise spend its time there.
    /// </summary>
    void SaveConfig(Func<string> contents, bool fsync) => SaveConfig(contents(), fsync);

    void Log(ClusterLogLevel level, string message);

    /// <summary>Delivers a PUBLISH / PUBLISHSHARD received over the bus to local subscribers.</summary>
    void Publish(byte[] channel, byte[] message, bool shard);

    bool HasSubscribers(bool shard);

    /// <summary>master_repl_offset when a master, the processed offset when a replica.</summary>
    long ReplicationOffset { get; }

    /// <summary>Makes this node replicate from ip:port (replicationSetMaster).</summary>
    void ReplicateFrom(string ip, int port);

    /// <summary>Stops replicating and becomes a master (replicationUnsetMaster).</summary>
    void StopReplicating();

    /// <summary>Milliseconds since the last interaction with our master (link up) or since the link
    /// went down: the data age a replica's election checks.</summary>
    long MasterDataAgeMs { get; }

    /// <summary>True when the server currently has a configured master (server.masterhost != NULL).</summary>
    bool IsReplicating { get; }

    int CountKeysInSlot(int slot);

    /// <summary>Deletes (and propagates the deletion of) every key of a slot.</summary>
    void DeleteKeysInSlot(int slot);

    /// <summary>Pauses client writes until the given unix ms (manual failover on a master).</summary>
    void PauseWrites(long untilMs);

    /// <summary>Ends a pause started by <see cref="PauseWrites"/>.</summary>
    void UnpauseWrites();

    /// <summary>Deletes every key (CLUSTER RESET on a master).</summary>
    void FlushAll();

    /// <summary>A slot left the shard this node belongs to (it was my master's or mine):
    /// its sharded pub/sub channels are dropped (Redis's removeChannelsInSlot).</summary>
    void SlotLeftMyShard(int slot) { }
}
