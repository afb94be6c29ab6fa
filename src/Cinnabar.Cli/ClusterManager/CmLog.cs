namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// The cluster manager's output (clusterManagerLog): to stdout, coloured bold/yellow/red/green when
/// TERM contains "xterm" (redis-cli's isColorTerm, even when stdout is piped).
/// </summary>
public static class CmLog
{
    public static bool Colors { get; set; } = (Environment.GetEnvironmentVariable("TERM") ?? "").Contains("xterm", StringComparison.Ordinal);

    public static void Info(string s) => Write("29;1m", s);
    public static void Warn(string s) => Write("33;1m", s);
    public static void Err(string s) => Write("31;1m", s);
    public static void Ok(string s) => Write("32;1m", s);

    /// <summary>Plain stdout output (printf).</summary>
    public static void Print(string s)
    {
        StdIo.Out.Write(System.Text.Encoding.UTF8.GetBytes(s));
    }

    private static void Write(string color, string s)
    {
        if (Colors) Print("\u001b[" + color + s + "\u001b[0m");
        else Print(s);
    }
}
