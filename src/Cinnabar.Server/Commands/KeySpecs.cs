using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

/// <summary>One key spec: where a command's keys start (begin_search) and how many follow (find_keys).</summary>
public sealed record KeySpec(string[] Flags, int BsIndex, string? BsKeyword, int BsStartFrom,
    char FkType, int FkA, int FkB, int FkC)
{
    public bool Has(string flag) => Array.IndexOf(Flags, flag) >= 0;
    public bool BeginUnknown => BsIndex == 0 && BsKeyword == null;
}

/// <summary>
/// Redis 7.0 key specs (COMMAND INFO, COMMAND GETKEYSANDFLAGS): the declared specs per command
/// (KeySpecs.Data.cs) and the key search over them (Redis db.c getKeysUsingKeySpecs). When the
/// specs cannot answer (unknown or incomplete specs, variable flags) the command's own key
/// finder gives the positions and the flags follow the command's rule, as Redis's getkeys procs do.
/// </summary>
public static partial class KeySpecs
{
    // Lazy: static fields of a partial class initialise in no defined order across its files.
    private static readonly Lazy<Dictionary<string, KeySpec[]>> Parsed = new(Parse);

    private static Dictionary<string, KeySpec[]> Parse()
    {
        var d = new Dictionary<string, KeySpec[]>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, text) in Declared)
        {
            var specs = new List<KeySpec>();
            foreach (var one in text.Split('|')) specs.Add(ParseOne(one));
            d[name] = [.. specs];
        }
        return d;
    }

    private static KeySpec ParseOne(string text)
    {
        var parts = text.Split(';');
        var flags = parts[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var bs = parts[1].Split(':');
        var fk = parts[2].Split(':');
        int bsIndex = bs[0] == "i" ? int.Parse(bs[1]) : 0;
        string? keyword = bs[0] == "k" ? bs[1] : null;
        int startFrom = bs[0] == "k" ? int.Parse(bs[2]) : 0;
        char fkType = fk[0][0];
        int a = 0, b = 0, c = 0;
        if (fkType != 'u')
        {
            a = int.Parse(fk[1]);
            b = int.Parse(fk[2]);
            c = int.Parse(fk[3]);
        }
        return new KeySpec(flags, bsIndex, keyword, startFrom, fkType, a, b, c);
    }

    public static KeySpec[] For(CommandDef c) => Parsed.Value.TryGetValue(c.FullName, out var s) ? s : [];

    /// <summary>Keys of a full command line with their access flags (COMMAND GETKEYSANDFLAGS).</summary>
    public static List<(int Pos, string[] Flags)> KeysAndFlags(CommandDef c, CommandArgs args)
    {
        var specs = For(c);
        bool usable = Array.Exists(specs, s => !s.Has("not_key")) && !Array.Exists(specs, s => s.Has("variable_flags"));
        if (usable)
        {
            var found = Search(specs, args);
            if (found != null) return found;
        }
        var result = new List<(int, string[])>();
        var positions = c.GetKeyIndexes(args);
        for (int i = 0; i < positions.Length; i++) result.Add((positions[i], ProcFlags(c, args, i, specs)));
        return result;
    }

    /// <summary>Redis's getKeysUsingKeySpecs without partial results: null when a spec cannot answer.</summary>
    private static List<(int, string[])>? Search(KeySpec[] specs, CommandArgs args)
    {
        var keys = new List<(int, string[])>();
        int argc = args.Count;
        foreach (var spec in specs)
        {
            if (spec.Has("not_key")) continue;
            int first = 0;
            if (spec.BsIndex > 0) first = spec.BsIndex;
            else if (spec.BsKeyword != null)
            {
                first = FindKeyword(spec, args);
                if (first == 0) continue;
            }
            else return null;
            int last, step;
            if (spec.FkType == 'r')
            {
                step = spec.FkB;
                if (spec.FkA >= 0) last = first + spec.FkA;
                else if (spec.FkC == 0) last = argc + spec.FkA;
                else last = first + ((argc - first) / spec.FkC + spec.FkA);
            }
            else if (spec.FkType == 'n')
            {
                step = spec.FkC;
                if (spec.FkA >= argc || first + spec.FkA >= argc) return null;
                if (!long.TryParse(args.GetString(first + spec.FkA), out long numKeys) || numKeys < 0) return null;
                first += spec.FkB;
                last = first + (int)numKeys - 1;
            }
            else return null;
            if (last >= argc || last < first || first >= argc) return null;
            for (int i = first; i <= last; i += step) keys.Add((i, spec.Flags));
            if (spec.Has("incomplete")) return null;
        }
        return keys;
    }

    private static int FindKeyword(KeySpec spec, CommandArgs args)
    {
        int argc = args.Count;
        int start = spec.BsStartFrom > 0 ? spec.BsStartFrom : argc + spec.BsStartFrom;
        int end = spec.BsStartFrom > 0 ? argc - 1 : 1;
        for (int i = start; i != end; i = start <= end ? i + 1 : i - 1)
        {
            if (i >= argc || i < 1) break;
            if (string.Equals(args.GetString(i), spec.BsKeyword, StringComparison.OrdinalIgnoreCase)) return i + 1;
        }
        return 0;
    }

    private static readonly string[] RoAccess = ["RO", "access"];
    private static readonly string[] RwAccessUpdate = ["RW", "access", "update"];
    private static readonly string[] OwUpdate = ["OW", "update"];
    private static readonly string[] RwAccessDelete = ["RW", "access", "delete"];

    /// <summary>Flags of the nth key found by the command's own key finder (Redis's getkeys procs).</summary>
    private static string[] ProcFlags(CommandDef c, CommandArgs args, int nth, KeySpec[] specs)
    {
        switch (c.FullName)
        {
            case "set":
                for (int i = 3; i < args.Count; i++)
                    if (args[i].Length == 3 && string.Equals(args.GetString(i), "get", StringComparison.OrdinalIgnoreCase)) return RwAccessUpdate;
                return OwUpdate;
            case "bitfield":
                return BitfieldReadOnly(args) ? RoAccess : RwAccessUpdate;
            case "sort":
                return nth == 0 ? RoAccess : OwUpdate;
            case "sort_ro":
                return RoAccess;
            case "migrate":
                return RwAccessDelete;
        }
        // Redis's remaining getkeys procs report no flags; commands without declared specs
        // (none of Redis's) fall back to their single spec's flags.
        return specs.Length == 0 ? GuessFlags(c) : [];
    }

    private static bool BitfieldReadOnly(CommandArgs args)
    {
        for (int i = 2; i < args.Count; i++)
        {
            int rest = args.Count - i - 1;
            string a = args.GetString(i);
            if (a.Equals("get", StringComparison.OrdinalIgnoreCase) && rest >= 2) i += 2;
            else if (a.Equals("overflow", StringComparison.OrdinalIgnoreCase) && rest >= 1) i += 1;
            else return false;
        }
        return true;
    }

    private static string[] GuessFlags(CommandDef c)
    {
        if (c.Is(CommandFlags.ReadOnly)) return RoAccess;
        if (c.Is(CommandFlags.Write)) return c.Is(CommandFlags.DenyOom) ? ["RW", "update"] : ["RW", "delete"];
        return ["RO"];
    }

    /// <summary>The key specs of COMMAND INFO (declared ones, else derived from first/last/step).</summary>
    public static void Write(RespWriter w, CommandDef c)
    {
        var specs = For(c);
        if (specs.Length == 0 && c.FirstKey > 0)
            specs = [new KeySpec(GuessFlags(c), c.FirstKey, null, 0, 'r', c.LastKey >= 0 ? c.LastKey - c.FirstKey : c.LastKey, c.Step, 0)];
        w.WriteSetHeader(specs.Length);
        foreach (var s in specs) WriteOne(w, s);
    }

    private static void WriteOne(RespWriter w, KeySpec s)
    {
        w.WriteMapHeader(3);
        w.WriteBulk("flags");
        w.WriteSetHeader(s.Flags.Length);
        foreach (var f in s.Flags) w.WriteSimpleString(f);
        w.WriteBulk("begin_search");
        w.WriteMapHeader(2);
        w.WriteBulk("type");
        if (s.BsIndex > 0)
        {
            w.WriteBulk("index");
            w.WriteBulk("spec");
            w.WriteMapHeader(1);
            w.WriteBulk("index");
            w.WriteInteger(s.BsIndex);
        }
        else if (s.BsKeyword != null)
        {
            w.WriteBulk("keyword");
            w.WriteBulk("spec");
            w.WriteMapHeader(2);
            w.WriteBulk("keyword");
            w.WriteBulk(s.BsKeyword);
            w.WriteBulk("startfrom");
            w.WriteInteger(s.BsStartFrom);
        }
        else
        {
            w.WriteBulk("unknown");
            w.WriteBulk("spec");
            w.WriteMapHeader(0);
        }
        w.WriteBulk("find_keys");
        w.WriteMapHeader(2);
        w.WriteBulk("type");
        if (s.FkType == 'r')
        {
            w.WriteBulk("range");
            w.WriteBulk("spec");
            w.WriteMapHeader(3);
            w.WriteBulk("lastkey");
            w.WriteInteger(s.FkA);
            w.WriteBulk("keystep");
            w.WriteInteger(s.FkB);
            w.WriteBulk("limit");
            w.WriteInteger(s.FkC);
        }
        else if (s.FkType == 'n')
        {
            w.WriteBulk("keynum");
            w.WriteBulk("spec");
            w.WriteMapHeader(3);
            w.WriteBulk("keynumidx");
            w.WriteInteger(s.FkA);
            w.WriteBulk("firstkey");
            w.WriteInteger(s.FkB);
            w.WriteBulk("keystep");
            w.WriteInteger(s.FkC);
        }
        else
        {
            w.WriteBulk("unknown");
            w.WriteBulk("spec");
            w.WriteMapHeader(0);
        }
    }
}
