using System.Globalization;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>clusterManagerCheckCluster and the repairs of `--cluster fix`.</summary>
public static class ClusterChecker
{
    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>clusterManagerOnError: remembered (backup counts them) and printed in red.</summary>
    private static void OnError(CmCluster cluster, string err)
    {
        cluster.Errors.Add(err);
        CmLog.Err(err + "\n");
    }

    /// <summary>
    /// redis-cli's clusterManagerCheckCluster(quiet): prints ">>> Performing Cluster Check", the
    /// nodes, slot agreement, open slots and coverage (unless quiet), and with --cluster fix
    /// repairs what it finds. Returns true when the cluster is consistent.
    /// </summary>
    public static bool Check(CmCluster cluster, bool quiet, bool fix = false)
    {
        if (cluster.Nodes.Count == 0) return false;
        var node = cluster.Nodes[0];
        CmLog.Info($">>> Performing Cluster Check (using node {node.Ip}:{I(node.Port)})\n");
        bool result = true;
        if (!quiet) CmOps.ShowNodes(cluster);
        if (!CmOps.IsConfigConsistent(cluster))
        {
            OnError(cluster, "[ERR] Nodes don't agree about configuration!");
            result = false;
        }
        else
        {
            CmLog.Ok("[OK] All nodes agree about slots configuration.\n");
        }

        CmLog.Info(">>> Check for open slots...\n");
        CmDict? openSlots = null;
        foreach (var n in cluster.Nodes)
        {
            if (n.Migrating.Count > 0)
            {
                openSlots ??= new CmDict();
                string err = $"[WARNING] Node {n.Ip}:{I(n.Port)} has slots in migrating state ";
                for (int i = 0; i < n.Migrating.Count; i++)
                {
                    openSlots.Add(n.Migrating[i].Slot);
                    err += (i > 0 ? "," : "") + n.Migrating[i].Slot;
                }
                OnError(cluster, err + ".");
            }
            if (n.Importing.Count > 0)
            {
                openSlots ??= new CmDict();
                string err = $"[WARNING] Node {n.Ip}:{I(n.Port)} has slots in importing state ";
                for (int i = 0; i < n.Importing.Count; i++)
                {
                    openSlots.Add(n.Importing[i].Slot);
                    err += (i > 0 ? "," : "") + n.Importing[i].Slot;
                }
                OnError(cluster, err + ".");
            }
        }
        if (openSlots != null)
        {
            result = false;
            var keys = openSlots.Keys();
            CmLog.Err("[WARNING] The following slots are open: " + string.Join(",", keys) + ".\n");
            if (fix)
            {
                foreach (var slot in keys)
                {
                    result = FixOpenSlot(cluster, (int)CmNode.AtoL(slot));
                    if (!result) break;
                }
            }
        }

        CmLog.Info(">>> Check slots coverage...\n");
        var covered = new bool[CmNode.Slots];
        int coverage = 0;
        foreach (var n in cluster.Nodes)
        {
            for (int i = 0; i < CmNode.Slots; i++)
            {
                if (n.SlotMap[i] && !covered[i])
                {
                    covered[i] = true;
                    coverage++;
                }
            }
        }
        if (coverage == CmNode.Slots)
        {
            CmLog.Ok($"[OK] All {I(CmNode.Slots)} slots covered.\n");
        }
        else
        {
            OnError(cluster, $"[ERR] Not all {I(CmNode.Slots)} slots are covered by nodes.\n");
            result = false;
            if (fix)
            {
                int fixedCount = FixSlotsCoverage(cluster, covered);
                if (fixedCount > 0) result = true;
            }
        }

        if (cluster.Cmd.SearchMultipleOwners)
        {
            CmLog.Info(">>> Check for multiple slot owners...\n");
            int withMultiple = 0;
            for (int slot = 0; slot < CmNode.Slots; slot++)
            {
                var owners = new List<CmNode>();
                foreach (var n in cluster.Nodes)
                {
                    if (n.IsSlave) continue;
                    if (n.SlotMap[slot]) owners.Add(n);
                    else if (CmOps.CountKeysInSlot(n, slot) > 0) owners.Add(n);
                }
                if (owners.Count <= 1) continue;
                result = false;
                CmLog.Err($"[WARNING] Slot {I(slot)} has {I(owners.Count)} owners:\n");
                foreach (var n in owners) CmLog.Err($"    {n.Ip}:{I(n.Port)}\n");
                withMultiple++;
                if (fix)
                {
                    result = FixMultipleSlotOwners(cluster, slot, owners);
                    if (!result)
                    {
                        CmLog.Err($"Failed to fix multiple owners for slot {I(slot)}\n");
                        break;
                    }
                    withMultiple--;
                }
            }
            if (withMultiple == 0) CmLog.Ok("[OK] No multiple owners found.\n");
        }
        return result;
    }

    private static void RefuseWithUnreachableMasters(CmCluster cluster, string what)
    {
        if (cluster.UnreachableMasters > 0 && !cluster.Cmd.FixWithUnreachableMasters)
        {
            CmLog.Warn($"*** Fixing {what} with {I(cluster.UnreachableMasters)} unreachable masters is dangerous: redis-cli will assume that slots about masters that are not reachable are not covered, and will try to reassign them to the reachable nodes. This can cause data loss and is rarely what you want to do. If you really want to proceed use the --cluster-fix-with-unreachable-masters option.\n");
            throw new ClusterManagerExitException(1);
        }
    }

    private static bool MoveSlot(CmCluster cluster, CmNode src, CmNode dst, int slot, bool cold, bool update) =>
        SlotMover.MoveSlot(cluster, src, dst, slot, verbose: true, cold: cold, update: update, out _);

    /// <summary>clusterManagerFixOpenSlot: closes or completes a slot left importing/migrating.</summary>
    public static bool FixOpenSlot(CmCluster cluster, int slot)
    {
        RefuseWithUnreachableMasters(cluster, "open slots");
        CmLog.Info($">>> Fixing open slot {I(slot)}\n");
        var owners = new List<CmNode>();
        var migrating = new List<CmNode>();
        var importing = new List<CmNode>();
        string migratingStr = "", importingStr = "";
        CmNode? owner = null;

        foreach (var n in cluster.Nodes)
        {
            if (n.IsSlave) continue;
            if (n.SlotMap[slot])
            {
                owners.Add(n);
                continue;
            }
            var r = n.Command("CLUSTER", "COUNTKEYSINSLOT", I(slot));
            if (!n.CheckReply(r, out _, print: true)) return false;
            if (r!.Integer > 0)
            {
                CmLog.Warn($"*** Found keys about slot {I(slot)} in non-owner node {n.Ip}:{I(n.Port)}!\n");
                owners.Add(n);
            }
        }
        if (owners.Count == 1) owner = owners[0];

        foreach (var n in cluster.Nodes)
        {
            if (n.IsSlave) continue;
            bool isMigrating = false, isImporting = false;
            if (n.Migrating.Any(m => CmNode.AtoL(m.Slot) == slot))
            {
                migratingStr += (migrating.Count == 0 ? "" : ",") + $"{n.Ip}:{I(n.Port)}";
                migrating.Add(n);
                isMigrating = true;
            }
            if (!isMigrating && n.Importing.Any(m => CmNode.AtoL(m.Slot) == slot))
            {
                importingStr += (importing.Count == 0 ? "" : ",") + $"{n.Ip}:{I(n.Port)}";
                importing.Add(n);
                isImporting = true;
            }
            if (!isMigrating && !isImporting && !ReferenceEquals(n, owner))
            {
                var r = n.Command("CLUSTER", "COUNTKEYSINSLOT", I(slot));
                if (!n.CheckReply(r, out _, print: true)) return false;
                if (r!.Integer > 0)
                {
                    CmLog.Warn($"*** Found keys about slot {I(slot)} in node {n.Ip}:{I(n.Port)}!\n");
                    importingStr += (importing.Count == 0 ? "" : ",") + $"{n.Ip}:{I(n.Port)}";
                    importing.Add(n);
                }
            }
        }
        if (migratingStr.Length > 0) CmLog.Print($"Set as migrating in: {migratingStr}\n");
        if (importingStr.Length > 0) CmLog.Print($"Set as importing in: {importingStr}\n");

        if (owner == null)
        {
            CmLog.Info(">>> No single clear owner for the slot, selecting an owner by # of keys...\n");
            owner = CmOps.GetNodeWithMostKeysInSlot(cluster.Nodes, slot);
            if (owner == null)
            {
                CmLog.Err("[ERR] Can't select a slot owner. Impossible to fix.\n");
                return false;
            }
            CmLog.Warn($"*** Configuring {owner.Ip}:{I(owner.Port)} as the slot owner\n");
            if (!CmOps.ClearSlotStatus(owner, slot)) return false;
            if (!CmOps.SetSlotOwner(cluster, owner, slot, false)) return false;
            owner.SlotMap[slot] = true;
            migrating.Remove(owner);
            importing.Remove(owner);
        }

        if (owners.Count > 1)
        {
            foreach (var n in owners)
            {
                if (ReferenceEquals(n, owner)) continue;
                if (!CmOps.DelSlot(cluster, n, slot, true)) return false;
                n.SlotMap[slot] = false;
                if (!CmOps.SetSlot(n, owner, slot, "node")) return false;
                if (!CmOps.SetSlot(n, owner, slot, "importing")) return false;
                importing.Remove(n);
                importing.Add(n);
                migrating.Remove(n);
            }
        }

        bool success = true;
        if (migrating.Count == 1 && importing.Count == 1)
        {
            // Case 1: one side migrating, the other importing.
            var src = migrating[0];
            var dst = importing[0];
            CmLog.Info($">>> Case 1: Moving slot {I(slot)} from {src.Ip}:{I(src.Port)} to {dst.Ip}:{I(dst.Port)}\n");
            success = MoveSlot(cluster, src, dst, slot, cold: false, update: true);
        }
        else if (migrating.Count == 0 && importing.Count > 0)
        {
            // Case 2: keys in importing nodes only: move them all to the owner.
            CmLog.Info($">>> Case 2: Moving all the {I(slot)} slot keys to its owner {owner.Ip}:{I(owner.Port)}\n");
            foreach (var n in importing)
            {
                if (ReferenceEquals(n, owner)) continue;
                if (!MoveSlot(cluster, n, owner, slot, cold: true, update: false)) return false;
                CmLog.Info($">>> Setting {I(slot)} as STABLE in {n.Ip}:{I(n.Port)}\n");
                if (!CmOps.ClearSlotStatus(n, slot)) return false;
            }
            foreach (var n in cluster.Nodes)
            {
                if (ReferenceEquals(n, owner) || n.IsSlave) continue;
                if (!CmOps.SetSlot(n, owner, slot, "NODE")) return false;
            }
        }
        else if (migrating.Count == 1 && importing.Count > 1)
        {
            // Case 3: one migrating node, several importing ones without keys.
            var src = migrating[0];
            CmNode? dst = null;
            string? targetId = src.Migrating.FirstOrDefault(m => CmNode.AtoL(m.Slot) == slot).Node;
            bool tryToFix = true;
            foreach (var n in importing)
            {
                if (CmOps.CountKeysInSlot(n, slot) > 0)
                {
                    tryToFix = false;
                    break;
                }
                if (n.Name == targetId) dst = n;
            }
            if (!tryToFix) return Unhandled(slot, migratingStr, importingStr, owner);
            if (dst != null)
            {
                CmLog.Info($">>> Case 3: Moving slot {I(slot)} from {src.Ip}:{I(src.Port)} to {dst.Ip}:{I(dst.Port)} and closing it on all the other importing nodes.\n");
                if (!MoveSlot(cluster, src, dst, slot, cold: false, update: false)) return false;
                foreach (var n in importing)
                {
                    if (ReferenceEquals(n, dst)) continue;
                    if (!CmOps.ClearSlotStatus(n, slot)) return false;
                }
            }
            else
            {
                CmLog.Info($">>> Case 3: Closing slot {I(slot)} on both migrating and importing nodes.\n");
                if (!CmOps.ClearSlotStatus(src, slot)) return false;
                foreach (var n in importing)
                    if (!CmOps.ClearSlotStatus(n, slot)) return false;
            }
        }
        else
        {
            bool tryToClose = importing.Count == 0 && migrating.Count == 1;
            if (tryToClose)
            {
                var n = migrating[0];
                if (!ReferenceEquals(owner, n))
                {
                    var r = n.Command("CLUSTER", "GETKEYSINSLOT", I(slot), "10");
                    bool ok = n.CheckReply(r, out _, print: true);
                    if (r != null && ok) tryToClose = r.Elements.Count == 0;
                    if (!ok) return false;
                }
            }
            if (tryToClose)
            {
                // Case 4: only a migrating node, without keys or owning the slot: close it.
                var n = migrating[0];
                CmLog.Info($">>> Case 4: Closing slot {I(slot)} on {n.Ip}:{I(n.Port)}\n");
                var r = n.Command("CLUSTER", "SETSLOT", I(slot), "STABLE");
                if (!n.CheckReply(r, out _, print: true)) return false;
            }
            else
            {
                return Unhandled(slot, migratingStr, importingStr, owner);
            }
        }
        return success;
    }

    private static bool Unhandled(int slot, string migratingStr, string importingStr, CmNode owner)
    {
        CmLog.Err($"[ERR] Sorry, redis-cli can't fix this slot yet (work in progress). Slot is set as migrating in {migratingStr}, as importing in {importingStr}, owner is {owner.Ip}:{I(owner.Port)}\n");
        return false;
    }

    /// <summary>clusterManagerFixSlotsCoverage: returns the number of slots fixed, -1 on error.</summary>
    private static int FixSlotsCoverage(CmCluster cluster, bool[] covered)
    {
        RefuseWithUnreachableMasters(cluster, "slots coverage");
        int fixedCount = 0;
        CmLog.Info(">>> Fixing slots coverage...\n");
        var uncovered = new CmDict();
        var holders = new Dictionary<string, List<CmNode>>();
        for (int i = 0; i < CmNode.Slots; i++)
        {
            if (covered[i]) continue;
            var slotNodes = new List<CmNode>();
            foreach (var n in cluster.Nodes)
            {
                if (n.IsSlave || n.Replicate != null) continue;
                var r = n.Command("CLUSTER", "GETKEYSINSLOT", I(i), "1");
                if (!n.CheckReply(r, out _, print: true)) return -1;
                if (r!.Elements.Count > 0) slotNodes.Add(n);
            }
            string key = I(i);
            uncovered.Add(key);
            holders[key] = slotNodes;
        }
        var none = new List<string>();
        var single = new List<string>();
        var multi = new List<string>();
        foreach (var slot in uncovered.Keys())
        {
            switch (holders[slot].Count)
            {
                case 0: none.Add(slot); break;
                case 1: single.Add(slot); break;
                default: multi.Add(slot); break;
            }
        }

        if (none.Count > 0)
        {
            CmLog.Print("The following uncovered slots have no keys across the cluster:\n");
            PrintSlotsList(none);
            if (CmOps.ConfirmWithYes(cluster, "Fix these slots by covering with a random node?", true))
            {
                foreach (var slot in none)
                {
                    int s = (int)CmNode.AtoL(slot);
                    var n = CmOps.NodeMasterRandom(cluster);
                    CmLog.Info($">>> Covering slot {slot} with {n.Ip}:{I(n.Port)}\n");
                    if (!CmOps.SetSlotOwner(cluster, n, s, false)) return -1;
                    n.SlotMap[s] = true;
                    fixedCount++;
                }
            }
        }

        if (single.Count > 0)
        {
            CmLog.Print("The following uncovered slots have keys in just one node:\n");
            PrintSlotsList(single);
            if (CmOps.ConfirmWithYes(cluster, "Fix these slots by covering with those nodes?", true))
            {
                foreach (var slot in single)
                {
                    int s = (int)CmNode.AtoL(slot);
                    var n = holders[slot][0];
                    CmLog.Info($">>> Covering slot {slot} with {n.Ip}:{I(n.Port)}\n");
                    if (!CmOps.SetSlotOwner(cluster, n, s, false)) return -1;
                    n.SlotMap[s] = true;
                    fixedCount++;
                }
            }
        }

        if (multi.Count > 0)
        {
            CmLog.Print("The following uncovered slots have keys in multiple nodes:\n");
            PrintSlotsList(multi);
            if (CmOps.ConfirmWithYes(cluster, "Fix these slots by moving keys into a single node?", true))
            {
                foreach (var slot in multi)
                {
                    var nodes = holders[slot];
                    int s = (int)CmNode.AtoL(slot);
                    var target = CmOps.GetNodeWithMostKeysInSlot(nodes, s);
                    if (target == null) return -1;
                    CmLog.Info($">>> Covering slot {slot} moving keys to {target.Ip}:{I(target.Port)}\n");
                    if (!CmOps.SetSlotOwner(cluster, target, s, true)) return -1;
                    target.SlotMap[s] = true;
                    foreach (var src in nodes)
                    {
                        if (ReferenceEquals(src, target)) continue;
                        if (!CmOps.SetSlot(src, target, s, "NODE")) return -1;
                        // Importing on the source too, so MIGRATE is not redirected.
                        if (!CmOps.SetSlot(src, target, s, "IMPORTING")) return -1;
                        if (!MoveSlot(cluster, src, target, s, cold: true, update: false)) return -1;
                        if (!CmOps.ClearSlotStatus(src, s)) return -1;
                    }
                    fixedCount++;
                }
            }
        }
        return fixedCount;
    }

    private static void PrintSlotsList(List<string> slots)
    {
        var map = new bool[CmNode.Slots];
        foreach (var s in slots)
        {
            long v = CmNode.AtoL(s);
            if (v >= 0 && v < CmNode.Slots) map[v] = true;
        }
        CmLog.Print(CmOps.SlotsString(map) + "\n");
    }

    /// <summary>clusterManagerFixMultipleSlotOwners: keep the owner with most keys, move the others' keys to it.</summary>
    private static bool FixMultipleSlotOwners(CmCluster cluster, int slot, List<CmNode> owners)
    {
        CmLog.Info($">>> Fixing multiple owners for slot {I(slot)}...\n");
        bool success = false;
        var owner = CmOps.GetNodeWithMostKeysInSlot(owners, slot) ?? owners[0];
        CmLog.Info($">>> Setting slot {I(slot)} owner: {owner.Ip}:{I(owner.Port)}\n");
        if (!CmOps.SetSlotOwner(cluster, owner, slot, false)) return false;
        foreach (var n in cluster.Nodes)
        {
            if (ReferenceEquals(n, owner) || n.IsSlave) continue;
            int count = CmOps.CountKeysInSlot(n, slot);
            success = count >= 0;
            if (!success) break;
            CmOps.DelSlot(cluster, n, slot, true);
            if (!CmOps.SetSlot(n, owner, slot, "node")) return false;
            if (count > 0)
            {
                success = MoveSlot(cluster, n, owner, slot, cold: true, update: false);
                if (!success) break;
            }
        }
        return success;
    }
}
