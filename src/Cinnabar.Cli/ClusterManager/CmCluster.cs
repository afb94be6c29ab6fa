using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// The cluster as loaded from one entry node (redis-cli's cluster_manager global): every
/// reachable node, connected, with its own view of its slots and open slots.
/// </summary>
public sealed class CmCluster : IDisposable
{
    public CmCluster(CliOptions options) => Options = options;

    public CliOptions Options { get; }
    public ClusterManagerOptions Cmd => Options.ClusterCmd;
    public List<CmNode> Nodes { get; } = [];
    /// <summary>Masters listed by the entry node that could not be reached or loaded.</summary>
    public int UnreachableMasters { get; set; }
    /// <summary>The errors clusterManagerCheckCluster reported (cluster_manager.errors).</summary>
    public List<string> Errors { get; } = [];

    public IEnumerable<CmNode> Masters => Nodes.Where(n => !n.IsSlave);

    /// <summary>INFO of a node, or null with err set from an error reply.</summary>
    public static string? NodeInfo(CmNode node, out string? err)
    {
        var r = node.Command("INFO");
        err = null;
        if (r == null) return null;
        if (r.Type == RespType.Error)
        {
            err = r.Text;
            return null;
        }
        return r.Text;
    }

    public static bool IsClusterNode(CmNode node, out string? err)
    {
        string? info = NodeInfo(node, out err);
        return info != null && CmNode.InfoField(info, "cluster_enabled") != 0;
    }

    public static void PrintNotClusterNodeError(CmNode node, string? err) =>
        CmLog.Err($"[ERR] Node {node.Ip}:{node.Port} {err ?? "is not configured as a cluster node."}\n");

    /// <summary>
    /// clusterManagerLoadInfoFromNode: connects to the entry node, loads its view and every
    /// friend's own view; friends that cannot be reached or are noaddr/disconnected/failed are
    /// dropped (and counted when masters). Then counts replicas per master.
    /// </summary>
    public bool LoadInfoFromNode(CmNode node)
    {
        if (node.Conn == null && !node.Connect(Options))
        {
            node.Dispose();
            return false;
        }
        if (!IsClusterNode(node, out string? e))
        {
            PrintNotClusterNodeError(node, e);
            node.Dispose();
            return false;
        }
        if (!node.LoadInfo(getFriends: true, out e))
        {
            if (e != null) CmLog.Err($"Node {node.Ip}:{node.Port} replied with error:\n{e}\n");
            node.Dispose();
            return false;
        }
        foreach (var n in Nodes)
            if (!ReferenceEquals(n, node)) n.Dispose();
        Nodes.Clear();
        UnreachableMasters = 0;
        Nodes.Add(node);
        if (node.Friends != null)
        {
            foreach (var friend in node.Friends)
            {
                bool ok = friend.Ip.Length > 0 && friend.Port != 0 && (friend.Conn != null || friend.Connect(Options));
                if (ok)
                {
                    if (friend.LoadInfo(getFriends: false, out _))
                    {
                        if ((friend.Flags & (CmFlags.NoAddr | CmFlags.Disconnect | CmFlags.Fail)) != 0) ok = false;
                    }
                    else
                    {
                        CmLog.Err($"[ERR] Unable to load info for node {friend.Ip}:{friend.Port}\n");
                        ok = false;
                    }
                }
                if (ok)
                {
                    Nodes.Add(friend);
                    continue;
                }
                if (!friend.IsSlave) UnreachableMasters++;
                friend.Dispose();
            }
            node.Friends = null;
        }
        foreach (var n in Nodes)
        {
            if (n.Replicate == null) continue;
            var master = NodeByName(n.Replicate);
            if (master == null) CmLog.Warn($"*** WARNING: {n.Ip}:{n.Port} claims to be slave of unknown node ID {n.Replicate}.\n");
            else master.ReplicasCount++;
        }
        return true;
    }

    public CmNode? NodeByName(string name)
    {
        string lc = name.ToLowerInvariant();
        return Nodes.FirstOrDefault(n => n.Name != null && n.Name == lc);
    }

    /// <summary>The first node whose id starts with the given prefix.</summary>
    public CmNode? NodeByAbbreviatedName(string name)
    {
        string lc = name.ToLowerInvariant();
        return Nodes.FirstOrDefault(n => n.Name != null && n.Name.StartsWith(lc, StringComparison.Ordinal));
    }

    /// <summary>getClusterHostFromCmdArgs: with argc 1 "ip:port[@bus]", otherwise "ip port"
    /// (verbs pass argc 1 when only their first argument is the address).</summary>
    public static bool ParseHostArgs(IReadOnlyList<string> args, int argc, out string ip, out int port)
    {
        ip = "";
        port = 0;
        if (args.Count == 0 || argc == 0) return false;
        if (argc == 1)
        {
            if (!CmNode.ParseAddress(args[0], out ip, out port, out _)) return false;
        }
        else
        {
            ip = args[0];
            port = args.Count > 1 ? (int)CmNode.AtoL(args[1]) : 0;
        }
        return ip.Length > 0 && port != 0;
    }

    public void Dispose()
    {
        foreach (var n in Nodes) n.Dispose();
        Nodes.Clear();
    }
}
