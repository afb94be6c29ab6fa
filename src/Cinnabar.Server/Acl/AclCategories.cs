namespace Cinnabar.Server.Acl;

/// <summary>ACL command categories in Redis 7.0's order (ACL CAT, rule descriptions); bit j = Names[j].</summary>
public static class AclCategories
{
    public static readonly string[] Names =
    [
        "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog",
        "geo", "stream", "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection",
        "transaction", "scripting",
    ];

    /// <summary>The category's bit, or 0 when the name is unknown (case-insensitive, as strcasecmp).</summary>
    public static ulong Bit(string name)
    {
        for (int j = 0; j < Names.Length; j++)
            if (string.Equals(Names[j], name, StringComparison.OrdinalIgnoreCase)) return 1UL << j;
        return 0;
    }

    /// <summary>Bits of a command's declared categories ("@read @string @fast"); containers are @slow.</summary>
    public static ulong BitsOf(CommandDef cmd)
    {
        ulong bits = 0;
        foreach (var c in cmd.AclCategories) bits |= Bit(c.TrimStart('@'));
        if (bits == 0 && cmd.Subcommands != null) bits = Bit("slow");
        return bits;
    }
}
