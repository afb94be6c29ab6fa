namespace Cinnabar.Server;

public static partial class Errors
{
    public const string BitOffsetInvalid = "ERR bit offset is not an integer or out of range";
    public const string BitValueInvalid = "ERR bit is not an integer or out of range";
    public const string BitPosBitArgument = "ERR The bit argument must be 1 or 0.";
    public const string BitOpNotSingleSource = "ERR BITOP NOT must be called with a single source key.";
    public const string BitFieldInvalidType = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    public const string BitFieldInvalidOverflow = "ERR Invalid OVERFLOW type specified";
    public const string BitFieldRoOnlyGet = "ERR BITFIELD_RO only supports the GET subcommand";
}
