namespace Cinnabar.Server;

public static partial class Errors
{
    public const string ConfigNoFile = "ERR The server is running without a config file";

    public static string ConfigSetUnknown(string name) => $"ERR Unknown option or number of arguments for CONFIG SET - '{Truncate(name)}'";

    public static string ConfigSetFailed(string name, string reason) =>
        $"ERR CONFIG SET failed (possibly related to argument '{Truncate(name)}') - {reason}";

    public static string ConfigRewriteFailed(string reason) => "ERR Rewriting config file: " + reason;
}
