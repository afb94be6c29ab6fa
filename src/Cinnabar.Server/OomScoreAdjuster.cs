using System.Globalization;
using Cinnabar.Server.Config;

namespace Cinnabar.Server;

/// <summary>
/// oom-score-adj (Linux): writes /proc/self/oom_score_adj from oom-score-adj-values for the
/// process's class (0 master, 1 replica, 2 background child). The score the process had before
/// the server first took control is remembered, used as the base of "relative" (alias "yes")
/// values, and written back when oom-score-adj is set to "no". Process-wide state, as the score is.
/// </summary>
public static class OomScoreAdjuster
{
    private const string ProcFile = "/proc/self/oom_score_adj";
    private static readonly object Gate = new();
    private static bool _adjusted;
    private static int _base;

    /// <summary>Tells whether the process is a replica (class 1); set by the server.</summary>
    public static Func<bool>? IsReplica { get; set; }

    /// <summary>Applies the configured score for the current class; returns false when /proc could not be read or written.</summary>
    public static bool Apply(ServerConfig config, Log? log = null)
    {
        if (!OperatingSystem.IsLinux()) return true;
        lock (Gate)
        {
            int val;
            if (config.OomScoreAdj != "no")
            {
                if (!_adjusted)
                {
                    try
                    {
                        _base = int.Parse(File.ReadAllText(ProcFile).Trim(), CultureInfo.InvariantCulture);
                    }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
                    {
                        log?.Warning("Unable to read oom_score_adj: " + e.Message);
                        return false;
                    }
                    _adjusted = true;
                }
                int cls = IsReplica?.Invoke() == true ? 1 : 0;
                val = config.OomScoreAdjValues[cls];
                if (config.OomScoreAdj != "absolute") val += _base;
                val = Math.Clamp(val, -1000, 1000);
            }
            else if (_adjusted)
            {
                _adjusted = false;
                val = _base;
            }
            else return true;
            try
            {
                File.WriteAllText(ProcFile, val.ToString(CultureInfo.InvariantCulture) + "\n");
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log?.Warning("Unable to write oom_score_adj: " + e.Message);
                return false;
            }
        }
    }
}
