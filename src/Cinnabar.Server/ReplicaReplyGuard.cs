using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// Replication links carry data from master to replica, never replies. A replica client (after
/// SYNC/PSYNC) whose command produced a reply is a rogue: Redis drops the reply, logs the
/// command and closes the link (networking.c _addReplyToBufferOrList, logInvalidUseAndFreeClientAsync),
/// and an error reply is also logged as "== CRITICAL ==" (afterErrorReply). Commands touching
/// the keyspace are refused to replicas up front (processCommand: "Replica can't interact with
/// the keyspace").
/// </summary>
internal static class ReplicaReplyGuard
{
    public const string KeyspaceError = "ERR Replica can't interact with the keyspace";

    /// <summary>A replica client (not MONITOR, not our master) whose replies must be checked.</summary>
    public static bool Watches(Client c) =>
        (c.Flags & (ClientFlags.Replica | ClientFlags.Monitor | ClientFlags.Master)) == ClientFlags.Replica;

    public static string? KeyspaceCheck(Client c, CommandDef cmd)
    {
        if (!Watches(c)) return null;
        bool touchesKeys = cmd.Is(CommandFlags.Write) || cmd.Is(CommandFlags.ReadOnly) || cmd.Is(CommandFlags.MayReplicate);
        return touchesKeys ? KeyspaceError : null;
    }

    /// <summary>
    /// Called after each command of a watched client with its output length (minus the stream
    /// bytes written to it) before the command: anything more is a reply. The reply is never
    /// sent: the connection is closed at once.
    /// </summary>
    public static void AfterCommand(RedisServer server, Client c, CommandArgs args, long outputBefore)
    {
        int length = c.Reply.Length;
        long replyBytes = length - c.ReplStreamBytes - outputBefore;
        if (replyBytes <= 0 || c.IsClosed) return;
        string name = CommandName(server, args);
        var reply = c.Reply.Written.Span[(int)Math.Max(0, length - replyBytes)..length];
        server.Log.Warning($"Replica generated a reply to command '{name}', disconnecting it: {server.DescribeClient(c)}");
        if (reply.Length > 0 && reply[0] == (byte)'-')
        {
            string error = System.Text.Encoding.UTF8.GetString(reply[1..]).TrimEnd('\r', '\n');
            if (error.StartsWith("ERR ", StringComparison.Ordinal)) error = error[4..];
            server.Log.Warning($"== CRITICAL == This master is sending an error to its replica: '{error}' after processing the command '{name}'");
        }
        c.Flags |= ClientFlags.CloseAsap;
        c.Close();
    }

    private static string CommandName(RedisServer server, CommandArgs args)
    {
        var cmd = server.Commands.Lookup(args[0]);
        if (cmd == null) return "<unknown>";
        if (cmd.Subcommands != null && args.Count > 1 && CommandTable.LookupSub(cmd, args[1]) is { } sub) return sub.FullName;
        return cmd.FullName;
    }
}
