using System.Globalization;

namespace Cinnabar.Server.Config;

// The directive table. Every directive of Redis 7.0's redis.conf is declared here with its
// default; those without an effect in Cinnabar are stored and shown by CONFIG GET.
public sealed partial class ServerConfig
{
    private void Bool(string name, bool def, Action<ServerConfig, bool>? apply = null, bool mutable = true, string[]? aliases = null) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.Bool,
            Default = def ? "yes" : "no",
            Mutable = mutable,
            Aliases = aliases ?? [],
            Apply = apply == null ? null : (c, v) => { apply(c, v == "yes"); return null; },
        });

    private void Int(string name, long def, long min, long max, Action<ServerConfig, long>? apply = null, bool mutable = true, string[]? aliases = null,
        Func<ServerConfig, string>? show = null) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.Int,
            Default = def.ToString(CultureInfo.InvariantCulture),
            Min = min,
            Max = max,
            Mutable = mutable,
            Aliases = aliases ?? [],
            Show = show,
            Apply = apply == null ? null : (c, v) => { apply(c, long.Parse(v, CultureInfo.InvariantCulture)); return null; },
        });

    private void Memory(string name, long def, long min, long max, Action<ServerConfig, long>? apply = null, bool mutable = true, string[]? aliases = null) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.Memory,
            Default = def.ToString(CultureInfo.InvariantCulture),
            Min = min,
            Max = max,
            Mutable = mutable,
            Aliases = aliases ?? [],
            Apply = apply == null ? null : (c, v) => { apply(c, long.Parse(v, CultureInfo.InvariantCulture)); return null; },
        });

    private void Enum(string name, string def, string[] values, Action<ServerConfig, string>? apply = null, bool mutable = true, bool multi = false, string[]? aliases = null) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.Enum,
            Default = def,
            EnumValues = values,
            Mutable = mutable,
            MultiArg = multi,
            Aliases = aliases ?? [],
            Apply = apply == null ? null : (c, v) => { apply(c, v); return null; },
        });

    private void Str(string name, string def, Action<ServerConfig, string>? apply = null, bool mutable = true, bool sensitive = false, string[]? aliases = null,
        bool isProtected = false) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.String,
            Default = def,
            Mutable = mutable,
            Sensitive = sensitive,
            Protected = isProtected,
            Aliases = aliases ?? [],
            Apply = apply == null ? null : (c, v) => { apply(c, v); return null; },
        });

    private void Special(string name, string def, Func<string, (string?, string?)> parse, Func<ServerConfig, string, string?>? apply = null,
        bool mutable = true, bool accumulates = false, string[]? aliases = null, Func<ServerConfig, string>? show = null, bool isProtected = false) =>
        Add(new ConfigDirective
        {
            Name = name,
            Kind = ConfigKind.Special,
            Default = def,
            Parse = parse,
            Apply = apply,
            Mutable = mutable,
            Accumulates = accumulates,
            Aliases = aliases ?? [],
            Show = show,
            Protected = isProtected,
        });

    private void RegisterAll()
    {
        // Network
        Add(new ConfigDirective
        {
            Name = "port",
            Kind = ConfigKind.Int,
            Default = "6379",
            Min = 0,
            Max = 65535,
            Apply = (c, v) =>
            {
                c.Port = int.Parse(v, CultureInfo.InvariantCulture);
                return c.RebindListeners?.Invoke() == false ? "Unable to listen on this port. Check server logs." : null;
            },
        });
        Special("bind", "* -::*", ParseBind,
            (c, v) =>
            {
                c.Bind = v.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return c.RebindListeners?.Invoke() == false ? "Failed to bind to specified addresses." : null;
            });
        Bool("protected-mode", true, (c, v) => c.ProtectedMode = v);
        Str("unixsocket", "", (c, v) => c.UnixSocket = v, mutable: false);
        Special("unixsocketperm", "0", ParseOctalPerm,
            (c, v) => { c.UnixSocketPerm = Convert.ToInt32(v, 8); return null; }, mutable: false);
        Int("tcp-backlog", 511, 0, int.MaxValue, (c, v) => c.TcpBacklog = (int)v, mutable: false);
        Int("timeout", 0, 0, int.MaxValue, (c, v) => c.TimeoutSeconds = v);
        Int("tcp-keepalive", 300, 0, int.MaxValue, (c, v) => c.TcpKeepAliveSeconds = v);
        Int("maxclients", 10000, 1, uint.MaxValue, (c, v) => c.MaxClients = (int)v);
        Int("databases", 16, 1, int.MaxValue, (c, v) => c.Databases = (int)v, mutable: false);
        Memory("proto-max-bulk-len", 512L * 1024 * 1024, 1024 * 1024, long.MaxValue, (c, v) => c.ProtoMaxBulkLen = v);
        Memory("client-query-buffer-limit", 1024L * 1024 * 1024, 1024 * 1024, long.MaxValue, (c, v) => c.ClientQueryBufferLimit = v);
        // Redis clamps hz to 1..500 and CONFIG GET shows the clamped value.
        Int("hz", 10, 0, int.MaxValue, (c, v) => c.Hz = (int)Math.Clamp(v, 1, 500), show: c => c.Hz.ToString(CultureInfo.InvariantCulture));

        // General
        Bool("daemonize", false, (c, v) => c.Daemonize = v, mutable: false);
        Str("pidfile", "", (c, v) => c.PidFile = v, mutable: false);
        Enum("loglevel", "notice", ["debug", "verbose", "notice", "warning"], (c, v) => c.LogLevel = v);
        Str("logfile", "", (c, v) => c.LogFile = v, mutable: false);
        Special("dir", "", v => (v, null), (c, v) =>
        {
            if (v.Length == 0) return null;
            try
            {
                Directory.SetCurrentDirectory(v);
                c.Dir = Directory.GetCurrentDirectory();
                return null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return e is DirectoryNotFoundException ? "No such file or directory" : e.Message;
            }
        }, show: c => c.Dir, isProtected: true);

        // Security
        Str("requirepass", "", (c, v) => c.RequirePass = v.Length == 0 ? null : v, sensitive: true);

        // Memory
        Memory("maxmemory", 0, 0, long.MaxValue, (c, v) => c.MaxMemory = v);
        Special("maxmemory-clients", "0", ParseMaxMemoryClients, (c, v) => { c.MaxMemoryClients = v; return null; });
        Enum("maxmemory-policy", "noeviction",
            ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"],
            (c, v) => c.MaxMemoryPolicy = v);
        Int("maxmemory-samples", 5, 1, int.MaxValue, (c, v) => c.MaxMemorySamples = (int)v);
        Int("lfu-log-factor", 10, 0, int.MaxValue, (c, v) => c.LfuLogFactor = (int)v);
        Int("lfu-decay-time", 1, 0, int.MaxValue, (c, v) => c.LfuDecayTime = (int)v);

        // Logs and monitoring
        Int("slowlog-log-slower-than", 10000, -1, long.MaxValue, (c, v) => c.SlowlogLogSlowerThanUs = v);
        Int("slowlog-max-len", 128, 0, long.MaxValue, (c, v) => c.SlowlogMaxLen = (int)Math.Min(v, int.MaxValue));
        Int("latency-monitor-threshold", 0, 0, long.MaxValue, (c, v) => c.LatencyMonitorThresholdMs = v);
        Special("notify-keyspace-events", "", Notifications.ParseFlags, (c, v) => { c.NotifyKeyspaceEvents = v; return null; });
        Int("busy-reply-threshold", 5000, 0, long.MaxValue, (c, v) => c.BusyReplyThresholdMs = v, aliases: ["lua-time-limit"]);

        // Replication and cluster basics that other layers read
        Bool("replica-read-only", true, (c, v) => c.ReplicaReadOnly = v, aliases: ["slave-read-only"]);
        Bool("cluster-enabled", false, (c, v) => c.ClusterEnabled = v, mutable: false);

        RegisterRemaining();
    }

    /// <summary>Directives stored for CONFIG GET/REWRITE compatibility; see ConfigDirectives.Remaining.cs.</summary>
    partial void RegisterRemaining();
}
