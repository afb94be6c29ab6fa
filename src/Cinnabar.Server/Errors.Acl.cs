namespace Cinnabar.Server;

/// <summary>ACL error texts (Redis 7.0 acl.c).</summary>
public static partial class Errors
{
    public const string AclUsernameSpaces = "ERR Usernames can't contain spaces or null characters";
    public const string AclDefaultUserDelete = "ERR The 'default' user cannot be removed";
    public const string AclNoFile = "ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";
    public const string SortByAcl = "ERR BY option of SORT denied due to insufficient ACL permissions.";
    public const string SortGetAcl = "ERR GET option of SORT denied due to insufficient ACL permissions.";
    public const string AclSaveFailed = "ERR There was an error trying to save the ACLs. Please check the server logs for more information";
    public const string AclGenpassBits = "ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096";
    public static string AclUnknownCategory(string c) => $"ERR Unknown category '{(c.Length > 128 ? c[..128] : c)}'";
    public static string AclUserNotFound(string u) => $"ERR User '{u}' not found";
    public static string AclCommandNotFound(string c) => $"ERR Command '{c}' not found";
    public static string SubcommandSyntax(string sub, string container) =>
        $"ERR unknown subcommand or wrong number of arguments for '{(sub.Length > 128 ? sub[..128] : sub)}'. Try {container.ToUpperInvariant()} HELP.";
}
