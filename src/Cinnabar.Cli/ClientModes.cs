namespace Cinnabar.Cli;

/// <summary>redis-cli's special client modes (--latency..., --replica, --rdb, --bigkeys...).</summary>
internal static class ClientModes
{
    /// <summary>Runs the first client mode the options ask for, in redis-cli's order; false when none.</summary>
    public static bool TryRun(CliOptions o, OutputMode mode, out int exitCode)
    {
        exitCode = 0;
        return false;
    }
}
