namespace Cinnabar.Server.Commands;

/// <summary>
/// CLUSTER subcommands (Redis 7.0 clusterCommand). With cluster-enabled no every call answers that
/// cluster support is disabled; otherwise they query and drive the node's ClusterService. Reply
/// shapes and error texts follow cluster.c.
/// </summary>
public sealed class ClusterCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        var c = t.AddContainer("cluster", -2, "cluster", "A container for cluster commands", "3.0.0");
        Sub(t, c, "getkeysinslot", 4, "stale", 0, 0, 0, "@slow", "Return local key names in the specified hash slot", "3.0.0", "O(log(N)) where N is the number of requested keys");
        Sub(t, c, "keyslot", 3, "stale", 0, 0, 0, "@slow", "Returns the hash slot of the specified key", "3.0.0", "O(N) where N is the number of bytes in the key");
        Sub(t, c, "meet", -4, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Force a node cluster to handshake with another node", "3.0.0", "O(1)");
        Sub(t, c, "addslotsrange", -4, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Assign new hash slots to receiving node", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments.");
        Sub(t, c, "saveconfig", 2, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Forces the node to save cluster state on disk", "3.0.0", "O(1)");
        Sub(t, c, "replicas", 3, "admin stale", 0, 0, 0, "@admin @slow @dangerous", "List replica nodes of the specified master node", "5.0.0", "O(1)");
        Sub(t, c, "setslot", -4, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Bind a hash slot to a specific node", "3.0.0", "O(1)");
        Sub(t, c, "bumpepoch", 2, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Advance the cluster config epoch", "3.0.0", "O(1)");
        Sub(t, c, "count-failure-reports", 3, "admin stale", 0, 0, 0, "@admin @slow @dangerous", "Return the number of failure reports active for a given node", "3.0.0", "O(N) where N is the number of failure reports");
        Sub(t, c, "flushslots", 2, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Delete a node's own slots information", "3.0.0", "O(1)");
        Sub(t, c, "help", 2, "loading stale", 0, 0, 0, "@slow", "Show helpful text about the different subcommands", "5.0.0", "O(1)");
        Sub(t, c, "slaves", 3, "admin stale", 0, 0, 0, "@admin @slow @dangerous", "List replica nodes of the specified master node", "3.0.0", "O(1)");
        Sub(t, c, "nodes", 2, "stale", 0, 0, 0, "@slow", "Get Cluster config for the node", "3.0.0", "O(N) where N is the total number of Cluster nodes");
        Sub(t, c, "info", 2, "stale", 0, 0, 0, "@slow", "Provides info about Redis Cluster node state", "3.0.0", "O(1)");
        Sub(t, c, "slots", 2, "stale", 0, 0, 0, "@slow", "Get array of Cluster slot to node mappings", "3.0.0", "O(N) where N is the total number of Cluster nodes");
        Sub(t, c, "forget", 3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Remove a node from the nodes table", "3.0.0", "O(1)");
        Sub(t, c, "myid", 2, "stale", 0, 0, 0, "@slow", "Return the node id", "3.0.0", "O(1)");
        Sub(t, c, "links", 2, "stale", 0, 0, 0, "@slow", "Returns a list of all TCP links to and from peer nodes in cluster", "7.0.0", "O(N) where N is the total number of Cluster nodes");
        Sub(t, c, "reset", -2, "admin noscript stale", 0, 0, 0, "@admin @slow @dangerous", "Reset a Redis Cluster node", "3.0.0", "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.");
        Sub(t, c, "delslots", -3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Set hash slots as unbound in receiving node", "3.0.0", "O(N) where N is the total number of hash slot arguments");
        Sub(t, c, "addslots", -3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Assign new hash slots to receiving node", "3.0.0", "O(N) where N is the total number of hash slot arguments");
        Sub(t, c, "countkeysinslot", 3, "stale", 0, 0, 0, "@slow", "Return the number of local keys in the specified hash slot", "3.0.0", "O(1)");
        Sub(t, c, "delslotsrange", -4, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Set hash slots as unbound in receiving node", "7.0.0", "O(N) where N is the total number of the slots between the start slot and end slot arguments.");
        Sub(t, c, "shards", 2, "stale", 0, 0, 0, "@slow", "Get array of cluster slots to node mappings", "7.0.0", "O(N) where N is the total number of cluster nodes");
        Sub(t, c, "replicate", 3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Reconfigure a node as a replica of the specified master node", "3.0.0", "O(1)");
        Sub(t, c, "set-config-epoch", 3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Set the configuration epoch in a new node", "3.0.0", "O(1)");
        Sub(t, c, "slot-stats", -4, "stale", 0, 0, 0, "@slow", "Return an array of slot usage statistics for slots assigned to the current node", "8.2.0", "O(N) where N is the total number of slots based on arguments. O(N*log(N)) with ORDERBY subcommand.");
        Sub(t, c, "migration", -3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Start, monitor or cancel an atomic slot migration", "8.4.0", "O(N) where N is the number of slots to migrate");
        Sub(t, c, "syncslots", -3, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "An internal command of atomic slot migration", "8.4.0", "O(1)");
        Sub(t, c, "failover", -2, "admin stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", "Forces a replica to perform a manual failover of its master.", "3.0.0", "O(1)");
    }

    // DEBUG CLUSTERLINK KILL to|from|all <node-id> (used by the links tests).
    static ClusterCommands()
    {
        DebugCommands.Subcommands["CLUSTERLINK"] = (5, DebugClusterLink);
        DebugCommands.Subcommands["DROP-CLUSTER-PACKET-FILTER"] = (3, DebugDropPacketFilter);
    }

    private static void DebugDropPacketFilter(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long type)) return;
        if (ctx.Server.Cluster != null) ctx.Server.Cluster.Node.DropPacketFilter = (int)Math.Clamp(type, -1, int.MaxValue);
        ctx.Reply.WriteOk();
    }

    private static void DebugClusterLink(CommandContext ctx)
    {
        if (ctx.ArgCount != 5 || !ctx.ArgIs(2, "KILL"))
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), "debug"));
            return;
        }
        var svc = ctx.Server.Cluster;
        if (svc == null)
        {
            ctx.Error("ERR Debug option only available for cluster mode enabled setup!");
            return;
        }
        if (svc.KillLinks(ctx.ArgString(3), ctx.ArgString(4)) is { } err)
        {
            ctx.Error(err);
            return;
        }
        ctx.Reply.WriteOk();
    }

    private static void Sub(CommandTable t, CommandDef c, string name, int arity, string flags, int firstKey, int lastKey, int step,
        string acl, string summary, string since, string complexity) =>
        t.AddSub(c, name, arity, flags, firstKey, lastKey, step, acl, ctx => Dispatch(ctx, name), summary, since, complexity);

    private static void Dispatch(CommandContext ctx, string name)
    {
        var svc = ctx.Server.Cluster;
        if (svc == null)
        {
            ctx.Error(Errors.ClusterSupportDisabled);
            return;
        }
        ClusterCommandHandlers.Run(ctx, svc, name);
    }
}
