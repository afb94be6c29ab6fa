using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>Moving slots between masters (redis-cli's clusterManagerMoveSlot and friends).</summary>
public static class SlotMover
{
    private const string NotMaster = "ERR Please use SETSLOT only with masters.";
    private const string ZeroDigest = "0000000000000000000000000000000000000000";

    /// <summary>
    /// Moves one slot from source to target the Redis 7.0 way (SETSLOT IMPORTING/MIGRATING, MIGRATE
    /// the keys in batches of Cmd.Pipeline, SETSLOT NODE on target, source and the other masters).
    /// Options as clusterManagerMoveSlot's opts: verbose (print dots), cold (do not set slot
    /// states / notify, used by fix), update (update the local model). Returns false with err set.
    /// This form behaves as redis-cli's calls that pass no error pointer (the fix verb's): errors
    /// are printed where redis-cli prints them, and err only repeats the last one for information.
    /// </summary>
    public static bool MoveSlot(CmCluster cluster, CmNode source, CmNode target, int slot, bool verbose, bool cold, bool update, out string? err) =>
        MoveSlot(cluster, source, target, slot, verbose, cold, update, quiet: false, collectErr: false, out err);

    /// <summary>
    /// clusterManagerMoveSlot with every option: quiet drops the "Moving slot" line; collectErr
    /// says the caller takes the error (as reshard and rebalance do, printing it themselves), so
    /// SETSLOT errors are returned rather than printed.
    /// </summary>
    public static bool MoveSlot(CmCluster cluster, CmNode source, CmNode target, int slot, bool verbose, bool cold, bool update, bool quiet, bool collectErr, out string? err)
    {
        err = null;
        if (!quiet) MoveOut.Print($"Moving slot {slot} from {source.Ip}:{source.Port} to {target.Ip}:{target.Port}: ");
        var cmd = cluster.Cmd;
        if (!cold)
        {
            if (!SetSlot(target, source, slot, "importing", collectErr, out err)) return false;
            if (!SetSlot(source, target, slot, "migrating", collectErr, out err)) return false;
        }
        bool ok = MigrateKeysInSlot(cluster, source, target, slot, cmd.Timeout, cmd.Pipeline, verbose, collectErr, out string? merr);
        if (merr != null) err = merr;
        if (!quiet) MoveOut.Print("\n");
        if (!ok) return false;
        if (!cold)
        {
            // The target learns first (it then spreads the news); a source that has just lost its
            // last slot may already have turned into a replica of the target, which is fine.
            if (!SetSlot(target, target, slot, "node", collectErr, out err)) return false;
            bool sok = SetSlot(source, target, slot, "node", collectErr, out err);
            if (!sok && collectErr)
            {
                if (err != null && err.StartsWith(NotMaster, StringComparison.Ordinal)) err = null;
                else return false;
            }
            else if (!sok) err = null; // redis-cli goes on when nobody asked for the error
            foreach (var n in cluster.Nodes)
            {
                if (ReferenceEquals(n, target) || ReferenceEquals(n, source) || n.IsSlave) continue;
                var r = n.Command("CLUSTER", "SETSLOT", slot.ToString(CultureInfo.InvariantCulture), "node", target.Name ?? "");
                if (r != null && r.Type != RespType.Error) continue;
                // A master emptied earlier in this run may have become a replica meanwhile
                // (Redis 7.0's rule): there is nothing to tell it, so that one error is not fatal.
                if (r != null && r.Text.StartsWith(NotMaster, StringComparison.Ordinal)) continue;
                if (r == null)
                {
                    if (collectErr) err = "CLUSTER SETSLOT failed to run";
                    return false;
                }
                err = r.Text;
                if (!collectErr) MoveOut.Err($"Node {n.Ip}:{n.Port} replied with error:\n{err}\n");
                return false;
            }
        }
        MoveProgress.Current?.SlotDone();
        if (update)
        {
            source.SlotMap[slot] = false;
            target.SlotMap[slot] = true;
        }
        return true;
    }

    /// <summary>clusterManagerMigrateKeysInSlot: moves every key of the slot (MIGRATE batches);
    /// with cold, the slot states are left alone. Returns false with err set. As the form of
    /// MoveSlot without collectErr, errors are printed where redis-cli prints them for a caller
    /// that passes no error pointer.</summary>
    public static bool MigrateKeysInSlot(CmCluster cluster, CmNode source, CmNode target, int slot, int timeout, int pipeline, bool verbose, out string? err) =>
        MigrateKeysInSlot(cluster, source, target, slot, timeout, pipeline, verbose, collectErr: false, out err);

    public static bool MigrateKeysInSlot(CmCluster cluster, CmNode source, CmNode target, int slot, int timeout, int pipeline, bool verbose, bool collectErr, out string? err)
    {
        err = null;
        bool doFix = string.Equals(cluster.Cmd.Name, "fix", StringComparison.Ordinal);
        bool doReplace = cluster.Cmd.Replace;
        string slotStr = slot.ToString(CultureInfo.InvariantCulture);
        while (true)
        {
            var reply = source.Command("CLUSTER", "GETKEYSINSLOT", slotStr, pipeline.ToString(CultureInfo.InvariantCulture));
            if (reply == null) return false;
            if (reply.Type == RespType.Error)
            {
                if (collectErr)
                {
                    err = reply.Text;
                    MoveOut.Err($"Node {source.Ip}:{source.Port} replied with error:\n{err}\n");
                }
                return false;
            }
            var keys = reply.Elements.Select(e => e.Str).ToList();
            if (keys.Count == 0) break;
            var migrate = MigrateKeys(cluster.Options, source, target, keys, replace: false, timeout);
            if (migrate == null) return false;
            if (migrate.Type == RespType.Error)
            {
                string text = migrate.Text;
                bool isBusy = text.Contains("BUSYKEY", StringComparison.Ordinal);
                bool notServed = false;
                if (!isBusy)
                {
                    // Is the slot unassigned in the source's own view?
                    var owner = GetSlotOwner(cluster, source, slot, out string? ownerErr);
                    if (owner == null)
                    {
                        if (ownerErr == null) notServed = true;
                        else MoveOut.Err($"Node {source.Ip}:{source.Port} replied with error:\n{ownerErr}\n");
                    }
                }
                bool ok;
                if (isBusy || notServed)
                {
                    if (doFix && notServed)
                    {
                        MoveOut.Warn($"*** Slot was not served, setting owner to node {target.Ip}:{target.Port}.\n");
                        SetSlot(source, target, slot, "node", collectErr: false, out _);
                    }
                    if (isBusy)
                    {
                        MoveOut.Warn("\n*** Target key exists\n");
                        if (!doReplace)
                        {
                            MoveOut.Warn("*** Checking key values on both nodes...\n");
                            var diffs = new List<byte[]>();
                            if (!CompareKeysValues(source, target, keys, diffs))
                            {
                                MoveOut.Err("*** Value check failed!\n");
                                return false;
                            }
                            if (diffs.Count > 0)
                            {
                                var sb = new StringBuilder();
                                sb.Append(CultureInfo.InvariantCulture, $"*** Found {diffs.Count} key(s) in both source node and target node having different values.\n");
                                sb.Append(CultureInfo.InvariantCulture, $"    Source node: {source.Ip}:{source.Port}\n");
                                sb.Append(CultureInfo.InvariantCulture, $"    Target node: {target.Ip}:{target.Port}\n");
                                sb.Append("    Keys(s):\n");
                                MoveOut.Err(sb.ToString());
                                foreach (var k in diffs) MoveOut.ErrBytes("    - ", k, "\n");
                                MoveOut.Err("Please fix the above key(s) manually and try again or relaunch the command \nwith --cluster-replace option to force key overriding.\n");
                                return false;
                            }
                        }
                        MoveOut.Warn("*** Replacing target keys...\n");
                    }
                    migrate = MigrateKeys(cluster.Options, source, target, keys, replace: isBusy, timeout);
                    ok = migrate != null && migrate.Type != RespType.Error;
                }
                else ok = false;
                if (!ok)
                {
                    if (migrate != null)
                    {
                        err = migrate.Text;
                        MoveOut.Print("\n");
                        MoveOut.Err($"Node {source.Ip}:{source.Port} replied with error:\n{migrate.Text}\n");
                    }
                    return false;
                }
            }
            if (verbose) MoveOut.Print(new string('.', keys.Count));
            MoveProgress.Current?.AddKeys(keys.Count);
        }
        return true;
    }

    /// <summary>clusterManagerMigrateKeysInReply: MIGRATE ip port "" 0 timeout [REPLACE]
    /// [AUTH pass | AUTH2 user pass] KEYS k1..kn, sent to the source.</summary>
    private static RespReply? MigrateKeys(CliOptions o, CmNode source, CmNode target, List<byte[]> keys, bool replace, int timeout)
    {
        var args = new List<byte[]>(keys.Count + 12);
        void A(string s) => args.Add(Encoding.UTF8.GetBytes(s));
        A("MIGRATE");
        A(target.Ip);
        A(target.Port.ToString(CultureInfo.InvariantCulture));
        A("");
        A("0");
        A(timeout.ToString(CultureInfo.InvariantCulture));
        if (replace) A("REPLACE");
        if (o.Password != null)
        {
            if (o.User != null)
            {
                A("AUTH2");
                A(o.User);
            }
            else A("AUTH");
            A(o.Password);
        }
        A("KEYS");
        args.AddRange(keys);
        // redis-cli sizes its argument vector for a user name even without a password; the
        // unused slot goes out as one more (empty, hence missing) key.
        if (o.User != null && o.Password == null) A("");
        return source.Command(args);
    }

    /// <summary>clusterManagerSetSlot: CLUSTER SETSLOT slot status other-node-id on node.
    /// Without collectErr an error reply is printed; with it, it is returned in err.</summary>
    public static bool SetSlot(CmNode node, CmNode other, int slot, string status, bool collectErr, out string? err)
    {
        err = null;
        var r = node.Command("CLUSTER", "SETSLOT", slot.ToString(CultureInfo.InvariantCulture), status, other.Name ?? "");
        if (r == null)
        {
            err = "CLUSTER SETSLOT failed to run";
            return false;
        }
        if (r.Type != RespType.Error) return true;
        err = r.Text;
        if (!collectErr) MoveOut.Err($"Node {node.Ip}:{node.Port} replied with error:\n{err}\n");
        return false;
    }

    /// <summary>clusterManagerGetSlotOwner: the slot's owner in n's CLUSTER SLOTS; null when
    /// unassigned (err null) or on an error reply (err set).</summary>
    public static CmNode? GetSlotOwner(CmCluster cluster, CmNode n, int slot, out string? err) => CmOps.GetSlotOwner(cluster, n, slot, out err);

    /// <summary>clusterManagerCompareKeysValues: DEBUG DIGEST-VALUE on both nodes; keys present on
    /// both with different digests go to diffs. False on an error reply.</summary>
    private static bool CompareKeysValues(CmNode n1, CmNode n2, List<byte[]> keys, List<byte[]> diffs)
    {
        var args = new List<byte[]> { "DEBUG"u8.ToArray(), "DIGEST-VALUE"u8.ToArray() };
        args.AddRange(keys);
        var r1 = n1.Command(args);
        if (r1 == null) return false;
        var r2 = n2.Command(args);
        if (r2 == null) return false;
        bool ok = true;
        if (r1.Type == RespType.Error)
        {
            MoveOut.Err($"Node {n1.Ip}:{n1.Port} replied with error:\n{r1.Text}\n");
            ok = false;
        }
        if (r2.Type == RespType.Error)
        {
            MoveOut.Err($"Node {n2.Ip}:{n2.Port} replied with error:\n{r2.Text}\n");
            ok = false;
        }
        if (!ok) return false;
        int count = Math.Min(keys.Count, Math.Min(r1.Elements.Count, r2.Elements.Count));
        for (int i = 0; i < count; i++)
        {
            string h1 = r1.Elements[i].Text, h2 = r2.Elements[i].Text;
            if (h1 == ZeroDigest || h2 == ZeroDigest) continue;
            if (h1 != h2) diffs.Add(keys[i]);
        }
        return true;
    }
}
