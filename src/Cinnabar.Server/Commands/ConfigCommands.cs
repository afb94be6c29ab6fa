using System.Text;
using Cinnabar.Server.Config;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>CONFIG GET / SET / RESETSTAT / REWRITE / HELP over the directive table in ServerConfig.</summary>
public sealed class ConfigCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        const string g = "server";
        var c = t.AddContainer("config", -2, g, "A container for server configuration commands.", "2.0.0");
        t.AddSub(c, "get", -3, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", Get,
            "Returns the effective values of configuration parameters.", "2.0.0", "O(N) when N is the number of configuration parameters provided");
        t.AddSub(c, "set", -4, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", Set,
            "Sets configuration parameters in-flight.", "2.0.0", "O(N) when N is the number of configuration parameters provided");
        t.AddSub(c, "resetstat", 2, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", ResetStat,
            "Resets the server's statistics.", "2.0.0");
        t.AddSub(c, "rewrite", 2, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", Rewrite,
            "Persists the effective configuration to file.", "2.8.0");
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, "@slow", Help, "Returns helpful text about the different subcommands.", "5.0.0");
    }

    private static bool HasGlob(string p) => p.AsSpan().IndexOfAny("*?[\\") >= 0;

    // Redis 7.0 accepts several patterns and returns each matching name once. A pattern without
    // glob characters is looked up directly and echoed as the client spelled it.
    private static void Get(CommandContext ctx)
    {
        var config = ctx.Server.Config;
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var result = new List<(string Name, string Value)>();
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            string pattern = ctx.ArgString(i);
            if (!HasGlob(pattern))
            {
                var d = config.Find(pattern);
                if (d != null && seen.Add(pattern)) result.Add((pattern, config.Get(d.Name)));
                continue;
            }
            foreach (var (name, value) in config.Match(pattern))
                if (seen.Add(name)) result.Add((name, value));
        }
        ctx.Reply.WriteMapHeader(result.Count);
        foreach (var (name, value) in result)
        {
            ctx.Reply.WriteBulk(name);
            ctx.Reply.WriteBulk(value);
        }
    }

    // Redis 7.0's configs flagged DENY_LOADING_CONFIG.
    private static readonly HashSet<string> DenyWhileLoading = new(StringComparer.OrdinalIgnoreCase) { "appendonly", "repl-diskless-load", "dir" };

    private static void Set(CommandContext ctx)
    {
        if ((ctx.ArgCount - 2) % 2 != 0)
        {
            ctx.SyntaxError();
            return;
        }
        var config = ctx.Server.Config;
        var pairs = new List<(string Name, string Value)>();
        for (int i = 2; i < ctx.ArgCount; i += 2)
        {
            string name = ctx.ArgString(i);
            var d = config.Find(name);
            if (d == null)
            {
                ctx.Error(Errors.ConfigSetUnknown(name));
                return;
            }
            // DENY_LOADING_CONFIG directives are refused with -LOADING while a dataset loads,
            // asynchronously too (Redis's server.loading is set for async loading as well).
            if ((ctx.Server.Rdb.Loading || ctx.Server.AsyncLoading) && DenyWhileLoading.Contains(d.Name))
            {
                ctx.Error(Errors.Loading);
                return;
            }
            string? reason = null;
            if (!d.Mutable) reason = "can't set immutable config";
            else if (d.Protected && !ProtectedAllowed(ctx)) reason = "can't set protected config";
            else
                foreach (var (prev, _) in pairs)
                    if (prev.Equals(name, StringComparison.OrdinalIgnoreCase)) reason = "duplicate parameter";
            if (reason != null)
            {
                ctx.Error(Errors.ConfigSetFailed(name, reason));
                return;
            }
            pairs.Add((name, ctx.ArgString(i + 1)));
        }
        config.RebindListeners ??= ctx.Server.RebindTcpListeners;
        var failure = config.SetMany(pairs);
        if (failure is { } f)
        {
            ctx.Error(Errors.ConfigSetFailed(f.Name, f.Error));
            return;
        }
        ctx.Reply.WriteOk();
    }

    // enable-protected-configs: "yes" allows everyone, "local" only loopback and unix-socket clients.
    private static bool ProtectedAllowed(CommandContext ctx) => ctx.Server.Config.EnableProtectedConfigs switch
    {
        "yes" => true,
        "local" => (ctx.Client.Flags & ClientFlags.Unix) != 0 || ctx.Client.Address.StartsWith("127.", StringComparison.Ordinal) ||
                   ctx.Client.Address.StartsWith("::1", StringComparison.Ordinal) || ctx.Client.Address.Length == 0,
        _ => false,
    };

    /// <summary>
    /// Raised by CONFIG RESETSTAT after the core counters are cleared, so that subsystems keeping
    /// their own INFO counters (persistence, replication, latency ...) can reset them too.
    /// </summary>
    public static event Action<RedisServer>? StatsReset;

    private static void ResetStat(CommandContext ctx)
    {
        var server = ctx.Server;
        server.Stats.Reset();
        server.Stats.KeyspaceHits = server.Stats.KeyspaceMisses = 0;
        server.Stats.TotalReadsProcessed = server.Stats.TotalWritesProcessed = 0;
        Keyspace ks = server.Keyspace;
        ks.Hits = ks.Misses = ks.ExpiredKeys = ks.EvictedKeys = 0;
        server.LazyFree.ResetStats();
        server.Repl.SyncFull = server.Repl.SyncPartialOk = server.Repl.SyncPartialErr = 0;
        foreach (var cmd in server.Commands.All) ResetCommandStats(cmd);
        StatsReset?.Invoke(server);
        ctx.Reply.WriteOk();
    }

    private static void ResetCommandStats(CommandDef cmd)
    {
        cmd.Calls = cmd.MicrosecondsTotal = cmd.RejectedCalls = cmd.FailedCalls = 0;
        cmd.LatencyHistogram = null;
        if (cmd.Subcommands == null) return;
        foreach (var sub in cmd.Subcommands.Values) ResetCommandStats(sub);
    }

    private static void Rewrite(CommandContext ctx)
    {
        var config = ctx.Server.Config;
        if (config.ConfigFile == null)
        {
            ctx.Error(Errors.ConfigNoFile);
            return;
        }
        string? err = ConfigRewrite.Rewrite(config, config.ConfigFile);
        if (err != null)
        {
            ctx.Server.Log.Warning("CONFIG REWRITE failed: " + err);
            ctx.Error(Errors.ConfigRewriteFailed(err));
            return;
        }
        ctx.Server.Log.Notice("CONFIG REWRITE executed with success.");
        ctx.Reply.WriteOk();
    }

    private static readonly string[] HelpLines =
    [
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ];

    private static void Help(CommandContext ctx) => ctx.Reply.WriteHelpLines(HelpLines);
}
