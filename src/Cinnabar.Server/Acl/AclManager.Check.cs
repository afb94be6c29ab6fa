using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Acl;

/// <summary>Permission checks (ACLCheckAllUserCommandPerm and the selectors' checks).</summary>
public sealed partial class AclManager
{
    /// <summary>
    /// Checks a command against every selector of the user. When none allows it, the reported
    /// denial is the command itself if no selector accepts the command, else the key or channel
    /// with the highest argument index that no selector could match (Redis's choice).
    /// </summary>
    public AclResult Check(AclUser u, CommandDef cmd, CommandArgs args, out int argIndex)
    {
        argIndex = 0;
        if (u.Unrestricted) return AclResult.Ok;
        var relevant = AclResult.DeniedCommand;
        int lastIdx = 0;
        bool keysReady = false;
        foreach (var s in u.Selectors)
        {
            var r = CheckSelector(s, cmd, args, out int idx, ref keysReady);
            if (r == AclResult.Ok) return AclResult.Ok;
            if (r > relevant || (r == relevant && idx > lastIdx))
            {
                relevant = r;
                lastIdx = idx;
            }
        }
        argIndex = lastIdx;
        return relevant;
    }

    private AclResult CheckSelector(AclSelector s, CommandDef cmd, CommandArgs args, out int idx, ref bool keysReady)
    {
        idx = 0;
        if (!s.AllCommands && !cmd.Is(CommandFlags.NoAuth) && !s.GetBit(cmd.AclId))
        {
            if (args.Count < 2 || s.FirstArgs == null || !s.FirstArgs.TryGetValue(cmd.AclId, out var firstArgs)) return AclResult.DeniedCommand;
            int at = cmd.Parent != null ? 2 : 1;
            if (at >= args.Count) return AclResult.DeniedCommand;
            string arg = Latin1(args[at]);
            if (!firstArgs.Exists(a => string.Equals(a, arg, StringComparison.OrdinalIgnoreCase))) return AclResult.DeniedCommand;
        }
        if (!s.AllKeys && KeySpecTable.HasKeys(cmd))
        {
            if (!keysReady)
            {
                KeySpecTable.GetKeys(cmd, args, _keys);
                keysReady = true;
            }
            foreach (var k in _keys)
            {
                if (!KeyAllowed(s, args[k.Pos], k.Flags))
                {
                    idx = k.Pos;
                    return AclResult.DeniedKey;
                }
            }
        }
        if (!s.AllChannels)
        {
            var (start, count, pattern, isChecked) = KeySpecTable.Channels(cmd);
            if (isChecked)
            {
                int stop = count == -1 ? args.Count : Math.Min(args.Count, start + count);
                for (int i = start; i < stop; i++)
                {
                    if (!ChannelAllowed(s.Channels, Latin1(args[i]), pattern))
                    {
                        idx = i;
                        return AclResult.DeniedChannel;
                    }
                }
            }
        }
        return AclResult.Ok;
    }

    /// <summary>ACLSelectorCheckKey: a pattern must grant every permission the key spec needs.</summary>
    private static bool KeyAllowed(AclSelector s, ReadOnlySpan<byte> key, KeySpecFlags flags)
    {
        if (s.AllKeys) return true;
        var need = KeyPerm.None;
        if ((flags & KeySpecFlags.Access) != 0) need |= KeyPerm.Read;
        if ((flags & (KeySpecFlags.Insert | KeySpecFlags.Delete | KeySpecFlags.Update)) != 0) need |= KeyPerm.Write;
        foreach (var p in s.Patterns)
        {
            if ((p.Perm & need) != need) continue;
            if (GlobMatcher.Match(p.Bytes, key)) return true;
        }
        return false;
    }

    /// <summary>ACLUserCheckKeyPerm: can the user touch this key with these access flags (SORT BY/GET)?</summary>
    public static bool UserKeyAllowed(AclUser u, ReadOnlySpan<byte> key, KeySpecFlags flags)
    {
        foreach (var s in u.Selectors) if (KeyAllowed(s, key, flags)) return true;
        return false;
    }

    /// <summary>
    /// ACLUserCheckCmdWithUnrestrictedKeyAccess: one selector both allows the command and grants
    /// the given access to every key ("~*", "%R~*" ...). SORT BY/GET need read access to all keys.
    /// </summary>
    public bool UserHasUnrestrictedKeyAccess(AclUser u, CommandDef cmd, CommandArgs args, KeySpecFlags flags)
    {
        if (u.Unrestricted) return true;
        bool keysReady = false;
        var need = KeyPerm.None;
        if ((flags & KeySpecFlags.Access) != 0) need |= KeyPerm.Read;
        if ((flags & (KeySpecFlags.Insert | KeySpecFlags.Delete | KeySpecFlags.Update)) != 0) need |= KeyPerm.Write;
        foreach (var s in u.Selectors)
        {
            if (CheckSelector(s, cmd, args, out _, ref keysReady) != AclResult.Ok) continue;
            if (s.AllKeys) return true;
            foreach (var p in s.Patterns)
                if ((p.Perm & need) == need && p.Text == "*") return true;
        }
        return false;
    }

    /// <summary>The -NOPERM reply of processCommand for a denial.</summary>
    public static string DenialError(AclResult r, CommandDef cmd) => r switch
    {
        AclResult.DeniedCommand => $"NOPERM this user has no permissions to run the '{cmd.FullName}' command",
        AclResult.DeniedKey => "NOPERM this user has no permissions to access one of the keys used as arguments",
        AclResult.DeniedChannel => "NOPERM this user has no permissions to access one of the channels used as arguments",
        _ => "no permission",
    };

    /// <summary>getAclErrorMessage: the reason used inside scripts.</summary>
    public static string ScriptReason(AclResult r) => r switch
    {
        AclResult.DeniedCommand => "can't run this command or subcommand",
        AclResult.DeniedKey => "can't access at least one of the keys mentioned in the command arguments",
        AclResult.DeniedChannel => "can't publish to the channel mentioned in the command",
        _ => "lacking the permissions for the command",
    };

    /// <summary>Dispatcher check: null when allowed, else the error to reply (the denial is logged).</summary>
    public string? CheckCommand(Client c, CommandDef cmd, CommandArgs args)
    {
        var r = Check(c.AclUser, cmd, args, out int idx);
        if (r == AclResult.Ok) return null;
        // processCommand has already made the rejected command the client's last one (cmd= in client-info).
        c.LastCommand = cmd.FullName;
        AddLogEntry(c, r, (c.Flags & ClientFlags.Multi) != 0 ? AclContext.Multi : AclContext.TopLevel, null, LogObject(r, cmd, args, idx));
        return DenialError(r, cmd);
    }

    /// <summary>EXEC re-checks each queued command: the rules may have changed since it was queued.</summary>
    public string? CheckQueued(Client c, CommandDef cmd, CommandArgs args)
    {
        var r = Check(c.AclUser, cmd, args, out int idx);
        if (r == AclResult.Ok) return null;
        AddLogEntry(c, r, AclContext.Multi, null, LogObject(r, cmd, args, idx));
        string reason = r switch
        {
            AclResult.DeniedCommand => "no permission to execute the command or subcommand",
            AclResult.DeniedKey => "no permission to touch the specified keys",
            AclResult.DeniedChannel => "no permission to access one of the channels used as arguments",
            _ => "no permission",
        };
        return "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: " + reason;
    }

    /// <summary>redis.call: null when allowed, else the script error (logged with context lua).</summary>
    public string? CheckScriptCall(Client scriptClient, Client caller, CommandDef cmd, CommandArgs args)
    {
        var r = Check(scriptClient.AclUser, cmd, args, out int idx);
        if (r == AclResult.Ok) return null;
        AddLogEntry(caller, r, AclContext.Lua, scriptClient.AclUser.Name, LogObject(r, cmd, args, idx));
        return "ERR The user executing the script " + ScriptReason(r);
    }

    private static string LogObject(AclResult r, CommandDef cmd, CommandArgs args, int idx) =>
        r == AclResult.DeniedCommand ? cmd.FullName : Latin1(args[idx]);
}
