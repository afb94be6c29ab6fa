using Cinnabar.Cli.Modes;

namespace Cinnabar.Cli;

/// <summary>redis-cli's special client modes (--latency..., --replica, --rdb, --bigkeys...).</summary>
internal static class ClientModes
{
    /// <summary>Runs the first client mode the options ask for, in redis-cli's order; false when none.</summary>
    public static bool TryRun(CliOptions o, OutputMode mode, out int exitCode)
    {
        exitCode = 0;
        Func<ModeContext, int>? run =
            o.Latency ? LatencyModes.Latency :
            o.LatencyDist ? LatencyModes.LatencyDist :
            o.Replica ? ReplicaMode.Run :
            o.RdbFile != null ? RdbFetcher.RunMode :
            o.Pipe ? null : // --pipe stays in Program.cs
            o.BigKeys ? ctx => KeyspaceModes.BigKeys(ctx, memKeys: false) :
            o.MemKeys ? ctx => KeyspaceModes.BigKeys(ctx, memKeys: true) :
            o.HotKeys ? KeyspaceModes.HotKeys :
            o.Stat ? StatMode.Run :
            o.Scan ? null : // --scan stays in Program.cs
            o.LruTest ? LruTestMode.Run :
            o.IntrinsicLatency ? IntrinsicLatencyMode.Run :
            null;
        if (run == null) return false;
        var ctx = new ModeContext(o, mode, new ModeOutput(terminal: !Console.IsOutputRedirected));
        try
        {
            exitCode = run(ctx);
        }
        catch (ModeExit e)
        {
            exitCode = e.Code;
        }
        finally
        {
            ctx.Out.Flush();
            ctx.Conn?.Dispose();
        }
        return true;
    }
}
