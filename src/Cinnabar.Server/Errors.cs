namespace Cinnabar.Server;

/// <summary>Every error reply text, byte-identical to Redis 7.0 (house rule 2).</summary>
public static partial class Errors
{
    public const string Syntax = "ERR syntax error";
    public const string WrongType = "WRONGTYPE Operation against a key holding the wrong kind of value";
    public const string NotInteger = "ERR value is not an integer or out of range";
    public const string NotFloat = "ERR value is not a valid float";
    public const string Overflow = "ERR increment or decrement would overflow";
    public const string IncrFloatNaN = "ERR increment would produce NaN or Infinity";
    public const string NoSuchKey = "ERR no such key";
    public const string OutOfRange = "ERR index out of range";
    public const string DbIndexOutOfRange = "ERR DB index is out of range";
    public const string InvalidDbIndex = "ERR invalid DB index";
    public const string NoAuth = "NOAUTH Authentication required.";
    public const string WrongPass = "WRONGPASS invalid username-password pair or user is disabled.";
    public const string AuthNoPassword = "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?";
    public const string Oom = "OOM command not allowed when used memory > 'maxmemory'.";
    public const string ReadOnlyReplica = "READONLY You can't write against a read only replica.";
    public const string NoReplicas = "NOREPLICAS Not enough good replicas to write.";
    public const string Loading = "LOADING Redis is loading the dataset in memory";
    public const string ExecAbort = "EXECABORT Transaction discarded because of previous errors.";
    public const string NestedMulti = "ERR MULTI calls can not be nested";

    /// <summary>execCommandAbort: a refused EXEC names the refusal (without its leading '-').</summary>
    public static string ExecAbortBecause(string error) => "EXECABORT Transaction discarded because of: " + error;

    /// <summary>DEBUG's answer to an unknown subcommand or a wrong number of arguments.</summary>
    public static string DebugWrongArguments(string sub) =>
        $"ERR unknown subcommand or wrong number of arguments for '{Truncate(sub)}'. Try DEBUG HELP.";
    public const string ExecWithoutMulti = "ERR EXEC without MULTI";
    public const string DiscardWithoutMulti = "ERR DISCARD without MULTI";
    public const string WatchInMulti = "ERR WATCH inside MULTI is not allowed";
    public const string InvalidExpire = "ERR invalid expire time in '{0}' command";
    public const string SameObject = "ERR source and destination objects are the same";
    public const string StringTooLong = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    public const string NotSupportedInCluster = "ERR SELECT is not allowed in cluster mode";
    public const string CrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";
    public const string Busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
    /// <summary>-BUSY while a function (not an EVAL script) runs (shared.slowscripterr).</summary>
    public const string BusyFunction = "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

    public static string UnknownCommand(string name, string argsPreview) =>
        $"ERR unknown command '{Truncate(name)}', with args beginning with: {argsPreview}";

    public static string WrongArity(string name) => $"ERR wrong number of arguments for '{name}' command";

    public static string UnknownSubcommand(string sub, string container) =>
        $"ERR unknown subcommand '{Truncate(sub)}'. Try {container.ToUpperInvariant()} HELP.";

    public static string UnknownSubcommandOrArity(string sub, string container) => UnknownSubcommand(sub, container);

    public static string WrongSubcommandArity(string container, string sub) =>
        $"ERR wrong number of arguments for '{container.ToLowerInvariant()}|{sub.ToLowerInvariant()}' command";

    public static string InvalidExpireTime(string command) => $"ERR invalid expire time in '{command}' command";

    /// <summary>Redis truncates user-supplied names in errors to 128 characters.</summary>
    public static string Truncate(string s) => s.Length > 128 ? s[..128] : s;
}
