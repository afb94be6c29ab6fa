using Cinnabar.Server.Config;

namespace Cinnabar.Server.Commands;

/// <summary>PING ECHO QUIT SELECT AUTH HELLO RESET.</summary>
public sealed class ConnectionCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        const string g = "connection";
        t.Add("ping", -1, "fast sentinel", 0, 0, 0, "@fast @connection", Ping, g, "Returns the server's liveliness response.");
        t.Add("echo", 2, "loading stale fast", 0, 0, 0, "@fast @connection", Echo, g, "Returns the given string.");
        t.Add("quit", -1, "allow_busy noscript loading stale fast no_auth", 0, 0, 0, "@fast @connection", Quit, g, "Closes the connection.");
        t.Add("select", 2, "loading stale fast", 0, 0, 0, "@fast @connection", Select, g, "Changes the selected database.");
        t.Add("auth", -2, "noscript loading stale fast no_auth sentinel allow_busy", 0, 0, 0, "@fast @connection", Auth, g, "Authenticates the connection.");
        t.Add("hello", -1, "noscript loading stale fast no_auth sentinel allow_busy", 0, 0, 0, "@fast @connection", Hello, g, "Handshakes with the Redis server.", "6.0.0");
        t.Add("reset", 1, "noscript loading stale fast no_auth allow_busy", 0, 0, 0, "@fast @connection", Reset, g, "Resets the connection.", "6.2.0");
    }

    private static void Ping(CommandContext ctx)
    {
        if (ctx.ArgCount > 2)
        {
            ctx.Error(Errors.WrongArity("ping"));
            return;
        }
        // In RESP2 a subscribed client gets the pub/sub form of the reply.
        if (ctx.Client.SubscriptionCount > 0 && ctx.Reply.Protocol == 2)
        {
            ctx.Reply.WriteArrayHeader(2);
            ctx.Reply.WriteBulk("pong"u8);
            ctx.Reply.WriteBulk(ctx.ArgCount == 2 ? ctx.Arg(1) : default);
            return;
        }
        if (ctx.ArgCount == 2) ctx.Reply.WriteBulk(ctx.Arg(1));
        else ctx.Reply.WriteRaw("+PONG\r\n"u8);
    }

    private static void Echo(CommandContext ctx) => ctx.Reply.WriteBulk(ctx.Arg(1));

    private static void Quit(CommandContext ctx)
    {
        ctx.Reply.WriteOk();
        ctx.Client.Flags |= ClientFlags.CloseAfterReply;
    }

    private static void Select(CommandContext ctx)
    {
        if (!Cinnabar.Protocol.RequestParser.TryParseLong(ctx.Arg(1), out long db) || db < int.MinValue || db > int.MaxValue)
        {
            ctx.Error(Errors.NotInteger);
            return;
        }
        if (ctx.Server.Config.ClusterEnabled && db != 0)
        {
            ctx.Error(Errors.NotSupportedInCluster);
            return;
        }
        if (db < 0 || db >= ctx.Keyspace.Count)
        {
            ctx.Error(Errors.DbIndexOutOfRange);
            return;
        }
        ctx.Client.DbIndex = (int)db;
        ctx.Reply.WriteOk();
    }

    private static void Auth(CommandContext ctx)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.SyntaxError();
            return;
        }
        string user = ctx.ArgCount == 3 ? Acl.AclManager.Latin1(ctx.Arg(1)) : "default";
        if (ctx.ArgCount == 2 && ctx.Server.Acl.DefaultUser.NoPass)
        {
            ctx.Error(Errors.AuthNoPassword);
            return;
        }
        if (!ctx.Server.Acl.Authenticate(ctx.Client, user, ctx.Arg(ctx.ArgCount - 1), ctx.ArgString(0)))
        {
            ctx.Server.Log.Verbose("AUTH failed");
            ctx.Error(Errors.WrongPass);
            return;
        }
        ctx.Reply.WriteOk();
    }

    private static void Hello(CommandContext ctx)
    {
        int proto = ctx.Reply.Protocol;
        int i = 1;
        if (ctx.ArgCount >= 2)
        {
            if (!Cinnabar.Protocol.RequestParser.TryParseLong(ctx.Arg(1), out long ver))
            {
                ctx.Error("ERR Protocol version is not an integer or out of range");
                return;
            }
            if (ver < 2 || ver > 3)
            {
                ctx.Error("NOPROTO unsupported protocol version");
                return;
            }
            proto = (int)ver;
            i = 2;
        }
        string? setName = null;
        bool authed = false;
        for (; i < ctx.ArgCount; i++)
        {
            int more = ctx.ArgCount - i - 1;
            if (ctx.ArgIs(i, "AUTH") && more >= 2)
            {
                if (!ctx.Server.Acl.Authenticate(ctx.Client, Acl.AclManager.Latin1(ctx.Arg(i + 1)), ctx.Arg(i + 2), ctx.ArgString(0)))
                {
                    ctx.Error(Errors.WrongPass);
                    return;
                }
                authed = true;
                i += 2;
            }
            else if (ctx.ArgIs(i, "SETNAME") && more >= 1)
            {
                setName = ctx.ArgString(i + 1);
                if (!ClientCommands.ValidName(setName))
                {
                    ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
                    return;
                }
                i += 1;
            }
            else
            {
                ctx.Error($"ERR Syntax error in HELLO option '{ctx.ArgString(i)}'");
                return;
            }
        }
        if (authed) ctx.Client.Authenticated = true;
        if (!ctx.Client.Authenticated && ctx.Server.AuthRequired)
        {
            ctx.Error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
            return;
        }
        if (setName != null) ctx.Client.Name = setName.Length == 0 ? null : setName;
        ctx.Reply.Protocol = proto;
        var w = ctx.Reply;
        // A sentinel's HELLO has no "role" field (Redis's hello in sentinel mode).
        bool sentinel = ctx.Server.Sentinel != null;
        w.WriteMapHeader(sentinel ? 6 : 7);
        w.WriteBulk("server"u8);
        w.WriteBulk("redis"u8);
        w.WriteBulk("version"u8);
        w.WriteBulk(ServerConfig.RedisVersion);
        w.WriteBulk("proto"u8);
        w.WriteInteger(proto);
        w.WriteBulk("id"u8);
        w.WriteInteger(ctx.Client.Id);
        w.WriteBulk("mode"u8);
        w.WriteBulk(sentinel ? "sentinel" : ctx.Server.Config.ClusterEnabled ? "cluster" : "standalone");
        if (!sentinel)
        {
            w.WriteBulk("role"u8);
            w.WriteBulk(ctx.Server.RoleName);
        }
        w.WriteBulk("modules"u8);
        w.WriteEmptyArray();
    }

    private static void Reset(CommandContext ctx)
    {
        var c = ctx.Client;
        var s = ctx.Server;
        c.MultiQueue = null;
        c.Flags &= ~(ClientFlags.Multi | ClientFlags.DirtyExec | ClientFlags.DirtyCas | ClientFlags.Asking | ClientFlags.ReadOnly | ClientFlags.NoEvict);
        s.UnwatchAll(c);
        s.PubSub.RemoveClient(c);
        s.Monitors.Remove(c);
        c.Flags &= ~ClientFlags.Monitor;
        s.Tracking.Disable(c);
        c.DbIndex = 0;
        c.Name = null;
        c.ReplyMode = ReplyMode.On;
        c.Reply.Protocol = 2;
        c.Authenticated = !s.AuthRequired;
        Acl.AclManager.SetClientUser(c, s.Acl.DefaultUser);
        c.Reply.WriteSimpleString("RESET"u8);
    }
}
