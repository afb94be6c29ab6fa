namespace Cinnabar.Server;

/// <summary>GEO command error replies (geo.c), byte-identical to Redis 7.0.</summary>
public static partial class Errors
{
    public const string GeoInvalidPair = "ERR invalid longitude,latitude pair {0},{1}";
    public const string GeoUnsupportedUnit = "ERR unsupported unit provided. please use M, KM, FT, MI";
    public const string GeoNeedRadius = "ERR need numeric radius";
    public const string GeoNeedWidth = "ERR need numeric width";
    public const string GeoNeedHeight = "ERR need numeric height";
    public const string GeoRadiusNegative = "ERR radius cannot be negative";
    public const string GeoBoxNegative = "ERR height or width cannot be negative";
    public const string GeoCountPositive = "ERR COUNT must be > 0";
    public const string GeoBadMember = "ERR could not decode requested zset member";
    public const string GeoStoreIncompatible = "ERR {0} is not compatible with WITHDIST, WITHHASH and WITHCOORD options";
    public const string GeoNeedFrom = "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {0}";
    public const string GeoNeedBy = "ERR exactly one of BYRADIUS and BYBOX can be specified for {0}";
    public const string GeoAnyNeedsCount = "ERR the ANY argument requires COUNT argument";
}
