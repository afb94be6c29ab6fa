namespace Cinnabar.Server.Commands;

/// <summary>
/// ASKING / READONLY / READWRITE: cluster client commands that exist in every Redis 7.0 build (so ACL rules
/// such as "+readonly" resolve); with cluster support disabled they answer as Redis does.
/// </summary>
public sealed class ClusterClientCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        const string g = "cluster";
        t.Add("readonly", 1, "loading stale fast", 0, 0, 0, "@fast @connection", ReadOnly, g, "Enables read-only queries for a connection to a Redis Cluster replica node.", "3.0.0");
        t.Add("asking", 1, "fast", 0, 0, 0, "@fast @connection", Asking, g, "Sent by cluster clients after an -ASK redirect", "3.0.0");
        t.Add("readwrite", 1, "loading stale fast", 0, 0, 0, "@fast @connection", ReadWrite, g, "Enables read-write queries for a connection to a Redis Cluster replica node.", "3.0.0");
    }

    private static void ReadOnly(CommandContext ctx)
    {
        if (!ctx.Server.Config.ClusterEnabled)
        {
            ctx.Error(Errors.ClusterSupportDisabled);
            return;
        }
        ctx.Client.Flags |= ClientFlags.ReadOnly;
        ctx.Reply.WriteOk();
    }

    private static void Asking(CommandContext ctx)
    {
        if (!ctx.Server.Config.ClusterEnabled)
        {
            ctx.Error(Errors.ClusterSupportDisabled);
            return;
        }
        ctx.Client.Flags |= ClientFlags.Asking;
        ctx.Reply.WriteOk();
    }

    private static void ReadWrite(CommandContext ctx)
    {
        if (!ctx.Server.Config.ClusterEnabled)
        {
            ctx.Error(Errors.ClusterSupportDisabled);
            return;
        }
        ctx.Client.Flags &= ~ClientFlags.ReadOnly;
        ctx.Reply.WriteOk();
    }
}
