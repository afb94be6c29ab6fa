namespace Cinnabar.Server;

public static partial class Errors
{
    public const string DecrementOverflow = "ERR decrement would overflow";
    public const string OffsetOutOfRange = "ERR offset is out of range";
    public const string LcsNotStrings = "ERR The specified keys must contain string values";
    public const string LcsLenAndIdx = "ERR If you want both the length and indexes, please just use IDX.";
    public const string LcsTooMuchMemory = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
}
