namespace Cinnabar.Server;

/// <summary>Sorted set error replies (t_zset.c), byte-identical to Redis 7.0.</summary>
public static partial class Errors
{
    public const string ZAddXxNx = "ERR XX and NX options at the same time are not compatible";
    public const string ZAddGtLtNx = "ERR GT, LT, and/or NX options at the same time are not compatible";
    public const string ZAddIncrPair = "ERR INCR option supports a single increment-element pair";
    public const string ZScoreNaN = "ERR resulting score is not a number (NaN)";
    public const string ZMinMaxNotFloat = "ERR min or max is not a float";
    public const string ZMinMaxNotLex = "ERR min or max not valid string range item";
    public const string ZLimitNeedsByScoreOrLex = "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
    public const string ZWithScoresByLex = "ERR syntax error, WITHSCORES not supported in combination with BYLEX";
    public const string ValueMustBePositive = "ERR value is out of range, must be positive";
    public const string ValueOutOfRange = "ERR value is out of range";
    public const string NumKeysPositive = "ERR numkeys should be greater than 0";
    public const string CountPositive = "ERR count should be greater than 0";
    public const string WeightNotFloat = "ERR weight value is not a float";
    public const string LimitNegative = "ERR LIMIT can't be negative";
    public const string TimeoutOutOfRange = "ERR timeout is out of range";

    public static string ZAtLeastOneKey(string command) => $"ERR at least 1 input key is needed for '{command}' command";
}
