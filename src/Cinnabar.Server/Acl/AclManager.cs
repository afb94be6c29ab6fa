using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Acl;

/// <summary>Outcome of a permission check (ACL_OK / ACL_DENIED_*), ordered as Redis picks the error to report.</summary>
public enum AclResult { Ok = 0, DeniedCommand = 1, DeniedKey = 2, DeniedChannel = 3, DeniedAuth = 4 }

/// <summary>Where a denial happened (ACL LOG "context").</summary>
public enum AclContext { TopLevel, Multi, Lua }

/// <summary>
/// The ACL subsystem (Redis 7.0's acl.c): users by name (byte order, as Redis's radix tree),
/// the default user that every connection starts with, permission checks, the ACL log, and the
/// ACL file. Every command gets a bit index (CommandDef.AclId) at startup; the last bit of the
/// bitmap stands for commands added later (set only by +@all).
/// Hot path: a client whose user is Unrestricted (the default user as shipped) costs one flag test.
/// All methods run under the server's execution lock.
/// </summary>
public sealed partial class AclManager
{
    private readonly SortedDictionary<string, AclUser> _users = new(StringComparer.Ordinal);
    private readonly List<KeyRef> _keys = new();

    public AclManager(RedisServer server)
    {
        Server = server;
        int id = 0;
        foreach (var cmd in server.Commands.All)
        {
            TopLevelCommands.Add(cmd);
            Prepare(cmd, ref id);
            if (cmd.Subcommands == null) continue;
            foreach (var sub in cmd.Subcommands.Values) Prepare(sub, ref id);
        }
        FutureCommandsBit = id;
        CommandWords = id / 64 + 1;
        DefaultUser = CreateDefaultUser();
        SuperUser = new AclUser(this, "(superuser)");
        foreach (var op in new[] { "+@all", "~*", "&*", "on", "nopass" }) SuperUser.Apply(this, op);
        SuperUser.Refresh();
        _users["default"] = DefaultUser;
        UpdateDefaultUserPassword(server.Config.RequirePass);
        server.Config.UserRewriteLines = ConfigRewriteLines;
        server.Config.Changed += (name, _) =>
        {
            if (name == "requirepass") UpdateDefaultUserPassword(server.Config.RequirePass);
        };
    }

    private static void Prepare(CommandDef cmd, ref int id)
    {
        cmd.AclId = id++;
        cmd.AclCategoryBits = AclCategories.BitsOf(cmd);
        cmd.AclKeySpecs = KeySpecTable.For(cmd);
    }

    public RedisServer Server { get; }
    public AclUser DefaultUser { get; }
    /// <summary>Internal clients (master link, AOF loading) run unchecked, as Redis's clients with no user.</summary>
    public AclUser SuperUser { get; }
    public List<CommandDef> TopLevelCommands { get; } = new();
    public int FutureCommandsBit { get; }
    public int CommandWords { get; }
    public bool PubsubDefaultAllChannels => Server.Config.AclPubsubDefault == "allchannels";
    public IEnumerable<AclUser> Users => _users.Values;
    public int UserCount => _users.Count;

    public AclUser? GetUser(string name) => _users.TryGetValue(name, out var u) ? u : null;

    private AclUser CreateDefaultUser()
    {
        var u = new AclUser(this, "default");
        foreach (var op in new[] { "+@all", "~*", "&*", "on", "nopass" }) u.Apply(this, op);
        u.Refresh();
        return u;
    }

    /// <summary>requirepass drives the default user's password (ACLUpdateDefaultUserPassword).</summary>
    public void UpdateDefaultUserPassword(string? password)
    {
        DefaultUser.Apply(this, "resetpass");
        DefaultUser.Apply(this, password != null ? ">" + Latin1(Encoding.UTF8.GetBytes(password)) : "nopass");
        DefaultUser.Refresh();
    }

    /// <summary>The default user demands AUTH (it has a password or is disabled).</summary>
    public bool AuthRequired => !DefaultUser.NoPass || !DefaultUser.Enabled;

    public static string Latin1(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);

    /// <summary>Finds a command for a rule ("get", "config|get"), case-insensitively.</summary>
    public CommandDef? LookupCommand(string name)
    {
        int bar = name.IndexOf('|');
        if (bar < 0) return Server.Commands.Lookup(name);
        var parent = Server.Commands.Lookup(name[..bar]);
        if (parent?.Subcommands == null) return null;
        string rest = name[(bar + 1)..];
        if (rest.Contains('|')) return null;
        return parent.Subcommands.TryGetValue(rest, out var sub) ? sub : null;
    }

    // ------------------------------------------------------------------ users

    public static string ErrorText(AclOpError e) => e switch
    {
        AclOpError.UnknownCommand => "Unknown command or category name in ACL",
        AclOpError.Syntax => "Syntax error",
        AclOpError.KeyAfterAll => "Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
        AclOpError.ChannelAfterAll => "Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
        AclOpError.NoSuchPassword => "The password you are trying to remove from the user does not exist",
        AclOpError.BadHash => "The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters",
        AclOpError.Duplicate => "Duplicate user found. A user can only be defined once in config files",
        AclOpError.FirstArgOfSub => "Allowing first-arg of a subcommand is not supported",
        _ => "Wrong format",
    };

    /// <summary>
    /// ACLMergeSelectorArguments: a "(...)" selector may arrive split over several arguments.
    /// Returns null (and the index of the opening argument) when a parenthesis is unmatched.
    /// </summary>
    public static List<string>? MergeSelectorArguments(IReadOnlyList<string> ops, out int invalidIndex)
    {
        invalidIndex = -1;
        var merged = new List<string>();
        StringBuilder? selector = null;
        int open = -1;
        for (int j = 0; j < ops.Count; j++)
        {
            string op = ops[j];
            if (op.Length > 0 && op[0] == '(' && op[^1] != ')')
            {
                selector = new StringBuilder(op);
                open = j;
                continue;
            }
            if (open != -1)
            {
                selector!.Append(' ').Append(op);
                if (op.Length > 0 && op[^1] == ')')
                {
                    open = -1;
                    merged.Add(selector.ToString());
                }
                continue;
            }
            merged.Add(op);
        }
        if (open != -1)
        {
            invalidIndex = open;
            return null;
        }
        return merged;
    }

    /// <summary>
    /// ACL SETUSER (ACLStringSetUser): all operations are applied to a copy first, so that an
    /// error leaves the user untouched; subscribers who lost a channel are disconnected.
    /// Returns null or the error text (without "ERR ").
    /// </summary>
    public string? SetUser(string name, IReadOnlyList<string> ops, Client? current)
    {
        var merged = MergeSelectorArguments(ops, out int bad);
        if (merged == null) return $"Unmatched parenthesis in acl selector starting at '{ops[bad]}'.";
        var existing = GetUser(name);
        var temp = new AclUser(this, name);
        if (existing != null) temp.CopyFrom(existing);
        foreach (var op in merged)
        {
            var e = temp.Apply(this, op);
            if (e != AclOpError.None) return $"Error in ACL SETUSER modifier '{op}': {ErrorText(e)}";
        }
        temp.Refresh();
        if (existing != null) KillPubsubClientsIfNeeded(temp, existing, current);
        if (existing == null) _users[name] = existing = new AclUser(this, name);
        existing.CopyFrom(temp);
        return null;
    }

    /// <summary>Removes a user and disconnects its clients (the current one after its reply).</summary>
    public bool DeleteUser(string name, Client? current)
    {
        if (!_users.Remove(name, out var u)) return false;
        KillClientsOf(u, current);
        return true;
    }

    private void KillClientsOf(AclUser u, Client? current)
    {
        foreach (var c in Server.Clients.ToList())
        {
            if (c.AclUser != u) continue;
            SetClientUser(c, DefaultUser);
            c.Authenticated = false;
            KillClient(c, current);
        }
    }

    private void KillClient(Client c, Client? current)
    {
        if (c == current) c.Flags |= ClientFlags.CloseAfterReply;
        else
        {
            c.Close();
            Server.OnClientClosed(c);
        }
    }

    public static void SetClientUser(Client c, AclUser u)
    {
        c.AclUser = u;
        c.User = u.Name;
    }

    /// <summary>ACLKillPubsubClientsIfNeeded: disconnect subscribers whose channels the new rules no longer allow.</summary>
    private void KillPubsubClientsIfNeeded(AclUser updated, AclUser original, Client? current)
    {
        foreach (var s in updated.Selectors) if (s.AllChannels) return;
        var upcoming = new List<string>();
        foreach (var s in updated.Selectors) upcoming.AddRange(s.Channels);
        bool superset = true;
        foreach (var s in original.Selectors)
        {
            if (s.AllChannels)
            {
                superset = false;
                break;
            }
            foreach (var ch in s.Channels)
                if (!upcoming.Contains(ch))
                {
                    superset = false;
                    break;
                }
            if (!superset) break;
        }
        if (superset) return;
        foreach (var c in Server.Clients.ToList())
        {
            if (c.AclUser != original || c.SubscriptionCount == 0) continue;
            bool kill = false;
            foreach (var p in c.Patterns ?? []) kill |= !ChannelAllowed(upcoming, p, pattern: true);
            foreach (var ch in c.Channels ?? []) kill |= !ChannelAllowed(upcoming, ch, pattern: false);
            foreach (var ch in c.ShardChannels ?? []) kill |= !ChannelAllowed(upcoming, ch, pattern: false);
            if (kill) KillClient(c, current);
        }
    }

    /// <summary>
    /// ACLCheckChannelAgainstList: a channel name is glob-matched against the allowed patterns; a
    /// PSUBSCRIBE pattern must equal an allowed pattern literally.
    /// </summary>
    public static bool ChannelAllowed(List<string> allowed, string channel, bool pattern)
    {
        foreach (var p in allowed)
        {
            if (pattern ? p == channel : GlobMatcher.Match(Encoding.Latin1.GetBytes(p), Encoding.Latin1.GetBytes(channel))) return true;
        }
        return false;
    }

    // ------------------------------------------------------------------ authentication

    /// <summary>
    /// Arguments Redis hides from the slow log (redactClientCommandArgument): passwords, ACL
    /// rules, values of sensitive configs (masterauth, requirepass).
    /// </summary>
    public bool IsRedacted(CommandDef? cmd, CommandArgs args, int i)
    {
        if (cmd == null || i == 0) return false;
        switch (cmd.FullName)
        {
            case "auth": return true;
            case "acl|setuser": return i >= 2;
            case "hello": return FollowsKeyword(args, 2, i, "AUTH", 2, null);
            case "migrate": return FollowsKeyword(args, 6, i, "AUTH", 1, "AUTH2");
            case "config|set":
                return i >= 3 && (i - 2) % 2 == 1 && Server.Config.Find(Latin1(args[i - 1])) is { Sensitive: true };
            default: return false;
        }
    }

    /// <summary>True when argument i is one of the n values after keyword (or the 2 after keyword2).</summary>
    private static bool FollowsKeyword(CommandArgs args, int from, int i, string keyword, int n, string? keyword2)
    {
        for (int j = from; j < args.Count; j++)
        {
            string a = Latin1(args[j]);
            int take = AclSelector.Is(a, keyword) ? n : keyword2 != null && AclSelector.Is(a, keyword2) ? 2 : 0;
            if (take == 0 || j + take >= args.Count) continue;
            if (i > j && i <= j + take) return true;
            j += take;
        }
        return false;
    }

    /// <summary>ACLCheckUserCredentials: the user exists, is enabled, and the password matches (or nopass).</summary>
    public AclUser? CheckCredentials(string user, ReadOnlySpan<byte> password)
    {
        var u = GetUser(user);
        if (u == null || !u.Enabled) return null;
        return u.CheckPassword(password) ? u : null;
    }

    /// <summary>ACLAuthenticateUser: on success the client switches user; a failure is logged.</summary>
    public bool Authenticate(Client c, string user, ReadOnlySpan<byte> password, string commandName)
    {
        var u = CheckCredentials(user, password);
        if (u != null)
        {
            c.Authenticated = true;
            SetClientUser(c, u);
            return true;
        }
        AddLogEntry(c, AclResult.DeniedAuth, (c.Flags & ClientFlags.Multi) != 0 ? AclContext.Multi : AclContext.TopLevel, user, commandName);
        return false;
    }
}
