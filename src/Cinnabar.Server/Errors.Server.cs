namespace Cinnabar.Server;

public static partial class Errors
{
    /// <summary>Sent (then the connection is closed) to non-loopback clients in protected mode; Redis 7.0's text.</summary>
    public const string ProtectedMode =
        "DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. " +
        "In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: " +
        "1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. " +
        "2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. " +
        "3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. " +
        "4) Setup a an authentication password for the default user. " +
        "NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.";

    public const string UnblockedByClientUnblock = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
    public const string ClusterSupportDisabled = "ERR This instance has cluster support disabled";
    public const string NoShutdownInProgress = "ERR No shutdown in progress.";
    public const string DebugNotAllowed = "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", you can run it from a local connection, otherwise you need to set this option in the configuration file, and then restart the server.";
    public const string AofRewriteFailed = "ERR Can't execute an AOF background rewriting. Please check the server logs for more information.";
}
