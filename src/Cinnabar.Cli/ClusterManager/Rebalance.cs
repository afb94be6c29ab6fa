namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster rebalance`.</summary>
public static class RebalanceVerb
{
    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o)
    {
        StdIo.Err.WriteLine("Unknown --cluster subcommand");
        return 1;
    }
}
