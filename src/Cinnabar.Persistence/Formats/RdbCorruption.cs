namespace Cinnabar.Persistence.Formats;

/// <summary>
/// Corrupt values in an RDB stream or DUMP payload (as opposed to short reads). The error is an
/// <see cref="InvalidDataException"/> (what every loader already handles) whose message is
/// Redis's reason (rdb.c rdbReportCorruptRDB), e.g. "Hash listpack integrity check failed.",
/// so logs read as Redis's do; RESTORE answers "ERR Bad data format" for any of them.
/// </summary>
public static class RdbCorrupt
{
    private const string Marker = "cinnabar.rdb.reason";

    public static InvalidDataException Error(string reason, Exception? inner = null)
    {
        var e = inner == null ? new InvalidDataException(reason) : new InvalidDataException(reason, inner);
        e.Data[Marker] = true;
        return e;
    }

    /// <summary>True for errors made by <see cref="Error"/>: they already carry the reason to report.</summary>
    public static bool HasReason(Exception e) => e is InvalidDataException && e.Data.Contains(Marker);
}

/// <summary>
/// A collection value with no elements (RDB_LOAD_ERR_EMPTY_KEY): a file load skips the key and
/// logs it, RESTORE refuses the payload.
/// </summary>
public sealed class RdbEmptyKeyException : Exception
{
    public RdbEmptyKeyException() : base("Empty keys are not allowed") { }
}
