using System.Globalization;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster create host1:port1 ... hostN:portN [--cluster-replicas N]`.</summary>
public static class CreateVerb
{
    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static bool Run(CliOptions o)
    {
        using var cluster = new CmCluster(o);
        foreach (string addr in o.ClusterCmd.Args)
        {
            if (!ParseNodeAddress(addr, out string ip, out int port))
            {
                StdIo.Err.WriteLine("Invalid address format: " + addr);
                return false;
            }
            var node = new CmNode(ip, port);
            if (!node.Connect(o))
            {
                node.Dispose();
                return false;
            }
            if (!CmCluster.IsClusterNode(node, out string? err))
            {
                CmCluster.PrintNotClusterNodeError(node, err);
                node.Dispose();
                return false;
            }
            if (!node.LoadInfo(getFriends: false, out err))
            {
                if (err != null) CmOps.PrintReplyError(node, err);
                node.Dispose();
                return false;
            }
            if (!CmOps.IsEmpty(node, out err))
            {
                CmOps.PrintNotEmptyNodeError(node, err);
                node.Dispose();
                return false;
            }
            cluster.Nodes.Add(node);
        }

        int nodeLen = cluster.Nodes.Count;
        int replicas = o.ClusterCmd.Replicas;
        int mastersCount = nodeLen / (replicas + 1);
        if (mastersCount < 3)
        {
            CmLog.Err($"*** ERROR: Invalid configuration for cluster creation.\n*** Redis Cluster requires at least 3 master nodes.\n*** This is not possible with {I(nodeLen)} nodes and {I(replicas)} replicas per node.");
            CmLog.Err($"\n*** At least {I(3 * (replicas + 1))} nodes are required.\n");
            return false;
        }
        CmLog.Info($">>> Performing hash slots allocation on {I(nodeLen)} nodes...\n");

        // Group the nodes by IP, then interleave the groups so masters spread over hosts.
        var ips = new List<string>();
        var ipNodes = new List<List<CmNode>>();
        foreach (var n in cluster.Nodes)
        {
            int i = ips.IndexOf(n.Ip);
            if (i < 0)
            {
                ips.Add(n.Ip);
                ipNodes.Add([]);
                i = ips.Count - 1;
            }
            ipNodes[i].Add(n);
        }
        var interleaved = new List<CmNode>();
        var cursors = new int[ips.Count];
        while (interleaved.Count < nodeLen)
        {
            for (int i = 0; i < ips.Count; i++)
            {
                if (cursors[i] < ipNodes[i].Count) interleaved.Add(ipNodes[i][cursors[i]++]);
            }
        }

        var masters = interleaved.Take(mastersCount).ToList();
        var rest = interleaved.Skip(mastersCount).ToArray();
        float slotsPerNode = CmNode.Slots / (float)mastersCount;
        long first = 0;
        float cursor = 0.0f;
        for (int i = 0; i < mastersCount; i++)
        {
            var master = masters[i];
            float f = cursor + slotsPerNode - 1;
            long last = (long)Math.Round((double)f, MidpointRounding.AwayFromZero);
            if (last > CmNode.Slots || i == mastersCount - 1) last = CmNode.Slots - 1;
            if (last < first) last = first;
            CmLog.Print($"Master[{I(i)}] -> Slots {I(first)} - {I(last)}\n");
            master.SlotsCount = 0;
            for (long j = first; j <= last; j++)
            {
                master.SlotMap[j] = true;
                master.SlotsCount++;
            }
            master.Dirty = true;
            first = last + 1;
            cursor += slotsPerNode;
        }

        // Rotating the candidate replicas sometimes gives a better start for anti-affinity.
        CmNode?[] pool = rest;
        int poolStart = 0, poolLen = pool.Length;
        if (poolLen > 0)
        {
            var head = pool[0];
            for (int i = 0; i < poolLen - 1; i++) pool[i] = pool[i + 1];
            pool[poolLen - 1] = head;
        }
        bool assignUnused = false;
        int available = poolLen;
        while (true)
        {
            foreach (var master in masters)
            {
                int assigned = 0;
                while (assigned < replicas)
                {
                    if (available == 0) break;
                    CmNode? found = null, slave = null;
                    int firstNodeIdx = -1;
                    for (int j = 0; j < poolLen; j++)
                    {
                        var n = pool[poolStart + j];
                        if (n == null) continue;
                        if (n.Ip != master.Ip)
                        {
                            found = n;
                            pool[poolStart + j] = null;
                            break;
                        }
                        if (firstNodeIdx < 0) firstNodeIdx = j;
                    }
                    if (found != null)
                    {
                        slave = found;
                    }
                    else if (firstNodeIdx >= 0)
                    {
                        slave = pool[poolStart + firstNodeIdx];
                        poolLen -= firstNodeIdx + 1;
                        poolStart += firstNodeIdx + 1;
                    }
                    if (slave == null) break;
                    assigned++;
                    available--;
                    slave.Replicate = master.Name;
                    slave.Dirty = true;
                    CmLog.Print($"Adding replica {slave.Ip}:{I(slave.Port)} to {master.Ip}:{I(master.Port)}\n");
                    if (assignUnused) break;
                }
            }
            if (!assignUnused && available > 0)
            {
                assignUnused = true;
                CmLog.Print("Adding extra replicas...\n");
                continue;
            }
            break;
        }

        OptimizeAntiAffinity(cluster, ipNodes);
        CmOps.ShowNodes(cluster);
        if (!CmOps.ConfirmWithYes(cluster, "Can I set the above configuration?", false)) return true;

        foreach (var node in cluster.Nodes)
        {
            bool flushed = CmOps.FlushNodeConfig(node, out string? err);
            if (!flushed && node.Dirty && node.Replicate == null)
            {
                if (err != null) CmOps.PrintReplyError(node, err);
                return false;
            }
        }
        CmLog.Info(">>> Nodes configuration updated\n");
        CmLog.Info(">>> Assign a different config epoch to each node\n");
        int configEpoch = 1;
        foreach (var node in cluster.Nodes) node.Command("CLUSTER", "SET-CONFIG-EPOCH", I(configEpoch++));

        CmLog.Info(">>> Sending CLUSTER MEET messages to join the cluster\n");
        CmNode? firstNode = null;
        string? firstIp = null;
        foreach (var node in cluster.Nodes)
        {
            if (firstNode == null)
            {
                firstNode = node;
                firstIp = CmOps.Resolve(node.Ip);
                if (firstIp == null)
                {
                    StdIo.Err.WriteLine("Invalid IP address or hostname specified: " + node.Ip);
                    return false;
                }
                continue;
            }
            var r = CmOps.Meet(node, firstIp!, firstNode);
            bool isErr;
            if (r != null)
            {
                isErr = r.Type == Cinnabar.Protocol.RespType.Error;
                if (isErr) CmOps.PrintReplyError(node, r.Text);
            }
            else
            {
                isErr = true;
                StdIo.Err.WriteLine("Failed to send CLUSTER MEET command.");
            }
            if (isErr) return false;
        }
        // Give the join a second to start, so empty nodes do not look like they agree already.
        Thread.Sleep(1000);
        CmOps.WaitForClusterJoin(cluster);

        // The replicas can replicate now that they know their masters.
        foreach (var node in cluster.Nodes)
        {
            if (!node.Dirty) continue;
            bool flushed = CmOps.FlushNodeConfig(node, out string? err);
            if (!flushed && node.Replicate == null)
            {
                if (err != null) CmOps.PrintReplyError(node, err);
                return false;
            }
        }

        // Reload everything from the first node and check.
        var entry = cluster.Nodes[0];
        foreach (var n in cluster.Nodes.Skip(1)) n.Dispose();
        cluster.Nodes.Clear();
        if (!cluster.LoadInfoFromNode(entry)) return false;
        ClusterChecker.Check(cluster, quiet: false);
        return true;
    }

    /// <summary>parseClusterNodeAddress: ip:port[@bus].</summary>
    private static bool ParseNodeAddress(string addr, out string ip, out int port)
    {
        ip = "";
        port = 0;
        int at = addr.LastIndexOf('@');
        if (at >= 0) addr = addr[..at];
        int colon = addr.LastIndexOf(':');
        if (colon < 0) return false;
        ip = addr[..colon];
        port = (int)CmNode.AtoL(addr[(colon + 1)..]);
        return true;
    }

    /// <summary>
    /// clusterManagerGetAntiAffinityScore: 10000 for every replica on its master's host, 1 for
    /// every replica sharing a host with another replica of the same master.
    /// </summary>
    private static int AntiAffinityScore(CmCluster cluster, List<List<CmNode>> ipNodes, List<CmNode>? offending)
    {
        int score = 0;
        foreach (var group in ipNodes)
        {
            if (group.Count == 0) continue;
            string ip = group[0].Ip;
            // Grouped by master id, visited in the order of redis-cli's dict (it decides which
            // offender the optimizer may pick).
            var related = new Dictionary<string, string>();
            var order = new CmDict();
            foreach (var node in group)
            {
                string key = node.Replicate ?? node.Name ?? "";
                order.Contains(key); // dictFind, then dictReplace: both step a rehash
                order.Add(key);
                string types = related.GetValueOrDefault(key, "");
                related[key] = node.Replicate != null ? types + "s" : "m" + types;
            }
            foreach (var name in order.Keys())
            {
                string types = related[name];
                if (types.Length < 2) continue;
                score += types[0] == 'm' ? 10000 * (types.Length - 1) : types.Length;
                if (offending == null) continue;
                var off = cluster.Nodes.FirstOrDefault(n => n.Replicate != null && n.Replicate == name && n.Ip == ip);
                if (off != null) offending.Add(off);
            }
        }
        return score;
    }

    private static void OptimizeAntiAffinity(CmCluster cluster, List<List<CmNode>> ipNodes)
    {
        int score = AntiAffinityScore(cluster, ipNodes, null);
        if (score == 0) return;
        CmLog.Info(">>> Trying to optimize slaves allocation for anti-affinity\n");
        int maxIter = 500 * cluster.Nodes.Count;
        var rnd = GlibcRand.FromClock();
        while (maxIter > 0)
        {
            var offenders = new List<CmNode>();
            score = AntiAffinityScore(cluster, ipNodes, offenders);
            if (score == 0 || offenders.Count == 0) break;
            var firstNode = offenders[rnd.Next() % offenders.Count];
            var others = cluster.Nodes.Where(n => !ReferenceEquals(n, firstNode) && n.Replicate != null).ToList();
            if (others.Count == 0) break;
            var second = others[rnd.Next() % others.Count];
            string? firstMaster = firstNode.Replicate, secondMaster = second.Replicate;
            firstNode.Replicate = secondMaster;
            firstNode.Dirty = true;
            second.Replicate = firstMaster;
            second.Dirty = true;
            int newScore = AntiAffinityScore(cluster, ipNodes, null);
            if (newScore > score)
            {
                firstNode.Replicate = firstMaster;
                second.Replicate = secondMaster;
            }
            maxIter--;
        }
        score = AntiAffinityScore(cluster, ipNodes, null);
        if (score == 0) CmLog.Ok("[OK] Perfect anti-affinity obtained!\n");
        else if (score >= 10000) CmLog.Warn("[WARNING] Some slaves are in the same host as their master\n");
        else CmLog.Warn("[WARNING] Some slaves of the same master are in the same host\n");
    }
}
