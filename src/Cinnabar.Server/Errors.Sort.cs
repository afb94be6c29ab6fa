namespace Cinnabar.Server;

public static partial class Errors
{
    public const string SortScoreNotDouble = "ERR One or more scores can't be converted into double";
    public const string SortByCluster = "ERR BY option of SORT denied in Cluster mode.";
    public const string SortGetCluster = "ERR GET option of SORT denied in Cluster mode.";
}
