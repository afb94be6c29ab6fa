using System.Security.Cryptography;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Acl;

namespace Cinnabar.Server.Commands;

/// <summary>ACL SETUSER GETUSER DELUSER LIST USERS WHOAMI CAT GENPASS LOG DRYRUN LOAD SAVE HELP (Redis 7.0 aclCommand).</summary>
public sealed class AclCommands : ICommandFamily
{
    private const string Admin = "admin noscript loading stale sentinel";
    private const string AdminAcl = "@admin @slow @dangerous";

    public void Register(CommandTable t)
    {
        var c = t.AddContainer("acl", -2, "server", "A container for Access List Control commands ", "6.0.0");
        c.Flags = CommandFlags.Sentinel;
        t.AddSub(c, "cat", -2, "noscript loading stale sentinel", 0, 0, 0, "@slow", Cat, "List the ACL categories or the commands inside a category", "6.0.0", "O(1) since the categories and commands are a fixed set.");
        t.AddSub(c, "deluser", -3, Admin, 0, 0, 0, AdminAcl, DelUser, "Remove the specified ACL users and the associated rules", "6.0.0", "O(1) amortized time considering the typical user.");
        t.AddSub(c, "dryrun", -4, Admin, 0, 0, 0, AdminAcl, DryRun, "Returns whether the user can execute the given command without executing the command.", "7.0.0", "O(1).");
        t.AddSub(c, "genpass", -2, "noscript loading stale sentinel", 0, 0, 0, "@slow", GenPass, "Generate a pseudorandom secure password to use for ACL users", "6.0.0");
        t.AddSub(c, "getuser", 3, Admin, 0, 0, 0, AdminAcl, GetUser, "Get the rules for a specific ACL user", "6.0.0", "O(N). Where N is the number of password, command and pattern rules that the user has.");
        t.AddSub(c, "help", 2, "loading stale sentinel", 0, 0, 0, "@slow", Help, "Show helpful text about the different subcommands", "6.0.0");
        t.AddSub(c, "list", 2, Admin, 0, 0, 0, AdminAcl, List, "List the current ACL rules in ACL config file format", "6.0.0", "O(N). Where N is the number of configured users.");
        t.AddSub(c, "load", 2, Admin, 0, 0, 0, AdminAcl, Load, "Reload the ACLs from the configured ACL file", "6.0.0", "O(N). Where N is the number of configured users.");
        t.AddSub(c, "log", -2, Admin, 0, 0, 0, AdminAcl, Log, "List latest events denied because of ACLs in place", "6.0.0", "O(N) with N being the number of entries shown.");
        t.AddSub(c, "save", 2, Admin, 0, 0, 0, AdminAcl, Save, "Save the current ACL rules in the configured ACL file", "6.0.0", "O(N). Where N is the number of configured users.");
        t.AddSub(c, "setuser", -3, Admin, 0, 0, 0, AdminAcl, SetUser, "Modify or create the rules for a specific ACL user", "6.0.0", "O(N). Where N is the number of rules provided.");
        t.AddSub(c, "users", 2, Admin, 0, 0, 0, AdminAcl, Users, "List the username of all the configured ACL rules", "6.0.0", "O(N). Where N is the number of configured users.");
        t.AddSub(c, "whoami", 2, "noscript loading stale sentinel", 0, 0, 0, "@slow", WhoAmI, "Return the name of the user associated to the current connection", "6.0.0");
    }

    private static string L1(CommandContext ctx, int i) => AclManager.Latin1(ctx.Arg(i));
    private static byte[] B(string latin1) => Encoding.Latin1.GetBytes(latin1);

    private static void SetUser(CommandContext ctx)
    {
        string name = L1(ctx, 2);
        if (AclSelector.HasSpaces(name))
        {
            ctx.Error(Errors.AclUsernameSpaces);
            return;
        }
        var ops = new List<string>();
        for (int i = 3; i < ctx.ArgCount; i++) ops.Add(L1(ctx, i));
        var err = ctx.Server.Acl.SetUser(name, ops, ctx.Client);
        if (err != null) ctx.Error("ERR " + err);
        else ctx.Reply.WriteOk();
    }

    private static void DelUser(CommandContext ctx)
    {
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (L1(ctx, i) == "default")
            {
                ctx.Error(Errors.AclDefaultUserDelete);
                return;
            }
        }
        long deleted = 0;
        for (int i = 2; i < ctx.ArgCount; i++)
            if (ctx.Server.Acl.DeleteUser(L1(ctx, i), ctx.Client)) deleted++;
        ctx.Reply.WriteInteger(deleted);
    }

    private static void GetUser(CommandContext ctx)
    {
        var acl = ctx.Server.Acl;
        var u = acl.GetUser(L1(ctx, 2));
        var w = ctx.Reply;
        if (u == null)
        {
            w.WriteNull();
            return;
        }
        w.WriteMapHeader(6);
        w.WriteBulk("flags"u8);
        var flags = u.FlagNames();
        w.WriteSetHeader(flags.Count);
        foreach (var f in flags) w.WriteBulk(f);
        w.WriteBulk("passwords"u8);
        w.WriteArrayHeader(u.Passwords.Count);
        foreach (var p in u.Passwords) w.WriteBulk(p);
        WriteSelector(w, acl, u.Root);
        w.WriteBulk("selectors"u8);
        w.WriteArrayHeader(u.Selectors.Count - 1);
        for (int i = 1; i < u.Selectors.Count; i++)
        {
            w.WriteMapHeader(3);
            WriteSelector(w, acl, u.Selectors[i]);
        }
    }

    private static void WriteSelector(RespWriter w, AclManager acl, AclSelector s)
    {
        w.WriteBulk("commands"u8);
        w.WriteBulk(B(s.DescribeCommands(acl)));
        w.WriteBulk("keys"u8);
        w.WriteBulk(B(s.DescribeKeys()));
        w.WriteBulk("channels"u8);
        w.WriteBulk(B(s.DescribeChannels()));
    }

    private static void List(CommandContext ctx)
    {
        var lines = ctx.Server.Acl.DescribeAll();
        ctx.Reply.WriteArrayHeader(lines.Count);
        foreach (var l in lines) ctx.Reply.WriteBulk(B(l));
    }

    private static void Users(CommandContext ctx)
    {
        var acl = ctx.Server.Acl;
        ctx.Reply.WriteArrayHeader(acl.UserCount);
        foreach (var u in acl.Users) ctx.Reply.WriteBulk(B(u.Name));
    }

    private static void WhoAmI(CommandContext ctx) => ctx.Reply.WriteBulk(B(ctx.Client.AclUser.Name));

    private static void Load(CommandContext ctx)
    {
        if (ctx.Server.Config.AclFile.Length == 0)
        {
            ctx.Error(Errors.AclNoFile);
            return;
        }
        var err = ctx.Server.Acl.LoadFromFile(ctx.Server.Config.AclFile, ctx.Client);
        if (err != null) ctx.Error("ERR " + err);
        else ctx.Reply.WriteOk();
    }

    private static void Save(CommandContext ctx)
    {
        if (ctx.Server.Config.AclFile.Length == 0)
        {
            ctx.Error(Errors.AclNoFile);
            return;
        }
        if (ctx.Server.Acl.SaveToFile()) ctx.Reply.WriteOk();
        else ctx.Error(Errors.AclSaveFailed);
    }

    private static void Cat(CommandContext ctx)
    {
        if (ctx.ArgCount == 2)
        {
            ctx.Reply.WriteArrayHeader(AclCategories.Names.Length);
            foreach (var n in AclCategories.Names) ctx.Reply.WriteBulk(n);
            return;
        }
        if (ctx.ArgCount != 3)
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), ctx.ArgString(0)));
            return;
        }
        ulong bit = AclCategories.Bit(ctx.ArgString(2));
        if (bit == 0)
        {
            ctx.Error(Errors.AclUnknownCategory(ctx.ArgString(2)));
            return;
        }
        var names = new List<string>();
        foreach (var cmd in ctx.Server.Acl.TopLevelCommands)
        {
            if ((cmd.AclCategoryBits & bit) != 0) names.Add(cmd.FullName);
            if (cmd.Subcommands == null) continue;
            foreach (var sub in cmd.Subcommands.Values)
                if ((sub.AclCategoryBits & bit) != 0) names.Add(sub.FullName);
        }
        ctx.Reply.WriteArrayHeader(names.Count);
        foreach (var n in names) ctx.Reply.WriteBulk(n);
    }

    private static void GenPass(CommandContext ctx)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), ctx.ArgString(0)));
            return;
        }
        long bits = 256;
        if (ctx.ArgCount == 3 && !ctx.TryGetLong(2, out bits)) return;
        if (bits <= 0 || bits > 4096)
        {
            ctx.Error(Errors.AclGenpassBits);
            return;
        }
        int chars = (int)((bits + 3) / 4);
        string hex = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes((chars + 1) / 2));
        ctx.Reply.WriteBulk(hex[..chars]);
    }

    private static void Log(CommandContext ctx)
    {
        if (ctx.ArgCount > 3)
        {
            ctx.Error(Errors.SubcommandSyntax(ctx.ArgString(1), ctx.ArgString(0)));
            return;
        }
        long count = 10;
        if (ctx.ArgCount == 3)
        {
            if (ctx.ArgIs(2, "RESET"))
            {
                ctx.Server.Acl.ResetLog();
                ctx.Reply.WriteOk();
                return;
            }
            if (!ctx.TryGetLong(2, out count)) return;
            if (count < 0) count = 0;
        }
        ctx.Server.Acl.WriteLog(ctx.Reply, count);
    }

    private static void DryRun(CommandContext ctx)
    {
        var acl = ctx.Server.Acl;
        var u = acl.GetUser(L1(ctx, 2));
        if (u == null)
        {
            ctx.Error(Errors.AclUserNotFound(ctx.ArgString(2)));
            return;
        }
        var argv = new byte[ctx.ArgCount - 3][];
        for (int i = 3; i < ctx.ArgCount; i++) argv[i - 3] = ctx.ArgBytes(i);
        var cmd = ctx.Server.Commands.Lookup(argv[0]);
        if (cmd?.Subcommands != null && argv.Length >= 2) cmd = CommandTable.LookupSub(cmd, argv[1]);
        if (cmd == null)
        {
            ctx.Error(Errors.AclCommandNotFound(ctx.ArgString(3)));
            return;
        }
        if (!cmd.ArityOk(argv.Length))
        {
            ctx.Error($"ERR wrong number of arguments for '{cmd.FullName}' command");
            return;
        }
        var args = new CommandArgs();
        args.SetOwned(argv);
        var r = acl.Check(u, cmd, args, out int idx);
        switch (r)
        {
            case AclResult.Ok: ctx.Reply.WriteOk(); break;
            case AclResult.DeniedCommand: ctx.Reply.WriteBulk($"This user has no permissions to run the '{cmd.FullName}' command"); break;
            case AclResult.DeniedKey: ctx.Reply.WriteBulk(B($"This user has no permissions to access the '{AclManager.Latin1(argv[idx])}' key")); break;
            default: ctx.Reply.WriteBulk(B($"This user has no permissions to access the '{AclManager.Latin1(argv[idx])}' channel")); break;
        }
    }

    private static readonly string[] HelpLines =
    [
        "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CAT [<category>]",
        "    List all commands that belong to <category>, or all command categories",
        "    when no category is specified.",
        "DELUSER <username> [<username> ...]",
        "    Delete a list of users.",
        "DRYRUN <username> <command> [<arg> ...]",
        "    Returns whether the user can execute the given command without executing the command.",
        "GETUSER <username>",
        "    Get the user's details.",
        "GENPASS [<bits>]",
        "    Generate a secure 256-bit user password. The optional `bits` argument can",
        "    be used to specify a different size.",
        "LIST",
        "    Show users details in config file format.",
        "LOAD",
        "    Reload users from the ACL file.",
        "LOG [<count> | RESET]",
        "    Show the ACL log entries.",
        "SAVE",
        "    Save the current config to the ACL file.",
        "SETUSER <username> <attribute> [<attribute> ...]",
        "    Create or modify a user with the specified attributes.",
        "USERS",
        "    List all the registered usernames.",
        "WHOAMI",
        "    Return the current connection username.",
        "HELP",
        "    Prints this help.",
    ];

    private static void Help(CommandContext ctx) => ctx.Reply.WriteHelpLines(HelpLines);
}
