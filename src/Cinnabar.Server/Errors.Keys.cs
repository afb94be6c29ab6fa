namespace Cinnabar.Server;

public static partial class Errors
{
    public const string ExpireNxIncompatible = "ERR NX and XX, GT or LT options at the same time are not compatible";
    public const string ExpireGtLtIncompatible = "ERR GT and LT options at the same time are not compatible";
    public const string InvalidFirstDbIndex = "ERR invalid first DB index";
    public const string InvalidSecondDbIndex = "ERR invalid second DB index";
    public const string CopyInCluster = "ERR Copying to another database is not allowed in cluster mode";
    public const string MoveInCluster = "ERR MOVE is not allowed in cluster mode";
    public const string SwapDbInCluster = "ERR SWAPDB is not allowed in cluster mode";
    public const string IdleTimeUnderLfu = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
    public const string FreqWithoutLfu = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

    public static string UnsupportedOption(string option) => $"ERR Unsupported option {option}";
}
