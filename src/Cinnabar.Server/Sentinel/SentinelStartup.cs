using System.Runtime.InteropServices;
using Cinnabar.Protocol;
using Cinnabar.Sentinel;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Sentinel;

/// <summary>Sentinel mode's start (redis-sentinel, or redis-server --sentinel): the config file is
/// required and writable, "sentinel" lines go to the state machine, the other directives configure
/// the server as usual (default port 26379, protected-mode off), and no dataset is loaded or saved.</summary>
public static class SentinelStartup
{
    /// <summary>Sentinel defaults and the config file checks (sentinelCheckConfigFile). Returns the fatal message or null.</summary>
    public static string? PrepareConfig(ServerConfig config, string? path)
    {
        config.SentinelMode = true;
        config.Set("port", "26379", startup: true);
        config.Set("protected-mode", "no", startup: true);
        config.Set("save", "", startup: true);
        if (path == null || path == "-") return "Sentinel needs config file on disk to save state. Exiting...";
        try
        {
            using var f = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string why = e switch
            {
                UnauthorizedAccessException => "Permission denied",
                FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
                _ => e.Message,
            };
            return $"Sentinel config file {Path.GetFullPath(path)} is not writable: {why}. Exiting...";
        }
        return null;
    }

    /// <summary>Moves the "sentinel ..." lines out of the config text (blank lines keep the numbering).</summary>
    public static string ExtractSentinelLines(string text, List<SentinelNode.ConfigLine> into)
    {
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string t = lines[i].Trim();
            if (!t.StartsWith("sentinel", StringComparison.OrdinalIgnoreCase)) continue;
            var argv = ArgSplitter.SplitToStrings(t);
            if (argv == null || argv.Count == 0 || !argv[0].Equals("sentinel", StringComparison.OrdinalIgnoreCase)) continue;
            if (argv.Count > 1) into.Add(new SentinelNode.ConfigLine(argv.Skip(1).ToList(), i + 1, t));
            lines[i] = "";
        }
        return string.Join('\n', lines);
    }

    public static int Run(RedisServer server, List<SentinelNode.ConfigLine> lines)
    {
        var log = server.Log;
        log.Role = 'X';
        // INFO's redis_mode: clients (StackExchange.Redis) tell a sentinel by it.
        server.ServerMode = "sentinel";
        try
        {
            server.Sentinel = SentinelService.Create(server, lines);
        }
        catch (SentinelConfigException e)
        {
            Console.Error.WriteLine(e.Message);
            return 1;
        }
        try
        {
            ServerStartup.Initialize(server);
            server.Start();
            if (server.Config.Get("set-proc-title") == "yes") ProcTitle.Apply(server.Config);   // "... [sentinel]"
        }
        catch (InvalidOperationException e)
        {
            log.Warning(e.Message);
            return 1;
        }
        ServerMain.Announce(server, "sentinel");
        server.Sentinel.Start();
        // A sentinel never saves data on shutdown.
        return ServerMain.WaitUntilStopped(server, saveOnSignal: false);
    }
}
