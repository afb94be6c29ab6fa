using System.Security.Cryptography;
using System.Text;

namespace Cinnabar.Server.Acl;

/// <summary>
/// An ACL user (Redis 7.0's user): on/off, nopass, payload sanitizing flag, SHA-256 password
/// hashes, and its selectors (the first is the root selector). Clients hold a reference, so a
/// change made with <see cref="CopyFrom"/> applies to their next command at once.
/// </summary>
public sealed class AclUser
{
    public AclUser(AclManager acl, string name)
    {
        Name = name;
        Selectors.Add(new AclSelector(acl, root: true));
        Refresh();
    }

    public string Name { get; }
    public bool Enabled;
    public bool NoPass;
    /// <summary>0 none, 1 sanitize-payload, 2 skip-sanitize-payload.</summary>
    public int Sanitize;
    public List<string> Passwords { get; } = new();
    public List<AclSelector> Selectors { get; } = new();
    public AclSelector Root => Selectors[0];
    /// <summary>Hot-path flag: one selector with every command, key and channel (checks can be skipped).</summary>
    public bool Unrestricted { get; private set; }
    private string? _description;

    /// <summary>Recomputes cached facts after a change.</summary>
    public void Refresh()
    {
        _description = null;
        var r = Root;
        Unrestricted = Selectors.Count >= 1 && r.AllCommands && r.AllKeys && r.AllChannels;
    }

    public void CopyFrom(AclUser src)
    {
        Enabled = src.Enabled;
        NoPass = src.NoPass;
        Sanitize = src.Sanitize;
        Passwords.Clear();
        Passwords.AddRange(src.Passwords);
        Selectors.Clear();
        foreach (var s in src.Selectors) Selectors.Add(s.Clone());
        Refresh();
    }

    public static string HashPassword(ReadOnlySpan<byte> clear) => Convert.ToHexStringLower(SHA256.HashData(clear));

    public static string HashPassword(string latin1) => HashPassword(Encoding.Latin1.GetBytes(latin1));

    private static bool IsValidHash(string h)
    {
        if (h.Length != 64) return false;
        foreach (char c in h) if (!((c >= 'a' && c <= 'f') || (c >= '0' && c <= '9'))) return false;
        return true;
    }

    public bool CheckPassword(ReadOnlySpan<byte> password)
    {
        if (NoPass) return true;
        var hashed = Encoding.ASCII.GetBytes(HashPassword(password));
        bool ok = false;
        foreach (var p in Passwords)
            ok |= CryptographicOperations.FixedTimeEquals(hashed, Encoding.ASCII.GetBytes(p));
        return ok;
    }

    /// <summary>Applies one user operation (ACLSetUser); returns the error or None.</summary>
    public AclOpError Apply(AclManager acl, string op)
    {
        _description = null;
        if (op.Length == 0) return AclOpError.None;
        if (AclSelector.Is(op, "on")) Enabled = true;
        else if (AclSelector.Is(op, "off")) Enabled = false;
        else if (AclSelector.Is(op, "skip-sanitize-payload")) Sanitize = 2;
        else if (AclSelector.Is(op, "sanitize-payload")) Sanitize = 1;
        else if (AclSelector.Is(op, "nopass"))
        {
            NoPass = true;
            Passwords.Clear();
        }
        else if (AclSelector.Is(op, "resetpass"))
        {
            NoPass = false;
            Passwords.Clear();
        }
        else if (op[0] == '>' || op[0] == '#')
        {
            string hash;
            if (op[0] == '>') hash = HashPassword(op[1..]);
            else
            {
                if (!IsValidHash(op[1..])) return AclOpError.BadHash;
                hash = op[1..];
            }
            if (!Passwords.Contains(hash)) Passwords.Add(hash);
            NoPass = false;
        }
        else if (op[0] == '<' || op[0] == '!')
        {
            string hash;
            if (op[0] == '<') hash = HashPassword(op[1..]);
            else
            {
                if (!IsValidHash(op[1..])) return AclOpError.BadHash;
                hash = op[1..];
            }
            if (!Passwords.Remove(hash)) return AclOpError.NoSuchPassword;
        }
        else if (op[0] == '(' && op[^1] == ')')
        {
            var sel = new AclSelector(acl, root: false);
            var inner = Cinnabar.Protocol.ArgSplitter.Split(Encoding.Latin1.GetBytes(op[1..^1]));
            if (inner == null) return AclOpError.Syntax;
            foreach (var o in inner)
            {
                var e = sel.Apply(acl, Encoding.Latin1.GetString(o));
                if (e != AclOpError.None) return e;
            }
            Selectors.Add(sel);
        }
        else if (AclSelector.Is(op, "clearselectors"))
        {
            Selectors.RemoveRange(1, Selectors.Count - 1);
        }
        else if (AclSelector.Is(op, "reset"))
        {
            Apply(acl, "resetpass");
            Apply(acl, "resetkeys");
            Apply(acl, "resetchannels");
            if (acl.PubsubDefaultAllChannels) Apply(acl, "allchannels");
            Apply(acl, "off");
            Apply(acl, "sanitize-payload");
            Apply(acl, "clearselectors");
            Apply(acl, "-@all");
        }
        else
        {
            var e = Root.Apply(acl, op);
            if (e != AclOpError.None) return e;
        }
        return AclOpError.None;
    }

    /// <summary>ACLDescribeUser: the rules that recreate this user (ACL LIST, ACL SAVE, CONFIG REWRITE).</summary>
    public string Describe(AclManager acl)
    {
        if (_description != null) return _description;
        var sb = new StringBuilder();
        sb.Append(Enabled ? "on " : "off ");
        if (NoPass) sb.Append("nopass ");
        if (Sanitize == 2) sb.Append("skip-sanitize-payload ");
        if (Sanitize == 1) sb.Append("sanitize-payload ");
        foreach (var p in Passwords) sb.Append('#').Append(p).Append(' ');
        foreach (var s in Selectors)
        {
            if (s.Root) sb.Append(s.Describe(acl));
            else sb.Append(" (").Append(s.Describe(acl)).Append(')');
        }
        return _description = sb.ToString();
    }

    public List<string> FlagNames()
    {
        var l = new List<string> { Enabled ? "on" : "off" };
        if (NoPass) l.Add("nopass");
        if (Sanitize == 2) l.Add("skip-sanitize-payload");
        if (Sanitize == 1) l.Add("sanitize-payload");
        return l;
    }
}
