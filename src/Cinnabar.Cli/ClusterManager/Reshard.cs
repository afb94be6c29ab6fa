using System.Globalization;
using System.Text;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster reshard`.</summary>
public static class ReshardVerb
{
    internal const string InvalidHostArg =
        "[ERR] Invalid arguments: you need to pass either a valid address (ie. 120.0.0.1:7000) or space separated IP and port (ie. 120.0.0.1 7000)\n";

    /// <summary>One planned move (clusterManagerReshardTableItem).</summary>
    internal readonly record struct Move(CmNode Source, int Slot);

    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o) => Reshard(o) ? 0 : 1;

    private static bool Reshard(CliOptions o)
    {
        var cmd = o.ClusterCmd;
        if (!CmCluster.ParseHostArgs(cmd.Args, cmd.Args.Count, out string ip, out int port))
        {
            StdIo.Err.Write(InvalidHostArg);
            return false;
        }
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        if (!ClusterChecker.Check(cluster, quiet: false))
        {
            StdIo.Err.Write("*** Please fix your cluster problems before resharding\n");
            return false;
        }
        int slots = cmd.Slots;
        if (slots == 0)
        {
            while (slots <= 0 || slots > CmNode.Slots)
            {
                MoveOut.Print($"How many slots do you want to move (from 1 to {CmNode.Slots})? ");
                string? a = PromptInput.ReadAnswer(6);
                if (a == null) continue;
                slots = (int)CmNode.AtoL(a.TrimStart(' ', '\t', '\n', '\v', '\f', '\r'));
            }
        }
        string? to = cmd.To, from = cmd.From;
        while (to == null)
        {
            MoveOut.Print("What is the receiving node ID? ");
            string? a = PromptInput.ReadAnswer(255);
            if (a == null) continue;
            if (a.Length > 0) to = a;
        }
        var target = NodeForResharding(cluster, to, null, out _);
        if (target == null) return false;
        var sources = new List<CmNode>();
        bool all = false;
        if (from == null)
        {
            MoveOut.Print("Please enter all the source node IDs.\n");
            MoveOut.Print("  Type 'all' to use all the nodes as source nodes for the hash slots.\n");
            MoveOut.Print("  Type 'done' once you entered all the source nodes IDs.\n");
            while (true)
            {
                MoveOut.Print($"Source node #{sources.Count + 1}: ");
                string? a = PromptInput.ReadAnswer(255);
                if (a == null) continue;
                if (a == "done") break;
                if (a == "all")
                {
                    all = true;
                    break;
                }
                var src = NodeForResharding(cluster, a, target, out bool raise);
                if (src != null) sources.Add(src);
                else if (raise) return false;
            }
        }
        else
        {
            string rest = from;
            int comma;
            while ((comma = rest.IndexOf(',', StringComparison.Ordinal)) >= 0)
            {
                string id = rest[..comma];
                if (id == "all")
                {
                    all = true;
                    break;
                }
                var src = NodeForResharding(cluster, id, target, out bool raise);
                if (src != null) sources.Add(src);
                else if (raise) return false;
                rest = rest[(comma + 1)..];
            }
            if (!all && rest.Length > 0)
            {
                if (rest == "all") all = true;
                else
                {
                    var src = NodeForResharding(cluster, rest, target, out bool raise);
                    if (src != null) sources.Add(src);
                    else if (raise) return false;
                }
            }
        }
        if (all)
        {
            sources.Clear();
            foreach (var n in cluster.Nodes)
            {
                if (n.IsSlave || n.Replicate != null) continue;
                if (n.Name == target.Name) continue;
                sources.Add(n);
            }
        }
        if (sources.Count == 0)
        {
            StdIo.Err.Write("*** No source nodes given, operation aborted.\n");
            return false;
        }
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"\nReady to move {slots} slots.\n");
        sb.Append("  Source nodes:\n");
        foreach (var src in sources) sb.Append(NodeInfo(src, 4)).Append('\n');
        sb.Append("  Destination node:\n");
        sb.Append(NodeInfo(target, 4)).Append('\n');
        MoveOut.Print(sb.ToString());
        var table = ComputeReshardTable(sources, slots);
        sb.Clear();
        sb.Append("  Resharding plan:\n");
        foreach (var m in table) sb.Append(CultureInfo.InvariantCulture, $"    Moving slot {m.Slot} from {m.Source.Name}\n");
        MoveOut.Print(sb.ToString());
        if (!cmd.Yes)
        {
            MoveOut.Print("Do you want to proceed with the proposed reshard plan (yes/no)? ");
            var buf = new byte[4];
            int n = PromptInput.ReadRaw(buf, 4);
            if (n < 3 || buf[0] != 'y' || buf[1] != 'e' || buf[2] != 's') return false;
        }
        using var progress = MoveProgress.Begin(o, "reshard", table.Count, 0);
        if (progress.Drawing) progress.AddTotalKeys(MoveProgress.CountKeys(table));
        bool ok;
        if (cmd.Atomic && AtomicMigration.Supported(cluster))
        {
            ok = AtomicMigration.MoveTable(cluster, table, target, rebalanceStyle: false);
        }
        else
        {
            ok = true;
            foreach (var m in table)
            {
                if (!SlotMover.MoveSlot(cluster, m.Source, target, m.Slot, verbose: true, cold: false, update: false, quiet: false, collectErr: true, out string? err))
                {
                    if (err != null) MoveOut.Err($"clusterManagerMoveSlot failed: {err}\n");
                    ok = false;
                    break;
                }
            }
        }
        progress.Finish(ok);
        return ok;
    }

    /// <summary>clusterNodeForResharding: a known master by full id, not the target.</summary>
    internal static CmNode? NodeForResharding(CmCluster cluster, string id, CmNode? target, out bool raiseErr)
    {
        raiseErr = false;
        var node = cluster.NodeByName(id);
        if (node == null || node.IsSlave)
        {
            MoveOut.Err($"*** The specified node ({id}) is not known or not a master, please retry.\n");
            raiseErr = true;
            return null;
        }
        if (target != null && node.Name == target.Name)
        {
            MoveOut.Err("*** It is not possible to use the target node as source node.\n");
            return null;
        }
        return node;
    }

    /// <summary>
    /// clusterManagerComputeReshardTable: sources by slot count (descending, stable as glibc's
    /// merge-sort qsort), each giving its share of numslots (the first one rounded up, the others
    /// down) from its lowest slots, never more than numslots in all.
    /// </summary>
    internal static List<Move> ComputeReshardTable(List<CmNode> sources, int numslots)
    {
        var moved = new List<Move>();
        int totSlots = sources.Sum(n => n.SlotsCount);
        var sorted = sources.OrderByDescending(n => n.SlotsCount).ToList();
        for (int i = 0; i < sorted.Count; i++)
        {
            var node = sorted[i];
            float n = (float)numslots / totSlots * node.SlotsCount;
            n = i == 0 ? MathF.Ceiling(n) : MathF.Floor(n);
            int max = (int)n, count = 0;
            for (int j = 0; j < CmNode.Slots; j++)
            {
                if (!node.SlotMap[j]) continue;
                if (count >= max || moved.Count >= numslots) break;
                moved.Add(new Move(node, j));
                count++;
            }
        }
        return moved;
    }

    /// <summary>clusterManagerNodeInfo: "M: id ip:port\n   slots:[..] (N slots) flags" and the
    /// replica line, every line indented by indent spaces.</summary>
    internal static string NodeInfo(CmNode node, int indent)
    {
        string spaces = new(' ', indent);
        var sb = new StringBuilder(spaces);
        if (node.Dirty && node.Replicate != null) sb.Append(CultureInfo.InvariantCulture, $"S: {node.Name} {node.Ip}:{node.Port}");
        else
        {
            string role = node.IsSlave ? "S" : "M";
            sb.Append(CultureInfo.InvariantCulture, $"{role}: {node.Name} {node.Ip}:{node.Port}\n");
            sb.Append(CultureInfo.InvariantCulture, $"{spaces}   slots:{SlotsString(node)} ({node.SlotsCount} slots) {FlagString(node)}");
        }
        if (node.Replicate != null) sb.Append(CultureInfo.InvariantCulture, $"\n{spaces}   replicates {node.Replicate}");
        else if (node.ReplicasCount != 0) sb.Append(CultureInfo.InvariantCulture, $"\n{spaces}   {node.ReplicasCount} additional replica(s)");
        return sb.ToString();
    }

    private static string FlagString(CmNode node) => string.Join(',', node.FlagsStr.Where(f => f != "myself"));

    private static string SlotsString(CmNode node)
    {
        var sb = new StringBuilder();
        int first = -1, last = -1;
        for (int i = 0; i <= CmNode.Slots; i++)
        {
            bool has = i < CmNode.Slots && node.SlotMap[i];
            if (has)
            {
                if (first == -1)
                {
                    if (sb.Length > 0) sb.Append(',');
                    first = i;
                    sb.Append('[').Append(i.ToString(CultureInfo.InvariantCulture));
                }
                last = i;
            }
            else
            {
                if (last >= 0) sb.Append(first == last ? "]" : "-" + last.ToString(CultureInfo.InvariantCulture) + "]");
                first = last = -1;
            }
        }
        return sb.ToString();
    }
}
