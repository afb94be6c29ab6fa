using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

/// <summary>One node of a command's argument tree, as COMMAND DOCS "arguments" describes it.</summary>
public sealed class SyntaxArg
{
    public string Name = "";
    public string Type = "string";
    public string? Token;
    public int KeySpecIndex = -1;
    public bool Optional, Multiple, MultipleToken;
    public List<SyntaxArg>? Args;
}

/// <summary>
/// Parses Cinnabar's compact syntax notation (CommandSyntax) into argument trees.
/// Notation: words in lower case are arguments (type from an "@type" suffix, else from the name);
/// words without lower-case letters are tokens (a token followed by an argument or group gives
/// that item its token; alone it is a pure-token); "[...]" is an optional group, "(...)" a
/// required one, "{...}" a block even of one item; inside a group "|" separates alternatives (a oneof), several items make a block;
/// a "#N" suffix on an argument sets its key_spec_index (keys are otherwise numbered in order);
/// "name=" before an item names it; a "..." suffix makes an item repeat, "*..." repeats it with
/// its token.
/// </summary>
public static class SyntaxParser
{
    private sealed class State(List<string> toks)
    {
        public readonly List<string> Toks = toks;
        public int Pos;
        public int KeyIndex;
        public string? Peek => Pos < Toks.Count ? Toks[Pos] : null;
    }

    public static List<SyntaxArg> Parse(string syntax)
    {
        var st = new State(Tokenize(syntax));
        var alts = ParseAlternatives(st, null);
        if (st.Pos != st.Toks.Count) throw new FormatException("unexpected '" + st.Toks[st.Pos] + "' in: " + syntax);
        if (alts.Count != 1) return [MakeGroup(alts, null)];
        return alts[0];
    }

    private static List<string> Tokenize(string s)
    {
        var list = new List<string>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (c == ' ') { i++; continue; }
            if (c is '[' or ']' or '(' or ')' or '{' or '}' or '|')
            {
                list.Add(c.ToString());
                i++;
                continue;
            }
            int start = i;
            while (i < s.Length && s[i] is not (' ' or '[' or ']' or '(' or ')' or '{' or '}' or '|')) i++;
            string w = s[start..i];
            // A "..." / "*..." suffix glued to a word is a separate postfix token.
            foreach (var suffix in new[] { "*...", "..." })
            {
                if (w != "*..." && w.Length > suffix.Length && w.EndsWith(suffix, StringComparison.Ordinal))
                {
                    list.Add(w[..^suffix.Length]);
                    w = suffix;
                    break;
                }
            }
            list.Add(w);
        }
        return list;
    }

    private static bool IsTokenWord(string w) => !w.Any(char.IsLower) && w != "..." && w != "*...";

    private static List<List<SyntaxArg>> ParseAlternatives(State st, string? closer)
    {
        var alts = new List<List<SyntaxArg>> { ParseSequence(st) };
        while (st.Peek == "|")
        {
            st.Pos++;
            alts.Add(ParseSequence(st));
        }
        if (closer != null)
        {
            if (st.Peek != closer) throw new FormatException("expected " + closer);
            st.Pos++;
        }
        return alts;
    }

    private static List<SyntaxArg> ParseSequence(State st)
    {
        var items = new List<SyntaxArg>();
        while (st.Peek is { } t && t is not ("|" or "]" or ")" or "}"))
        {
            var item = ParseItem(st);
            items.Add(item);
        }
        return items;
    }

    private static SyntaxArg ParseItem(State st)
    {
        string? label = null;
        string t = st.Toks[st.Pos];
        int eq = t.IndexOf('=');
        if (eq > 0 && t[..eq].Any(char.IsLower))
        {
            label = t[..eq];
            if (eq == t.Length - 1) st.Pos++;
            else st.Toks[st.Pos] = t[(eq + 1)..];
        }
        var item = ParseAtom(st);
        // A token followed by an argument or group: the token belongs to that item.
        if (item.Type == "pure-token" && !item.Optional && st.Peek is { } next
            && next is not ("|" or "]" or ")" or "}" or "..." or "*...") && TakesToken(st))
        {
            string token = item.Token!;
            string? innerLabel = null;
            string n = st.Toks[st.Pos];
            int e2 = n.IndexOf('=');
            if (e2 > 0 && n[..e2].Any(char.IsLower))
            {
                innerLabel = n[..e2];
                if (e2 == n.Length - 1) st.Pos++;
                else st.Toks[st.Pos] = n[(e2 + 1)..];
            }
            var arg = ParseAtom(st);
            if (innerLabel != null) arg.Name = innerLabel;
            arg.Token = token;
            item = arg;
        }
        if (st.Peek == "...") { item.Multiple = true; st.Pos++; }
        else if (st.Peek == "*...") { item.Multiple = item.MultipleToken = true; st.Pos++; }
        if (label != null) item.Name = label;
        return item;
    }

    // Whether the item at the cursor is an argument or "(...)" group that a preceding token introduces.
    private static bool TakesToken(State st)
    {
        string n = st.Toks[st.Pos];
        int eq = n.IndexOf('=');
        if (eq > 0 && n[..eq].Any(char.IsLower))
        {
            if (eq < n.Length - 1) return !IsTokenWord(n[(eq + 1)..]);
            return st.Pos + 1 < st.Toks.Count && st.Toks[st.Pos + 1] is "(" or "{";
        }
        if (n is "(" or "{") return true;
        if (n == "[") return false;
        return !IsTokenWord(n);
    }

    private static SyntaxArg ParseAtom(State st)
    {
        string t = st.Toks[st.Pos++];
        if (t == "{")
        {
            var items = ParseAlternatives(st, "}");
            if (items.Count != 1) throw new FormatException("'|' inside {...}");
            return new SyntaxArg { Type = "block", Name = string.Join('_', items[0].Select(i => i.Name)), Args = items[0] };
        }
        if (t is "[" or "(")
        {
            var alts = ParseAlternatives(st, t == "[" ? "]" : ")");
            SyntaxArg g;
            if (alts.Count == 1 && alts[0].Count == 1) g = alts[0][0];
            else g = MakeGroup(alts, null);
            if (t == "[") g.Optional = true;
            return g;
        }
        if (IsTokenWord(t))
        {
            string tok = t == "\"\"" ? "" : t;
            return new SyntaxArg { Name = TokenName(tok), Type = "pure-token", Token = tok };
        }
        int spec = -1;
        int hash = t.LastIndexOf('#');
        if (hash > 0 && int.TryParse(t.AsSpan(hash + 1), out spec)) t = t[..hash];
        else spec = -1;
        string name = t, type;
        int at = t.LastIndexOf('@');
        if (at > 0)
        {
            name = t[..at];
            type = t[(at + 1)..];
        }
        else type = CommandSyntax.TypeOf(name);
        var a = new SyntaxArg { Name = name, Type = type };
        if (spec >= 0)
        {
            a.KeySpecIndex = spec;
            if (type == "key") st.KeyIndex = spec + 1;
        }
        else if (type == "key") a.KeySpecIndex = st.KeyIndex++;
        return a;
    }

    private static string TokenName(string tok) => tok switch
    {
        "" => "empty_string",
        "=" => "equal",
        "~" => "approximately",
        "*" => "all",
        "$" => "last",
        ">" => "new",
        "+" => "plus",
        "-" => "minus",
        _ => tok.ToLowerInvariant(),
    };

    /// <summary>The names Redis gives common token choices.</summary>
    private static readonly Dictionary<string, string> OneofNames = new()
    {
        ["m_km_ft_mi"] = "unit",
        ["sum_min_max"] = "aggregate",
        ["nx_xx_gt_lt"] = "condition",
        ["nx_xx"] = "condition",
        ["gt_lt"] = "comparison",
        ["asc_desc"] = "order",
        ["byscore_bylex"] = "sortby",
        ["async_sync"] = "async",
        ["flush_append_replace"] = "policy",
    };

    private static SyntaxArg MakeGroup(List<List<SyntaxArg>> alts, string? name)
    {
        if (alts.Count == 1)
        {
            var items = alts[0];
            // "TOKEN a b": a block introduced by the token (as Redis declares LIMIT offset count).
            if (items.Count > 1 && items[0] is { Type: not "pure-token", Token: not null, Args: null, Optional: false, Multiple: false }
                && items.Skip(1).All(i => i is { Token: null, Args: null, Optional: false, Multiple: false, Type: not "pure-token" }))
            {
                string token = items[0].Token!;
                items[0].Token = null;
                return new SyntaxArg { Type = "block", Token = token, Name = name ?? string.Join('_', items.Select(i => i.Name)), Args = items };
            }
            return new SyntaxArg
            {
                Type = "block",
                Name = name ?? (items.Count > 0 && items[0].Token is { Length: > 0 } tk ? tk.ToLowerInvariant() : string.Join('_', items.Select(i => i.Name))),
                Args = items,
            };
        }
        var members = new List<SyntaxArg>();
        foreach (var alt in alts)
            members.Add(alt.Count == 1 ? alt[0] : MakeGroup([alt], null));
        string joined = string.Join('_', members.Select(m => m.Name));
        return new SyntaxArg { Type = "oneof", Name = name ?? OneofNames.GetValueOrDefault(joined, joined), Args = members };
    }

    /// <summary>Writes an argument list the way Redis 7.0's COMMAND DOCS does.</summary>
    public static void Write(RespWriter w, List<SyntaxArg> args)
    {
        w.WriteArrayHeader(args.Count);
        foreach (var a in args)
        {
            var flags = new List<string>();
            if (a.Optional) flags.Add("optional");
            if (a.Multiple) flags.Add("multiple");
            if (a.MultipleToken) flags.Add("multiple_token");
            int n = 2 + (a.KeySpecIndex >= 0 ? 1 : 0) + (a.Token != null ? 1 : 0) + (flags.Count > 0 ? 1 : 0) + (a.Args != null ? 1 : 0);
            w.WriteMapHeader(n);
            w.WriteBulk("name");
            w.WriteBulk(a.Name);
            w.WriteBulk("type");
            w.WriteBulk(a.Type);
            if (a.KeySpecIndex >= 0)
            {
                w.WriteBulk("key_spec_index");
                w.WriteInteger(a.KeySpecIndex);
            }
            if (a.Token != null)
            {
                w.WriteBulk("token");
                w.WriteBulk(a.Token);
            }
            if (flags.Count > 0)
            {
                w.WriteBulk("flags");
                w.WriteArrayHeader(flags.Count);
                foreach (var f in flags) w.WriteSimpleString(f);
            }
            if (a.Args != null)
            {
                w.WriteBulk("arguments");
                Write(w, a.Args);
            }
        }
    }
}
