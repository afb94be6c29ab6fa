namespace Cinnabar.Cli.ClusterManager;

/// <summary>clusterManagerCheckCluster and the cluster-wide views (show nodes, info).</summary>
public static class ClusterChecker
{
    /// <summary>
    /// redis-cli's clusterManagerCheckCluster(quiet): prints ">>> Performing Cluster Check", the
    /// nodes, slot agreement, open slots and coverage (unless quiet), and with --cluster fix
    /// repairs what it finds. Returns true when the cluster is consistent.
    /// </summary>
    public static bool Check(CmCluster cluster, bool quiet, bool fix = false) => false;
}
