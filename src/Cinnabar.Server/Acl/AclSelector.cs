using System.Text;

namespace Cinnabar.Server.Acl;

/// <summary>Read/write permissions of a key pattern (%R~, %W~, ~ = both).</summary>
[Flags]
public enum KeyPerm { None = 0, Read = 1, Write = 2, All = 3 }

/// <summary>Why ACL SETUSER refused an operation (Redis's errno values in ACLSetUser).</summary>
public enum AclOpError
{
    None,
    UnknownCommand,   // ENOENT
    Syntax,           // EINVAL
    KeyAfterAll,      // EEXIST
    ChannelAfterAll,  // EISDIR
    NoSuchPassword,   // ENODEV
    BadHash,          // EBADMSG
    Duplicate,        // EALREADY
    FirstArgOfSub,    // ECHILD
}

public sealed class KeyPattern(string text, KeyPerm perm)
{
    public string Text { get; } = text;
    public byte[] Bytes { get; } = Encoding.Latin1.GetBytes(text);
    public KeyPerm Perm { get; set; } = perm;

    public string Describe() => (Perm switch { KeyPerm.All => "~", KeyPerm.Read => "%R~", _ => "%W~" }) + Text;
}

/// <summary>
/// A set of permissions (Redis 7.0's aclSelector): a command bitmap indexed by CommandDef.AclId
/// (the last bit records "+@all", i.e. future commands), allowed first arguments of otherwise
/// denied commands, key patterns with read/write flags, channel patterns. A user has a root
/// selector plus any number of "(...)" selectors; a command is allowed if one selector allows it.
/// </summary>
public sealed class AclSelector
{
    public AclSelector(AclManager acl, bool root)
    {
        Root = root;
        Commands = new ulong[acl.CommandWords];
        AllChannels = acl.PubsubDefaultAllChannels;
    }

    private AclSelector(AclSelector src)
    {
        Root = src.Root;
        AllKeys = src.AllKeys;
        AllChannels = src.AllChannels;
        AllCommands = src.AllCommands;
        Commands = (ulong[])src.Commands.Clone();
        if (src.FirstArgs != null)
        {
            FirstArgs = new Dictionary<int, List<string>>();
            foreach (var (k, v) in src.FirstArgs) FirstArgs[k] = new List<string>(v);
        }
        foreach (var p in src.Patterns) Patterns.Add(new KeyPattern(p.Text, p.Perm));
        Channels.AddRange(src.Channels);
    }

    public bool Root { get; }
    public bool AllKeys;
    public bool AllChannels;
    public bool AllCommands;
    public ulong[] Commands;
    public Dictionary<int, List<string>>? FirstArgs;
    public List<KeyPattern> Patterns { get; } = new();
    public List<string> Channels { get; } = new();

    public AclSelector Clone() => new(this);

    public bool GetBit(int id) => id >= 0 && (Commands[id >> 6] & (1UL << (id & 63))) != 0;

    public void SetBit(int id, bool value)
    {
        if (id < 0) return;
        if (value) Commands[id >> 6] |= 1UL << (id & 63);
        else
        {
            Commands[id >> 6] &= ~(1UL << (id & 63));
            AllCommands = false;
        }
    }

    /// <summary>Allows or denies a command; a container carries its subcommands along.</summary>
    public void ChangePerm(CommandDef cmd, bool allow)
    {
        SetBit(cmd.AclId, allow);
        FirstArgs?.Remove(cmd.AclId);
        if (cmd.Subcommands != null)
            foreach (var sub in cmd.Subcommands.Values) SetBit(sub.AclId, allow);
    }

    private void SetCategory(AclManager acl, ulong bit, bool allow)
    {
        foreach (var cmd in acl.TopLevelCommands)
        {
            if ((cmd.AclCategoryBits & bit) != 0) ChangePerm(cmd, allow);
            if (cmd.Subcommands == null) continue;
            foreach (var sub in cmd.Subcommands.Values)
                if ((sub.AclCategoryBits & bit) != 0) ChangePerm(sub, allow);
        }
    }

    private void SetAll(bool allow)
    {
        Array.Fill(Commands, allow ? ulong.MaxValue : 0UL);
        AllCommands = allow;
        FirstArgs = null;
    }

    /// <summary>Applies one selector operation (ACLSetSelector); returns the error or None.</summary>
    public AclOpError Apply(AclManager acl, string op)
    {
        if (Is(op, "allkeys") || op == "~*")
        {
            AllKeys = true;
            Patterns.Clear();
        }
        else if (Is(op, "resetkeys"))
        {
            AllKeys = false;
            Patterns.Clear();
        }
        else if (Is(op, "allchannels") || op == "&*")
        {
            AllChannels = true;
            Channels.Clear();
        }
        else if (Is(op, "resetchannels"))
        {
            AllChannels = false;
            Channels.Clear();
        }
        else if (Is(op, "allcommands") || Is(op, "+@all")) SetAll(true);
        else if (Is(op, "nocommands") || Is(op, "-@all")) SetAll(false);
        else if (op.Length > 0 && (op[0] == '~' || op[0] == '%')) return AddKeyPattern(op);
        else if (op.Length > 0 && op[0] == '&')
        {
            if (AllChannels) return AclOpError.ChannelAfterAll;
            string pat = op[1..];
            if (HasSpaces(pat)) return AclOpError.Syntax;
            if (!Channels.Contains(pat)) Channels.Add(pat);
            AllChannels = false;
        }
        else if (op.Length > 1 && (op[0] == '+' || op[0] == '-') && op[1] == '@')
        {
            ulong bit = AclCategories.Bit(op[2..]);
            if (bit == 0) return AclOpError.UnknownCommand;
            SetCategory(acl, bit, op[0] == '+');
        }
        else if (op.Length > 0 && op[0] == '+') return AllowCommand(acl, op[1..]);
        else if (op.Length > 0 && op[0] == '-')
        {
            var cmd = acl.LookupCommand(op[1..]);
            if (cmd == null) return AclOpError.UnknownCommand;
            ChangePerm(cmd, false);
        }
        else return AclOpError.Syntax;
        return AclOpError.None;
    }

    private AclOpError AddKeyPattern(string op)
    {
        if (AllKeys) return AclOpError.KeyAfterAll;
        var perm = KeyPerm.None;
        int offset = 1;
        if (op[0] == '%')
        {
            bool closed = false;
            for (; offset < op.Length; offset++)
            {
                char c = char.ToUpperInvariant(op[offset]);
                if (c == 'R' && (perm & KeyPerm.Read) == 0) perm |= KeyPerm.Read;
                else if (c == 'W' && (perm & KeyPerm.Write) == 0) perm |= KeyPerm.Write;
                else if (op[offset] == '~')
                {
                    offset++;
                    closed = true;
                    break;
                }
                else return AclOpError.Syntax;
            }
            // Redis accepts "%R" with no '~' as an empty pattern; keep that quirk.
            _ = closed;
        }
        else perm = KeyPerm.All;
        string pat = op[offset..];
        if (HasSpaces(pat)) return AclOpError.Syntax;
        var existing = Patterns.Find(p => p.Text == pat);
        if (existing == null) Patterns.Add(new KeyPattern(pat, perm));
        else existing.Perm |= perm;
        AllKeys = false;
        return AclOpError.None;
    }

    private AclOpError AllowCommand(AclManager acl, string name)
    {
        int bar = name.LastIndexOf('|');
        if (bar < 0)
        {
            var cmd = acl.LookupCommand(name);
            if (cmd == null) return AclOpError.UnknownCommand;
            ChangePerm(cmd, true);
            return AclOpError.None;
        }
        var parent = acl.LookupCommand(name[..bar]);
        if (parent == null) return AclOpError.UnknownCommand;
        if (parent.Parent != null) return AclOpError.FirstArgOfSub;
        string sub = name[(bar + 1)..];
        if (sub.Length == 0) return AclOpError.Syntax;
        if (parent.Subcommands != null)
        {
            var subCmd = acl.LookupCommand(name);
            if (subCmd == null) return AclOpError.UnknownCommand;
            ChangePerm(subCmd, true);
            return AclOpError.None;
        }
        acl.Server.Log.Warning($"Deprecation warning: Allowing a first arg of an otherwise blocked command is a misuse of ACL and may get disabled in the future (offender: +{name})");
        FirstArgs ??= new Dictionary<int, List<string>>();
        if (!FirstArgs.TryGetValue(parent.AclId, out var list)) FirstArgs[parent.AclId] = list = new List<string>();
        if (!list.Exists(s => string.Equals(s, sub, StringComparison.OrdinalIgnoreCase))) list.Add(sub);
        return AclOpError.None;
    }

    public static bool Is(string op, string word) => string.Equals(op, word, StringComparison.OrdinalIgnoreCase);

    public static bool HasSpaces(string s)
    {
        foreach (char c in s)
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\0') return true;
        return false;
    }

    // ------------------------------------------------------------------ description

    /// <summary>ACLDescribeSelector: keys, channels, then the command rules.</summary>
    public string Describe(AclManager acl)
    {
        var sb = new StringBuilder();
        if (AllKeys) sb.Append("~* ");
        else foreach (var p in Patterns) sb.Append(p.Describe()).Append(' ');
        if (AllChannels) sb.Append("&* ");
        else
        {
            sb.Append("resetchannels ");
            foreach (var c in Channels) sb.Append('&').Append(c).Append(' ');
        }
        sb.Append(DescribeCommands(acl));
        return sb.ToString();
    }

    public string DescribeKeys() => AllKeys ? "~*" : string.Join(' ', Patterns.ConvertAll(p => p.Describe()));

    public string DescribeChannels() => AllChannels ? "&*" : string.Join(' ', Channels.ConvertAll(c => "&" + c));

    /// <summary>
    /// ACLDescribeSelectorCommandRules: start from +@all (if the future-commands bit is set) or
    /// -@all, greedily apply the category that best fits the remaining difference, then fix up
    /// single commands (and allowed first arguments) so that replaying the rules gives this bitmap.
    /// </summary>
    public string DescribeCommands(AclManager acl)
    {
        var sb = new StringBuilder();
        bool additive = !GetBit(acl.FutureCommandsBit);
        var fake = new AclSelector(acl, root: false);
        fake.SetAll(!additive);
        sb.Append(additive ? "-@all " : "+@all ");
        var temp = new AclSelector(acl, root: false) { Commands = (ulong[])Commands.Clone() };
        var applied = new bool[AclCategories.Names.Length];
        while (true)
        {
            int best = -1;
            long minDiff = int.MaxValue, maxSame = 0;
            for (int j = 0; j < AclCategories.Names.Length; j++)
            {
                if (applied[j]) continue;
                temp.CountCategory(acl, 1UL << j, out long on, out long off);
                long diff = additive ? off : on;
                long same = additive ? on : off;
                if (same > diff && (diff < minDiff || (diff == minDiff && same > maxSame)))
                {
                    best = j;
                    minDiff = diff;
                    maxSame = same;
                }
            }
            if (best == -1) break;
            fake.SetCategory(acl, 1UL << best, additive);
            temp.SetCategory(acl, 1UL << best, !additive);
            sb.Append(additive ? "+@" : "-@").Append(AclCategories.Names[best]).Append(' ');
            applied[best] = true;
        }
        foreach (var cmd in acl.TopLevelCommands) DescribeSingle(cmd, fake, sb);
        sb.Length--;
        return sb.ToString();
    }

    private void DescribeSingle(CommandDef cmd, AclSelector fake, StringBuilder sb)
    {
        bool userBit = GetBit(cmd.AclId);
        if (userBit != fake.GetBit(cmd.AclId))
        {
            sb.Append(userBit ? '+' : '-').Append(cmd.FullName).Append(' ');
            fake.ChangePerm(cmd, userBit);
        }
        if (cmd.Subcommands != null)
            foreach (var sub in cmd.Subcommands.Values) DescribeSingle(sub, fake, sb);
        if (!userBit && FirstArgs != null && FirstArgs.TryGetValue(cmd.AclId, out var args))
            foreach (var a in args) sb.Append('+').Append(cmd.FullName).Append('|').Append(a).Append(' ');
    }

    private void CountCategory(AclManager acl, ulong bit, out long on, out long off)
    {
        on = off = 0;
        foreach (var cmd in acl.TopLevelCommands)
        {
            Count(cmd, bit, ref on, ref off);
            if (cmd.Subcommands == null) continue;
            foreach (var sub in cmd.Subcommands.Values) Count(sub, bit, ref on, ref off);
        }
    }

    private void Count(CommandDef cmd, ulong bit, ref long on, ref long off)
    {
        if ((cmd.AclCategoryBits & bit) == 0) return;
        if (GetBit(cmd.AclId)) on++;
        else off++;
    }
}
