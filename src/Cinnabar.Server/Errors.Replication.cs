namespace Cinnabar.Server;

// Replication, FAILOVER and stale-data errors: Redis 7.0.15's texts (replication.c, server.c).
public static partial class Errors
{
    public const string MasterDown = "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
    public const string FailoverClusterMode = "ERR FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.";
    public const string NoFailoverInProgress = "ERR No failover in progress.";
    public const string FailoverTimeoutNotPositive = "ERR FAILOVER timeout must be greater than 0";
    public const string FailoverInProgress = "ERR FAILOVER already in progress.";
    public const string FailoverOnReplica = "ERR FAILOVER is not valid when server is a replica.";
    public const string FailoverNoReplicas = "ERR FAILOVER requires connected replicas.";
    public const string FailoverForceNeedsTarget = "ERR FAILOVER with force option requires both a timeout and target HOST and IP.";
    public const string FailoverTargetNotReplica = "ERR FAILOVER target HOST and PORT is not a replica.";
    public const string FailoverTargetNotOnline = "ERR FAILOVER target replica is not online.";
    public const string PsyncFailoverToMaster = "ERR PSYNC FAILOVER can't be sent to a master.";
    public const string PsyncFailoverReplidMismatch = "ERR PSYNC FAILOVER replid must match my replid.";
    public const string SyncWhileFailingOver = "NOMASTERLINK Can't SYNC while failing over";
    public const string SyncWithoutMasterLink = "NOMASTERLINK Can't SYNC while not connected with my master";
    public const string ReplicaOfClusterMode = "ERR REPLICAOF not allowed in cluster mode.";
    public const string ReplicaOfWhileFailingOver = "ERR REPLICAOF not allowed while failing over.";
    public const string UnblockedRoleChange = "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)";
}
