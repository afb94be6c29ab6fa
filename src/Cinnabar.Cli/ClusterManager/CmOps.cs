using System.Globalization;
using System.Net;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>Thrown where redis-cli calls exit() in the middle of a cluster-manager verb.</summary>
public sealed class ClusterManagerExitException(int code) : Exception("cluster manager exit " + code)
{
    public int Code { get; } = code;
}

/// <summary>
/// The node-level operations of the cluster manager (SETSLOT, ADDSLOTS, MULTI/EXEC ownership
/// changes, key counts) and the shared views (node info lines, cluster info, config signature,
/// waiting for the join), with redis-cli 7.0's messages.
/// </summary>
public static class CmOps
{
    public const string InvalidHostArg = "[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)";

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static void PrintReplyError(CmNode n, string err) => CmLog.Err($"Node {n.Ip}:{n.Port} replied with error:\n{err}\n");

    /// <summary>confirmWithYes: --cluster-yes answers unless ignoreForce; otherwise one read of up to 4 bytes must start with "yes".</summary>
    public static bool ConfirmWithYes(CmCluster cluster, string msg, bool ignoreForce)
    {
        if (!ignoreForce && cluster.Cmd.Yes) return true;
        CmLog.Print(msg + " (type 'yes' to accept): ");
        var buf = new byte[4];
        int n;
        try
        {
            n = StdIo.In.Read(buf, 0, 4);
        }
        catch (IOException)
        {
            return false;
        }
        return n >= 3 && buf[0] == 'y' && buf[1] == 'e' && buf[2] == 's';
    }

    public static bool SetSlot(CmNode node1, CmNode node2, int slot, string status, out string? err, bool print = false)
    {
        err = null;
        var r = node1.Command("CLUSTER", "SETSLOT", I(slot), status, node2.Name ?? "");
        if (r == null)
        {
            err = "CLUSTER SETSLOT failed to run";
            return false;
        }
        if (r.Type == RespType.Error)
        {
            err = r.Text;
            if (print) PrintReplyError(node1, err);
            return false;
        }
        return true;
    }

    /// <summary>clusterManagerSetSlot with no error out-parameter: errors are printed.</summary>
    public static bool SetSlot(CmNode node1, CmNode node2, int slot, string status) => SetSlot(node1, node2, slot, status, out _, print: true);

    public static bool ClearSlotStatus(CmNode node, int slot) =>
        node.CheckReply(node.Command("CLUSTER", "SETSLOT", I(slot), "STABLE"), out _, print: true);

    public static bool DelSlot(CmCluster cluster, CmNode node, int slot, bool ignoreUnassignedErr)
    {
        var r = node.Command("CLUSTER", "DELSLOTS", I(slot));
        bool ok = node.CheckReply(r, out string? err);
        if (!ok && r is { Type: RespType.Error } && ignoreUnassignedErr)
        {
            var owner = GetSlotOwner(cluster, node, slot, out string? ownerErr);
            if (owner == null)
            {
                if (ownerErr == null) ok = true;
                else PrintReplyError(node, ownerErr);
            }
        }
        if (!ok && err != null) PrintReplyError(node, err);
        return ok;
    }

    public static bool AddSlot(CmNode node, int slot) =>
        node.CheckReply(node.Command("CLUSTER", "ADDSLOTS", I(slot)), out _, print: true);

    public static int CountKeysInSlot(CmNode node, int slot)
    {
        var r = node.Command("CLUSTER", "COUNTKEYSINSLOT", I(slot));
        if (node.CheckReply(r, out _, print: true) && r!.Type == RespType.Integer) return (int)r.Integer;
        return -1;
    }

    public static bool BumpEpoch(CmNode node) => node.CheckReply(node.Command("CLUSTER", "BUMPEPOCH"), out _, print: true);

    /// <summary>clusterManagerGetSlotOwner: the owner of the slot per the node's CLUSTER SLOTS, or null (err set on an error reply).</summary>
    public static CmNode? GetSlotOwner(CmCluster cluster, CmNode n, int slot, out string? err)
    {
        var r = n.Command("CLUSTER", "SLOTS");
        if (!n.CheckReply(r, out err) || r == null) return null;
        foreach (var range in r.Elements)
        {
            if (range.Elements.Count < 3) continue;
            long from = range.Elements[0].Integer, to = range.Elements[1].Integer;
            if (slot < from || slot > to) continue;
            var nr = range.Elements[2];
            CmNode? owner = null;
            if (nr.Elements.Count >= 3) owner = cluster.NodeByName(nr.Elements[2].Text);
            else if (nr.Elements.Count >= 2)
            {
                string ip = nr.Elements[0].Text;
                int port = (int)nr.Elements[1].Integer;
                owner = cluster.Nodes.FirstOrDefault(x => x.Ip == ip && x.Port == port);
            }
            if (owner != null) return owner;
        }
        return null;
    }

    /// <summary>MULTI, then EXEC checking every queued reply (onError says which errors to ignore).</summary>
    public static bool StartTransaction(CmNode node) => node.CheckReply(node.Command("MULTI"), out _, print: true);

    public static bool ExecTransaction(CmNode node, Func<RespReply, int, bool>? onError)
    {
        var r = node.Command("EXEC");
        if (!node.CheckReply(r, out _, print: true)) return false;
        if (r!.Type != RespType.Array) return false;
        for (int i = 0; i < r.Elements.Count; i++)
        {
            var e = r.Elements[i];
            bool ok = node.CheckReply(e, out string? err);
            if (!ok && onError != null) ok = onError(e, i);
            if (err != null && !ok) PrintReplyError(node, err);
            if (!ok) return false;
        }
        return true;
    }

    /// <summary>clusterManagerSetSlotOwner: in one transaction DELSLOTS, ADDSLOTS, (SETSLOT STABLE), BUMPEPOCH; only an ADDSLOTS error counts.</summary>
    public static bool SetSlotOwner(CmCluster cluster, CmNode owner, int slot, bool doClear)
    {
        if (!StartTransaction(owner)) return false;
        DelSlot(cluster, owner, slot, true);
        AddSlot(owner, slot);
        if (doClear) ClearSlotStatus(owner, slot);
        BumpEpoch(owner);
        return ExecTransaction(owner, (_, idx) => idx != 1);
    }

    /// <summary>The master with the fewest replicas (the first of equals).</summary>
    public static CmNode? NodeWithLeastReplicas(CmCluster cluster)
    {
        CmNode? node = null;
        int lowest = 0;
        foreach (var n in cluster.Nodes)
        {
            if (n.IsSlave) continue;
            if (node == null || n.ReplicasCount < lowest)
            {
                node = n;
                lowest = n.ReplicasCount;
            }
        }
        return node;
    }

    public static CmNode NodeMasterRandom(CmCluster cluster)
    {
        // redis-cli reseeds with time(NULL) on every call: one second, one node.
        var masters = cluster.Nodes.Where(n => !n.IsSlave).ToList();
        return masters[GlibcRand.FromClock().Next() % masters.Count];
    }

    /// <summary>clusterManagerGetNodeWithMostKeysInSlot over the masters in nodes; null on an error reply.</summary>
    public static CmNode? GetNodeWithMostKeysInSlot(IEnumerable<CmNode> nodes, int slot)
    {
        CmNode? node = null;
        long numkeys = 0;
        foreach (var n in nodes)
        {
            if (n.IsSlave || n.Replicate != null) continue;
            var r = n.Command("CLUSTER", "COUNTKEYSINSLOT", I(slot));
            bool ok = n.CheckReply(r, out _, print: true);
            if (ok)
            {
                if (r!.Integer > numkeys || node == null)
                {
                    numkeys = r.Integer;
                    node = n;
                }
            }
            else return null;
        }
        return node;
    }

    public static bool IsEmpty(CmNode node, out string? err)
    {
        string? info = CmCluster.NodeInfo(node, out err);
        if (info == null) return false;
        if (info.Contains("db0:", StringComparison.Ordinal)) return false;
        var r = node.Command("CLUSTER", "INFO");
        err = null;
        if (!node.CheckReply(r, out err)) return false;
        return CmNode.InfoField(r!.Text, "cluster_known_nodes") == 1;
    }

    public static void PrintNotEmptyNodeError(CmNode node, string? err) =>
        CmLog.Err($"[ERR] Node {node.Ip}:{node.Port} {err ?? "is not empty. Either the node already knows other nodes (check with CLUSTER NODES) or contains some key in database 0."}\n");

    // ---- Node views -------------------------------------------------------------------------

    public static string FlagString(CmNode node) => string.Join(",", node.FlagsStr.Where(f => f != "myself"));

    /// <summary>clusterManagerNodeSlotsString: "[0-5460],[5462]".</summary>
    public static string SlotsString(bool[] slots)
    {
        var sb = new StringBuilder();
        int first = -1, last = -1;
        for (int i = 0; i < CmNode.Slots; i++)
        {
            if (slots[i])
            {
                if (first == -1)
                {
                    if (sb.Length > 0) sb.Append(',');
                    first = i;
                    sb.Append('[').Append(I(i));
                }
                last = i;
            }
            else
            {
                if (last >= 0) sb.Append(first == last ? "]" : "-" + I(last) + "]");
                last = -1;
                first = -1;
            }
        }
        if (last >= 0) sb.Append(first == last ? "]" : "-" + I(last) + "]");
        return sb.ToString();
    }

    /// <summary>clusterManagerNodeInfo: "M: id ip:port\n   slots:... (N slots) flags" and the replica lines.</summary>
    public static string NodeInfo(CmNode node, int indent)
    {
        string spaces = new(' ', indent);
        var sb = new StringBuilder(spaces);
        string role = node.IsSlave ? "S" : "M";
        if (node.Dirty && node.Replicate != null)
        {
            sb.Append($"S: {node.Name} {node.Ip}:{I(node.Port)}");
        }
        else
        {
            sb.Append($"{role}: {node.Name} {node.Ip}:{I(node.Port)}\n{spaces}   slots:{SlotsString(node.SlotMap)} ({I(node.SlotsCount)} slots) {FlagString(node)}");
        }
        if (node.Replicate != null) sb.Append($"\n{spaces}   replicates {node.Replicate}");
        else if (node.ReplicasCount != 0) sb.Append($"\n{spaces}   {I(node.ReplicasCount)} additional replica(s)");
        return sb.ToString();
    }

    public static void ShowNodes(CmCluster cluster)
    {
        foreach (var n in cluster.Nodes) CmLog.Print(NodeInfo(n, 0) + "\n");
    }

    /// <summary>clusterManagerShowClusterInfo: one line per master with DBSIZE, then totals.</summary>
    public static void ShowClusterInfo(CmCluster cluster)
    {
        int masters = 0, keys = 0;
        foreach (var node in cluster.Nodes)
        {
            if (node.IsSlave || node.Name == null) continue;
            int replicas = cluster.Nodes.Count(n => !ReferenceEquals(n, node) && n.IsSlave && n.Replicate == node.Name);
            var r = node.Command("DBSIZE");
            long dbsize = r is { Type: RespType.Integer } ? (int)r.Integer : -1;
            if (dbsize < 0)
            {
                PrintReplyError(node, r is { Type: RespType.Error } ? r.Text : "");
                return;
            }
            string name = node.Name.Length > 8 ? node.Name[..8] : node.Name;
            CmLog.Print($"{node.Ip}:{I(node.Port)} ({name}...) -> {I(dbsize)} keys | {I(node.SlotsCount)} slots | {I(replicas)} slaves.\n");
            masters++;
            keys += (int)dbsize;
        }
        CmLog.Ok($"[OK] {I(keys)} keys in {I(masters)} masters.\n");
        float perSlot = keys / (float)CmNode.Slots;
        CmLog.Print(FormatFixed2(perSlot) + " keys per slot on average.\n");
    }

    /// <summary>printf("%.2f") of a float: the exact binary value rounded half-to-even.</summary>
    public static string FormatFixed2(double v)
    {
        bool neg = v < 0;
        if (neg) v = -v;
        long bits = BitConverter.DoubleToInt64Bits(v);
        int exp = (int)((bits >> 52) & 0x7FF);
        long mant = bits & 0xFFFFFFFFFFFFFL;
        if (exp == 0) exp++;
        else mant |= 1L << 52;
        exp -= 1075;
        // value = mant * 2^exp; scaled = value * 100
        System.Numerics.BigInteger num = mant * (System.Numerics.BigInteger)100, den = 1;
        if (exp >= 0) num <<= exp;
        else den <<= -exp;
        var q = System.Numerics.BigInteger.DivRem(num, den, out var rem);
        var twice = rem * 2;
        if (twice > den || (twice == den && !q.IsEven)) q += 1;
        string digits = q.ToString(CultureInfo.InvariantCulture).PadLeft(3, '0');
        string s = digits[..^2] + "." + digits[^2..];
        return (neg && q != 0 ? "-" : "") + s;
    }

    // ---- Config consistency and the join ----------------------------------------------------

    /// <summary>clusterManagerGetConfigSignature: "id:slots,..|id:slots" of the nodes with slots, sorted; null on error.</summary>
    public static string? ConfigSignature(CmNode node)
    {
        var r = node.Command("CLUSTER", "NODES");
        if (r == null || r.Type == RespType.Error) return null;
        var configs = new List<string>();
        string text = r.Text;
        int pos = 0;
        while (true)
        {
            int nl = text.IndexOf('\n', pos);
            if (nl < 0) break;
            string line = text[pos..nl];
            pos = nl + 1;
            // The first 8 space-terminated fields, then the slot tokens.
            int i = 0, p = 0;
            string? name = null;
            while (i < 8)
            {
                int sp = line.IndexOf(' ', p);
                if (sp < 0) break;
                if (i == 0) name = line[p..sp];
                p = sp + 1;
                i++;
            }
            if (i != 8 || name == null) continue;
            string rest = line[p..];
            if (rest.Length == 0) continue;
            var slots = rest.Split(' ').Where(t => t.Length == 0 || t[0] != '[').ToList();
            if (slots.Count == 0) continue;
            slots.Sort(string.CompareOrdinal);
            configs.Add(name + ":" + string.Join(",", slots));
        }
        if (configs.Count == 0) return null;
        configs.Sort(string.CompareOrdinal);
        return string.Join("|", configs);
    }

    public static bool IsConfigConsistent(CmCluster cluster)
    {
        if (cluster.Nodes.Count <= 1) return true;
        string? first = null;
        foreach (var node in cluster.Nodes)
        {
            string? cfg = ConfigSignature(node);
            if (cfg == null) return false;
            if (first == null) first = cfg;
            else if (first != cfg) return false;
        }
        return true;
    }

    /// <summary>For every node's CLUSTER NODES: the peers it sees disconnected or in handshake, keyed by their address.</summary>
    public static List<(string Addr, List<string> From)> LinkStatus(CmCluster cluster)
    {
        var status = new List<(string Addr, List<string> From)>();
        var order = new CmDict();
        foreach (var node in cluster.Nodes)
        {
            var r = node.Command("CLUSTER", "NODES");
            if (!node.CheckReply(r, out _, print: true)) continue;
            foreach (var line in r!.Text.Split('\n'))
            {
                if (line.Length == 0) continue;
                var tok = line.Split(' ');
                if (tok.Length < 8) continue;
                string addr = tok[1], flags = tok[2], link = tok[7];
                if (flags.Contains("myself", StringComparison.Ordinal)) continue;
                bool disconnected = flags.Contains("disconnected", StringComparison.Ordinal) || link.Contains("disconnected", StringComparison.Ordinal);
                bool handshaking = flags.Contains("handshake", StringComparison.Ordinal);
                if (!disconnected && !handshaking) continue;
                int idx = status.FindIndex(s => s.Addr == addr);
                if (!order.Contains(addr)) order.Add(addr);
                if (idx < 0)
                {
                    status.Add((addr, []));
                    idx = status.Count - 1;
                }
                status[idx].From.Add($"{node.Ip}:{I(node.Port)}");
            }
        }
        // redis-cli reports them in its dict's order.
        var keys = order.Keys();
        return [.. status.OrderBy(s => keys.IndexOf(s.Addr))];
    }

    /// <summary>clusterManagerWaitForClusterJoin: a dot a second until every node has the same slots view.</summary>
    public static void WaitForClusterJoin(CmCluster cluster)
    {
        CmLog.Print("Waiting for the cluster to join\n");
        int counter = 0, checkAfter = 20 + (int)(cluster.Nodes.Count * 0.15f);
        while (!IsConfigConsistent(cluster))
        {
            CmLog.Print(".");
            Thread.Sleep(1000);
            if (++counter > checkAfter)
            {
                var status = LinkStatus(cluster);
                if (status.Count > 0)
                {
                    CmLog.Print("\n");
                    CmLog.Err($"Warning: {I(status.Count)} node(s) may be unreachable\n");
                    foreach (var (addr, from) in status)
                    {
                        string a = addr;
                        int at = a.LastIndexOf('@');
                        int bus = at >= 0 ? (int)CmNode.AtoL(a[(at + 1)..]) : 0;
                        string ipPart = at >= 0 ? a[..at] : a;
                        int colon = ipPart.LastIndexOf(':');
                        if (colon >= 0 && bus != 0)
                            CmLog.Err($" - The port {I(bus)} of node {ipPart[..colon]} may be unreachable from:\n");
                        else
                            CmLog.Err($" - Node {addr} may be unreachable from:\n");
                        foreach (var f in from) CmLog.Err($"   {f}\n");
                        CmLog.Err("Cluster bus ports must be reachable by every node.\nRemember that cluster bus ports are different from standard instance ports.\n");
                    }
                }
                counter = 0;
            }
        }
        CmLog.Print("\n");
    }

    /// <summary>anetResolve: the IP address of a host name (itself when already an address).</summary>
    public static string? Resolve(string host)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip.ToString();
        try
        {
            var addrs = Dns.GetHostAddresses(host);
            return addrs.Length > 0 ? addrs[0].ToString() : null;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary>CLUSTER MEET from node to first (the 3-argument form when first's bus port is not port+10000).</summary>
    public static RespReply? Meet(CmNode node, string firstIp, CmNode first)
    {
        if (first.BusPort == 0 || first.BusPort == first.Port + 10000)
            return node.Command("CLUSTER", "MEET", firstIp, I(first.Port));
        return node.Command("CLUSTER", "MEET", firstIp, I(first.Port), I(first.BusPort));
    }

    /// <summary>clusterManagerFlushNodeConfig: REPLICATE for a replica, ADDSLOTS for a master; false when not dirty.</summary>
    public static bool FlushNodeConfig(CmNode node, out string? err)
    {
        err = null;
        if (!node.Dirty) return false;
        bool success = true;
        if (node.Replicate != null)
        {
            var r = node.Command("CLUSTER", "REPLICATE", node.Replicate);
            if (r == null || r.Type == RespType.Error)
            {
                if (r != null) err = r.Text;
                return false; // stays dirty: retried after the join
            }
        }
        else
        {
            bool added = AddSlots(node, out err);
            if (!added || err != null) success = false;
        }
        node.Dirty = false;
        return success;
    }

    /// <summary>clusterManagerAddSlots: one CLUSTER ADDSLOTS with every slot of the node.</summary>
    public static bool AddSlots(CmNode node, out string? err)
    {
        err = null;
        var args = new List<byte[]> { "CLUSTER"u8.ToArray(), "ADDSLOTS"u8.ToArray() };
        for (int i = 0; i < CmNode.Slots && args.Count < node.SlotsCount + 2; i++)
            if (node.SlotMap[i]) args.Add(Encoding.ASCII.GetBytes(I(i)));
        if (args.Count == 2) return false;
        var r = node.Command(args);
        return node.CheckReply(r, out err);
    }
}
