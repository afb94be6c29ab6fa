using System.Globalization;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster rebalance`.</summary>
public static class RebalanceVerb
{
    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o) => Rebalance(o) ? 0 : 1;

    private static bool Rebalance(CliOptions o)
    {
        var cmd = o.ClusterCmd;
        if (!CmCluster.ParseHostArgs(cmd.Args, cmd.Args.Count, out string ip, out int port))
        {
            StdIo.Err.Write(ReshardVerb.InvalidHostArg);
            return false;
        }
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        foreach (string spec in cmd.Weights)
        {
            int eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq < 0)
            {
                MoveOut.Err($"*** invalid input {spec}\n");
                return false;
            }
            string name = spec[..eq];
            float w = (float)AtoF(spec[(eq + 1)..]);
            var n = cluster.NodeByAbbreviatedName(name);
            if (n == null)
            {
                MoveOut.Err($"*** No such master node {name}\n");
                return false;
            }
            n.Weight = w;
        }
        float totalWeight = 0;
        bool useEmpty = cmd.UseEmptyMasters;
        var involved = new List<CmNode>();
        foreach (var n in cluster.Nodes)
        {
            if (n.IsSlave || n.Replicate != null) continue;
            if (!useEmpty && n.SlotsCount == 0)
            {
                n.Weight = 0;
                continue;
            }
            totalWeight += n.Weight;
            involved.Add(n);
        }
        if (!ClusterChecker.Check(cluster, quiet: true))
        {
            MoveOut.Err("*** Please fix your cluster problems before rebalancing\n");
            return false;
        }
        // Each node's balance: the slots it should give (positive) or get (negative).
        bool thresholdReached = false;
        int totalBalance = 0;
        float threshold = (float)cmd.Threshold;
        foreach (var n in involved)
        {
            int expected = (int)(((float)CmNode.Slots / totalWeight) * n.Weight);
            n.Balance = n.SlotsCount - expected;
            totalBalance += n.Balance;
            bool over = false;
            if (threshold > 0)
            {
                if (n.SlotsCount > 0)
                {
                    float errPerc = (float)Math.Abs(100 - (100.0 * expected / n.SlotsCount));
                    if (errPerc > threshold) over = true;
                }
                else if (expected > 1) over = true;
            }
            if (over) thresholdReached = true;
        }
        if (!thresholdReached)
        {
            MoveOut.Warn($"*** No rebalancing needed! All nodes are within the {CFormat.Fixed((float)cmd.Threshold, 2)}% threshold.\n");
            return true;
        }
        // Rounding may leave the balances not summing to zero: make the takers take the rest.
        while (totalBalance > 0)
        {
            foreach (var n in involved)
            {
                if (n.Balance <= 0 && totalBalance > 0)
                {
                    n.Balance--;
                    totalBalance--;
                }
            }
        }
        var weighted = involved.OrderBy(n => n.Balance).ToList();
        MoveOut.Info($">>> Rebalancing across {involved.Count} nodes. Total weight = {CFormat.Fixed(totalWeight, 2)}\n");
        if (o.Verbose)
            foreach (var n in weighted) MoveOut.Print($"{n.Ip}:{n.Port} balance is {n.Balance} slots\n");
        bool simulate = cmd.Simulate;
        bool atomic = !simulate && cmd.Atomic && AtomicMigration.Supported(cluster);
        using var progress = MoveProgress.Begin(o, "rebalance", weighted.Where(n => n.Balance > 0).Sum(n => (long)n.Balance), 0);
        int dstIdx = 0, srcIdx = weighted.Count - 1;
        bool ok = true;
        while (dstIdx < srcIdx)
        {
            var dst = weighted[dstIdx];
            var src = weighted[srcIdx];
            int db = Math.Abs(dst.Balance), sb = Math.Abs(src.Balance);
            int numslots = Math.Min(db, sb);
            if (numslots > 0)
            {
                MoveOut.Print($"Moving {numslots} slots from {src.Ip}:{src.Port} to {dst.Ip}:{dst.Port}\n");
                var table = ReshardVerb.ComputeReshardTable([src], numslots);
                if (table.Count != numslots)
                {
                    MoveOut.Err("*** Assertion failed: Reshard table != number of slots");
                    ok = false;
                    break;
                }
                if (simulate) MoveOut.Print(new string('#', table.Count));
                else if (atomic)
                {
                    if (!AtomicMigration.MoveTable(cluster, table, dst, rebalanceStyle: true))
                    {
                        ok = false;
                        break;
                    }
                }
                else
                {
                    foreach (var m in table)
                    {
                        if (!SlotMover.MoveSlot(cluster, m.Source, dst, m.Slot, verbose: false, cold: false, update: true, quiet: true, collectErr: true, out string? err))
                        {
                            MoveOut.Err($"*** clusterManagerMoveSlot: {err ?? "(null)"}\n");
                            ok = false;
                            break;
                        }
                        MoveOut.Print("#");
                    }
                    if (!ok) break;
                }
                MoveOut.Print("\n");
            }
            dst.Balance += numslots;
            src.Balance -= numslots;
            if (dst.Balance == 0) dstIdx++;
            if (src.Balance == 0) srcIdx--;
        }
        progress.Finish(ok && !simulate);
        return ok;
    }

    /// <summary>atof: the longest leading decimal number (0 when there is none).</summary>
    private static double AtoF(string s)
    {
        s = s.TrimStart(' ', '\t', '\n', '\v', '\f', '\r');
        for (int len = s.Length; len > 0; len--)
        {
            if (double.TryParse(s.AsSpan(0, len), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return v;
        }
        return 0;
    }
}
