namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster import`.</summary>
public static class ImportVerb
{
    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o)
    {
        StdIo.Err.WriteLine("Unknown --cluster subcommand");
        return 1;
    }
}
