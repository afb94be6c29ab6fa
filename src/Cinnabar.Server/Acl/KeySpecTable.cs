using System.Globalization;
using Cinnabar.Protocol;

namespace Cinnabar.Server.Acl;

/// <summary>Key-spec flags of Redis 7.0 (CMD_KEY_*): how a command touches a key.</summary>
[Flags]
public enum KeySpecFlags
{
    None = 0,
    RO = 1 << 0,
    RW = 1 << 1,
    OW = 1 << 2,
    RM = 1 << 3,
    Access = 1 << 4,
    Update = 1 << 5,
    Insert = 1 << 6,
    Delete = 1 << 7,
    NotKey = 1 << 8,
    Incomplete = 1 << 9,
    VariableFlags = 1 << 10,
}

/// <summary>One key spec: where the keys begin (index or keyword) and how to find them (range or key count).</summary>
public sealed class KeySpec
{
    public KeySpecFlags Flags { get; init; }
    /// <summary>Begin search: index &gt; 0, or Keyword set, or neither (unknown).</summary>
    public int Index { get; init; }
    public string? Keyword { get; init; }
    public int StartFrom { get; init; }
    /// <summary>Find keys: 'r' range (LastKey, Step, Limit), 'n' keynum (KeyNumIdx, FirstKey, Step), 'u' unknown.</summary>
    public char Kind { get; init; }
    public int LastKey { get; init; }
    public int Step { get; init; }
    public int Limit { get; init; }
    public int KeyNumIdx { get; init; }
    public int FirstKey { get; init; }
}

/// <summary>A key argument position with the flags of the spec that found it.</summary>
public readonly record struct KeyRef(int Pos, KeySpecFlags Flags);

/// <summary>
/// Key extraction with per-key access flags, as Redis 7.0's getKeysFromCommandWithSpecs: key specs
/// when they are complete and their flags fixed; otherwise the command's own key finder (SORT,
/// MIGRATE, SET with GET, BITFIELD), or no keys when the arguments don't parse (a syntax error
/// the command itself reports). Channels follow db.c's commands_with_channels table.
/// </summary>
internal static partial class KeySpecTable
{
    // Lazy: Data lives in another part of this class, and field initialisers across parts run in no guaranteed order.
    private static Dictionary<string, KeySpec[]>? _specs;
    private static Dictionary<string, KeySpec[]> Specs => _specs ??= Parse();

    private static Dictionary<string, KeySpec[]> Parse()
    {
        var d = new Dictionary<string, KeySpec[]>(StringComparer.Ordinal);
        foreach (var (cmd, text) in Data)
        {
            var list = new List<KeySpec>();
            foreach (var one in text.Split('|'))
            {
                var parts = one.Split(';');
                var flags = KeySpecFlags.None;
                foreach (var f in parts[0].Split(' ', StringSplitOptions.RemoveEmptyEntries))
                    flags |= f switch
                    {
                        "RO" => KeySpecFlags.RO, "RW" => KeySpecFlags.RW, "OW" => KeySpecFlags.OW, "RM" => KeySpecFlags.RM,
                        "ACCESS" => KeySpecFlags.Access, "UPDATE" => KeySpecFlags.Update, "INSERT" => KeySpecFlags.Insert,
                        "DELETE" => KeySpecFlags.Delete, "NOT_KEY" => KeySpecFlags.NotKey, "INCOMPLETE" => KeySpecFlags.Incomplete,
                        "VARIABLE_FLAGS" => KeySpecFlags.VariableFlags, _ => KeySpecFlags.None,
                    };
                var bs = parts[1].Split(':');
                var fk = parts[2].Split(':');
                int I(string[] a, int i) => int.Parse(a[i], CultureInfo.InvariantCulture);
                list.Add(new KeySpec
                {
                    Flags = flags,
                    Index = bs[0] == "i" ? I(bs, 1) : 0,
                    Keyword = bs[0] == "k" ? bs[1] : null,
                    StartFrom = bs[0] == "k" ? I(bs, 2) : 0,
                    Kind = fk[0][0],
                    LastKey = fk[0] == "r" ? I(fk, 1) : 0,
                    Step = fk[0] == "r" ? I(fk, 2) : fk[0] == "n" ? I(fk, 3) : 1,
                    Limit = fk[0] == "r" ? I(fk, 3) : 0,
                    KeyNumIdx = fk[0] == "n" ? I(fk, 1) : 0,
                    FirstKey = fk[0] == "n" ? I(fk, 2) : 0,
                });
            }
            d[cmd] = list.ToArray();
        }
        return d;
    }

    public static KeySpec[] For(CommandDef cmd) => Specs.TryGetValue(cmd.FullName, out var s) ? s : [];

    /// <summary>True when the command may name keys (doesCommandHaveKeys).</summary>
    public static bool HasKeys(CommandDef cmd)
    {
        foreach (var s in cmd.AclKeySpecs ?? []) if ((s.Flags & KeySpecFlags.NotKey) == 0) return true;
        return false;
    }

    public static void GetKeys(CommandDef cmd, CommandArgs args, List<KeyRef> result)
    {
        result.Clear();
        var specs = cmd.AclKeySpecs ?? [];
        bool variable = false;
        foreach (var s in specs) variable |= (s.Flags & KeySpecFlags.VariableFlags) != 0;
        if (!variable && TryUseSpecs(cmd, specs, args, result)) return;
        result.Clear();
        switch (cmd.FullName)
        {
            case "sort": SortKeys(args, result, store: true); break;
            case "sort_ro": SortKeys(args, result, store: false); break;
            case "migrate": MigrateKeys(args, result); break;
            case "set": SetKeys(args, result); break;
            case "bitfield": BitfieldKeys(args, result); break;
        }
    }

    private static bool TryUseSpecs(CommandDef cmd, KeySpec[] specs, CommandArgs args, List<KeyRef> result)
    {
        int argc = args.Count;
        foreach (var spec in specs)
        {
            if ((spec.Flags & KeySpecFlags.NotKey) != 0) continue;
            int first = 0;
            if (spec.Index > 0) first = spec.Index;
            else if (spec.Keyword != null)
            {
                int start = spec.StartFrom > 0 ? spec.StartFrom : argc + spec.StartFrom;
                int end = spec.StartFrom > 0 ? argc - 1 : 1;
                for (int i = start; i != end; i = start <= end ? i + 1 : i - 1)
                {
                    if (i >= argc || i < 1) break;
                    if (EqualsIgnoreCase(args[i], spec.Keyword))
                    {
                        first = i + 1;
                        break;
                    }
                }
                if (first == 0) continue;
            }
            else return false;

            int last, step;
            if (spec.Kind == 'r')
            {
                step = spec.Step;
                if (spec.LastKey >= 0) last = first + spec.LastKey;
                else if (spec.Limit == 0) last = argc + spec.LastKey;
                else last = first + ((argc - first) / spec.Limit + spec.LastKey);
            }
            else if (spec.Kind == 'n')
            {
                step = spec.Step;
                if (spec.KeyNumIdx >= argc || first + spec.KeyNumIdx >= argc) return false;
                if (!RequestParser.TryParseLong(args[first + spec.KeyNumIdx], out long numKeys) || numKeys < 0) return false;
                first += spec.FirstKey;
                last = first + (int)numKeys - 1;
            }
            else return false;

            if (last >= argc || last < first || first >= argc) return false;
            for (int i = first; i <= last; i += Math.Max(step, 1))
            {
                if (i >= argc) continue;
                result.Add(new KeyRef(i, spec.Flags));
            }
            if ((spec.Flags & KeySpecFlags.Incomplete) != 0) return false;
        }
        _ = cmd;
        return true;
    }

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if (char.ToLowerInvariant((char)a[i]) != char.ToLowerInvariant(b[i])) return false;
        return true;
    }

    // sortGetKeys / sortROGetKeys: the sorted key, and the last STORE destination.
    private static void SortKeys(CommandArgs args, List<KeyRef> result, bool store)
    {
        result.Add(new KeyRef(1, KeySpecFlags.RO | KeySpecFlags.Access));
        if (!store) return;
        int storePos = -1;
        for (int i = 2; i < args.Count; i++)
        {
            if (EqualsIgnoreCase(args[i], "limit")) i += 2;
            else if (EqualsIgnoreCase(args[i], "get") || EqualsIgnoreCase(args[i], "by")) i += 1;
            else if (EqualsIgnoreCase(args[i], "store") && i + 1 < args.Count) storePos = i + 1;
        }
        if (storePos > 0) result.Add(new KeyRef(storePos, KeySpecFlags.OW | KeySpecFlags.Update));
    }

    // migrateGetKeys: the single key form, or the keys after KEYS when the key argument is empty.
    private static void MigrateKeys(CommandArgs args, List<KeyRef> result)
    {
        int first = 3, num = 1;
        if (args.Count > 6)
        {
            for (int i = 6; i < args.Count; i++)
            {
                if (EqualsIgnoreCase(args[i], "keys"))
                {
                    if (args[3].Length > 0) num = 0;
                    else
                    {
                        first = i + 1;
                        num = args.Count - first;
                    }
                    break;
                }
                if (EqualsIgnoreCase(args[i], "auth")) i += 1;
                else if (EqualsIgnoreCase(args[i], "auth2")) i += 2;
            }
        }
        for (int i = 0; i < num; i++)
            result.Add(new KeyRef(first + i, KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Delete));
    }

    // setGetKeys: SET ... GET reads the old value too.
    private static void SetKeys(CommandArgs args, List<KeyRef> result)
    {
        for (int i = 3; i < args.Count; i++)
        {
            if (EqualsIgnoreCase(args[i], "get"))
            {
                result.Add(new KeyRef(1, KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update));
                return;
            }
        }
        result.Add(new KeyRef(1, KeySpecFlags.OW | KeySpecFlags.Update));
    }

    // bitfieldGetKeys: read-only when only GET (and OVERFLOW) operations are given.
    private static void BitfieldKeys(CommandArgs args, List<KeyRef> result)
    {
        bool readOnly = true;
        int argc = args.Count;
        for (int i = 2; i < argc; i++)
        {
            int rem = argc - i - 1;
            if (EqualsIgnoreCase(args[i], "get") && rem >= 2) i += 2;
            else if ((EqualsIgnoreCase(args[i], "set") || EqualsIgnoreCase(args[i], "incrby")) && rem >= 3)
            {
                readOnly = false;
                break;
            }
            else if (EqualsIgnoreCase(args[i], "overflow") && rem >= 1) i += 1;
            else
            {
                readOnly = false;
                break;
            }
        }
        result.Add(new KeyRef(1, readOnly ? KeySpecFlags.RO | KeySpecFlags.Access : KeySpecFlags.RW | KeySpecFlags.Access | KeySpecFlags.Update));
    }

    /// <summary>Channel arguments: (first index, count or -1 for all the rest, is pattern, is publish/subscribe).</summary>
    public static (int Start, int Count, bool Pattern, bool Checked) Channels(CommandDef cmd) => cmd.FullName switch
    {
        "subscribe" or "ssubscribe" => (1, -1, false, true),
        "psubscribe" => (1, -1, true, true),
        "publish" or "spublish" => (1, 1, false, true),
        "unsubscribe" or "sunsubscribe" or "punsubscribe" => (1, -1, false, false),
        _ => (0, 0, false, false),
    };
}
