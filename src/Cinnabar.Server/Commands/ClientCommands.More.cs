using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

// CLIENT LIST/INFO/KILL/SETINFO/PAUSE/UNPAUSE/NO-EVICT/REPLY/UNBLOCK/GETREDIR/TRACKINGINFO/HELP
// with Redis 7.0's replies and error texts (SETINFO follows Redis 7.2, the first to have it).
public sealed partial class ClientCommands
{
    partial void RegisterMore(CommandTable t, CommandDef container)
    {
        var c = container;
        const string f = "noscript loading stale";
        const string adminF = "admin noscript loading stale";
        const string acl = "@slow @connection";
        const string adminAcl = "@admin @slow @dangerous @connection";
        t.AddSub(c, "list", -2, adminF, 0, 0, 0, adminAcl, List, "Get the list of client connections", "2.4.0", "O(N) where N is the number of client connections").Tips = ["nondeterministic_output"];
        t.AddSub(c, "info", 2, f, 0, 0, 0, acl, Info, "Returns information about the current client connection.", "6.2.0").Tips = ["nondeterministic_output"];
        t.AddSub(c, "kill", -3, adminF, 0, 0, 0, adminAcl, Kill, "Kill the connection of a client", "2.4.0", "O(N) where N is the number of client connections");
        t.AddSub(c, "setinfo", 4, f, 0, 0, 0, acl, SetInfo, "Set client or connection specific info", "7.2.0");
        t.AddSub(c, "pause", -3, adminF, 0, 0, 0, adminAcl, Pause, "Stop processing commands from clients for some time", "2.9.50");
        t.AddSub(c, "unpause", 2, adminF, 0, 0, 0, adminAcl, Unpause, "Resume processing of clients that were paused", "6.2.0", "O(N) Where N is the number of paused clients");
        t.AddSub(c, "no-evict", 3, adminF, 0, 0, 0, adminAcl, NoEvict, "Set client eviction mode for the current connection", "7.0.0");
        t.AddSub(c, "reply", 3, f, 0, 0, 0, acl, Reply, "Instruct the server whether to reply to commands", "3.2.0");
        t.AddSub(c, "unblock", -3, adminF, 0, 0, 0, adminAcl, Unblock, "Unblock a client blocked in a blocking command from a different connection", "5.0.0", "O(log N) where N is the number of client connections");
        RegisterTracking(t, c, f, acl);
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, acl, Help, "Show helpful text about the different subcommands", "5.0.0");
    }

    /// <summary>Maps a TYPE argument to a client class (Redis getClientTypeByName), null if unknown.</summary>
    private static ClientType? ParseType(string name) => name.ToLowerInvariant() switch
    {
        "normal" => ClientType.Normal,
        "slave" or "replica" => ClientType.Replica,
        "pubsub" => ClientType.PubSub,
        "master" => ClientType.Master,
        _ => null,
    };

    private static void WriteText(CommandContext ctx, string text)
    {
        if (ctx.Reply.Protocol >= 3) ctx.Reply.WriteVerbatim(text);
        else ctx.Reply.WriteBulk(text);
    }

    private static void List(CommandContext ctx)
    {
        ClientType? type = null;
        HashSet<long>? ids = null;
        if (ctx.ArgCount == 4 && ctx.ArgIs(2, "TYPE"))
        {
            type = ParseType(ctx.ArgString(3));
            if (type == null)
            {
                ctx.Error($"ERR Unknown client type '{ctx.ArgString(3)}'");
                return;
            }
        }
        else if (ctx.ArgCount > 3 && ctx.ArgIs(2, "ID"))
        {
            ids = new HashSet<long>();
            for (int i = 3; i < ctx.ArgCount; i++)
            {
                if (!RequestParser.TryParseLong(ctx.Arg(i), out long id))
                {
                    ctx.Error("ERR Invalid client ID");
                    return;
                }
                ids.Add(id);
            }
        }
        else if (ctx.ArgCount != 2)
        {
            ctx.SyntaxError();
            return;
        }
        var sb = new StringBuilder();
        var clients = ctx.Server.Clients.ToList();
        clients.Sort((a, b) => a.Id.CompareTo(b.Id));
        foreach (var c in clients)
        {
            if (type != null && RedisServer.TypeOf(c) != type) continue;
            // Closed for its limits (output buffer, client eviction): Redis has freed it before
            // the next command runs, so it is no longer listed.
            if (c.IsClosed && (c.Flags & ClientFlags.CloseAsap) != 0) continue;
            if (ids != null && !ids.Contains(c.Id)) continue;
            sb.Append(ctx.Server.DescribeClient(c)).Append('\n');
        }
        WriteText(ctx, sb.ToString());
    }

    private static void Info(CommandContext ctx) => WriteText(ctx, ctx.Server.DescribeClient(ctx.Client) + "\n");

    private static void Kill(CommandContext ctx)
    {
        var server = ctx.Server;
        if (ctx.ArgCount == 3)
        {
            // Old form: CLIENT KILL addr:port -> +OK or an error.
            string addr = ctx.ArgString(2);
            var target = server.Clients.FirstOrDefault(c => c.Address == addr);
            // The master link (Redis's master client) is not among the clients.
            if (target == null && server.Repl.Link is { } link && link.RemoteAddress == addr && link.Kill())
            {
                ctx.Reply.WriteOk();
                return;
            }
            if (target == null)
            {
                ctx.Error("ERR No such client");
                return;
            }
            KillClient(ctx, target);
            ctx.Reply.WriteOk();
            return;
        }
        long id = 0;
        ClientType? type = null;
        string? addrFilter = null, laddrFilter = null, user = null;
        long maxAgeSeconds = 0;
        bool skipMe = true;
        for (int i = 2; i < ctx.ArgCount; i += 2)
        {
            if (i + 1 >= ctx.ArgCount)
            {
                ctx.SyntaxError();
                return;
            }
            string value = ctx.ArgString(i + 1);
            if (ctx.ArgIs(i, "ID"))
            {
                if (!RequestParser.TryParseLong(ctx.Arg(i + 1), out id) || id <= 0)
                {
                    ctx.Error("ERR client-id should be greater than 0");
                    return;
                }
            }
            else if (ctx.ArgIs(i, "TYPE"))
            {
                type = ParseType(value);
                if (type == null)
                {
                    ctx.Error($"ERR Unknown client type '{value}'");
                    return;
                }
            }
            else if (ctx.ArgIs(i, "ADDR")) addrFilter = value;
            else if (ctx.ArgIs(i, "LADDR")) laddrFilter = value;
            else if (ctx.ArgIs(i, "USER"))
            {
                if (value != "default")
                {
                    ctx.Error($"ERR No such user '{value}'");
                    return;
                }
                user = value;
            }
            else if (ctx.ArgIs(i, "SKIPME"))
            {
                if (ctx.ArgIs(i + 1, "YES")) skipMe = true;
                else if (ctx.ArgIs(i + 1, "NO")) skipMe = false;
                else
                {
                    ctx.SyntaxError();
                    return;
                }
            }
            else if (ctx.ArgIs(i, "MAXAGE"))
            {
                if (!RequestParser.TryParseLong(ctx.Arg(i + 1), out maxAgeSeconds) || maxAgeSeconds <= 0)
                {
                    ctx.SyntaxError();
                    return;
                }
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        long now = Environment.TickCount64;
        int killed = 0;
        foreach (var c in server.Clients.ToArray())
        {
            if (id != 0 && c.Id != id) continue;
            if (type != null && RedisServer.TypeOf(c) != type) continue;
            if (addrFilter != null && c.Address != addrFilter) continue;
            if (laddrFilter != null && c.LocalAddress != laddrFilter) continue;
            if (user != null && c.User != user) continue;
            if (maxAgeSeconds > 0 && (now - c.CreatedMs) / 1000 < maxAgeSeconds) continue;
            if (c == ctx.Client && skipMe) continue;
            KillClient(ctx, c);
            killed++;
        }
        if (server.Repl.Link is { } masterLink && id == 0 && (type == null || type == ClientType.Master) && laddrFilter == null && user == null
            && maxAgeSeconds == 0 && (addrFilter == null || addrFilter == masterLink.RemoteAddress) && (type != null || addrFilter != null) && masterLink.Kill())
            killed++;
        ctx.Reply.WriteInteger(killed);
    }

    /// <summary>Closes a client; the current client is closed after its reply is sent.</summary>
    private static void KillClient(CommandContext ctx, Client c)
    {
        if (c == ctx.Client) c.Flags |= ClientFlags.CloseAfterReply;
        else
        {
            // Like Redis's freeClient: gone from CLIENT LIST as soon as the command returns.
            c.Close();
            ctx.Server.OnClientClosed(c);
        }
    }

    private static void SetInfo(CommandContext ctx)
    {
        string attr = ctx.ArgString(2);
        string value = ctx.ArgString(3);
        bool libName = attr.Equals("lib-name", StringComparison.OrdinalIgnoreCase);
        if (!libName && !attr.Equals("lib-ver", StringComparison.OrdinalIgnoreCase))
        {
            ctx.Error($"ERR Unrecognized option '{attr}'");
            return;
        }
        if (!ValidName(value))
        {
            ctx.Error($"ERR {attr.ToLowerInvariant()} cannot contain spaces, newlines or special characters.");
            return;
        }
        string? v = value.Length == 0 ? null : value;
        if (libName) ctx.Client.LibName = v;
        else ctx.Client.LibVersion = v;
        ctx.Reply.WriteOk();
    }

    private static void Pause(CommandContext ctx)
    {
        if (!RequestParser.TryParseLong(ctx.Arg(2), out long ms))
        {
            ctx.Error("ERR timeout is not an integer or out of range");
            return;
        }
        if (ms < 0)
        {
            ctx.Error("ERR timeout is negative");
            return;
        }
        bool writesOnly = false;
        if (ctx.ArgCount == 4)
        {
            if (ctx.ArgIs(3, "WRITE")) writesOnly = true;
            else if (!ctx.ArgIs(3, "ALL"))
            {
                ctx.Error("ERR CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        }
        else if (ctx.ArgCount > 4)
        {
            ctx.SyntaxError();
            return;
        }
        ctx.Server.PauseClients(ms, writesOnly);
        ctx.Reply.WriteOk();
    }

    private static void Unpause(CommandContext ctx)
    {
        ctx.Server.UnpauseClients();
        ctx.Reply.WriteOk();
    }

    private static void NoEvict(CommandContext ctx)
    {
        if (ctx.ArgIs(2, "ON")) ctx.Client.Flags |= ClientFlags.NoEvict;
        else if (ctx.ArgIs(2, "OFF")) ctx.Client.Flags &= ~ClientFlags.NoEvict;
        else
        {
            ctx.SyntaxError();
            return;
        }
        ctx.Reply.WriteOk();
    }

    private static void Reply(CommandContext ctx)
    {
        if (ctx.ArgIs(2, "ON"))
        {
            ctx.Client.ReplyMode = ReplyMode.On;
            ctx.Reply.WriteOk();
        }
        else if (ctx.ArgIs(2, "OFF")) ctx.Client.ReplyMode = ReplyMode.Off;
        else if (ctx.ArgIs(2, "SKIP"))
        {
            if (ctx.Client.ReplyMode != ReplyMode.Off) ctx.Client.ReplyMode = ReplyMode.Skip;
        }
        else ctx.SyntaxError();
    }

    private const string UnblockedError = Errors.UnblockedByClientUnblock;

    private static void Unblock(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long id)) return;
        bool error = false;
        if (ctx.ArgCount == 4)
        {
            if (ctx.ArgIs(3, "ERROR")) error = true;
            else if (!ctx.ArgIs(3, "TIMEOUT"))
            {
                ctx.Error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        else if (ctx.ArgCount > 4)
        {
            ctx.SyntaxError();
            return;
        }
        var target = ctx.Server.FindClient(id);
        if (target == null || !ctx.Server.IsBlocked(target))
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        ctx.Server.Unblock(target, timedOut: !error, write: true, error: error ? UnblockedError : null);
        ctx.Reply.WriteInteger(1);
    }

    private static void Help(CommandContext ctx) => HelpText.Write(ctx,
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.");
}
