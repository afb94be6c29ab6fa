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

    public void ReplicaOf(string host, int port)
    {
        Repl.Link?.Stop();
        if (!IsReplica) Log.Notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
        Repl.MasterHost = host;
        Repl.MasterPort = port;
        RoleName = "slave";
        Log.Role = 'S';
        Keyspace.ExpireOnAccess = false;
        // Our replicas must resync with us against the new history.
        DisconnectSubReplicas();
        Log.Notice($"Connecting to MASTER {host}:{port}");
        Repl.Link = new MasterLink(this, host, port);
        Repl.Link.Start();
    }

    public void ReplicaOfNoOne()
    {
        if (!IsReplica) return;
        Repl.Link?.Stop();
        Repl.Link = null;
        Repl.MasterHost = null;
        Repl.MasterPort = 0;
        RoleName = "master";
        Log.Role = 'M';
        Keyspace.ExpireOnAccess = true;
        // PSYNC2: remember the old history so former siblings can continue from it.
        Repl.ReplId2 = Repl.ReplId;
        Repl.SecondReplOffset = Repl.MasterReplOffset + 1;
        Repl.ReplId = ReplicationState.NewReplId();
        Log.Notice($"Setting secondary replication ID to {Repl.ReplId2}, valid up to offset: {Repl.SecondReplOffset}. New replication ID is {Repl.ReplId}");
        Log.Notice("MASTER MODE enabled");
    }

    public void DisconnectSubReplicas()
    {
        foreach (var r in Repl.Replicas.ToArray()) r.Client.Close();
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
