using Cinnabar.Persistence;
using Cinnabar.Replication;

namespace Cinnabar.Server;

// Role changes: REPLICAOF host port / NO ONE, loading a full sync, and the PSYNC2 promotion rule
// (a promoted replica keeps its old replication ID as replid2 so former siblings can PSYNC).
public sealed partial class RedisServer
{
    /// <summary>A client that applies the master's stream: bypasses auth, read-only and OOM checks.</summary>
    public Client CreateMasterClient()
    {
        var c = CreateFakeClient();
        c.Flags |= ClientFlags.Master;
        return c;
    }

    /// <summary>
    /// Redis's replicationSetMaster. Our own replicas stay connected: they may continue partially
    /// with us, and are disconnected only when our history changes (a new replication ID from the
    /// new master, or a full sync). Clients blocked on keys or WAIT are released with -UNBLOCKED.
    /// </summary>
    public void ReplicaOf(string host, int port)
    {
        bool wasMaster = !IsReplica;
        // Redis clears masterhost before freeing the old master client: those lines carry 'M'.
        Log.Role = 'M';
        Repl.Link?.Stop(logLostMaster: true);
        DisconnectAllBlockedClients();
        if (wasMaster) Log.Notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
        Repl.MasterHost = host;
        Repl.MasterPort = port;
        RoleName = "slave";
        Log.Role = 'S';
        UpdateExpireOnAccess();
        Log.Notice($"Connecting to MASTER {host}:{port}");
        Repl.Link = new MasterLink(this, host, port);
        Repl.Link.Start();
    }

    /// <summary>
    /// Redis's replicationUnsetMaster (REPLICAOF NO ONE, PSYNC FAILOVER, an aborted failover).
    /// PSYNC2: the old history becomes replid2 so former siblings can continue from it; our own
    /// replicas are disconnected to learn the new ID, and our stream restarts with a SELECT.
    /// </summary>
    public void ReplicaOfNoOne()
    {
        if (!IsReplica) return;
        bool hadCachedMaster = Repl.Link?.Connected == true || Repl.Backlog != null;
        Log.Role = 'M';
        Repl.Link?.Stop(logLostMaster: true);
        Repl.Link = null;
        if (hadCachedMaster) Log.Notice("Discarding previously cached master state.");
        Repl.MasterHost = null;
        Repl.MasterPort = 0;
        RoleName = "master";
        Log.Role = 'M';
        UpdateExpireOnAccess();
        Repl.ReplId2 = Repl.ReplId;
        Repl.SecondReplOffset = Repl.MasterReplOffset + 1;
        Repl.ReplId = ReplicationState.NewReplId();
        Log.Warning($"Setting secondary replication ID to {Repl.ReplId2}, valid up to offset: {Repl.SecondReplOffset}. New replication ID is {Repl.ReplId}");
        DisconnectSubReplicas();
        if (_replFeed != null) ResetSelectedDb(_replFeed);
    }

    /// <summary>Redis's disconnectAllBlockedClients (becoming a replica): -UNBLOCKED, then close after the reply.</summary>
    private void DisconnectAllBlockedClients()
    {
        foreach (var c in _clients.Values)
        {
            if (c.BlockState == null) continue;
            c.Flags |= ClientFlags.CloseAfterReply;
            Unblock(c, timedOut: false, write: true, error: Errors.UnblockedRoleChange);
        }
    }

    /// <summary>Redis's disconnectSlaves: each replica is dropped now (no more stream) and will reconnect.</summary>
    public void DisconnectSubReplicas()
    {
        foreach (var r in Repl.Replicas.ToArray())
        {
            DropReplica(r);
            r.Client.Close();
        }
    }

    /// <summary>Replaces the dataset with a full sync's RDB (called from the master link task).</summary>
    internal void LoadFullSyncRdb(string path, string replId, long offset)
    {
        lock (ExecLock)
        {
            Rdb.Loading = true;
            try
            {
                Log.Notice("MASTER <-> REPLICA sync: Flushing old data");
                Keyspace.FlushAll();
                Log.Notice("MASTER <-> REPLICA sync: Loading DB in memory");
                UpdateCachedTime();
                using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
                {
                    var result = RdbFile.Load(fs, Keyspace, skipExpired: false, Keyspace.NowMs);
                    if (result.FunctionLibraries.Count > 0) FunctionLibrariesLoaded?.Invoke(result.FunctionLibraries);
                }
                Repl.ReplId = replId;
                Repl.ReplId2 = new string('0', 40);
                Repl.SecondReplOffset = -1;
                Repl.Offset = offset;
                Repl.Backlog = new ReplicationBacklog(BacklogSize, offset);
                if (_replFeed == null)
                {
                    _replFeed = new ReplicationFeed(this);
                    AddStreamConsumer(_replFeed, isReplication: true);
                }
                DisconnectSubReplicas();
                Log.Notice("MASTER <-> REPLICA sync: Finished with success");
                // Rewrite the AOF after a full sync, as Redis restarts it.
                if (Aof.Enabled && !Aof.RewriteInProgress) StartAofRewrite();
            }
            finally
            {
                Rdb.Loading = false;
            }
        }
    }
}
