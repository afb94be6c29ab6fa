using System.Globalization;
using System.Text;
using Cinnabar.Cluster;
using Cinnabar.Protocol;
using Cinnabar.Server.Cluster;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>The CLUSTER subcommands of a cluster-enabled node (cluster.c clusterCommand).</summary>
internal static class ClusterCommandHandlers
{
    private static readonly string[] HelpLines =
    [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ADDSLOTS <slot> [<slot> ...]",
        "    Assign slots to current node.",
        "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Assign slots which are between <start-slot> and <end-slot> to current node.",
        "BUMPEPOCH",
        "    Advance the cluster config epoch.",
        "COUNT-FAILURE-REPORTS <node-id>",
        "    Return number of failure reports for <node-id>.",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "DELSLOTS <slot> [<slot> ...]",
        "    Delete slots information from current node.",
        "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
        "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
        "FAILOVER [FORCE|TAKEOVER]",
        "    Promote current replica node to being a master.",
        "FORGET <node-id>",
        "    Remove a node from the cluster.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "FLUSHSLOTS",
        "    Delete current node own slots information.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MEET <ip> <port> [<bus-port>]",
        "    Connect nodes into a working cluster.",
        "MYID",
        "    Return the node id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICATE <node-id>",
        "    Configure current node as replica to <node-id>.",
        "RESET [HARD|SOFT]",
        "    Reset current node (default: soft).",
        "SET-CONFIG-EPOCH <epoch>",
        "    Set config epoch of current node.",
        "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
        "    Set slot state.",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SAVECONFIG",
        "    Force saving cluster configuration on disk.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "LINKS",
        "    Return information about all network links between this node and its peers.",
        "    Output format is an array where each array element is a map containing attributes of a link",
        "HELP",
        "    Prints this help.",
    ];

    public static void Run(CommandContext ctx, ClusterService svc, string name)
    {
        var node = svc.Node;
        int argc = ctx.ArgCount;
        switch (name)
        {
            case "help": ctx.Reply.WriteHelpLines(HelpLines); return;
            case "meet" when argc is 4 or 5: Meet(ctx, svc); break;
            case "nodes" when argc == 2: ctx.Reply.WriteVerbatim(node.NodesDescription()); return;
            case "myid" when argc == 2: ctx.Reply.WriteBulk(node.Myself.Name); return;
            case "slots" when argc == 2: Slots(ctx, svc); return;
            case "shards" when argc == 2: Shards(ctx, svc); return;
            case "flushslots" when argc == 2:
                if (ctx.Server.Keyspace[0].Count != 0)
                {
                    ctx.Error("ERR DB must be empty to perform CLUSTER FLUSHSLOTS.");
                    return;
                }
                node.FlushSlots();
                ctx.Reply.WriteOk();
                break;
            case "addslots" or "delslots" when argc >= 3: AddDelSlots(ctx, node, name == "delslots", ranges: false); break;
            case "addslotsrange" or "delslotsrange" when argc >= 4: AddDelSlots(ctx, node, name == "delslotsrange", ranges: true); break;
            case "setslot" when argc >= 4: SetSlot(ctx, svc); break;
            case "bumpepoch" when argc == 2:
            {
                bool bumped = node.BumpEpochWithoutConsensus();
                ctx.Reply.WriteSimpleString($"{(bumped ? "BUMPED" : "STILL")} {node.Myself.ConfigEpoch}");
                break;
            }
            case "info" when argc == 2: ctx.Reply.WriteVerbatim(Info(node)); return;
            case "saveconfig" when argc == 2:
                if (svc.SaveConfigNow() is { } err) ctx.Error("ERR error saving the cluster node config: " + err);
                else ctx.Reply.WriteOk();
                return;
            case "keyslot" when argc == 3: ctx.Reply.WriteInteger(HashSlot.Of(ctx.Arg(2))); return;
            case "countkeysinslot" when argc == 3:
                if (!ctx.TryGetLong(2, out long cs)) return;
                if (cs < 0 || cs >= ClusterNode.SlotCount)
                {
                    ctx.Error("ERR Invalid slot");
                    return;
                }
                ctx.Reply.WriteInteger(ctx.Server.Keyspace.HiddenSlots is { } hidden && hidden[cs] ? 0 : ctx.Server.Keyspace[0].CountKeysInSlot((int)cs));
                return;
            case "getkeysinslot" when argc == 4: GetKeysInSlot(ctx); return;
            case "forget" when argc == 3: Reply(ctx, node.Forget(ctx.ArgString(2), svc.Now)); break;
            case "replicate" when argc == 3: Reply(ctx, node.Replicate(ctx.ArgString(2), ctx.Server.Keyspace[0].Count == 0)); break;
            case "slaves" or "replicas" when argc == 3: Replicas(ctx, node); return;
            case "count-failure-reports" when argc == 3:
            {
                var n = node.Lookup(ctx.ArgString(2));
                if (n == null) ctx.Error($"ERR Unknown node {ctx.ArgString(2)}");
                else ctx.Reply.WriteInteger(node.FailureReportCount(n, svc.Now));
                return;
            }
            case "failover" when argc is 2 or 3: Failover(ctx, svc); break;
            case "set-config-epoch" when argc == 3:
                if (!ctx.TryGetLong(2, out long epoch)) return;
                Reply(ctx, node.SetConfigEpoch(epoch));
                break;
            case "reset" when argc is 2 or 3: Reset(ctx, svc); break;
            case "links" when argc == 2: Links(ctx, svc); return;
            case "slot-stats": SlotStatsCommand(ctx, svc); return;
            case "migration": svc.Migrations.MigrationCommand(ctx); svc.AfterCommand(); return;
            case "syncslots": svc.Migrations.SyncSlotsCommand(ctx); return;
            default:
                ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), "cluster"));
                return;
        }
        svc.AfterCommand();
    }

    private static void Reply(CommandContext ctx, string? error)
    {
        if (error != null) ctx.Error("ERR " + error);
        else ctx.Reply.WriteOk();
    }

    private static void Meet(CommandContext ctx, ClusterService svc)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(3), out long port))
        {
            ctx.Error($"ERR Invalid TCP base port specified: {ctx.ArgString(3)}");
            return;
        }
        long cport;
        if (ctx.ArgCount == 5)
        {
            if (!RequestParser.TryParseLong(ctx.Arg(4), out cport))
            {
                ctx.Error($"ERR Invalid TCP bus port specified: {ctx.ArgString(4)}");
                return;
            }
        }
        else
        {
            cport = port + ClusterService.PortIncrement;
        }
        if (!svc.Node.StartHandshake(ctx.ArgString(2), port, cport, svc.Now))
        {
            ctx.Error($"ERR Invalid node address specified: {ctx.ArgString(2)}:{ctx.ArgString(3)}");
            return;
        }
        ctx.Reply.WriteOk();
    }

    /// <summary>getSlotOrReply.</summary>
    private static bool TryGetSlot(CommandContext ctx, int i, out int slot)
    {
        slot = -1;
        if (!RequestParser.TryParseLong(ctx.Arg(i), out long v) || v < 0 || v >= ClusterNode.SlotCount)
        {
            ctx.Error("ERR Invalid or out of range slot");
            return false;
        }
        slot = (int)v;
        return true;
    }

    private static void AddDelSlots(CommandContext ctx, ClusterNode node, bool delete, bool ranges)
    {
        var list = new List<(int, int)>();
        if (ranges)
        {
            if (ctx.ArgCount % 2 == 1)
            {
                ctx.Error(Errors.WrongSubcommandArity("cluster", ctx.ArgString(1)));
                return;
            }
            for (int i = 2; i < ctx.ArgCount; i += 2)
            {
                if (!TryGetSlot(ctx, i, out int start) || !TryGetSlot(ctx, i + 1, out int end)) return;
                if (start > end)
                {
                    ctx.Error($"ERR start slot number {start} is greater than end slot number {end}");
                    return;
                }
                list.Add((start, end));
            }
        }
        else
        {
            for (int i = 2; i < ctx.ArgCount; i++)
            {
                if (!TryGetSlot(ctx, i, out int slot)) return;
                list.Add((slot, slot));
            }
        }
        Reply(ctx, node.UpdateSlots(list, delete));
    }

    private static void SetSlot(CommandContext ctx, ClusterService svc)
    {
        var node = svc.Node;
        if (node.Myself.IsReplica)
        {
            ctx.Error("ERR Please use SETSLOT only with masters.");
            return;
        }
        if (!TryGetSlot(ctx, 2, out int slot)) return;
        if (svc.Migrations.CheckSetSlot(slot) is { } busy)
        {
            ctx.Error(busy);
            return;
        }
        int argc = ctx.ArgCount;
        string? err;
        if (ctx.ArgIs(3, "MIGRATING") && argc == 5) err = node.SetSlotMigrating(slot, ctx.ArgString(4));
        else if (ctx.ArgIs(3, "IMPORTING") && argc == 5) err = node.SetSlotImporting(slot, ctx.ArgString(4));
        else if (ctx.ArgIs(3, "STABLE") && argc == 4) err = node.SetSlotStable(slot);
        else if (ctx.ArgIs(3, "NODE") && argc == 5) err = node.SetSlotNode(slot, ctx.ArgString(4), svc.Now);
        else err = "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP";
        Reply(ctx, err);
    }

    private static string Info(ClusterNode node)
    {
        var (assigned, ok, pfail, fail) = node.SlotStats();
        var sb = new StringBuilder();
        sb.Append("cluster_state:").Append(node.StateOk ? "ok" : "fail").Append("\r\n");
        sb.Append("cluster_slots_assigned:").Append(assigned).Append("\r\n");
        sb.Append("cluster_slots_ok:").Append(ok).Append("\r\n");
        sb.Append("cluster_slots_pfail:").Append(pfail).Append("\r\n");
        sb.Append("cluster_slots_fail:").Append(fail).Append("\r\n");
        sb.Append("cluster_known_nodes:").Append(node.Nodes.Count).Append("\r\n");
        sb.Append("cluster_size:").Append(node.Size).Append("\r\n");
        sb.Append("cluster_current_epoch:").Append(node.CurrentEpoch).Append("\r\n");
        sb.Append("cluster_my_epoch:").Append(node.MyEpoch).Append("\r\n");
        AppendStats(sb, node.MessagesSent, "sent");
        AppendStats(sb, node.MessagesReceived, "received");
        sb.Append("total_cluster_links_buffer_limit_exceeded:").Append(node.LinksBufferLimitExceeded).Append("\r\n");
        return sb.ToString();
    }

    private static void AppendStats(StringBuilder sb, long[] counts, string direction)
    {
        long total = 0;
        for (int i = 0; i < counts.Length; i++)
        {
            if (counts[i] == 0) continue;
            total += counts[i];
            sb.Append("cluster_stats_messages_").Append(BusCodec.TypeLabel((BusMessageType)i)).Append('_').Append(direction)
              .Append(':').Append(counts[i]).Append("\r\n");
        }
        sb.Append("cluster_stats_messages_").Append(direction).Append(':').Append(total).Append("\r\n");
    }

    private static void GetKeysInSlot(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long slot) || !ctx.TryGetLong(3, out long max)) return;
        if (slot < 0 || slot >= ClusterNode.SlotCount || max < 0)
        {
            ctx.Error("ERR Invalid slot or number of keys");
            return;
        }
        var keys = new List<byte[]>();
        if (ctx.Server.Keyspace.HiddenSlots is not { } hidden || !hidden[slot])
            ctx.Server.Keyspace[0].GetKeysInSlot((int)slot, (int)Math.Min(max, int.MaxValue), keys);
        ctx.Reply.WriteArrayHeader(keys.Count);
        foreach (var k in keys) ctx.Reply.WriteBulk(k);
    }

    private static void Replicas(CommandContext ctx, ClusterNode node)
    {
        var n = node.Lookup(ctx.ArgString(2));
        if (n == null)
        {
            ctx.Error($"ERR Unknown node {ctx.ArgString(2)}");
            return;
        }
        if (n.IsReplica)
        {
            ctx.Error("ERR The specified node is not a master");
            return;
        }
        ctx.Reply.WriteArrayHeader(n.Replicas.Count);
        foreach (var r in n.Replicas) ctx.Reply.WriteBulk(node.NodeDescription(r));
    }

    private static void Failover(CommandContext ctx, ClusterService svc)
    {
        bool force = false, takeover = false;
        if (ctx.ArgCount == 3)
        {
            if (ctx.ArgIs(2, "FORCE")) force = true;
            else if (ctx.ArgIs(2, "TAKEOVER")) takeover = force = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        Reply(ctx, svc.Node.ManualFailover(force, takeover, svc.Now));
    }

    private static void Reset(CommandContext ctx, ClusterService svc)
    {
        bool hard = false;
        if (ctx.ArgCount == 3)
        {
            if (ctx.ArgIs(2, "HARD")) hard = true;
            else if (!ctx.ArgIs(2, "SOFT"))
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (svc.Node.Myself.IsMaster && ctx.Db.Count != 0)
        {
            ctx.Error("ERR CLUSTER RESET can't be called with master nodes containing keys");
            return;
        }
        svc.Node.Reset(hard);
        ctx.Reply.WriteOk();
    }

    // ---- CLUSTER SLOT-STATS (Redis 8.2) ----------------------------------------------------------

    private static readonly string[] SlotMetrics = ["key-count", "cpu-usec", "network-bytes-in", "network-bytes-out"];

    private static void SlotStatsCommand(CommandContext ctx, ClusterService svc)
    {
        var node = svc.Node;
        var shardOwner = node.Myself.IsReplica && node.Myself.Master != null ? node.Myself.Master : node.Myself;
        bool full = svc.SlotStatsEnabled;
        svc.SlotStats.Refresh(node);
        var db = ctx.Server.Keyspace[0];
        long Metric(int slot, int m) => m switch
        {
            0 => db.CountKeysInSlot(slot),
            1 => svc.SlotStats.CpuUsec(slot),
            2 => svc.SlotStats.BytesIn(slot),
            _ => svc.SlotStats.BytesOut(slot),
        };
        var slots = new List<int>();
        if (ctx.ArgCount == 5 && ctx.ArgIs(2, "SLOTSRANGE"))
        {
            if (!TryGetSlot(ctx, 3, out int start) || !TryGetSlot(ctx, 4, out int end)) return;
            if (start > end)
            {
                ctx.Error($"ERR Start slot number {start} is greater than end slot number {end}");
                return;
            }
            for (int s = start; s <= end; s++) if (node.SlotOwner(s) == shardOwner) slots.Add(s);
        }
        else if (ctx.ArgCount >= 4 && ctx.ArgIs(2, "ORDERBY"))
        {
            int metric = Array.FindIndex(SlotMetrics, m => m.Equals(ctx.ArgString(3), StringComparison.OrdinalIgnoreCase));
            if (metric < 0 || (metric > 0 && !full))
            {
                ctx.Error("ERR Unrecognized sort metric for ORDERBY.");
                return;
            }
            long limit = ClusterNode.SlotCount;
            bool desc = true;
            int limits = 0, orders = 0;
            for (int i = 4; i < ctx.ArgCount; i++)
            {
                if (ctx.ArgIs(i, "LIMIT") && i + 1 < ctx.ArgCount)
                {
                    if (!RequestParser.TryParseLong(ctx.Arg(i + 1), out limit) || limit < 1 || limit > ClusterNode.SlotCount)
                    {
                        ctx.Error("ERR Limit has to lie in between 1 and 16384 (maximum number of slots).");
                        return;
                    }
                    i++;
                    limits++;
                }
                else if (ctx.ArgIs(i, "ASC")) { desc = false; orders++; }
                else if (ctx.ArgIs(i, "DESC")) { desc = true; orders++; }
                else
                {
                    ctx.SyntaxError();
                    return;
                }
                if (limits > 1 || orders > 1)
                {
                    ctx.Error("ERR Multiple filters of the same type are disallowed.");
                    return;
                }
            }
            for (int s = 0; s < ClusterNode.SlotCount; s++) if (node.SlotOwner(s) == shardOwner) slots.Add(s);
            var values = slots.ToDictionary(s => s, s => Metric(s, metric));
            slots.Sort((a, b) =>
            {
                int c = values[a].CompareTo(values[b]);
                if (desc) c = -c;
                return c != 0 ? c : a.CompareTo(b);
            });
            if (slots.Count > limit) slots.RemoveRange((int)limit, slots.Count - (int)limit);
        }
        else
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), "cluster"));
            return;
        }
        var w = ctx.Reply;
        w.WriteArrayHeader(slots.Count);
        foreach (int s in slots)
        {
            w.WriteArrayHeader(2);
            w.WriteInteger(s);
            w.WriteMapHeader(full ? 4 : 1);
            for (int m = 0; m < (full ? 4 : 1); m++)
            {
                w.WriteBulk(SlotMetrics[m]);
                w.WriteInteger(Metric(s, m));
            }
        }
    }

    // ---- CLUSTER SLOTS / SHARDS / LINKS ----------------------------------------------------------

    private static void Slots(CommandContext ctx, ClusterService svc)
    {
        var node = svc.Node;
        var ranges = new List<(int Start, int End, Peer Owner)>();
        Peer? cur = null;
        int start = 0;
        for (int i = 0; i <= ClusterNode.SlotCount; i++)
        {
            var owner = i < ClusterNode.SlotCount ? node.SlotOwner(i) : null;
            if (owner == cur) continue;
            if (cur != null) ranges.Add((start, i - 1, cur));
            cur = owner;
            start = i;
        }
        var w = ctx.Reply;
        w.WriteArrayHeader(ranges.Count);
        foreach (var (s, e, owner) in ranges)
        {
            var replicas = owner.Replicas.Where(r => ReplicaAvailable(svc, r)).ToList();
            w.WriteArrayHeader(3 + replicas.Count);
            w.WriteInteger(s);
            w.WriteInteger(e);
            NodeEntry(ctx, svc, owner);
            foreach (var r in replicas) NodeEntry(ctx, svc, r);
        }
    }

    /// <summary>isReplicaAvailable: not failed and with some replication offset.</summary>
    private static bool ReplicaAvailable(ClusterService svc, Peer r)
    {
        if (r.Failed) return false;
        long offset = r.IsMyself ? svc.ReplicaOffset : r.ReplOffset;
        return offset != 0;
    }

    private static void NodeEntry(CommandContext ctx, ClusterService svc, Peer n)
    {
        var w = ctx.Reply;
        string type = ctx.Server.Config.ClusterPreferredEndpointType;
        w.WriteArrayHeader(4);
        if (type == "hostname") w.WriteBulk(n.Hostname.Length > 0 ? n.Hostname : "?");
        else if (type == "unknown-endpoint") w.WriteNull();
        else w.WriteBulk(n.Ip);
        w.WriteInteger(n.Port);
        w.WriteBulk(n.Name);
        bool showIp = type != "ip";
        bool showHost = type != "hostname" && n.Hostname.Length > 0;
        w.WriteMapHeader((showIp ? 1 : 0) + (showHost ? 1 : 0));
        if (showIp)
        {
            w.WriteBulk("ip");
            w.WriteBulk(n.Ip);
        }
        if (showHost)
        {
            w.WriteBulk("hostname");
            w.WriteBulk(n.Hostname);
        }
    }

    private static void Shards(CommandContext ctx, ClusterService svc)
    {
        var node = svc.Node;
        var w = ctx.Reply;
        var masters = node.Nodes.Where(n => n.IsMaster).ToList();
        w.WriteArrayHeader(masters.Count);
        foreach (var m in masters)
        {
            w.WriteMapHeader(2);
            w.WriteBulk("slots");
            var ranges = ClusterNode.SlotRanges(m.Slots).ToList();
            w.WriteArrayHeader(ranges.Count * 2);
            foreach (var (s, e) in ranges)
            {
                w.WriteInteger(s);
                w.WriteInteger(e);
            }
            w.WriteBulk("nodes");
            w.WriteArrayHeader(1 + m.Replicas.Count);
            ShardNode(ctx, svc, m);
            foreach (var r in m.Replicas) ShardNode(ctx, svc, r);
        }
    }

    private static void ShardNode(CommandContext ctx, ClusterService svc, Peer n)
    {
        var w = ctx.Reply;
        long offset = n.IsMyself ? (n.IsReplica ? svc.ReplicaOffset : ctx.Server.Repl.MasterReplOffset) : n.ReplOffset;
        bool hasHost = n.Hostname.Length > 0;
        w.WriteMapHeader(7 + (hasHost ? 1 : 0) - (n.Port == 0 ? 1 : 0));
        w.WriteBulk("id");
        w.WriteBulk(n.Name);
        if (n.Port != 0)
        {
            w.WriteBulk("port");
            w.WriteInteger(n.Port);
        }
        w.WriteBulk("ip");
        w.WriteBulk(n.Ip);
        w.WriteBulk("endpoint");
        w.WriteBulk(svc.Router.Endpoint(n));
        if (hasHost)
        {
            w.WriteBulk("hostname");
            w.WriteBulk(n.Hostname);
        }
        w.WriteBulk("role");
        w.WriteBulk(n.IsReplica ? "replica" : "master");
        w.WriteBulk("replication-offset");
        w.WriteInteger(offset);
        w.WriteBulk("health");
        w.WriteBulk(n.Failed ? "fail" : n.IsReplica && offset == 0 ? "loading" : "online");
    }

    private static void Links(CommandContext ctx, ClusterService svc)
    {
        var w = ctx.Reply;
        var links = new List<(ClusterNode.BusLink Link, Peer Node)>();
        foreach (var n in svc.Node.Nodes)
        {
            foreach (int id in new[] { n.LinkId, n.InboundLinkId })
            {
                if (id < 0) continue;
                var l = svc.Node.Links.FirstOrDefault(x => x.Id == id);
                if (l != null) links.Add((l, n));
            }
        }
        w.WriteArrayHeader(links.Count);
        foreach (var (l, n) in links)
        {
            var conn = svc.Connection(l.Id);
            long pending = conn?.PendingBytes ?? 0;
            w.WriteMapHeader(6);
            w.WriteBulk("direction");
            w.WriteBulk(l.Inbound ? "from" : "to");
            w.WriteBulk("node");
            w.WriteBulk(n.Name);
            w.WriteBulk("create-time");
            w.WriteInteger(l.CreatedMs);
            w.WriteBulk("events");
            w.WriteBulk(pending > 0 ? "rw" : "r");
            w.WriteBulk("send-buffer-allocated");
            w.WriteInteger(Math.Max(pending, conn?.PeakPendingBytes ?? 0));
            w.WriteBulk("send-buffer-used");
            w.WriteInteger(pending);
        }
    }
}
