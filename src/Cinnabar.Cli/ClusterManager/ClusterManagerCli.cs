namespace Cinnabar.Cli.ClusterManager;

/// <summary>`cinnabar-cli --cluster &lt;verb&gt; ...`: redis-cli 7.0's cluster manager.</summary>
public static class ClusterManagerCli
{
    /// <summary>Validates the verb and its arity, runs it, returns the exit code (0 ok, 1 failure).</summary>
    public static int Run(CliOptions o)
    {
        StdIo.Err.WriteLine("Unknown --cluster subcommand");
        return 1;
    }
}
