namespace Cinnabar.Server;

/// <summary>List command errors, byte-identical to Redis 7.0 (checked against 7.0.15).</summary>
public static partial class Errors
{
    public const string MustBePositive = "ERR value is out of range, must be positive";
    public const string LposRankZero = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
    public const string LposCountNegative = "ERR COUNT can't be negative";
    public const string LposMaxLenNegative = "ERR MAXLEN can't be negative";
    public const string NumKeysNotPositive = "ERR numkeys should be greater than 0";
    public const string CountNotPositive = "ERR count should be greater than 0";
    public const string TimeoutNotFloat = "ERR timeout is not a float or out of range";
    public const string TimeoutNegative = "ERR timeout is negative";
}
