namespace Cinnabar.Server.Commands;

/// <summary>CLIENT subcommands.</summary>
public sealed partial class ClientCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        var c = t.AddContainer("client", -2, "connection", "A container for client connection commands.", "2.4.0");
        t.AddSub(c, "id", 2, "noscript loading stale", 0, 0, 0, "@slow @connection", ctx => ctx.Reply.WriteInteger(ctx.Client.Id), "Returns the unique client ID of the connection.", "5.0.0");
        t.AddSub(c, "setname", 3, "noscript loading stale", 0, 0, 0, "@slow @connection", SetName, "Sets the connection name.", "2.6.9");
        t.AddSub(c, "getname", 2, "noscript loading stale", 0, 0, 0, "@slow @connection", ctx => ctx.Reply.WriteBulkOrNull(ctx.Client.Name == null ? null : System.Text.Encoding.UTF8.GetBytes(ctx.Client.Name)), "Returns the name of the connection.", "2.6.9");
        RegisterMore(t, c);
    }

    partial void RegisterMore(CommandTable t, CommandDef container);

    /// <summary>Redis refuses names with spaces, newlines or characters outside '!'..'~'.</summary>
    public static bool ValidName(string name)
    {
        foreach (char ch in name)
            if (ch < '!' || ch > '~') return false;
        return true;
    }

    private static void SetName(CommandContext ctx)
    {
        string name = ctx.ArgString(2);
        if (!ValidName(name))
        {
            ctx.Error("ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        ctx.Client.Name = name.Length == 0 ? null : name;
        ctx.Reply.WriteOk();
    }
}
