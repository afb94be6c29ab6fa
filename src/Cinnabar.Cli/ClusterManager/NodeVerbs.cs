using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>The cluster-manager verbs other than create and the slot movers: check, info, fix,
/// add-node, del-node, call, set-timeout, backup.</summary>
public static class NodeVerbs
{
    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static bool InvalidArgs()
    {
        StdIo.Err.WriteLine(CmOps.InvalidHostArg);
        return false;
    }

    /// <summary>Parses the verb's address (argc as redis-cli passes it) and loads the cluster from it.</summary>
    private static CmCluster? Load(CliOptions o, int argc, out bool invalidArgs)
    {
        invalidArgs = false;
        if (!CmCluster.ParseHostArgs(o.ClusterCmd.Args, argc, out string ip, out int port))
        {
            invalidArgs = true;
            return null;
        }
        var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port)))
        {
            cluster.Dispose();
            return null;
        }
        return cluster;
    }

    public static bool Info(CliOptions o)
    {
        using var cluster = Load(o, o.ClusterCmd.Args.Count, out bool invalid);
        if (cluster == null) return !invalid ? false : InvalidArgs();
        CmOps.ShowClusterInfo(cluster);
        return true;
    }

    public static bool Check(CliOptions o) => CheckOrFix(o, fix: false);

    public static bool Fix(CliOptions o) => CheckOrFix(o, fix: true);

    private static bool CheckOrFix(CliOptions o, bool fix)
    {
        using var cluster = Load(o, o.ClusterCmd.Args.Count, out bool invalid);
        if (cluster == null) return !invalid ? false : InvalidArgs();
        CmOps.ShowClusterInfo(cluster);
        return ClusterChecker.Check(cluster, quiet: false, fix: fix);
    }

    public static bool AddNode(CliOptions o)
    {
        var args = o.ClusterCmd.Args;
        if (!CmCluster.ParseHostArgs(args.Skip(1).ToList(), 1, out string refIp, out int refPort)) return InvalidArgs();
        if (!CmCluster.ParseHostArgs(args, 1, out string ip, out int port)) return InvalidArgs();
        CmLog.Info($">>> Adding node {ip}:{I(port)} to cluster {refIp}:{I(refPort)}\n");
        using var cluster = new CmCluster(o);
        var refNode = new CmNode(refIp, refPort);
        if (!cluster.LoadInfoFromNode(refNode)) return false;
        if (!ClusterChecker.Check(cluster, quiet: false)) return false;

        CmNode? master = null;
        if (o.ClusterCmd.Slave)
        {
            string? masterId = o.ClusterCmd.MasterId;
            if (masterId != null)
            {
                master = cluster.NodeByName(masterId);
                if (master == null)
                {
                    CmLog.Err($"[ERR] No such master ID {masterId}\n");
                    return false;
                }
            }
            else
            {
                master = CmOps.NodeWithLeastReplicas(cluster)!;
                CmLog.Print($"Automatically selected master {master.Ip}:{I(master.Port)}\n");
            }
        }

        var newNode = new CmNode(ip, port);
        bool added = false;
        try
        {
            if (!newNode.Connect(o))
            {
                CmLog.Err($"[ERR] Sorry, can't connect to node {ip}:{I(port)}\n");
                return false;
            }
            if (!CmCluster.IsClusterNode(newNode, out string? err))
            {
                CmCluster.PrintNotClusterNodeError(newNode, err);
                return false;
            }
            if (!newNode.LoadInfo(getFriends: false, out err))
            {
                if (err != null) CmOps.PrintReplyError(newNode, err);
                return false;
            }
            if (!CmOps.IsEmpty(newNode, out err))
            {
                CmOps.PrintNotEmptyNodeError(newNode, err);
                return false;
            }
            var first = cluster.Nodes[0];
            cluster.Nodes.Add(newNode);
            added = true;

            if (master == null)
            {
                // A new master gets the cluster's functions (a replica gets them from its master).
                CmLog.Info(">>> Getting functions from cluster\n");
                var dump = refNode.Command("FUNCTION", "DUMP");
                if (!refNode.CheckReply(dump, out err))
                {
                    CmLog.Info($">>> Failed retrieving Functions from the cluster, skip this step as Redis version do not support function command (error = '{err ?? "NULL reply"}')\n");
                }
                else
                {
                    CmLog.Info($">>> Send FUNCTION LIST to {ip}:{I(port)} to verify there is no functions in it\n");
                    var list = newNode.Command("FUNCTION", "LIST");
                    if (!newNode.CheckReply(list, out err))
                    {
                        CmLog.Err($">>> Failed on CLUSTER LIST (error = '{err ?? "NULL reply"}')\r\n");
                        return false;
                    }
                    if (list!.Elements.Count > 0)
                    {
                        CmLog.Err(">>> New node already contains functions and can not be added to the cluster. Use FUNCTION FLUSH and try again.\r\n");
                        return false;
                    }
                    CmLog.Info($">>> Send FUNCTION RESTORE to {ip}:{I(port)}\n");
                    var restore = newNode.Command([Encoding.ASCII.GetBytes("FUNCTION"), Encoding.ASCII.GetBytes("RESTORE"), dump!.Str]);
                    if (!newNode.CheckReply(restore, out err))
                    {
                        CmLog.Err($">>> Failed loading functions to the new node (error = '{err ?? "NULL reply"}')\r\n");
                        return false;
                    }
                }
            }

            CmLog.Info($">>> Send CLUSTER MEET to node {ip}:{I(port)} to make it join the cluster.\n");
            string? firstIp = CmOps.Resolve(first.Ip);
            if (firstIp == null)
            {
                StdIo.Err.WriteLine("Invalid IP address or hostname specified: " + first.Ip);
                return false;
            }
            var meet = CmOps.Meet(newNode, firstIp, first);
            if (!newNode.CheckReply(meet, out _, print: true)) return false;

            if (master != null)
            {
                Thread.Sleep(1000);
                CmOps.WaitForClusterJoin(cluster);
                CmLog.Info($">>> Configure node as replica of {master.Ip}:{I(master.Port)}.\n");
                var rep = newNode.Command("CLUSTER", "REPLICATE", master.Name ?? "");
                if (!newNode.CheckReply(rep, out _, print: true)) return false;
            }
            CmLog.Ok("[OK] New node added correctly.\n");
            return true;
        }
        finally
        {
            if (!added) newNode.Dispose();
        }
    }

    public static bool DelNode(CliOptions o)
    {
        var args = o.ClusterCmd.Args;
        if (!CmCluster.ParseHostArgs(args, 1, out string ip, out int port)) return InvalidArgs();
        string nodeId = args[1];
        CmLog.Info($">>> Removing node {nodeId} from cluster {ip}:{I(port)}\n");
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        var node = cluster.NodeByName(nodeId);
        if (node == null)
        {
            CmLog.Err($"[ERR] No such node ID {nodeId}\n");
            return false;
        }
        if (node.SlotsCount != 0)
        {
            CmLog.Err($"[ERR] Node {node.Ip}:{I(node.Port)} is not empty! Reshard data away and try again.\n");
            return false;
        }
        CmLog.Info(">>> Sending CLUSTER FORGET messages to the cluster...\n");
        foreach (var n in cluster.Nodes)
        {
            if (ReferenceEquals(n, node)) continue;
            if (n.Replicate != null && string.Equals(n.Replicate, nodeId, StringComparison.OrdinalIgnoreCase))
            {
                // Its replicas follow the master with the fewest replicas.
                var master = CmOps.NodeWithLeastReplicas(cluster)!;
                CmLog.Info($">>> {n.Ip}:{I(n.Port)} as replica of {master.Ip}:{I(master.Port)}\n");
                if (!n.CheckReply(n.Command("CLUSTER", "REPLICATE", master.Name ?? ""), out _, print: true)) return false;
            }
            if (!n.CheckReply(n.Command("CLUSTER", "FORGET", nodeId), out _, print: true)) return false;
        }
        CmLog.Info(">>> Sending CLUSTER RESET SOFT to the deleted node.\n");
        return node.CheckReply(node.Command("CLUSTER", "RESET", "SOFT"), out _, print: true);
    }

    public static bool Call(CliOptions o)
    {
        var args = o.ClusterCmd.Args;
        if (!CmCluster.ParseHostArgs(args, 1, out string ip, out int port)) return InvalidArgs();
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        var argv = args.Skip(1).ToList();
        CmLog.Info(">>> Calling");
        var sb = new StringBuilder();
        foreach (var a in argv) sb.Append(' ').Append(a);
        sb.Append('\n');
        CmLog.Print(sb.ToString());
        var bytes = argv.Select(Encoding.UTF8.GetBytes).ToList();
        foreach (var n in cluster.Nodes)
        {
            if (o.ClusterCmd.OnlyMasters && n.Replicate != null) continue;
            if (o.ClusterCmd.OnlyReplicas && n.Replicate == null) continue;
            if (n.Conn == null && !n.Connect(o)) continue;
            var r = n.Command(bytes);
            var line = new MemoryStream();
            line.Write(Encoding.UTF8.GetBytes($"{n.Ip}:{I(n.Port)}: "));
            if (r == null)
            {
                CmLog.Print($"{n.Ip}:{I(n.Port)}: Failed!\n");
                continue;
            }
            line.Write(ReplyFormatter.Raw(r, o.MbDelim, ""));
            line.WriteByte((byte)'\n');
            StdIo.Out.Write(line.ToArray());
        }
        return true;
    }

    public static bool SetTimeout(CliOptions o)
    {
        var args = o.ClusterCmd.Args;
        if (!CmCluster.ParseHostArgs(args, 1, out string ip, out int port)) return InvalidArgs();
        int timeout = (int)CmNode.AtoL(args[1].TrimStart());
        if (timeout < 100)
        {
            StdIo.Err.WriteLine("Setting a node timeout of less than 100 milliseconds is a bad idea.");
            return false;
        }
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        int okCount = 0, errCount = 0;
        CmLog.Info(">>> Reconfiguring node timeout in every cluster node...\n");
        foreach (var n in cluster.Nodes)
        {
            string? err = null;
            bool ok = n.CheckReply(n.Command("CONFIG", "SET", "cluster-node-timeout", I(timeout)), out err)
                && n.CheckReply(n.Command("CONFIG", "REWRITE"), out err);
            if (ok)
            {
                CmLog.Warn($"*** New timeout set for {n.Ip}:{I(n.Port)}\n");
                okCount++;
            }
            else
            {
                CmLog.Err($"ERR setting node-timeout for {n.Ip}:{I(n.Port)}: {err ?? ""}\n");
                errCount++;
            }
        }
        CmLog.Info($">>> New node timeout set. {I(okCount)} OK, {I(errCount)} ERR.\n");
        return true;
    }

    public static bool Backup(CliOptions o)
    {
        var args = o.ClusterCmd.Args;
        if (!CmCluster.ParseHostArgs(args, 1, out string ip, out int port)) return InvalidArgs();
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        bool noIssues = ClusterChecker.Check(cluster, quiet: false);
        int errorCount = noIssues ? 0 : cluster.Errors.Count;
        string dir = args[1];
        string prefix = dir.Length > 0 && dir[^1] == '/' ? dir : dir + "/";
        var json = new StringBuilder("[\n");
        bool firstNode = true;
        foreach (var node in cluster.Nodes)
        {
            if (!firstNode) json.Append(",\n");
            firstNode = false;
            json.Append(NodeJson(node, errorCount));
            if (node.Replicate != null) continue;
            CmLog.Info($">>> Node {node.Ip}:{I(node.Port)} -> Saving RDB...\n");
            string file = $"{prefix}redis-node-{node.Ip}-{I(node.Port)}-{node.Name}.rdb";
            GetRdb(node, o, file);
            // redis-cli closes the replication connection once the payload is written.
            node.Dispose();
        }
        json.Append("\n]");
        string jsonPath = prefix + "nodes.json";
        CmLog.Info($"Saving cluster configuration to: {jsonPath}\n");
        bool success = true;
        try
        {
            File.WriteAllText(jsonPath, json.ToString());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            CmLog.Err($"Could not save nodes to: {jsonPath}\n");
            success = false;
        }
        if (success)
        {
            if (!noIssues) CmLog.Warn("*** Cluster seems to have some problems, please be aware of it if you're going to restore this backup.\n");
            CmLog.Ok($"[OK] Backup created into: {dir}\n");
        }
        else
        {
            CmLog.Ok("[ERR] Failed to back cluster!\n");
        }
        return success;
    }

    private static void Fatal(string msg)
    {
        StdIo.Err.WriteLine(msg);
        throw new ClusterManagerExitException(1);
    }

    /// <summary>getRDB for a backup: a bare SYNC on the node's own connection (no REPLCONF, unlike
    /// --rdb), the payload written to the file; any failure is fatal.</summary>
    private static void GetRdb(CmNode node, CliOptions o, string filename)
    {
        if (node.Conn == null && !node.Connect(o)) Fatal("Error writing to master");
        if (!Cinnabar.Cli.Modes.RdbFetcher.Transfer(node.Conn!, filename, out string? err)) Fatal(err ?? "Error writing to master");
    }

    /// <summary>clusterManagerNodeGetJSON: the node's entry in nodes.json.</summary>
    private static string NodeJson(CmNode node, int errorCount)
    {
        string replicate = node.Replicate != null ? $"\"{node.Replicate}\"" : "null";
        string slots = CmOps.SlotsString(node.SlotMap).Replace('-', ',');
        var sb = new StringBuilder();
        sb.Append("  {\n");
        sb.Append($"    \"name\": \"{node.Name}\",\n");
        sb.Append($"    \"host\": \"{node.Ip}\",\n");
        sb.Append($"    \"port\": {I(node.Port)},\n");
        sb.Append($"    \"replicate\": {replicate},\n");
        sb.Append($"    \"slots\": [{slots}],\n");
        sb.Append($"    \"slots_count\": {I(node.SlotsCount)},\n");
        sb.Append($"    \"flags\": \"{CmOps.FlagString(node)}\",\n");
        sb.Append($"    \"current_epoch\": {((ulong)node.CurrentEpoch).ToString(CultureInfo.InvariantCulture)}");
        if (errorCount > 0) sb.Append($",\n    \"cluster_errors\": {I(errorCount)}");
        if (node.Migrating.Count > 0)
            sb.Append(",\n    \"migrating\": {").Append(string.Join(",", node.Migrating.Select(m => $"\"{m.Slot}\": \"{m.Node}\""))).Append('}');
        if (node.Importing.Count > 0)
            sb.Append(",\n    \"importing\": {").Append(string.Join(",", node.Importing.Select(m => $"\"{m.Slot}\": \"{m.Node}\""))).Append('}');
        sb.Append("\n  }");
        return sb.ToString();
    }
}
