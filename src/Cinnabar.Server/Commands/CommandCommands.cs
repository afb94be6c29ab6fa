using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// COMMAND and its subcommands, served from the command table (Redis 7.0 reply shapes).
/// Key specs are Redis's declared ones (KeySpecs).
/// </summary>
public sealed class CommandCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        var c = t.AddContainer("command", -1, "server", "Get array of Redis command details", "2.8.13", All);
        c.Flags = CommandFlags.Loading | CommandFlags.Stale;
        c.AclCategories = ["@slow", "@connection"];
        c.Tips = ["nondeterministic_output_order"];
        const string f = "loading stale";
        const string acl = "@slow @connection";
        t.AddSub(c, "count", 2, f, 0, 0, 0, acl, ctx => ctx.Reply.WriteInteger(CountAll(ctx.Server)), "Get total number of Redis commands", "2.8.13");
        t.AddSub(c, "info", -2, f, 0, 0, 0, acl, Info, "Get array of specific Redis command details, or all when no argument is given.", "2.8.13", "O(N) where N is the number of commands to look up").Tips = ["nondeterministic_output_order"];
        t.AddSub(c, "docs", -2, f, 0, 0, 0, acl, Docs, "Get array of specific Redis command documentation", "7.0.0", "O(N) where N is the number of commands to look up").Tips = ["nondeterministic_output_order"];
        t.AddSub(c, "getkeys", -4, f, 0, 0, 0, acl, GetKeys, "Extract keys given a full Redis command", "2.8.13", "O(N) where N is the number of arguments to the command");
        t.AddSub(c, "getkeysandflags", -4, f, 0, 0, 0, acl, GetKeysAndFlags, "Extract keys and access flags given a full Redis command", "7.0.0", "O(N) where N is the number of arguments to the command");
        t.AddSub(c, "list", -2, f, 0, 0, 0, acl, List, "Get an array of Redis command names", "7.0.0", "O(N) where N is the total number of Redis commands").Tips = ["nondeterministic_output_order"];
        t.AddSub(c, "help", 2, f, 0, 0, 0, acl, Help, "Show helpful text about the different subcommands", "5.0.0");
    }

    private static int CountAll(RedisServer s) => s.Commands.Count;

    private static void All(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader(ctx.Server.Commands.Count);
        foreach (var c in ctx.Server.Commands.All) WriteInfo(ctx.Reply, c);
    }

    private static CommandDef? Find(RedisServer s, string name)
    {
        int bar = name.IndexOf('|');
        if (bar < 0) return s.Commands.Lookup(name);
        var parent = s.Commands.Lookup(name[..bar]);
        if (parent?.Subcommands == null) return null;
        return parent.Subcommands.TryGetValue(name[(bar + 1)..], out var sub) ? sub : null;
    }

    private static void Info(CommandContext ctx)
    {
        if (ctx.ArgCount == 2)
        {
            All(ctx);
            return;
        }
        ctx.Reply.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            var c = Find(ctx.Server, ctx.ArgString(i));
            if (c == null) ctx.Reply.WriteNull();
            else WriteInfo(ctx.Reply, c);
        }
    }

    private static string[] Acl(CommandDef c) => c.AclCategories.Length == 0 && c.Subcommands != null ? ["@slow"] : c.AclCategories;

    public static void WriteInfo(RespWriter w, CommandDef c)
    {
        w.WriteArrayHeader(10);
        w.WriteBulk(c.FullName);
        w.WriteInteger(c.Arity);
        var flags = CommandDef.FlagNames(c.Flags);
        w.WriteSetHeader(flags.Count);
        foreach (var f in flags) w.WriteSimpleString(f);
        w.WriteInteger(c.FirstKey);
        w.WriteInteger(c.LastKey);
        w.WriteInteger(c.Step);
        var acl = Acl(c);
        w.WriteSetHeader(acl.Length);
        foreach (var a in acl) w.WriteSimpleString(a);
        w.WriteSetHeader(c.Tips.Length);
        foreach (var tip in c.Tips) w.WriteBulk(tip);
        WriteKeySpecs(w, c);
        // Redis 7.0 quirk kept for byte compatibility: in RESP3 the key specs and an empty
        // subcommand list use set headers, a non-empty subcommand list an array header.
        if (c.Subcommands == null || c.Subcommands.Count == 0) w.WriteSetHeader(0);
        else
        {
            w.WriteArrayHeader(c.Subcommands.Count);
            foreach (var sub in c.Subcommands.Values) WriteInfo(w, sub);
        }
    }

    private static void WriteKeySpecs(RespWriter w, CommandDef c) => KeySpecs.Write(w, c);

    private static void Docs(CommandContext ctx)
    {
        var list = new List<CommandDef>();
        if (ctx.ArgCount == 2) list.AddRange(ctx.Server.Commands.All);
        else
        {
            for (int i = 2; i < ctx.ArgCount; i++)
            {
                var c = Find(ctx.Server, ctx.ArgString(i));
                if (c != null) list.Add(c);
            }
        }
        ctx.Reply.WriteMapHeader(list.Count);
        foreach (var c in list)
        {
            ctx.Reply.WriteBulk(c.FullName);
            WriteDoc(ctx.Reply, c);
        }
    }

    private static void WriteDoc(RespWriter w, CommandDef c)
    {
        bool subs = c.Subcommands is { Count: > 0 };
        var args = subs ? null : CommandSyntax.Arguments(c.FullName);
        w.WriteMapHeader(4 + (subs ? 1 : 0) + (args != null ? 1 : 0));
        w.WriteBulk("summary");
        w.WriteBulk(c.Summary);
        w.WriteBulk("since");
        w.WriteBulk(c.Since);
        w.WriteBulk("group");
        w.WriteBulk(c.Group);
        w.WriteBulk("complexity");
        w.WriteBulk(subs ? "Depends on subcommand." : c.Complexity);
        if (args != null)
        {
            w.WriteBulk("arguments");
            SyntaxParser.Write(w, args);
        }
        if (subs)
        {
            w.WriteBulk("subcommands");
            w.WriteMapHeader(c.Subcommands!.Count);
            foreach (var sub in c.Subcommands.Values)
            {
                w.WriteBulk(sub.FullName);
                WriteDoc(w, sub);
            }
        }
    }

    /// <summary>Resolves the command of a GETKEYS invocation and checks its arity; writes the error if any.</summary>
    private static (CommandDef? Def, CommandArgs Args) ResolveForKeys(CommandContext ctx)
    {
        var argv = new byte[ctx.ArgCount - 2][];
        for (int i = 2; i < ctx.ArgCount; i++) argv[i - 2] = ctx.ArgBytes(i);
        var args = new CommandArgs();
        args.SetOwned(argv);
        var cmd = ctx.Server.Commands.Lookup(argv[0]);
        if (cmd != null && cmd.Subcommands != null)
            cmd = argv.Length >= 2 ? CommandTable.LookupSub(cmd, argv[1]) : null;
        if (cmd == null)
        {
            ctx.Error("ERR Invalid command specified");
            return (null, args);
        }
        if (!cmd.ArityOk(argv.Length))
        {
            ctx.Error("ERR Invalid number of arguments specified for command");
            return (null, args);
        }
        if (cmd.FirstKey <= 0 && cmd.Keys == null)
        {
            ctx.Error("ERR The command has no key arguments");
            return (null, args);
        }
        return (cmd, args);
    }

    private static void GetKeys(CommandContext ctx)
    {
        var (cmd, args) = ResolveForKeys(ctx);
        if (cmd == null) return;
        var idx = cmd.GetKeyIndexes(args);
        ctx.Reply.WriteArrayHeader(idx.Length);
        foreach (int i in idx) ctx.Reply.WriteBulk(args[i]);
    }

    private static void GetKeysAndFlags(CommandContext ctx)
    {
        var (cmd, args) = ResolveForKeys(ctx);
        if (cmd == null) return;
        var keys = KeySpecs.KeysAndFlags(cmd, args);
        ctx.Reply.WriteArrayHeader(keys.Count);
        foreach (var (pos, flags) in keys)
        {
            ctx.Reply.WriteArrayHeader(2);
            ctx.Reply.WriteBulk(args[pos]);
            ctx.Reply.WriteSetHeader(flags.Length);
            foreach (var f in flags) ctx.Reply.WriteSimpleString(f);
        }
    }

    private static void List(CommandContext ctx)
    {
        Func<CommandDef, bool> keep = _ => true;
        if (ctx.ArgCount != 2)
        {
            if (ctx.ArgCount != 5 || !ctx.ArgIs(2, "FILTERBY"))
            {
                ctx.SyntaxError();
                return;
            }
            string value = ctx.ArgString(4);
            if (ctx.ArgIs(3, "MODULE")) keep = _ => false;
            else if (ctx.ArgIs(3, "ACLCAT"))
            {
                string cat = "@" + value;
                keep = c => Array.Exists(Acl(c), a => string.Equals(a, cat, StringComparison.OrdinalIgnoreCase));
            }
            else if (ctx.ArgIs(3, "PATTERN"))
            {
                var pattern = Encoding.UTF8.GetBytes(value);
                keep = c => GlobMatcher.Match(pattern, Encoding.UTF8.GetBytes(c.FullName), ignoreCase: true);
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        var names = new List<string>();
        foreach (var c in ctx.Server.Commands.All)
        {
            if (keep(c)) names.Add(c.FullName);
            if (c.Subcommands == null) continue;
            foreach (var sub in c.Subcommands.Values)
                if (keep(sub)) names.Add(sub.FullName);
        }
        ctx.Reply.WriteArrayHeader(names.Count);
        foreach (var n in names) ctx.Reply.WriteBulk(n);
    }

    private static void Help(CommandContext ctx) => HelpText.Write(ctx, "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.");
}

/// <summary>Writes Redis's HELP replies: the given lines plus the trailing "HELP / Prints this help.".</summary>
public static class HelpText
{
    public static void Write(CommandContext ctx, params string[] lines)
    {
        ctx.Reply.WriteArrayHeader(lines.Length + 2);
        foreach (var l in lines) ctx.Reply.WriteSimpleString(l);
        ctx.Reply.WriteSimpleString("HELP");
        ctx.Reply.WriteSimpleString("    Prints this help.");
    }
}
