using Cinnabar.Server.Commands;

namespace Cinnabar.Server.Sentinel;

/// <summary>
/// The command table of a sentinel: only the 15 commands Redis 7.0 flags for sentinel mode, with
/// PUBLISH, INFO and ROLE replaced by the sentinel's versions, plus SENTINEL and its subcommands.
/// </summary>
public static class SentinelCommands
{
    private static readonly HashSet<string> Kept = new(StringComparer.OrdinalIgnoreCase)
    {
        "auth", "client", "hello", "ping", "psubscribe", "publish", "punsubscribe", "subscribe", "unsubscribe",
        "acl", "command", "info", "role", "shutdown",
    };

    private static readonly (string Name, int Arity, string Summary)[] Subcommands =
    [
        ("ckquorum", 3, "Checks for a Redis Sentinel quorum."),
        ("config", -3, "Configures Redis Sentinel."),
        ("debug", -2, "Lists or updates the current configurable parameters of Redis Sentinel."),
        ("failover", 3, "Forces a Redis Sentinel failover."),
        ("flushconfig", 2, "Rewrites the Redis Sentinel configuration file."),
        ("get-master-addr-by-name", 3, "Returns the port and address of a master Redis instance."),
        ("help", 2, "Returns helpful text about the different subcommands."),
        ("info-cache", -3, "Returns the cached `INFO` replies from the deployment's instances."),
        ("is-master-down-by-addr", 6, "Determines whether a master Redis instance is down."),
        ("master", 3, "Returns the state of a master Redis instance."),
        ("masters", 2, "Returns a list of monitored Redis masters."),
        ("monitor", 6, "Starts monitoring."),
        ("myid", 2, "Returns the Redis Sentinel instance ID."),
        ("pending-scripts", 2, "Returns information about pending scripts for Redis Sentinel."),
        ("remove", 3, "Stops monitoring."),
        ("replicas", 3, "Returns a list of the monitored Redis replicas."),
        ("reset", 3, "Resets Redis masters by name matching a pattern."),
        ("sentinels", 3, "Returns a list of Sentinel instances."),
        ("set", -5, "Changes the configuration of a monitored Redis master."),
        ("simulate-failure", -3, "Simulates failover scenarios."),
        ("slaves", 3, "Returns a list of the monitored replicas."),
    ];

    public static CommandTable CreateTable()
    {
        var t = CommandTable.CreateDefault();
        t.RetainOnly(Kept);
        // CLIENT SETINFO came with Redis 7.2; a 7.0 sentinel lists 72 commands and subcommands.
        t.Lookup("client")!.Subcommands!.Remove("setinfo");
        t.Lookup("publish")!.Handler = Publish;
        t.Lookup("info")!.Handler = Info;
        t.Lookup("role")!.Handler = Role;
        var c = t.AddContainer("sentinel", -2, "sentinel", "A container for Redis Sentinel commands.", "2.8.4");
        c.Flags = CommandDef.ParseFlags("admin only_sentinel");
        foreach (var (name, arity, summary) in Subcommands)
            t.AddSub(c, name, arity, "admin only_sentinel", 0, 0, 0, "@admin @slow @dangerous", Sentinel, summary, "2.8.4");
        return t;
    }

    private static SentinelService Service(CommandContext ctx) => ctx.Server.Sentinel!;

    private static void Sentinel(CommandContext ctx)
    {
        var argv = new string[ctx.ArgCount];
        for (int i = 0; i < argv.Length; i++) argv[i] = ctx.ArgString(i);
        Service(ctx).Node.Command(argv, ctx.Reply, SentinelService.NowMs);
    }

    private static void Publish(CommandContext ctx) =>
        Service(ctx).Node.Publish(ctx.ArgString(1), ctx.ArgString(2), ctx.Reply, SentinelService.NowMs);

    private static void Role(CommandContext ctx) => Service(ctx).Node.Role(ctx.Reply);

    private static readonly string[] Sections = ["server", "clients", "cpu", "stats", "sentinel"];

    /// <summary>A sentinel's INFO: only server, clients, cpu, stats and sentinel; default/all/everything give all five.</summary>
    private static void Info(CommandContext ctx)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        if (ctx.ArgCount == 1) wanted.UnionWith(Sections);
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            string s = ctx.ArgString(i).ToLowerInvariant();
            if (s is "default" or "all" or "everything") wanted.UnionWith(Sections);
            else if (Sections.Contains(s)) wanted.Add(s);
        }
        string text = InfoCommand.Build(ctx.Server, wanted);
        if (wanted.Contains("sentinel"))
        {
            var svc = Service(ctx);
            if (text.Length > 0) text += "\r\n";
            text += "# Sentinel\r\n" + svc.Node.InfoSection(SentinelService.NowMs, svc.Scripts.RunningCount, svc.Scripts.QueueLength);
        }
        ctx.Reply.WriteBulk(text);
    }
}
