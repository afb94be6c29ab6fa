namespace Cinnabar.Server;

public static partial class ServerStartup
{
    // clusterInit: before the dataset loads (the keyspace indexes keys by slot from the start).
    static partial void InitializeSubsystems(RedisServer server)
    {
        if (!server.Config.ClusterEnabled) return;
        server.Cluster = Cluster.ClusterService.Start(server);
        // nodes.conf says we replicate: the dataset loads as a replica's (expired keys kept).
        if (server.Cluster.Node.Myself.IsReplica) server.StartingAsReplica = true;
    }

    // verifyClusterConfigWithData, and a replica resumes replicating from its master.
    static partial void LoadDataSubsystems(RedisServer server)
    {
        var svc = server.Cluster;
        if (svc == null) return;
        lock (server.ExecLock)
        {
            for (int i = 1; i < server.Keyspace.Count; i++)
            {
                if (server.Keyspace[i].Count == 0) continue;
                server.Log.Warning("You can't have keys in a DB different than DB 0 when in Cluster mode. Exiting.");
                throw new InvalidOperationException("keys outside db 0");
            }
            svc.Node.VerifyConfigWithData();
            var master = svc.Node.Myself.Master;
            if (svc.Node.Myself.IsReplica && master != null && master.HasAddress && !server.IsReplica)
                server.ReplicaOf(master.Ip, master.Port);
            svc.Activate();
        }
    }
}
