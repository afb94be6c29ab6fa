namespace Cinnabar.Server;

public static partial class Errors
{
    public const string StreamInvalidId = "ERR Invalid stream ID specified as stream command argument";
    public const string StreamXaddIdZero = "ERR The ID specified in XADD must be greater than 0-0";
    public const string StreamXaddIdSmaller = "ERR The ID specified in XADD is equal or smaller than the target stream top item";
    public const string StreamExhausted = "ERR The stream has exhausted the last possible ID, unable to add more items";
    public const string StreamLimitWithoutStrategy = "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy";
    public const string StreamLimitWithoutApprox = "ERR syntax error, LIMIT cannot be used without the special ~ option";
    public const string StreamMaxlenAndMinid = "ERR syntax error, MAXLEN and MINID options at the same time are not compatible";
    public const string StreamMaxlenNegative = "ERR The MAXLEN argument must be >= 0.";
    public const string StreamLimitNegative = "ERR The LIMIT argument must be >= 0.";
    public const string StreamTimeoutNegative = "ERR timeout is negative";
    public const string StreamTimeoutNotInteger = "ERR timeout is not an integer or out of range";
    /// <summary>XREAD/XREADGROUP BLOCK from a script; the name is argv[0] as the script spelled it.</summary>
    public static string StreamBlockFromScript(string command) => $"ERR {command} command is not allowed with BLOCK option from scripts";
    public const string StreamGtOnlyInGroup = "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.";
    public const string StreamUnblockedKeyDeleted = "UNBLOCKED the stream key no longer exists";
    public const string StreamUnblockedGroupDestroyed = "NOGROUP the consumer group this client was blocked on no longer exists";
    public const string StreamNoAckOnlyGroup = "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.";
    public const string StreamDollarInGroup = "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.";
    public const string StreamEntriesReadInvalid = "ERR value for ENTRIESREAD must be positive or -1";
    public const string StreamGroupNeedsKey = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
    public const string StreamBusyGroup = "BUSYGROUP Consumer Group name already exists";
    public const string StreamAutoclaimCount = "ERR COUNT must be > 0";
    public const string StreamSetIdSmaller = "ERR The ID specified in XSETID is smaller than the target stream top item";
    public const string StreamSetIdEntriesAdded = "ERR The entries_added specified in XSETID is smaller than the target stream length";
    public const string StreamSetIdMaxDeleted = "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id";

    public const string StreamUnbalanced = "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.";
    public static string StreamNoGroupRead(string key, string group) => $"NOGROUP No such key '{key}' or consumer group '{group}' in XREADGROUP with GROUP option";
    public static string StreamNoGroup(string key, string group) => $"NOGROUP No such key '{key}' or consumer group '{group}'";
    public static string StreamNoGroupForKey(string key, string group) => $"NOGROUP No such consumer group '{group}' for key name '{key}'";
}
