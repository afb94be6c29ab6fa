namespace Cinnabar.Server;

/// <summary>Error texts of the hash, set, transaction and pub/sub families (Redis 7.0).</summary>
public static partial class Errors
{
    public const string HashValueNotInteger = "ERR hash value is not an integer";
    public const string HashValueNotFloat = "ERR hash value is not a float";
    public const string ValueNaNOrInfinity = "ERR value is NaN or Infinity";
    public const string ValueOutOfRangePositive = "ERR value is out of range, must be positive";
}
