namespace Cinnabar.Server;

public static partial class Errors
{
    public const string HllInvalidValue = "WRONGTYPE Key is not a valid HyperLogLog string value.";
    public const string HllCorrupted = "INVALIDOBJ Corrupted HLL object detected";
    public const string HllNoKey = "ERR The specified key does not exist";
    public const string HllNotSparse = "ERR HLL encoding is not sparse";
    public const string HllUnknownDebug = "ERR Unknown PFDEBUG subcommand '{0}'";
}
