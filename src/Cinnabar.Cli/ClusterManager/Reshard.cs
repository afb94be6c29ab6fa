namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster reshard`.</summary>
public static class ReshardVerb
{
    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o)
    {
        StdIo.Err.WriteLine("Unknown --cluster subcommand");
        return 1;
    }
}
