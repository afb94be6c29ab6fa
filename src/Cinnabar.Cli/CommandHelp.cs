using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli;

/// <summary>
/// The help table behind `help <command>`, `help @<group>`, TAB completion and the grey argument
/// hints. Like redis-cli 7.0 it is built from the connected server's COMMAND DOCS: one entry per
/// command and subcommand (names upper-cased, the argument tree rendered as a syntax string),
/// plus one "@group" entry per group seen, sorted by name.
/// </summary>
internal sealed class CommandHelp
{
    public sealed class Entry
    {
        public bool IsGroup;
        public string[] Argv = [];
        public string Full = "";
        public string Params = "";
        public string? Summary;
        public string? Since;
        public string? Group;
    }

    public List<Entry> Entries { get; } = [];

    /// <summary>Builds the table from a COMMAND DOCS reply (RESP2 flat pairs or RESP3 maps).</summary>
    public static CommandHelp FromDocs(RespReply docs)
    {
        var h = new CommandHelp();
        var groups = new HashSet<string>(StringComparer.Ordinal);
        var groupOrder = new List<string>();
        for (int i = 0; i + 1 < docs.Elements.Count; i += 2)
            h.AddCommand(docs.Elements[i].Text, null, docs.Elements[i + 1], groups, groupOrder);
        foreach (var g in groupOrder)
            h.Entries.Add(new Entry { IsGroup = true, Argv = ["@" + g], Full = "@" + g });
        h.Entries.Sort((a, b) => string.CompareOrdinal(a.Full, b.Full));
        return h;
    }

    private void AddCommand(string cmd, string? sub, RespReply specs, HashSet<string> groups, List<string> groupOrder)
    {
        var e = new Entry();
        string name = cmd.ToUpperInvariant();
        if (sub != null)
        {
            string subName = sub[(sub.IndexOf('|') + 1)..].ToUpperInvariant();
            e.Argv = [name, subName];
            e.Full = name + " " + subName;
        }
        else
        {
            e.Argv = [name];
            e.Full = name;
        }
        Entries.Add(e);
        var p = new StringBuilder();
        for (int j = 0; j + 1 < specs.Elements.Count; j += 2)
        {
            string key = specs.Elements[j].Text;
            var v = specs.Elements[j + 1];
            switch (key)
            {
                case "summary": e.Summary = v.Text; break;
                case "since": e.Since = v.Text; break;
                case "group":
                    e.Group = v.Text;
                    if (groups.Add(v.Text)) groupOrder.Add(v.Text);
                    break;
                case "arguments": Concat(p, v, " "); break;
                case "subcommands":
                    for (int i = 0; i + 1 < v.Elements.Count; i += 2)
                        AddCommand(cmd, v.Elements[i].Text, v.Elements[i + 1], groups, groupOrder);
                    break;
            }
        }
        e.Params = p.ToString();
    }

    private static void Concat(StringBuilder p, RespReply args, string sep)
    {
        for (int j = 0; j < args.Elements.Count; j++)
        {
            Argument(p, args.Elements[j]);
            if (j != args.Elements.Count - 1) p.Append(sep);
        }
    }

    private static string OrEmpty(string s) => s.Length == 0 ? "\"\"" : s;

    // One argument: [TOKEN ]name, a|b|c for oneof, "a b" for blocks; "[...]" when optional,
    // " [x ...]" after it when it repeats (repeating the token for multiple_token).
    private static void Argument(StringBuilder p, RespReply arg)
    {
        if (arg.Type is not (RespType.Map or RespType.Array)) return;
        string name = "", type = "", token = "";
        RespReply? nested = null;
        bool optional = false, multiple = false, multipleToken = false;
        for (int i = 0; i + 1 < arg.Elements.Count; i += 2)
        {
            var v = arg.Elements[i + 1];
            switch (arg.Elements[i].Text)
            {
                case "name": name = v.Text; break;
                case "token": token += OrEmpty(v.Text); break;
                case "type": type = v.Text; break;
                case "arguments": nested = v; break;
                case "flags":
                    foreach (var f in v.Elements)
                    {
                        if (f.Text == "optional") optional = true;
                        else if (f.Text == "multiple") multiple = true;
                        else if (f.Text == "multiple_token") multipleToken = true;
                    }
                    break;
            }
        }
        var repeat = new StringBuilder();
        switch (type)
        {
            case "key" or "string" or "integer" or "double" or "pattern" or "unix-time" or "token":
                repeat.Append(OrEmpty(name));
                break;
            case "oneof":
                if (nested != null) Concat(repeat, nested, "|");
                break;
            case "block":
                if (nested != null) Concat(repeat, nested, " ");
                break;
            case "pure-token":
                break;
            default:
                StdIo.Err.WriteLine($"Unknown type '{type}' set for argument '{name}'");
                break;
        }
        if (token.Length > 0 && type != "pure-token") token += " ";
        if (optional) p.Append('[');
        p.Append(token).Append(repeat);
        if (multiple)
        {
            p.Append(" [");
            if (multipleToken) p.Append(token);
            p.Append(repeat).Append(" ...]");
        }
        if (optional) p.Append(']');
    }

    /// <summary>The table embedded at build time (our server's COMMAND DOCS), for when no
    /// server answers; null if the resource is missing.</summary>
    public static CommandHelp? Embedded()
    {
        using var s = typeof(CommandHelp).Assembly.GetManifestResourceStream("command-docs.resp");
        if (s == null) return null;
        var ms = new MemoryStream();
        s.CopyTo(ms);
        var reader = new RespReplyReader();
        reader.Feed(ms.ToArray());
        var docs = reader.TryRead();
        return docs is { Type: RespType.Map or RespType.Array } ? FromDocs(docs) : null;
    }

    /// <summary>redis-cli's `help` output for the words after "help" (the caller handles no words).</summary>
    public string Help(IReadOnlyList<string> argv)
    {
        var sb = new StringBuilder();
        string? group = argv[0].StartsWith('@') ? argv[0][1..] : null;
        foreach (var e in Entries)
        {
            if (e.IsGroup) continue;
            if (group == null)
            {
                if (argv.Count > e.Argv.Length) continue;
                int j = 0;
                while (j < argv.Count && string.Equals(argv[j], e.Argv[j], StringComparison.OrdinalIgnoreCase)) j++;
                if (j == argv.Count) Describe(sb, e, true);
            }
            else if (string.Equals(group, e.Group, StringComparison.OrdinalIgnoreCase))
                Describe(sb, e, false);
        }
        sb.Append("\r\n");
        return sb.ToString();
    }

    private static void Describe(StringBuilder sb, Entry e, bool withGroup)
    {
        sb.Append("\r\n  \u001b[1m").Append(e.Full).Append("\u001b[0m \u001b[90m").Append(e.Params).Append("\u001b[0m\r\n");
        sb.Append("  \u001b[33msummary:\u001b[0m ").Append(e.Summary ?? "(null)").Append("\r\n");
        if (e.Since != null) sb.Append("  \u001b[33msince:\u001b[0m ").Append(e.Since).Append("\r\n");
        if (withGroup) sb.Append("  \u001b[33mgroup:\u001b[0m ").Append(e.Group ?? "(null)").Append("\r\n");
    }

    /// <summary>TAB completions for the typed line: command names, or after "help " also groups.</summary>
    public List<string> Complete(string buf)
    {
        int start = 0;
        bool groups = false;
        if (buf.Length >= 5 && buf[..5].Equals("help ", StringComparison.OrdinalIgnoreCase))
        {
            start = 5;
            while (start < buf.Length && char.IsWhiteSpace(buf[start])) start++;
            groups = true;
        }
        var list = new List<string>();
        string typed = buf[start..];
        foreach (var e in Entries)
        {
            if (e.IsGroup && !groups) continue;
            if (e.Full.StartsWith(typed, StringComparison.OrdinalIgnoreCase) || (typed.Length > e.Full.Length ? false : e.Full[..typed.Length].Equals(typed, StringComparison.OrdinalIgnoreCase)))
                list.Add(buf[..start] + e.Full);
        }
        return list;
    }

    /// <summary>The grey hint after the typed words: the syntax of the longest matching command
    /// without the arguments already typed (null when nothing matches).</summary>
    public string? Hint(string buf)
    {
        var argv = ArgSplitter.SplitToStrings(buf);
        if (argv == null || argv.Count == 0) return null;
        bool endSpace = buf.Length > 0 && char.IsWhiteSpace(buf[^1]);
        Entry? best = null;
        int matchLen = 0;
        foreach (var e in Entries)
        {
            if (e.IsGroup) continue;
            var raw = e.Argv;
            if (raw.Length > argv.Count) continue;
            int j = 0;
            while (j < raw.Length && string.Equals(raw[j], argv[j], StringComparison.OrdinalIgnoreCase)) j++;
            if (j == raw.Length && raw.Length > matchLen)
            {
                matchLen = raw.Length;
                best = e;
            }
        }
        if (best == null) return null;
        string hint = best.Params;
        int toRemove = argv.Count - matchLen;
        int k = 0;
        while (toRemove > 0 && k < hint.Length)
        {
            if (hint[k] == '[') break;
            if (hint[k] == ' ') toRemove--;
            k++;
        }
        hint = hint[k..];
        return endSpace ? hint : " " + hint;
    }
}
