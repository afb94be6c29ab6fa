using System.Globalization;

namespace Cinnabar.Sentinel;

/// <summary>sentinel.conf: the "sentinel ..." directives (loaded in three passes so their order in
/// the file does not matter) and the lines CONFIG REWRITE writes back (rewriteConfigSentinelOption).</summary>
public sealed partial class SentinelNode
{
    private static readonly string[] PreMonitorDirectives =
        ["announce-ip", "announce-port", "deny-scripts-reconfig", "sentinel-user", "sentinel-pass", "current-epoch", "myid", "resolve-hostnames", "announce-hostnames"];

    /// <summary>Every rewrite key Sentinel owns: old lines with these keys that are not reused are removed.</summary>
    public static readonly string[] RewriteKeys =
    [
        "sentinel myid", "sentinel deny-scripts-reconfig", "sentinel resolve-hostnames", "sentinel announce-hostnames",
        "sentinel monitor", "sentinel down-after-milliseconds", "sentinel failover-timeout", "sentinel parallel-syncs",
        "sentinel notification-script", "sentinel client-reconfig-script", "sentinel auth-pass", "sentinel auth-user",
        "sentinel master-reboot-down-after-period", "sentinel config-epoch", "sentinel leader-epoch", "sentinel known-replica",
        "sentinel known-sentinel", "sentinel rename-command", "sentinel current-epoch", "sentinel announce-ip",
        "sentinel announce-port", "sentinel sentinel-user", "sentinel sentinel-pass",
    ];

    /// <summary>One "sentinel ..." line of the config file (argv without the leading "sentinel").</summary>
    public sealed record ConfigLine(IReadOnlyList<string> Argv, int LineNumber, string Text);

    /// <summary>loadSentinelConfigFromQueue: applies the lines in three passes. Returns the failing
    /// line and its error, or null.</summary>
    public (ConfigLine Line, string Error)? LoadConfig(IReadOnlyList<ConfigLine> lines, long now)
    {
        bool IsPre(ConfigLine l) => PreMonitorDirectives.Contains(l.Argv[0], StringComparer.OrdinalIgnoreCase);
        bool IsMonitor(ConfigLine l) => l.Argv[0].Equals("monitor", StringComparison.OrdinalIgnoreCase);
        var ordered = lines.Where(IsPre).Concat(lines.Where(IsMonitor)).Concat(lines.Where(l => !IsPre(l) && !IsMonitor(l)));
        foreach (var l in ordered)
        {
            string? err = ApplyConfig(l.Argv, now);
            if (err != null) return (l, err);
        }
        return null;
    }

    /// <summary>sentinelHandleConfiguration: one directive; Redis's error text or null.</summary>
    internal string? ApplyConfig(IReadOnlyList<string> argv, long now)
    {
        int argc = argv.Count;
        string d = argv[0].ToLowerInvariant();
        SentinelInstance? ri = null;
        bool needsMaster = argc >= 2 && d is "down-after-milliseconds" or "failover-timeout" or "parallel-syncs" or "notification-script"
            or "client-reconfig-script" or "auth-pass" or "auth-user" or "config-epoch" or "leader-epoch" or "known-slave" or "known-replica"
            or "known-sentinel" or "rename-command" or "master-reboot-down-after-period";
        if (needsMaster && Masters.TryGetValue(argv[1], out var found)) ri = found;
        const string NoMaster = "No such master with specified name.";
        switch (d)
        {
            case "monitor" when argc == 5:
            {
                int quorum = Atoi(argv[4]);
                if (quorum <= 0) return "Quorum must be 1 or greater.";
                return CreateInstance(argv[1], InstanceFlags.Master, argv[2], Atoi(argv[3]), quorum, null, now, out var err) == null ? err : null;
            }
            case "down-after-milliseconds" when argc == 3:
                if (ri == null) return NoMaster;
                ri.DownAfterMs = Atoi(argv[2]);
                if (ri.DownAfterMs <= 0) return "negative or zero time parameter.";
                PropagateDownAfterPeriod(ri);
                return null;
            case "failover-timeout" when argc == 3:
                if (ri == null) return NoMaster;
                ri.FailoverTimeoutMs = Atoi(argv[2]);
                return ri.FailoverTimeoutMs <= 0 ? "negative or zero time parameter." : null;
            case "parallel-syncs" when argc == 3:
                if (ri == null) return NoMaster;
                ri.ParallelSyncs = Atoi(argv[2]);
                return null;
            case "notification-script" when argc == 3:
                if (ri == null) return NoMaster;
                if (!IsExecutable(argv[2])) return "Notification script seems non existing or non executable.";
                ri.NotificationScript = argv[2];
                return null;
            case "client-reconfig-script" when argc == 3:
                if (ri == null) return NoMaster;
                if (!IsExecutable(argv[2])) return "Client reconfiguration script seems non existing or non executable.";
                ri.ClientReconfigScript = argv[2];
                return null;
            case "auth-pass" when argc == 3:
                if (ri == null) return NoMaster;
                ri.AuthPass = argv[2];
                return null;
            case "auth-user" when argc == 3:
                if (ri == null) return NoMaster;
                ri.AuthUser = argv[2];
                return null;
            case "current-epoch" when argc == 2:
            {
                long e = Atoll(argv[1]);
                if (e > CurrentEpoch) CurrentEpoch = e;
                return null;
            }
            case "myid" when argc == 2:
                if (argv[1].Length != 40) return "Malformed Sentinel id in myid option.";
                MyId = argv[1];
                return null;
            case "config-epoch" when argc == 3:
                if (ri == null) return NoMaster;
                ri.ConfigEpoch = Atoll(argv[2]);
                if (ri.ConfigEpoch > CurrentEpoch) CurrentEpoch = ri.ConfigEpoch;
                return null;
            case "leader-epoch" when argc == 3:
                if (ri == null) return NoMaster;
                ri.LeaderEpoch = Atoll(argv[2]);
                return null;
            case "known-slave" or "known-replica" when argc == 4:
                if (ri == null) return NoMaster;
                return CreateInstance(null, InstanceFlags.Replica, argv[2], Atoi(argv[3]), ri.Quorum, ri, now, out var rerr) == null ? rerr : null;
            case "known-sentinel" when argc is 4 or 5:
            {
                if (argc == 4) return null; // the old form without a runid is ignored
                if (ri == null) return NoMaster;
                var si = CreateInstance(argv[4], InstanceFlags.Sentinel, argv[2], Atoi(argv[3]), ri.Quorum, ri, now, out var serr);
                if (si == null) return serr;
                si.RunId = argv[4];
                TryConnectionSharing(si);
                return null;
            }
            case "rename-command" when argc == 4:
                if (ri == null) return NoMaster;
                if (!ri.RenamedCommands.TryAdd(argv[2], argv[3])) return "Same command renamed multiple times with rename-command.";
                return null;
            case "announce-ip" when argc == 2:
                if (argv[1].Length > 0) AnnounceIp = argv[1];
                return null;
            case "announce-port" when argc == 2:
                AnnouncePort = Atoi(argv[1]);
                return null;
            case "deny-scripts-reconfig" when argc == 2:
            {
                if (!YesNo(argv[1], out bool b)) return "Please specify yes or no for the deny-scripts-reconfig options.";
                DenyScriptsReconfig = b;
                return null;
            }
            case "sentinel-user" when argc == 2:
                if (argv[1].Length > 0) SentinelUser = argv[1];
                return null;
            case "sentinel-pass" when argc == 2:
                if (argv[1].Length > 0) SentinelPass = argv[1];
                return null;
            case "resolve-hostnames" when argc == 2:
            {
                if (!YesNo(argv[1], out bool b)) return "Please specify yes or no for the resolve-hostnames option.";
                ResolveHostnames = b;
                return null;
            }
            case "announce-hostnames" when argc == 2:
            {
                if (!YesNo(argv[1], out bool b)) return "Please specify yes or no for the announce-hostnames option.";
                AnnounceHostnames = b;
                return null;
            }
            case "master-reboot-down-after-period" when argc == 3:
                if (ri == null) return NoMaster;
                ri.MasterRebootDownAfterMs = Atoi(argv[2]);
                return ri.MasterRebootDownAfterMs < 0 ? "negative time parameter." : null;
            default:
                return "Unrecognized sentinel configuration statement.";
        }
    }

    /// <summary>The sentinel lines of the rewritten config, each with its rewrite key and whether it
    /// is written even when the file has no line of that key yet.</summary>
    public List<(string Key, string Line, bool Force)> RewriteLines()
    {
        var lines = new List<(string, string, bool)>();
        void Add(string key, string line, bool force = true) => lines.Add(("sentinel " + key, "sentinel " + line, force));
        static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
        Add("myid", "myid " + MyId);
        Add("deny-scripts-reconfig", "deny-scripts-reconfig " + (DenyScriptsReconfig ? "yes" : "no"), !DenyScriptsReconfig);
        Add("resolve-hostnames", "resolve-hostnames " + (ResolveHostnames ? "yes" : "no"), ResolveHostnames);
        Add("announce-hostnames", "announce-hostnames " + (AnnounceHostnames ? "yes" : "no"), AnnounceHostnames);
        foreach (var m in Masters.Values)
        {
            var addr = CurrentMasterAddress(m);
            Add("monitor", $"monitor {m.Name} {Announce(addr)} {addr.Port} {m.Quorum}");
            if (m.DownAfterMs != DefaultDownAfterMs) Add("down-after-milliseconds", $"down-after-milliseconds {m.Name} {N(m.DownAfterMs)}");
            if (m.FailoverTimeoutMs != DefaultFailoverTimeoutMs) Add("failover-timeout", $"failover-timeout {m.Name} {N(m.FailoverTimeoutMs)}");
            if (m.ParallelSyncs != DefaultParallelSyncs) Add("parallel-syncs", $"parallel-syncs {m.Name} {m.ParallelSyncs}");
            if (m.NotificationScript != null) Add("notification-script", $"notification-script {m.Name} {m.NotificationScript}");
            if (m.ClientReconfigScript != null) Add("client-reconfig-script", $"client-reconfig-script {m.Name} {m.ClientReconfigScript}");
            if (m.AuthPass != null) Add("auth-pass", $"auth-pass {m.Name} {m.AuthPass}");
            if (m.AuthUser != null) Add("auth-user", $"auth-user {m.Name} {m.AuthUser}");
            if (m.MasterRebootDownAfterMs != 0) Add("master-reboot-down-after-period", $"master-reboot-down-after-period {m.Name} {N(m.MasterRebootDownAfterMs)}");
            Add("config-epoch", $"config-epoch {m.Name} {N(m.ConfigEpoch)}");
            Add("leader-epoch", $"leader-epoch {m.Name} {N(m.LeaderEpoch)}");
            foreach (var r in m.Replicas.Values)
            {
                // A replica already promoted in a failover in progress is written at the old master's address.
                var ra = AddrEqual(r.Addr, addr) ? m.Addr : r.Addr;
                Add("known-replica", $"known-replica {m.Name} {Announce(ra)} {ra.Port}");
            }
            foreach (var s in m.Sentinels.Values)
                if (s.RunId != null) Add("known-sentinel", $"known-sentinel {m.Name} {Announce(s.Addr)} {s.Addr.Port} {s.RunId}");
            foreach (var (oldName, newName) in m.RenamedCommands) Add("rename-command", $"rename-command {m.Name} {oldName} {newName}");
        }
        Add("current-epoch", "current-epoch " + N(CurrentEpoch));
        if (AnnounceIp != null) Add("announce-ip", "announce-ip " + QuoteRepr(AnnounceIp));
        if (AnnouncePort != 0) Add("announce-port", "announce-port " + AnnouncePort);
        if (SentinelUser != null) Add("sentinel-user", "sentinel-user " + SentinelUser);
        if (SentinelPass != null) Add("sentinel-pass", "sentinel-pass " + SentinelPass);
        return lines;
    }

    /// <summary>sdscatrepr: a double-quoted string with C escapes.</summary>
    internal static string QuoteRepr(string s)
    {
        var sb = new System.Text.StringBuilder("\"");
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\' or '"': sb.Append('\\').Append(c); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                default:
                    if (c < 32 || c > 126) sb.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"').ToString();
    }
}
