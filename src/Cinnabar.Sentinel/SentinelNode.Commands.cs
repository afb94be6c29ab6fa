using System.Globalization;
using Cinnabar.Protocol;

namespace Cinnabar.Sentinel;

/// <summary>The SENTINEL command (sentinelCommand), the sentinel's PUBLISH, ROLE and INFO section.
/// Replies are written as Redis writes them; every instance field is a bulk string.</summary>
public sealed partial class SentinelNode
{
    private static readonly string[] HelpLines =
    [
        "SENTINEL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CKQUORUM <master-name>",
        "    Check if the current Sentinel configuration is able to reach the quorum",
        "    needed to failover a master and the majority needed to authorize the",
        "    failover.",
        "CONFIG SET <param> <value>",
        "    Set a global Sentinel configuration parameter.",
        "CONFIG GET <param>",
        "    Get global Sentinel configuration parameter.",
        "DEBUG [<param> <value> ...]",
        "    Show a list of configurable time parameters and their values (milliseconds).",
        "    Or update current configurable parameters values (one or more).",
        "GET-MASTER-ADDR-BY-NAME <master-name>",
        "    Return the ip and port number of the master with that name.",
        "FAILOVER <master-name>",
        "    Manually failover a master node without asking for agreement from other",
        "    Sentinels",
        "FLUSHCONFIG",
        "    Force Sentinel to rewrite its configuration on disk, including the current",
        "    Sentinel state.",
        "INFO-CACHE <master-name>",
        "    Return last cached INFO output from masters and all its replicas.",
        "IS-MASTER-DOWN-BY-ADDR <ip> <port> <current-epoch> <runid>",
        "    Check if the master specified by ip:port is down from current Sentinel's",
        "    point of view.",
        "MASTER <master-name>",
        "    Show the state and info of the specified master.",
        "MASTERS",
        "    Show a list of monitored masters and their state.",
        "MONITOR <name> <ip> <port> <quorum>",
        "    Start monitoring a new master with the specified name, ip, port and quorum.",
        "MYID",
        "    Return the ID of the Sentinel instance.",
        "PENDING-SCRIPTS",
        "    Get pending scripts information.",
        "REMOVE <master-name>",
        "    Remove master from Sentinel's monitor list.",
        "REPLICAS <master-name>",
        "    Show a list of replicas for this master and their state.",
        "RESET <pattern>",
        "    Reset masters for specific master name matching this pattern.",
        "SENTINELS <master-name>",
        "    Show a list of Sentinel instances for this master and their state.",
        "SET <master-name> <option> <value> [<option> <value> ...]",
        "    Set configuration parameters for certain masters.",
        "SIMULATE-FAILURE [CRASH-AFTER-ELECTION] [CRASH-AFTER-PROMOTION] [HELP]",
        "    Simulate a Sentinel crash.",
        "HELP",
        "    Prints this help.",
    ];

    /// <summary>Writes the pending-scripts reply (the script runner lives in the server).</summary>
    public Action<RespWriter>? PendingScriptsWriter { get; set; }

    /// <summary>Runs SENTINEL argv[1..] and writes its reply. argv[0] is "sentinel".</summary>
    public void Command(IReadOnlyList<string> argv, RespWriter w, long now)
    {
        int argc = argv.Count;
        string sub = argv[1].ToLowerInvariant();
        string Arity() => $"ERR wrong number of arguments for 'sentinel|{sub}' command";
        SentinelInstance? MasterOrError(string name)
        {
            if (Masters.TryGetValue(name, out var m)) return m;
            w.WriteError("ERR No such master with that name");
            return null;
        }
        switch (sub)
        {
            case "help" when argc == 2:
                w.WriteArrayHeader(HelpLines.Length);
                foreach (var l in HelpLines) w.WriteSimpleString(l);
                return;
            case "masters":
                if (argc != 2) { w.WriteError(Arity()); return; }
                WriteInstances(w, Masters.Values, now);
                return;
            case "master":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m != null) WriteInstance(w, m, now);
                return;
            }
            case "slaves" or "replicas":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m != null) WriteInstances(w, m.Replicas.Values, now);
                return;
            }
            case "sentinels":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m != null) WriteInstances(w, m.Sentinels.Values, now);
                return;
            }
            case "myid" when argc == 2:
                w.WriteBulk(MyId);
                return;
            case "is-master-down-by-addr":
                if (argc != 6) { w.WriteError(Arity()); return; }
                IsMasterDownByAddr(argv, w, now);
                return;
            case "reset":
                if (argc != 3) { w.WriteError(Arity()); return; }
                w.WriteInteger(ResetMastersByPattern(argv[2], now));
                return;
            case "get-master-addr-by-name":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                if (!Masters.TryGetValue(argv[2], out var m))
                {
                    w.WriteNullArray();
                    return;
                }
                var addr = CurrentMasterAddress(m);
                w.WriteArrayHeader(2);
                w.WriteBulk(Announce(addr));
                w.WriteBulk(addr.Port.ToString(CultureInfo.InvariantCulture));
                return;
            }
            case "failover":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m == null) return;
                if (m.Has(InstanceFlags.FailoverInProgress)) { w.WriteError("INPROG Failover already in progress"); return; }
                if (SelectReplica(m, now) == null) { w.WriteError("NOGOODSLAVE No suitable replica to promote"); return; }
                _env.Log(SentinelLogLevel.Warning, $"Executing user requested FAILOVER of '{m.Name}'");
                StartFailover(m, now);
                m.Flags |= InstanceFlags.ForceFailover;
                w.WriteOk();
                return;
            }
            case "pending-scripts":
                if (argc != 2) { w.WriteError(Arity()); return; }
                if (PendingScriptsWriter != null) PendingScriptsWriter(w);
                else w.WriteEmptyArray();
                return;
            case "monitor":
                if (argc != 6) { w.WriteError(Arity()); return; }
                Monitor(argv, w, now);
                return;
            case "flushconfig":
                if (argc != 2) { w.WriteError(Arity()); return; }
                FlushAndReply(w);
                return;
            case "remove":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m == null) return;
                Event(SentinelLogLevel.Warning, "-monitor", m, "%@");
                Masters.Remove(m.Name);
                ReleaseInstance(m);
                FlushAndReply(w);
                return;
            }
            case "ckquorum":
            {
                if (argc != 3) { w.WriteError(Arity()); return; }
                var m = MasterOrError(argv[2]);
                if (m != null) CkQuorum(m, w);
                return;
            }
            case "set":
                if (argc < 5) { w.WriteError(Arity()); return; }
                Set(argv, w);
                return;
            case "config":
                if (argc < 3) { w.WriteError(Arity()); return; }
                if (argv[2].Equals("set", StringComparison.OrdinalIgnoreCase) && argc == 5) ConfigSet(argv[3], argv[4], w);
                else if (argv[2].Equals("get", StringComparison.OrdinalIgnoreCase) && argc == 4) ConfigGet(argv[3], w);
                else w.WriteError("ERR Only SENTINEL CONFIG GET <option> / SET <option> <value> are supported.");
                return;
            case "info-cache":
                if (argc < 3) { w.WriteError(Arity()); return; }
                InfoCache(argv, w, now);
                return;
            case "simulate-failure":
                if (argc < 3) { w.WriteError(Arity()); return; }
                SimulateFailure(argv, w);
                return;
            case "debug":
                if (argc == 2) WriteDebugInfo(w);
                else SetDebug(argv, w);
                return;
            default:
                w.WriteError($"ERR unknown subcommand '{Truncate(argv[1])}'. Try SENTINEL HELP.");
                return;
        }
    }

    private static string Truncate(string s) => s.Length > 128 ? s[..128] : s;

    private void FlushAndReply(RespWriter w)
    {
        if (Flush()) w.WriteOk();
        else w.WriteError("ERR Failed to save config file. Check server logs.");
    }

    private void WriteInstances(RespWriter w, IEnumerable<SentinelInstance> instances, long now)
    {
        var list = instances.Where(ri => !(ri.IsReplica && ri.ReplicaAnnounced == 0)).ToList();
        w.WriteArrayHeader(list.Count);
        foreach (var ri in list) WriteInstance(w, ri, now);
    }

    /// <summary>addReplySentinelRedisInstance: a map whose values are all bulk strings.</summary>
    internal void WriteInstance(RespWriter w, SentinelInstance ri, long now)
    {
        var f = new List<(string, string)>(40);
        static string N(long v) => v.ToString(CultureInfo.InvariantCulture);
        f.Add(("name", ri.Name));
        f.Add(("ip", Announce(ri.Addr)));
        f.Add(("port", N(ri.Addr.Port)));
        f.Add(("runid", ri.RunId ?? ""));
        f.Add(("flags", FlagsText(ri)));
        f.Add(("link-pending-commands", N(ri.Link.PendingCommands)));
        f.Add(("link-refcount", N(ri.Link.Refcount)));
        if (ri.Has(InstanceFlags.FailoverInProgress)) f.Add(("failover-state", FailoverStateName(ri.FailoverState)));
        f.Add(("last-ping-sent", N(ri.Link.ActPingTime != 0 ? now - ri.Link.ActPingTime : 0)));
        f.Add(("last-ok-ping-reply", N(now - ri.Link.LastAvailTime)));
        f.Add(("last-ping-reply", N(now - ri.Link.LastPongTime)));
        if (ri.Has(InstanceFlags.SDown)) f.Add(("s-down-time", N(now - ri.SDownSinceTime)));
        if (ri.Has(InstanceFlags.ODown)) f.Add(("o-down-time", N(now - ri.ODownSinceTime)));
        f.Add(("down-after-milliseconds", N(ri.DownAfterMs)));
        if (ri.IsMaster || ri.IsReplica)
        {
            f.Add(("info-refresh", N(ri.InfoRefresh != 0 ? now - ri.InfoRefresh : 0)));
            f.Add(("role-reported", ri.RoleReported == InstanceFlags.Master ? "master" : "slave"));
            f.Add(("role-reported-time", N(now - ri.RoleReportedTime)));
        }
        if (ri.IsMaster)
        {
            f.Add(("config-epoch", N(ri.ConfigEpoch)));
            f.Add(("num-slaves", N(ri.Replicas.Count)));
            f.Add(("num-other-sentinels", N(ri.Sentinels.Count)));
            f.Add(("quorum", N(ri.Quorum)));
            f.Add(("failover-timeout", N(ri.FailoverTimeoutMs)));
            f.Add(("parallel-syncs", N(ri.ParallelSyncs)));
            if (ri.NotificationScript != null) f.Add(("notification-script", ri.NotificationScript));
            if (ri.ClientReconfigScript != null) f.Add(("client-reconfig-script", ri.ClientReconfigScript));
        }
        if (ri.IsReplica)
        {
            f.Add(("master-link-down-time", N(ri.MasterLinkDownTime)));
            f.Add(("master-link-status", ri.SlaveMasterLinkUp ? "ok" : "err"));
            f.Add(("master-host", ri.SlaveMasterHost ?? "?"));
            f.Add(("master-port", N(ri.SlaveMasterPort)));
            f.Add(("slave-priority", N(ri.SlavePriority)));
            f.Add(("slave-repl-offset", N(ri.SlaveReplOffset)));
            f.Add(("replica-announced", N(ri.ReplicaAnnounced)));
        }
        if (ri.IsSentinel)
        {
            f.Add(("last-hello-message", N(now - ri.LastHelloTime)));
            f.Add(("voted-leader", ri.Leader ?? "?"));
            f.Add(("voted-leader-epoch", N(ri.LeaderEpoch)));
        }
        w.WriteMapHeader(f.Count);
        foreach (var (k, v) in f)
        {
            w.WriteBulk(k);
            w.WriteBulk(v);
        }
    }

    internal static string FlagsText(SentinelInstance ri)
    {
        var parts = new List<string>();
        if (ri.Has(InstanceFlags.SDown)) parts.Add("s_down");
        if (ri.Has(InstanceFlags.ODown)) parts.Add("o_down");
        if (ri.IsMaster) parts.Add("master");
        if (ri.IsReplica) parts.Add("slave");
        if (ri.IsSentinel) parts.Add("sentinel");
        if (ri.Link.Disconnected) parts.Add("disconnected");
        if (ri.Has(InstanceFlags.MasterDown)) parts.Add("master_down");
        if (ri.Has(InstanceFlags.FailoverInProgress)) parts.Add("failover_in_progress");
        if (ri.Has(InstanceFlags.Promoted)) parts.Add("promoted");
        if (ri.Has(InstanceFlags.ReconfSent)) parts.Add("reconf_sent");
        if (ri.Has(InstanceFlags.ReconfInProgress)) parts.Add("reconf_inprog");
        if (ri.Has(InstanceFlags.ReconfDone)) parts.Add("reconf_done");
        if (ri.Has(InstanceFlags.ForceFailover)) parts.Add("force_failover");
        if (ri.Has(InstanceFlags.ScriptKillSent)) parts.Add("script_kill_sent");
        return string.Join(',', parts);
    }

    internal static string FailoverStateName(FailoverState s) => s switch
    {
        FailoverState.None => "none",
        FailoverState.WaitStart => "wait_start",
        FailoverState.SelectSlave => "select_slave",
        FailoverState.SendSlaveofNoOne => "send_slaveof_noone",
        FailoverState.WaitPromotion => "wait_promotion",
        FailoverState.ReconfSlaves => "reconf_slaves",
        FailoverState.UpdateConfig => "update_config",
        _ => "unknown",
    };

    private static bool TryLong(string s, out long v) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out v) && (s.Length == 1 || s[0] != '0' || s == "0") && !s.StartsWith('+') && !s.StartsWith("-0", StringComparison.Ordinal);

    private void IsMasterDownByAddr(IReadOnlyList<string> argv, RespWriter w, long now)
    {
        if (!TryLong(argv[3], out long port) || port > int.MaxValue || port < int.MinValue)
        {
            w.WriteError("ERR value is not an integer or out of range");
            return;
        }
        if (!TryLong(argv[4], out long reqEpoch))
        {
            w.WriteError("ERR value is not an integer or out of range");
            return;
        }
        SentinelInstance? ri = null;
        var addr = CreateAddr(argv[2], (int)port, true, out _);
        if (addr != null) ri = FindByAddrAndRunId(Masters, addr, null);
        bool isDown = !Tilt && ri != null && ri.Has(InstanceFlags.SDown) && ri.IsMaster;
        string? leader = null;
        long leaderEpoch = 0;
        if (ri != null && ri.IsMaster && argv[5] != "*")
            leader = VoteLeader(ri, reqEpoch, argv[5], now, out leaderEpoch);
        w.WriteArrayHeader(3);
        w.WriteInteger(isDown ? 1 : 0);
        w.WriteBulk(leader ?? "*");
        w.WriteInteger(leaderEpoch);
    }

    private int ResetMastersByPattern(string pattern, long now)
    {
        int reset = 0;
        foreach (var m in Masters.Values.ToList())
        {
            if (!Glob.Match(pattern, m.Name, ignoreCase: false)) continue;
            ResetMaster(m, keepSentinels: false, generateEvent: true, now);
            reset++;
        }
        return reset;
    }

    private void Monitor(IReadOnlyList<string> argv, RespWriter w, long now)
    {
        if (!TryLong(argv[5], out long quorum) || quorum > int.MaxValue || quorum < int.MinValue) { w.WriteError("ERR Invalid quorum"); return; }
        if (!TryLong(argv[4], out long port) || port > int.MaxValue || port < int.MinValue) { w.WriteError("ERR Invalid port"); return; }
        if (quorum <= 0) { w.WriteError("ERR Quorum must be 1 or greater."); return; }
        if (_env.Resolve(argv[3], ResolveHostnames) == null) { w.WriteError("ERR Invalid IP address or hostname specified"); return; }
        var ri = CreateInstance(argv[2], InstanceFlags.Master, argv[3], (int)port, (int)quorum, null, now, out var error);
        if (ri == null)
        {
            w.WriteError("ERR " + error);
            return;
        }
        FlushAndReply(w);
        Event(SentinelLogLevel.Warning, "+monitor", ri, $"%@ quorum {ri.Quorum}");
    }

    private static void CkQuorumCount(SentinelInstance master, out int usable, out bool noQuorum, out bool noAuth)
    {
        usable = 1;
        int voters = master.Sentinels.Count + 1;
        foreach (var s in master.Sentinels.Values)
            if (!s.Has(InstanceFlags.SDown | InstanceFlags.ODown)) usable++;
        noQuorum = usable < master.Quorum;
        noAuth = usable < voters / 2 + 1;
    }

    private static void CkQuorum(SentinelInstance m, RespWriter w)
    {
        CkQuorumCount(m, out int usable, out bool noQuorum, out bool noAuth);
        if (!noQuorum && !noAuth)
        {
            w.WriteSimpleString($"OK {usable} usable Sentinels. Quorum and failover authorization can be reached");
            return;
        }
        string e = $"NOQUORUM {usable} usable Sentinels. ";
        if (noQuorum) e += "Not enough available Sentinels to reach the specified quorum for this master";
        if (noAuth)
        {
            if (noQuorum) e += ". ";
            e += "Not enough available Sentinels to reach the majority and authorize a failover";
        }
        w.WriteError(e);
    }

    /// <summary>Closes the master's and its replicas' links so they reconnect with new credentials.</summary>
    private void DropInstanceConnections(SentinelInstance master)
    {
        CloseCmd(master.Link);
        ClosePubSub(master.Link);
        foreach (var r in master.Replicas.Values)
        {
            CloseCmd(r.Link);
            ClosePubSub(r.Link);
        }
    }

    private void DropSentinelConnections()
    {
        foreach (var m in Masters.Values)
            foreach (var s in m.Sentinels.Values)
            {
                if (s.Link.Disconnected) continue;
                ClosePubSub(s.Link);
                CloseCmd(s.Link);
            }
    }

    /// <summary>A script path given to SENTINEL SET / the config must name an executable file.</summary>
    public Func<string, bool> IsExecutable { get; set; } = _ => true;

    private void Set(IReadOnlyList<string> argv, RespWriter w)
    {
        if (!Masters.TryGetValue(argv[2], out var ri))
        {
            w.WriteError("ERR No such master with that name");
            return;
        }
        int changes = 0;
        int argc = argv.Count;
        for (int j = 3; j < argc; j++)
        {
            int moreArgs = argc - 1 - j;
            string option = argv[j];
            string opt = option.ToLowerInvariant();
            int oldJ = j;
            bool redacted = false;
            string? bad = null;
            switch (opt)
            {
                case "down-after-milliseconds" or "failover-timeout" or "parallel-syncs" or "quorum" when moreArgs > 0:
                {
                    string v = argv[++j];
                    if (!TryLong(v, out long ll) || ll <= 0) { bad = v; break; }
                    if (opt == "down-after-milliseconds")
                    {
                        ri.DownAfterMs = ll;
                        PropagateDownAfterPeriod(ri);
                    }
                    else if (opt == "failover-timeout") ri.FailoverTimeoutMs = ll;
                    else if (opt == "parallel-syncs") ri.ParallelSyncs = (int)Math.Min(ll, int.MaxValue);
                    else ri.Quorum = (int)Math.Min(ll, int.MaxValue);
                    changes++;
                    break;
                }
                case "notification-script" or "client-reconfig-script" when moreArgs > 0:
                {
                    string v = argv[++j];
                    if (DenyScriptsReconfig)
                    {
                        w.WriteError("ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration");
                        if (changes > 0) Flush();
                        return;
                    }
                    if (v.Length > 0 && !IsExecutable(v))
                    {
                        w.WriteError(opt == "notification-script"
                            ? "ERR Notification script seems non existing or non executable"
                            : "ERR Client reconfiguration script seems non existing or non executable");
                        if (changes > 0) Flush();
                        return;
                    }
                    if (opt == "notification-script") ri.NotificationScript = v.Length > 0 ? v : null;
                    else ri.ClientReconfigScript = v.Length > 0 ? v : null;
                    changes++;
                    break;
                }
                case "auth-pass" when moreArgs > 0:
                    ri.AuthPass = argv[++j].Length > 0 ? argv[j] : null;
                    DropInstanceConnections(ri);
                    changes++;
                    redacted = true;
                    break;
                case "auth-user" when moreArgs > 0:
                    ri.AuthUser = argv[++j].Length > 0 ? argv[j] : null;
                    DropInstanceConnections(ri);
                    changes++;
                    break;
                case "rename-command" when moreArgs > 1:
                {
                    string oldName = argv[++j];
                    string newName = argv[++j];
                    if (oldName.Length == 0 || newName.Length == 0)
                    {
                        bad = newName.Length > 0 ? oldName : newName;
                        break;
                    }
                    ri.RenamedCommands.Remove(oldName);
                    if (!string.Equals(oldName, newName, StringComparison.OrdinalIgnoreCase)) ri.RenamedCommands[oldName] = newName;
                    changes++;
                    break;
                }
                case "master-reboot-down-after-period" when moreArgs > 0:
                {
                    string v = argv[++j];
                    if (!TryLong(v, out long ll) || ll < 0) { bad = v; break; }
                    ri.MasterRebootDownAfterMs = ll;
                    changes++;
                    break;
                }
                default:
                    w.WriteError($"ERR Unknown option or number of arguments for SENTINEL SET '{option}'");
                    if (changes > 0) Flush();
                    return;
            }
            if (bad != null)
            {
                w.WriteError($"ERR Invalid argument '{bad}' for SENTINEL SET '{option}'");
                if (changes > 0) Flush();
                return;
            }
            int numArgs = j - oldJ + 1;
            string text = numArgs switch
            {
                2 => $"%@ {argv[oldJ]} {(redacted ? "******" : argv[oldJ + 1])}",
                3 => $"%@ {argv[oldJ]} {argv[oldJ + 1]} {argv[oldJ + 2]}",
                _ => $"%@ {argv[oldJ]}",
            };
            Event(SentinelLogLevel.Warning, "+set", ri, text);
        }
        if (changes > 0) FlushAndReply(w);
    }

    private void ConfigSet(string param, string value, RespWriter w)
    {
        bool dropConns = false;
        switch (param.ToLowerInvariant())
        {
            case "resolve-hostnames":
            {
                if (!YesNo(value, out bool b)) goto badfmt;
                ResolveHostnames = b;
                break;
            }
            case "announce-hostnames":
            {
                if (!YesNo(value, out bool b)) goto badfmt;
                AnnounceHostnames = b;
                break;
            }
            case "announce-ip":
                AnnounceIp = value;
                break;
            case "announce-port":
                if (!TryLong(value, out long port) || port < 0 || port > 65535) goto badfmt;
                AnnouncePort = (int)port;
                break;
            case "sentinel-user":
                SentinelUser = value.Length == 0 ? null : value;
                dropConns = true;
                break;
            case "sentinel-pass":
                SentinelPass = value.Length == 0 ? null : value;
                dropConns = true;
                break;
            default:
                w.WriteError($"ERR Invalid argument '{param}' to SENTINEL CONFIG SET");
                return;
        }
        FlushAndReply(w);
        if (dropConns) DropSentinelConnections();
        return;
    badfmt:
        w.WriteError($"ERR Invalid value '{value}' to SENTINEL CONFIG SET '{param}'");
    }

    internal static bool YesNo(string s, out bool value)
    {
        value = s.Equals("yes", StringComparison.OrdinalIgnoreCase);
        return value || s.Equals("no", StringComparison.OrdinalIgnoreCase);
    }

    private void ConfigGet(string pattern, RespWriter w)
    {
        var pairs = new List<(string, string)>
        {
            ("resolve-hostnames", ResolveHostnames ? "yes" : "no"),
            ("announce-hostnames", AnnounceHostnames ? "yes" : "no"),
            ("announce-ip", AnnounceIp ?? ""),
            ("announce-port", AnnouncePort.ToString(CultureInfo.InvariantCulture)),
            ("sentinel-user", SentinelUser ?? ""),
            ("sentinel-pass", SentinelPass ?? ""),
        };
        var matched = pairs.Where(p => Glob.Match(pattern, p.Item1, ignoreCase: true)).ToList();
        w.WriteMapHeader(matched.Count);
        foreach (var (k, v) in matched)
        {
            w.WriteBulk(k);
            w.WriteBulk(v);
        }
    }

    private void InfoCache(IReadOnlyList<string> argv, RespWriter w, long now)
    {
        var masters = new List<SentinelInstance>();
        foreach (var name in argv.Skip(2))
            if (Masters.TryGetValue(name, out var m) && !masters.Contains(m)) masters.Add(m);
        w.WriteArrayHeader(masters.Count * 2);
        foreach (var m in masters)
        {
            w.WriteBulk(m.Name);
            w.WriteArrayHeader(m.Replicas.Count + 1);
            WriteInfoEntry(w, m.InfoRefresh != 0 ? now - m.InfoRefresh : 0, m.Info);
            foreach (var r in m.Replicas.Values)
                // Redis tests the master's info_refresh here, not the replica's.
                WriteInfoEntry(w, m.InfoRefresh != 0 ? now - r.InfoRefresh : 0, r.Info);
        }
    }

    private static void WriteInfoEntry(RespWriter w, long age, string? info)
    {
        w.WriteArrayHeader(2);
        w.WriteInteger(age);
        if (info != null) w.WriteBulk(info);
        else w.WriteNull();
    }

    private void SimulateFailure(IReadOnlyList<string> argv, RespWriter w)
    {
        SimFailureFlags = 0;
        for (int j = 2; j < argv.Count; j++)
        {
            switch (argv[j].ToLowerInvariant())
            {
                case "crash-after-election":
                    SimFailureFlags |= SimCrashAfterElection;
                    _env.Log(SentinelLogLevel.Warning, "Failure simulation: this Sentinel will crash after being successfully elected as failover leader");
                    break;
                case "crash-after-promotion":
                    SimFailureFlags |= SimCrashAfterPromotion;
                    _env.Log(SentinelLogLevel.Warning, "Failure simulation: this Sentinel will crash after promoting the selected replica to master");
                    break;
                case "help":
                    w.WriteArrayHeader(2);
                    w.WriteBulk("crash-after-election");
                    w.WriteBulk("crash-after-promotion");
                    return;
                default:
                    w.WriteError("ERR Unknown failure simulation specified");
                    return;
            }
        }
        w.WriteOk();
    }

    private (string Name, Func<long> Get, Action<long> Set)[] DebugParams() =>
    [
        ("INFO-PERIOD", () => InfoPeriodMs, v => InfoPeriodMs = v),
        ("PING-PERIOD", () => PingPeriodMs, v => PingPeriodMs = v),
        ("ASK-PERIOD", () => AskPeriodMs, v => AskPeriodMs = v),
        ("PUBLISH-PERIOD", () => PublishPeriodMs, v => PublishPeriodMs = v),
        ("DEFAULT-DOWN-AFTER", () => DefaultDownAfterMs, v => DefaultDownAfterMs = v),
        ("DEFAULT-FAILOVER-TIMEOUT", () => DefaultFailoverTimeoutMs, v => DefaultFailoverTimeoutMs = v),
        ("TILT-TRIGGER", () => TiltTriggerMs, v => TiltTriggerMs = v),
        ("TILT-PERIOD", () => TiltPeriodMs, v => TiltPeriodMs = v),
        ("SLAVE-RECONF-TIMEOUT", () => SlaveReconfTimeoutMs, v => SlaveReconfTimeoutMs = v),
        ("MIN-LINK-RECONNECT-PERIOD", () => MinLinkReconnectPeriodMs, v => MinLinkReconnectPeriodMs = v),
        ("ELECTION-TIMEOUT", () => ElectionTimeoutMs, v => ElectionTimeoutMs = v),
        ("SCRIPT-MAX-RUNTIME", () => ScriptMaxRuntimeMs, v => ScriptMaxRuntimeMs = v),
        ("SCRIPT-RETRY-DELAY", () => ScriptRetryDelayMs, v => ScriptRetryDelayMs = v),
    ];

    private void WriteDebugInfo(RespWriter w)
    {
        var ps = DebugParams();
        w.WriteMapHeader(ps.Length);
        foreach (var (name, get, _) in ps)
        {
            w.WriteBulk(name);
            w.WriteBulk(get().ToString(CultureInfo.InvariantCulture));
        }
    }

    private void SetDebug(IReadOnlyList<string> argv, RespWriter w)
    {
        var ps = DebugParams();
        for (int j = 2; j < argv.Count; j++)
        {
            int moreArgs = argv.Count - 1 - j;
            string option = argv[j];
            var p = ps.FirstOrDefault(x => x.Name.Equals(option, StringComparison.OrdinalIgnoreCase));
            if (p.Name == null || moreArgs <= 0)
            {
                w.WriteError($"ERR Unknown option or number of arguments for SENTINEL DEBUG '{option}'");
                return;
            }
            string v = argv[++j];
            if (!TryLong(v, out long ll) || ll <= 0)
            {
                w.WriteError($"ERR Invalid argument '{v}' for SENTINEL DEBUG '{option}'");
                return;
            }
            p.Set(ll);
        }
        w.WriteOk();
    }

    /// <summary>Sentinel's PUBLISH: only hello messages, processed and not re-published.</summary>
    public void Publish(string channel, string message, RespWriter w, long now)
    {
        if (channel != HelloChannel)
        {
            w.WriteError("ERR Only HELLO messages are accepted by Sentinel instances.");
            return;
        }
        ProcessHello(message, now);
        w.WriteInteger(1);
    }

    /// <summary>ROLE: ["sentinel", [master names]].</summary>
    public void Role(RespWriter w)
    {
        w.WriteArrayHeader(2);
        w.WriteBulk("sentinel");
        w.WriteArrayHeader(Masters.Count);
        foreach (var m in Masters.Values) w.WriteBulk(m.Name);
    }

    /// <summary>The "# Sentinel" INFO section, without its header.</summary>
    public string InfoSection(long now, int runningScripts, int queuedScripts)
    {
        var sb = new System.Text.StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_masters:{Masters.Count}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_tilt:{(Tilt ? 1 : 0)}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_tilt_since_seconds:{(Tilt ? (now - TiltStartTime) / 1000 : -1)}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_running_scripts:{runningScripts}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_scripts_queue_length:{queuedScripts}\r\n");
        sb.Append(CultureInfo.InvariantCulture, $"sentinel_simulate_failure_flags:{SimFailureFlags}\r\n");
        int i = 0;
        foreach (var m in Masters.Values)
        {
            string status = m.Has(InstanceFlags.ODown) ? "odown" : m.Has(InstanceFlags.SDown) ? "sdown" : "ok";
            sb.Append(CultureInfo.InvariantCulture,
                $"master{i++}:name={m.Name},status={status},address={Announce(m.Addr)}:{m.Addr.Port},slaves={m.Replicas.Count},sentinels={m.Sentinels.Count + 1}\r\n");
        }
        return sb.ToString();
    }
}
