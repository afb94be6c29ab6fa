using System.Globalization;

namespace Cinnabar.Server.Commands;

/// <summary>REPLCONF PSYNC SYNC REPLICAOF SLAVEOF FAILOVER ROLE WAIT.</summary>
public sealed class ReplicationCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        const string g = "server";
        t.Add("replconf", -1, "admin noscript loading stale allow_busy", 0, 0, 0, "@admin @slow @dangerous", ctx => ctx.Server.ReplconfCommand(ctx), g, "An internal command for configuring the replication stream.", "3.0.0");
        t.Add("psync", -3, "admin noscript no_async_loading no_multi", 0, 0, 0, "@admin @slow @dangerous", ctx => ctx.Server.PsyncCommand(ctx, legacySync: false), g, "An internal command used in replication.", "2.8.0");
        t.Add("sync", 1, "admin noscript no_async_loading no_multi", 0, 0, 0, "@admin @slow @dangerous", ctx => ctx.Server.PsyncCommand(ctx, legacySync: true), g, "An internal command used in replication.");
        t.Add("replicaof", 3, "admin noscript stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", ReplicaOf, g, "Configures a server as replica of another, or promotes it to a master.", "5.0.0");
        t.Add("slaveof", 3, "admin noscript stale no_async_loading", 0, 0, 0, "@admin @slow @dangerous", ReplicaOf, g, "Sets a Redis server as a replica of another, or promotes it to being a master.");
        t.Add("failover", -1, "admin noscript stale", 0, 0, 0, "@admin @slow @dangerous", Failover, g, "Start a coordinated failover between this server and one of its replicas.", "6.2.0");
        t.Add("role", 1, "noscript loading stale fast", 0, 0, 0, "@admin @fast @dangerous", Role, g, "Returns the replication role.", "2.8.12");
        t.Add("wait", 3, "noscript", 0, 0, 0, "@slow @connection", Wait, "generic", "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.", "3.0.0");
    }

    private static void ReplicaOf(CommandContext ctx)
    {
        var s = ctx.Server;
        if (s.Config.ClusterEnabled)
        {
            ctx.Error(Errors.ReplicaOfClusterMode);
            return;
        }
        if (s.Failover != FailoverState.None)
        {
            ctx.Error(Errors.ReplicaOfWhileFailingOver);
            return;
        }
        if (ctx.ArgIs(1, "NO") && ctx.ArgIs(2, "ONE"))
        {
            if (s.IsReplica)
            {
                s.ReplicaOfNoOne();
                s.Log.Notice($"MASTER MODE enabled (user request from '{s.DescribeClient(ctx.Client)}')");
            }
            ctx.Reply.WriteOk();
            return;
        }
        if ((ctx.Client.Flags & ClientFlags.Replica) != 0)
        {
            ctx.Error("ERR Command is not valid when client is a replica.");
            return;
        }
        if (!ctx.TryGetLong(2, out long port)) return;
        if (port < 0 || port > 65535)
        {
            ctx.Error("ERR Invalid master port");
            return;
        }
        string host = ctx.ArgString(1);
        if (s.IsReplica && string.Equals(s.Repl.MasterHost, host, StringComparison.OrdinalIgnoreCase) && s.Repl.MasterPort == port)
        {
            s.Log.Notice("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
            ctx.Reply.WriteSimpleString("OK Already connected to specified master");
            return;
        }
        s.ReplicaOf(host, (int)port);
        s.Log.Notice($"REPLICAOF {host}:{port} enabled (user request from '{s.DescribeClient(ctx.Client)}')");
        ctx.Reply.WriteOk();
    }

    private static void Failover(CommandContext ctx) => ctx.Server.FailoverCommand(ctx);

    private static void Role(CommandContext ctx)
    {
        var s = ctx.Server;
        var w = ctx.Reply;
        if (!s.IsReplica)
        {
            w.WriteArrayHeader(3);
            w.WriteBulk("master"u8);
            w.WriteInteger(s.Repl.MasterReplOffset);
            var online = s.Repl.Replicas.Where(r => r.State == ReplicaState.Online).ToList();
            w.WriteArrayHeader(online.Count);
            foreach (var r in online)
            {
                w.WriteArrayHeader(3);
                w.WriteBulk(r.Ip);
                w.WriteBulk(r.ListeningPort.ToString(CultureInfo.InvariantCulture));
                w.WriteBulk(r.AckOffset.ToString(CultureInfo.InvariantCulture));
            }
            return;
        }
        var link = s.Repl.Link;
        w.WriteArrayHeader(5);
        w.WriteBulk("slave"u8);
        w.WriteBulk(s.Repl.MasterHost!);
        w.WriteInteger(s.Repl.MasterPort);
        w.WriteBulk(link?.State ?? "connect");
        w.WriteInteger(link?.Connected == true ? s.Repl.MasterReplOffset : -1);
    }

    private static void Wait(CommandContext ctx)
    {
        var s = ctx.Server;
        if (s.IsReplica)
        {
            ctx.Error("ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.");
            return;
        }
        if (!ctx.TryGetLong(1, out long needed)) return;
        if (!ctx.TryGetLong(2, out long timeoutMs)) return;
        if (timeoutMs < 0)
        {
            ctx.Error("ERR timeout is negative");
            return;
        }
        long offset = s.Repl.MasterReplOffset;
        int acked = s.ReplicasAcked(offset);
        if (acked >= needed || (ctx.Client.Flags & ClientFlags.Multi) != 0)
        {
            ctx.Reply.WriteInteger(acked);
            return;
        }
        s.Block(ctx, [], timeoutMs, w => w.WriteInteger(s.ReplicasAcked(offset)));
        s.AddWaiter(ctx.Client, offset, (int)needed);
        s.RequestAcks();
    }
}
