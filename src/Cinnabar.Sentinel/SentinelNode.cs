using System.Globalization;
using Cinnabar.Protocol;

namespace Cinnabar.Sentinel;

/// <summary>
/// Redis 7.0 Sentinel as a state machine (sentinel.c). The server calls <see cref="Tick"/> from its
/// cron (10-19 times a second), feeds back connection closes and command replies, and serves the
/// SENTINEL command through the methods of SentinelNode.Commands. Nothing here touches a socket,
/// a file or the clock: time comes in as nowMs, effects go out through <see cref="ISentinelEnvironment"/>.
///
/// Per master, each tick: reconnect links, send INFO/PING/hello as due, then (outside TILT) check
/// SDOWN, ODOWN, start a failover when ODOWN, step the failover state machine and ask the other
/// sentinels for their view and vote. Replicas and peer sentinels are discovered from INFO and
/// hello messages and are never forgotten except by SENTINEL RESET.
/// Invariants: a vote is cast at most once per epoch (leader-epoch persists); the failover epoch is
/// always a fresh current-epoch; a failover is aborted only before the promotion is observed.
/// </summary>
public sealed partial class SentinelNode
{
    public const string HelloChannel = "__sentinel__:hello";
    internal const int MaxPendingCommands = 100;
    internal const int MaxDesyncMs = 1000;
    internal const int DefaultParallelSyncs = 1;

    private readonly ISentinelEnvironment _env;
    private readonly Dictionary<int, InstanceLink> _linkByConn = new();

    public SentinelNode(ISentinelEnvironment env)
    {
        _env = env;
    }

    public string MyId { get; set; } = "";
    public long CurrentEpoch { get; set; }
    /// <summary>Monitored masters, in the order they were added (Redis's dict order is arbitrary).</summary>
    public Dictionary<string, SentinelInstance> Masters { get; } = new(StringComparer.Ordinal);
    public bool Tilt { get; private set; }
    public long TiltStartTime { get; private set; }
    private long _previousTime;
    public string? AnnounceIp { get; set; }
    public int AnnouncePort { get; set; }
    /// <summary>The port a hello announces when announce-port is 0 (the server's port).</summary>
    public int MyPort { get; set; } = 26379;
    public bool DenyScriptsReconfig { get; set; } = true;
    public bool ResolveHostnames { get; set; }
    public bool AnnounceHostnames { get; set; }
    public string? SentinelUser { get; set; }
    public string? SentinelPass { get; set; }
    /// <summary>This server's own requirepass, used towards sentinels when sentinel-pass is unset.</summary>
    public string? RequirePass { get; set; }
    public int SimFailureFlags { get; set; }
    public const int SimCrashAfterElection = 1;
    public const int SimCrashAfterPromotion = 2;

    // Tunables (SENTINEL DEBUG).
    public long InfoPeriodMs = 10000;
    public long PingPeriodMs = 1000;
    public long AskPeriodMs = 1000;
    public long PublishPeriodMs = 2000;
    public long DefaultDownAfterMs = 30000;
    public long DefaultFailoverTimeoutMs = 180000;
    public long TiltTriggerMs = 2000;
    public long TiltPeriodMs = 30000;
    public long SlaveReconfTimeoutMs = 10000;
    public long MinLinkReconnectPeriodMs = 15000;
    public long ElectionTimeoutMs = 10000;
    public long ScriptMaxRuntimeMs = 60000;
    public long ScriptRetryDelayMs = 30000;

    /// <summary>Called once after the config is loaded (sentinelIsRunning).</summary>
    public void Start(long now)
    {
        _previousTime = now;
        if (MyId.Length == 0)
        {
            var chars = new char[40];
            for (int i = 0; i < 40; i++) chars[i] = "0123456789abcdef"[_env.Random(16)];
            MyId = new string(chars);
            Flush();
        }
        _env.Log(SentinelLogLevel.Warning, "Sentinel ID is " + MyId);
        foreach (var m in Masters.Values) Event(SentinelLogLevel.Warning, "+monitor", m, $"%@ quorum {m.Quorum}");
    }

    // ---------------------------------------------------------------- addresses

    /// <summary>createSentinelAddr: null when the port is out of range or the host does not resolve.</summary>
    internal SentinelAddr? CreateAddr(string host, int port, bool acceptUnresolved, out string? error)
    {
        error = null;
        if (port < 0 || port > 65535)
        {
            error = "Invalid port number.";
            return null;
        }
        string? ip = _env.Resolve(host, ResolveHostnames);
        if (ip == null)
        {
            _env.Log(SentinelLogLevel.Warning, $"Failed to resolve hostname '{host}'");
            if (ResolveHostnames && acceptUnresolved) ip = "";
            else
            {
                error = "Can't resolve instance hostname.";
                return null;
            }
        }
        return new SentinelAddr(host, ip, port);
    }

    internal static bool AddrEqual(SentinelAddr a, SentinelAddr b) =>
        a.Port == b.Port && (a.Ip == b.Ip || string.Equals(a.Hostname, b.Hostname, StringComparison.OrdinalIgnoreCase));

    internal bool AddrEqualsHostname(SentinelAddr a, string? hostname)
    {
        if (hostname == null) return false;
        string? ip = _env.Resolve(hostname, ResolveHostnames);
        if (ip == null) return string.Equals(ResolveHostnames ? a.Hostname : a.Ip, hostname, StringComparison.OrdinalIgnoreCase);
        return string.Equals(a.Ip, ip, StringComparison.OrdinalIgnoreCase);
    }

    internal string Announce(SentinelAddr a) => AnnounceHostnames ? a.Hostname : a.Ip;

    internal string AnnounceWithPort(SentinelAddr a)
    {
        string host = Announce(a);
        return host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{a.Port}" : $"{host}:{a.Port}";
    }

    /// <summary>The master's address, or the promoted replica's once the promotion was seen.</summary>
    public static SentinelAddr CurrentMasterAddress(SentinelInstance master) =>
        master.Has(InstanceFlags.FailoverInProgress) && master.PromotedReplica != null && master.FailoverState >= FailoverState.ReconfSlaves
            ? master.PromotedReplica.Addr
            : master.Addr;

    // ---------------------------------------------------------------- instances

    /// <summary>createSentinelRedisInstance. Returns null with Redis's error text on failure.</summary>
    internal SentinelInstance? CreateInstance(string? name, InstanceFlags flags, string host, int port, int quorum, SentinelInstance? master, long now, out string? error)
    {
        var addr = CreateAddr(host, port, true, out error);
        if (addr == null) return null;
        string key = (flags & InstanceFlags.Replica) != 0 ? AnnounceWithPort(addr) : name!;
        var table = (flags & InstanceFlags.Master) != 0 ? Masters : (flags & InstanceFlags.Replica) != 0 ? master!.Replicas : master!.Sentinels;
        if (table.ContainsKey(key))
        {
            error = (flags & InstanceFlags.Master) != 0 ? "Duplicate master name." : (flags & InstanceFlags.Replica) != 0 ? "Duplicate hostname and port for replica." : "Duplicate runid for sentinel.";
            return null;
        }
        var ri = new SentinelInstance(key, flags, addr, master, now, DefaultDownAfterMs, DefaultFailoverTimeoutMs) { Quorum = quorum };
        table[key] = ri;
        return ri;
    }

    /// <summary>Drops an instance (its table entry is removed by the caller) and its links.</summary>
    internal void ReleaseInstance(SentinelInstance ri)
    {
        foreach (var r in ri.Replicas.Values) ReleaseInstance(r);
        foreach (var s in ri.Sentinels.Values) ReleaseInstance(s);
        ri.Replicas.Clear();
        ri.Sentinels.Clear();
        ri.Released = true;
        ReleaseLink(ri.Link);
        if (ri.IsReplica && ri.Has(InstanceFlags.Promoted) && ri.Master != null && ri.Master.PromotedReplica == ri)
            ri.Master.PromotedReplica = null;
    }

    private void ReleaseLink(InstanceLink link)
    {
        link.Refcount--;
        if (link.Refcount > 0) return;
        CloseCmd(link);
        ClosePubSub(link);
    }

    internal static SentinelInstance? FindByAddrAndRunId(Dictionary<string, SentinelInstance> table, SentinelAddr? addr, string? runId)
    {
        foreach (var ri in table.Values)
        {
            if (runId != null && ri.RunId == null) continue;
            if ((runId == null || ri.RunId == runId) && (addr == null || AddrEqual(ri.Addr, addr))) return ri;
        }
        return null;
    }

    private SentinelInstance? LookupReplica(SentinelInstance master, string ip, int port)
    {
        var addr = CreateAddr(ip, port, true, out _);
        if (addr == null) return null;
        return master.Replicas.GetValueOrDefault(AnnounceWithPort(addr));
    }

    private int RemoveSentinelsWithRunId(SentinelInstance master, string runId)
    {
        int removed = 0;
        foreach (var ri in master.Sentinels.Values.ToList())
        {
            if (ri.RunId != runId) continue;
            master.Sentinels.Remove(ri.Name);
            ReleaseInstance(ri);
            removed++;
        }
        return removed;
    }

    /// <summary>sentinelTryConnectionSharing: one link per physical sentinel across masters.</summary>
    private void TryConnectionSharing(SentinelInstance ri)
    {
        if (ri.RunId == null || ri.Link.Refcount > 1) return;
        foreach (var master in Masters.Values)
        {
            if (master == ri.Master) continue;
            var match = FindByAddrAndRunId(master.Sentinels, null, ri.RunId);
            if (match == null || match == ri) continue;
            ReleaseLink(ri.Link);
            ri.Link = match.Link;
            match.Link.Refcount++;
            return;
        }
    }

    private void UpdateSentinelAddressInAllMasters(SentinelInstance ri)
    {
        int reconfigured = 0;
        foreach (var master in Masters.Values)
        {
            var match = FindByAddrAndRunId(master.Sentinels, null, ri.RunId);
            if (match == null) continue;
            CloseCmd(match.Link);
            ClosePubSub(match.Link);
            if (match == ri) continue;
            match.Addr = ri.Addr;
            reconfigured++;
        }
        if (reconfigured > 0) Event(SentinelLogLevel.Notice, "+sentinel-address-update", ri, $"%@ {reconfigured} additional matching instances");
    }

    /// <summary>sentinelResetMaster.</summary>
    internal void ResetMaster(SentinelInstance ri, bool keepSentinels, bool generateEvent, long now)
    {
        foreach (var r in ri.Replicas.Values) ReleaseInstance(r);
        ri.Replicas.Clear();
        if (!keepSentinels)
        {
            foreach (var s in ri.Sentinels.Values) ReleaseInstance(s);
            ri.Sentinels.Clear();
        }
        CloseCmd(ri.Link);
        ClosePubSub(ri.Link);
        ri.Flags &= InstanceFlags.Master;
        ri.Leader = null;
        ri.FailoverState = FailoverState.None;
        ri.FailoverStateChangeTime = 0;
        ri.FailoverStartTime = 0;
        ri.PromotedReplica = null;
        ri.RunId = null;
        ri.SlaveMasterHost = null;
        ri.Link.ActPingTime = now;
        ri.Link.LastPingTime = 0;
        ri.Link.LastAvailTime = now;
        ri.Link.LastPongTime = now;
        ri.RoleReportedTime = now;
        ri.RoleReported = InstanceFlags.Master;
        if (generateEvent) Event(SentinelLogLevel.Warning, "+reset-master", ri, "%@");
    }

    /// <summary>sentinelResetMasterAndChangeAddress: used by +switch-master.</summary>
    internal bool ResetMasterAndChangeAddress(SentinelInstance master, string host, int port, long now)
    {
        var newAddr = CreateAddr(host, port, false, out _);
        if (newAddr == null) return false;
        var keep = new List<SentinelAddr>();
        foreach (var r in master.Replicas.Values)
            if (!AddrEqual(r.Addr, newAddr)) keep.Add(r.Addr);
        if (!AddrEqual(newAddr, master.Addr)) keep.Add(master.Addr);
        ResetMaster(master, keepSentinels: true, generateEvent: false, now);
        master.Addr = newAddr;
        master.ODownSinceTime = 0;
        master.SDownSinceTime = 0;
        foreach (var a in keep)
        {
            var r = CreateInstance(null, InstanceFlags.Replica, a.Hostname, a.Port, master.Quorum, master, now, out _);
            if (r != null) Event(SentinelLogLevel.Notice, "+slave", r, "%@");
        }
        Flush();
        return true;
    }

    private static bool NoDownFor(SentinelInstance ri, long ms, long now)
    {
        long mostRecent = Math.Max(ri.SDownSinceTime, ri.ODownSinceTime);
        return mostRecent == 0 || now - mostRecent > ms;
    }

    private static void PropagateDownAfterPeriod(SentinelInstance master)
    {
        foreach (var r in master.Replicas.Values) r.DownAfterMs = master.DownAfterMs;
        foreach (var s in master.Sentinels.Values) s.DownAfterMs = master.DownAfterMs;
    }

    /// <summary>sentinelInstanceMapCommand: a command name after the master's rename-command table.</summary>
    internal static string MapCommand(SentinelInstance ri, string command)
    {
        var m = ri.Master ?? ri;
        return m.RenamedCommands.TryGetValue(command, out var renamed) ? renamed : command;
    }

    // ---------------------------------------------------------------- events

    /// <summary>sentinelEvent: logs, publishes (unless debug) and runs the notification script (warnings).
    /// A message starting with "%@" gets the instance's description in its place.</summary>
    public void Event(SentinelLogLevel level, string type, SentinelInstance? ri, string fmt)
    {
        string msg = fmt;
        if (ri != null && fmt.StartsWith("%@", StringComparison.Ordinal))
        {
            var master = ri.IsMaster ? null : ri.Master;
            string who = $"{ri.TypeName} {ri.Name} {Announce(ri.Addr)} {ri.Addr.Port}";
            if (master != null) who += $" @ {master.Name} {Announce(master.Addr)} {master.Addr.Port}";
            msg = who + fmt[2..];
        }
        _env.Log(level, $"{type} {msg}");
        if (level != SentinelLogLevel.Debug) _env.Publish(type, msg);
        if (level == SentinelLogLevel.Warning && ri != null)
        {
            var master = ri.IsMaster ? ri : ri.Master;
            if (master?.NotificationScript != null) _env.ScheduleScript(master.NotificationScript, [type, msg]);
        }
    }

    internal bool Flush() => _env.SaveConfig();

    private void CallClientReconfScript(SentinelInstance master, bool leader, string state, SentinelAddr from, SentinelAddr to)
    {
        if (master.ClientReconfigScript == null) return;
        _env.ScheduleScript(master.ClientReconfigScript,
            [master.Name, leader ? "leader" : "observer", state, Announce(from), from.Port.ToString(CultureInfo.InvariantCulture), Announce(to), to.Port.ToString(CultureInfo.InvariantCulture)]);
    }

    // ---------------------------------------------------------------- links

    private void CloseCmd(InstanceLink link)
    {
        if (link.Cmd < 0) return;
        _linkByConn.Remove(link.Cmd);
        _env.Close(link.Cmd);
        link.Cmd = -1;
        link.PendingCommands = 0;
        link.Disconnected = true;
    }

    private void ClosePubSub(InstanceLink link)
    {
        if (link.PubSub < 0) return;
        _linkByConn.Remove(link.PubSub);
        _env.Close(link.PubSub);
        link.PubSub = -1;
        link.Disconnected = true;
    }

    /// <summary>A connection failed or was closed by the peer (instanceLinkConnectionError).</summary>
    public void ConnectionClosed(int conn)
    {
        if (!_linkByConn.Remove(conn, out var link)) return;
        if (link.Cmd == conn)
        {
            link.Cmd = -1;
            link.PendingCommands = 0;
        }
        if (link.PubSub == conn) link.PubSub = -1;
        link.Disconnected = true;
    }

    private void Send(SentinelInstance ri, int conn, string[] argv, ReplyCallback? onReply)
    {
        ri.Link.PendingCommands++;
        var link = ri.Link;
        _env.Send(conn, argv, (reply, now) =>
        {
            if (link.Cmd != conn) return;
            link.PendingCommands--;
            if (!ri.Released) onReply?.Invoke(reply, now);
        });
    }

    private void SendAuthIfNeeded(SentinelInstance ri, int conn)
    {
        string? pass, user;
        if (ri.IsMaster) (pass, user) = (ri.AuthPass, ri.AuthUser);
        else if (ri.IsReplica) (pass, user) = (ri.Master!.AuthPass, ri.Master.AuthUser);
        else if (SentinelPass != null) (pass, user) = (SentinelPass, SentinelUser);
        else (pass, user) = (RequirePass, null);
        if (pass == null) return;
        string[] argv = user == null ? [MapCommand(ri, "AUTH"), pass] : [MapCommand(ri, "AUTH"), user, pass];
        SendOn(ri, conn, argv);
    }

    /// <summary>A command whose reply is ignored; on the pub/sub connection it is not counted as pending.</summary>
    private void SendOn(SentinelInstance ri, int conn, string[] argv)
    {
        if (conn == ri.Link.Cmd) Send(ri, conn, argv, null);
        else _env.Send(conn, argv, null);
    }

    /// <summary>sentinelReconnectInstance.</summary>
    private void ReconnectInstance(SentinelInstance ri, long now)
    {
        var link = ri.Link;
        if (!link.Disconnected) return;
        if (ri.Addr.Port == 0) return;
        if (now - link.LastReconnTime < PingPeriodMs) return;
        link.LastReconnTime = now;
        if (link.Cmd < 0)
        {
            if (ResolveHostnames)
            {
                var again = CreateAddr(ri.Addr.Hostname, ri.Addr.Port, false, out _);
                if (again != null) ri.Addr = again;
            }
            if (ri.Addr.Ip.Length == 0)
            {
                Event(SentinelLogLevel.Debug, "-cmd-link-reconnection", ri, "%@ #Failed to establish connection");
                return;
            }
            int conn = _env.Connect(ri.Addr.Ip, ri.Addr.Port);
            link.Cmd = conn;
            _linkByConn[conn] = link;
            link.PendingCommands = 0;
            link.CmdConnTime = now;
            SendAuthIfNeeded(ri, conn);
            SendOn(ri, conn, [MapCommand(ri, "CLIENT"), "SETNAME", ClientName("cmd")]);
            SendPing(ri, now);
        }
        if (!ri.IsSentinel && link.PubSub < 0 && ri.Addr.Ip.Length > 0)
        {
            int conn = _env.Connect(ri.Addr.Ip, ri.Addr.Port);
            link.PubSub = conn;
            _linkByConn[conn] = link;
            link.PubSubConnTime = now;
            link.PubSubLastActivity = now;
            SendAuthIfNeeded(ri, conn);
            SendOn(ri, conn, [MapCommand(ri, "CLIENT"), "SETNAME", ClientName("pubsub")]);
            _env.Send(conn, [MapCommand(ri, "SUBSCRIBE"), HelloChannel], (reply, t) => ReceiveHello(ri, reply, t), persistent: true);
        }
        if (link.Cmd >= 0 && (ri.IsSentinel || link.PubSub >= 0)) link.Disconnected = false;
    }

    private string ClientName(string type) => $"sentinel-{MyId[..Math.Min(8, MyId.Length)]}-{type}";

    private bool SendPing(SentinelInstance ri, long now)
    {
        if (ri.Link.Cmd < 0) return false;
        Send(ri, ri.Link.Cmd, [MapCommand(ri, "PING")], (r, t) => PingReply(ri, r, t));
        ri.Link.LastPingTime = now;
        if (ri.Link.ActPingTime == 0) ri.Link.ActPingTime = now;
        return true;
    }

    private void PingReply(SentinelInstance ri, RespReply r, long now)
    {
        var link = ri.Link;
        if (r.Type is RespType.Status or RespType.Error)
        {
            string s = r.Text;
            if (s.StartsWith("PONG", StringComparison.Ordinal) || s.StartsWith("LOADING", StringComparison.Ordinal) || s.StartsWith("MASTERDOWN", StringComparison.Ordinal))
            {
                link.LastAvailTime = now;
                link.ActPingTime = 0;
                if (ri.Has(InstanceFlags.MasterReboot) && s.StartsWith("PONG", StringComparison.Ordinal)) ri.Flags &= ~InstanceFlags.MasterReboot;
            }
            else if (s.StartsWith("BUSY", StringComparison.Ordinal) && ri.Has(InstanceFlags.SDown) && !ri.Has(InstanceFlags.ScriptKillSent))
            {
                if (link.Cmd >= 0) Send(ri, link.Cmd, [MapCommand(ri, "SCRIPT"), "KILL"], null);
                ri.Flags |= InstanceFlags.ScriptKillSent;
            }
        }
        link.LastPongTime = now;
    }

    /// <summary>sentinelSendPeriodicCommands: INFO, PING and hello as they fall due.</summary>
    private void SendPeriodicCommands(SentinelInstance ri, long now)
    {
        var link = ri.Link;
        if (link.Disconnected || link.Cmd < 0) return;
        if (link.PendingCommands >= MaxPendingCommands * link.Refcount) return;
        long infoPeriod = ri.IsReplica && (ri.Master!.Has(InstanceFlags.ODown | InstanceFlags.FailoverInProgress) || ri.MasterLinkDownTime != 0)
            ? 1000 : InfoPeriodMs;
        long pingPeriod = Math.Min(ri.DownAfterMs, PingPeriodMs);
        if (!ri.IsSentinel && (ri.InfoRefresh == 0 || now - ri.InfoRefresh > infoPeriod)) SendInfo(ri);
        if (now - link.LastPongTime > pingPeriod && now - link.LastPingTime > pingPeriod / 2) SendPing(ri, now);
        if (now - ri.LastPubTime > PublishPeriodMs) SendHello(ri);
    }

    private void SendInfo(SentinelInstance ri) =>
        Send(ri, ri.Link.Cmd, [MapCommand(ri, "INFO")], (r, t) =>
        {
            if (r.Type is RespType.Bulk or RespType.Verbatim) RefreshInstanceInfo(ri, r.Text, t);
        });

    /// <summary>sentinelSendHello: PUBLISH our view of the master to the instance.</summary>
    private bool SendHello(SentinelInstance ri)
    {
        var master = ri.IsMaster ? ri : ri.Master!;
        var masterAddr = CurrentMasterAddress(master);
        if (ri.Link.Disconnected || ri.Link.Cmd < 0) return false;
        string? ip = AnnounceIp ?? _env.LocalIp(ri.Link.Cmd);
        if (ip == null) return false;
        int port = AnnouncePort != 0 ? AnnouncePort : MyPort;
        string payload = string.Create(CultureInfo.InvariantCulture,
            $"{ip},{port},{MyId},{CurrentEpoch},{master.Name},{Announce(masterAddr)},{masterAddr.Port},{master.ConfigEpoch}");
        Send(ri, ri.Link.Cmd, [MapCommand(ri, "PUBLISH"), HelloChannel, payload], (r, t) =>
        {
            if (r.Type != RespType.Error) ri.LastPubTime = t;
        });
        return true;
    }

    private void ForceHelloUpdate(SentinelInstance master)
    {
        static void Older(SentinelInstance ri, long period)
        {
            if (ri.LastPubTime >= period + 1) ri.LastPubTime -= period + 1;
        }
        Older(master, PublishPeriodMs);
        foreach (var s in master.Sentinels.Values) Older(s, PublishPeriodMs);
        foreach (var r in master.Replicas.Values) Older(r, PublishPeriodMs);
    }

    private void ReceiveHello(SentinelInstance ri, RespReply r, long now)
    {
        if (ri.Released) return;
        ri.Link.PubSubLastActivity = now;
        // hiredis drops a subscribed connection on an error reply it has no callback for (SUBSCRIBE
        // refused with -NOAUTH): the link shows disconnected and is retried every second.
        if (r.Type == RespType.Error)
        {
            ClosePubSub(ri.Link);
            return;
        }
        if (r.Type is not (RespType.Array or RespType.Push) || r.Elements.Count != 3) return;
        if (r.Elements.Any(e => e.Type != RespType.Bulk) || r.Elements[0].Text != "message") return;
        string payload = r.Elements[2].Text;
        if (payload.Contains(MyId, StringComparison.Ordinal)) return;
        ProcessHello(payload, now);
    }

    /// <summary>sentinelProcessHelloMessage: from a subscribed channel or a PUBLISH sent to us.</summary>
    public void ProcessHello(string hello, long now)
    {
        var token = hello.Split(',');
        if (token.Length != 8) return;
        if (!Masters.TryGetValue(token[4], out var master)) return;
        int port = Atoi(token[1]);
        int masterPort = Atoi(token[6]);
        var addr = CreateAddr(token[0], port, true, out _);
        var si = addr == null ? null : FindByAddrAndRunId(master.Sentinels, addr, token[2]);
        long currentEpoch = Atoll(token[3]);
        long masterConfigEpoch = Atoll(token[7]);
        if (si == null)
        {
            int removed = RemoveSentinelsWithRunId(master, token[2]);
            if (removed > 0)
                Event(SentinelLogLevel.Notice, "+sentinel-address-switch", master, $"%@ ip {token[0]} port {port} for {token[2]}");
            else if (addr != null)
            {
                var other = FindByAddrAndRunId(master.Sentinels, addr, null);
                if (other != null)
                {
                    Event(SentinelLogLevel.Notice, "+sentinel-invalid-addr", other, "%@");
                    string? obsolete = other.RunId;
                    if (obsolete != null)
                        foreach (var m in Masters.Values) RemoveSentinelsWithRunId(m, obsolete);
                }
            }
            si = CreateInstance(token[2], InstanceFlags.Sentinel, token[0], port, master.Quorum, master, now, out _);
            if (si != null)
            {
                if (removed == 0) Event(SentinelLogLevel.Notice, "+sentinel", si, "%@");
                si.RunId = token[2];
                TryConnectionSharing(si);
                if (removed > 0) UpdateSentinelAddressInAllMasters(si);
                Flush();
            }
        }
        if (currentEpoch > CurrentEpoch)
        {
            CurrentEpoch = currentEpoch;
            Flush();
            Event(SentinelLogLevel.Warning, "+new-epoch", master, CurrentEpoch.ToString(CultureInfo.InvariantCulture));
        }
        if (si != null && master.ConfigEpoch < masterConfigEpoch)
        {
            master.ConfigEpoch = masterConfigEpoch;
            // Compared with the address we advertise (the promoted replica's once our own failover
            // reached reconf_slaves), not the old one as Redis 7.0 does: otherwise a newer epoch
            // naming the old master is adopted without its address and our failover then
            // announces another master under that epoch, and the sentinels never agree again.
            var current = CurrentMasterAddress(master);
            if (masterPort != current.Port || !AddrEqualsHostname(current, token[5]))
            {
                Event(SentinelLogLevel.Warning, "+config-update-from", si, "%@");
                Event(SentinelLogLevel.Warning, "+switch-master", master, $"{master.Name} {Announce(master.Addr)} {master.Addr.Port} {token[5]} {masterPort}");
                var oldAddr = master.Addr;
                ResetMasterAndChangeAddress(master, token[5], masterPort, now);
                CallClientReconfScript(master, false, "start", oldAddr, master.Addr);
            }
        }
        if (si != null) si.LastHelloTime = now;
    }

    internal static int Atoi(string s)
    {
        long v = Atoll(s);
        return (int)Math.Clamp(v, int.MinValue, int.MaxValue);
    }

    /// <summary>strtoll/atoi: leading digits, 0 when none.</summary>
    internal static long Atoll(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] is >= '0' and <= '9' && v < long.MaxValue / 10) v = v * 10 + (s[i++] - '0');
        return neg ? -v : v;
    }

    // ---------------------------------------------------------------- INFO

    internal bool MasterLooksSane(SentinelInstance master, long now) =>
        master.IsMaster && master.RoleReported == InstanceFlags.Master && !master.Has(InstanceFlags.SDown | InstanceFlags.ODown)
        && now - master.InfoRefresh < InfoPeriodMs * 2;

    /// <summary>sentinelRefreshInstanceInfo: the INFO of a master or replica, and what follows from it.</summary>
    internal void RefreshInstanceInfo(SentinelInstance ri, string info, long now)
    {
        if (ri.Released) return;
        ri.Info = info;
        ri.MasterLinkDownTime = 0;
        InstanceFlags role = InstanceFlags.None;
        foreach (var l in info.Split("\r\n"))
        {
            if (l.Length >= 47 && l.StartsWith("run_id:", StringComparison.Ordinal))
            {
                string id = l.Substring(7, 40);
                if (ri.RunId == null) ri.RunId = id;
                else if (ri.RunId != id)
                {
                    Event(SentinelLogLevel.Notice, "+reboot", ri, "%@");
                    if (ri.IsMaster && ri.MasterRebootDownAfterMs != 0)
                    {
                        ri.Flags |= InstanceFlags.MasterReboot;
                        ri.MasterRebootSinceTime = now;
                    }
                    ri.RunId = id;
                }
            }
            if (ri.IsMaster && l.Length >= 7 && l.StartsWith("slave", StringComparison.Ordinal) && char.IsDigit(l[5]))
                DiscoverReplica(ri, l, now);
            if (l.Length >= 32 && l.StartsWith("master_link_down_since_seconds", StringComparison.Ordinal))
                ri.MasterLinkDownTime = Atoll(l[31..]) * 1000;
            if (l.StartsWith("role:master", StringComparison.Ordinal)) role = InstanceFlags.Master;
            else if (l.StartsWith("role:slave", StringComparison.Ordinal)) role = InstanceFlags.Replica;
            if (role == InstanceFlags.Replica) ParseReplicaField(ri, l, now);
        }
        ri.InfoRefresh = now;

        if (role != ri.RoleReported)
        {
            ri.RoleReportedTime = now;
            ri.RoleReported = role;
            if (role == InstanceFlags.Replica) ri.SlaveConfChangeTime = now;
            bool coherent = (ri.Flags & (InstanceFlags.Master | InstanceFlags.Replica)) == role;
            Event(SentinelLogLevel.Verbose, coherent ? "+role-change" : "-role-change", ri,
                $"%@ new reported role is {(role == InstanceFlags.Master ? "master" : "slave")}");
        }
        if (Tilt) return;
        if (ri.IsReplica && role == InstanceFlags.Master) ReplicaReportsMaster(ri, now);
        var master = ri.Master;
        if (ri.IsReplica && role == InstanceFlags.Replica && master != null
            && (ri.SlaveMasterPort != master.Addr.Port || !AddrEqualsHostname(master.Addr, ri.SlaveMasterHost)))
        {
            long wait = master.FailoverTimeoutMs;
            if (MasterLooksSane(master, now) && NoDownFor(ri, wait, now) && now - ri.SlaveConfChangeTime > wait
                && SendSlaveOf(ri, master.Addr))
                Event(SentinelLogLevel.Notice, "+fix-slave-config", ri, "%@");
        }
        if (ri.IsReplica && role == InstanceFlags.Replica && ri.Has(InstanceFlags.ReconfSent | InstanceFlags.ReconfInProgress) && master?.PromotedReplica != null)
        {
            var promoted = master.PromotedReplica.Addr;
            if (ri.Has(InstanceFlags.ReconfSent) && ri.SlaveMasterHost != null && AddrEqualsHostname(promoted, ri.SlaveMasterHost) && ri.SlaveMasterPort == promoted.Port)
            {
                ri.Flags = (ri.Flags & ~InstanceFlags.ReconfSent) | InstanceFlags.ReconfInProgress;
                Event(SentinelLogLevel.Notice, "+slave-reconf-inprog", ri, "%@");
            }
            if (ri.Has(InstanceFlags.ReconfInProgress) && ri.SlaveMasterLinkUp)
            {
                ri.Flags = (ri.Flags & ~InstanceFlags.ReconfInProgress) | InstanceFlags.ReconfDone;
                Event(SentinelLogLevel.Notice, "+slave-reconf-done", ri, "%@");
            }
        }
    }

    private void DiscoverReplica(SentinelInstance master, string l, long now)
    {
        string ip, port;
        if (!l.Contains("ip=", StringComparison.Ordinal))
        {
            // Old format: slave0:<ip>,<port>,<state>
            int colon = l.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0) return;
            var parts = l[(colon + 1)..].Split(',');
            if (parts.Length < 3) return;
            (ip, port) = (parts[0], parts[1]);
        }
        else
        {
            int i = l.IndexOf("ip=", StringComparison.Ordinal) + 3;
            int p = l.IndexOf("port=", StringComparison.Ordinal);
            if (p < 0) return;
            ip = l[i..].Split(',')[0];
            port = l[(p + 5)..].Split(',')[0];
        }
        int portNum = Atoi(port);
        if (LookupReplica(master, ip, portNum) != null) return;
        var replica = CreateInstance(null, InstanceFlags.Replica, ip, portNum, master.Quorum, master, now, out _);
        if (replica == null) return;
        Event(SentinelLogLevel.Notice, "+slave", replica, "%@");
        Flush();
    }

    private static void ParseReplicaField(SentinelInstance ri, string l, long now)
    {
        if (l.StartsWith("master_host:", StringComparison.Ordinal))
        {
            string host = l[12..];
            if (ri.SlaveMasterHost == null || !string.Equals(host, ri.SlaveMasterHost, StringComparison.OrdinalIgnoreCase))
            {
                ri.SlaveMasterHost = host;
                ri.SlaveConfChangeTime = now;
            }
        }
        else if (l.StartsWith("master_port:", StringComparison.Ordinal))
        {
            int port = Atoi(l[12..]);
            if (ri.SlaveMasterPort != port)
            {
                ri.SlaveMasterPort = port;
                ri.SlaveConfChangeTime = now;
            }
        }
        else if (l.StartsWith("master_link_status:", StringComparison.Ordinal))
            ri.SlaveMasterLinkUp = string.Equals(l[19..], "up", StringComparison.OrdinalIgnoreCase);
        else if (l.StartsWith("slave_priority:", StringComparison.Ordinal))
            ri.SlavePriority = Atoi(l[15..]);
        else if (l.StartsWith("slave_repl_offset:", StringComparison.Ordinal))
            ri.SlaveReplOffset = Atoll(l[18..]);
        else if (l.StartsWith("replica_announced:", StringComparison.Ordinal))
            ri.ReplicaAnnounced = Atoi(l[18..]);
    }

    /// <summary>A replica now reports master: our promotion completing, or someone else's doing.</summary>
    private void ReplicaReportsMaster(SentinelInstance ri, long now)
    {
        var master = ri.Master!;
        if (ri.Has(InstanceFlags.Promoted) && master.Has(InstanceFlags.FailoverInProgress) && master.FailoverState == FailoverState.WaitPromotion)
        {
            master.ConfigEpoch = master.FailoverEpoch;
            master.FailoverState = FailoverState.ReconfSlaves;
            master.FailoverStateChangeTime = now;
            Flush();
            Event(SentinelLogLevel.Warning, "+promoted-slave", ri, "%@");
            if ((SimFailureFlags & SimCrashAfterPromotion) != 0) SimCrash();
            Event(SentinelLogLevel.Warning, "+failover-state-reconf-slaves", master, "%@");
            CallClientReconfScript(master, true, "start", master.Addr, ri.Addr);
            ForceHelloUpdate(master);
            return;
        }
        long wait = PublishPeriodMs * 4;
        if (!ri.Has(InstanceFlags.Promoted) && MasterLooksSane(master, now) && NoDownFor(ri, wait, now) && now - ri.RoleReportedTime > wait
            && SendSlaveOf(ri, master.Addr))
            Event(SentinelLogLevel.Notice, "+convert-to-slave", ri, "%@");
    }

    internal void SimCrash()
    {
        _env.Log(SentinelLogLevel.Warning, "Sentinel CRASH because of SENTINEL simulate-failure");
        _env.Crash(99);
    }

    /// <summary>sentinelSendSlaveOf: MULTI, SLAVEOF, CONFIG REWRITE, CLIENT KILL x2, EXEC (replies ignored).</summary>
    internal bool SendSlaveOf(SentinelInstance ri, SentinelAddr? addr)
    {
        int conn = ri.Link.Cmd;
        if (conn < 0) return false;
        string host = addr == null ? "NO" : Announce(addr);
        string port = addr == null ? "ONE" : addr.Port.ToString(CultureInfo.InvariantCulture);
        Send(ri, conn, [MapCommand(ri, "MULTI")], null);
        Send(ri, conn, [MapCommand(ri, "SLAVEOF"), host, port], null);
        Send(ri, conn, [MapCommand(ri, "CONFIG"), "REWRITE"], null);
        Send(ri, conn, [MapCommand(ri, "CLIENT"), "KILL", "TYPE", "normal"], null);
        Send(ri, conn, [MapCommand(ri, "CLIENT"), "KILL", "TYPE", "pubsub"], null);
        Send(ri, conn, [MapCommand(ri, "EXEC")], null);
        // Beyond Redis 7.0: an INFO right behind the transaction shows its effect (the promotion,
        // the new master) at once, where Redis waits for the next INFO period (up to 1 s).
        SendInfo(ri);
        return true;
    }

    // ---------------------------------------------------------------- timer

    /// <summary>sentinelTimer: the periodic work. Call 10-19 times a second (see <see cref="NextTickDelayMs"/>).</summary>
    public void Tick(long now)
    {
        CheckTilt(now);
        HandleInstances(Masters, now);
    }

    /// <summary>The delay before the next tick: a random hz in 10..19 keeps sentinels out of step.</summary>
    public int NextTickDelayMs() => 1000 / (10 + _env.Random(10));

    private void CheckTilt(long now)
    {
        long delta = now - _previousTime;
        if (delta < 0 || delta > TiltTriggerMs)
        {
            Tilt = true;
            TiltStartTime = now;
            Event(SentinelLogLevel.Warning, "+tilt", null, "#tilt mode entered");
        }
        _previousTime = now;
    }

    private void HandleInstances(Dictionary<string, SentinelInstance> instances, long now)
    {
        SentinelInstance? switchToPromoted = null;
        foreach (var ri in instances.Values.ToList())
        {
            if (ri.Released) continue;
            HandleInstance(ri, now);
            if (ri.IsMaster)
            {
                HandleInstances(ri.Replicas, now);
                HandleInstances(ri.Sentinels, now);
                if (ri.FailoverState == FailoverState.UpdateConfig) switchToPromoted = ri;
            }
        }
        if (switchToPromoted != null) SwitchToPromotedReplica(switchToPromoted, now);
    }

    private void HandleInstance(SentinelInstance ri, long now)
    {
        ReconnectInstance(ri, now);
        SendPeriodicCommands(ri, now);
        if (Tilt)
        {
            if (now - TiltStartTime < TiltPeriodMs) return;
            Tilt = false;
            Event(SentinelLogLevel.Warning, "-tilt", null, "#tilt mode exited");
        }
        CheckSubjectivelyDown(ri, now);
        if (ri.IsMaster)
        {
            CheckObjectivelyDown(ri, now);
            if (StartFailoverIfNeeded(ri, now)) AskMasterStateToOtherSentinels(ri, forced: true, now);
            FailoverStateMachine(ri, now);
            AskMasterStateToOtherSentinels(ri, forced: false, now);
        }
    }

    private void CheckSubjectivelyDown(SentinelInstance ri, long now)
    {
        var link = ri.Link;
        long elapsed = 0;
        if (link.ActPingTime != 0) elapsed = now - link.ActPingTime;
        else if (link.Disconnected) elapsed = now - link.LastAvailTime;
        if (link.Cmd >= 0 && now - link.CmdConnTime > MinLinkReconnectPeriodMs && link.ActPingTime != 0
            && now - link.ActPingTime > ri.DownAfterMs / 2 && now - link.LastPongTime > ri.DownAfterMs / 2)
            CloseCmd(link);
        if (link.PubSub >= 0 && now - link.PubSubConnTime > MinLinkReconnectPeriodMs && now - link.PubSubLastActivity > PublishPeriodMs * 3)
            ClosePubSub(link);
        bool down = elapsed > ri.DownAfterMs
            || (ri.IsMaster && ri.RoleReported == InstanceFlags.Replica && now - ri.RoleReportedTime > ri.DownAfterMs + InfoPeriodMs * 2)
            || (ri.Has(InstanceFlags.MasterReboot) && now - ri.MasterRebootSinceTime > ri.MasterRebootDownAfterMs);
        if (down)
        {
            if (!ri.Has(InstanceFlags.SDown))
            {
                Event(SentinelLogLevel.Warning, "+sdown", ri, "%@");
                ri.SDownSinceTime = now;
                ri.Flags |= InstanceFlags.SDown;
            }
        }
        else if (ri.Has(InstanceFlags.SDown))
        {
            Event(SentinelLogLevel.Warning, "-sdown", ri, "%@");
            ri.Flags &= ~(InstanceFlags.SDown | InstanceFlags.ScriptKillSent);
        }
    }

    private void CheckObjectivelyDown(SentinelInstance master, long now)
    {
        int quorum = 0;
        bool odown = false;
        if (master.Has(InstanceFlags.SDown))
        {
            quorum = 1;
            foreach (var s in master.Sentinels.Values)
                if (s.Has(InstanceFlags.MasterDown)) quorum++;
            if (quorum >= master.Quorum) odown = true;
        }
        if (odown)
        {
            if (!master.Has(InstanceFlags.ODown))
            {
                Event(SentinelLogLevel.Warning, "+odown", master, $"%@ #quorum {quorum}/{master.Quorum}");
                master.Flags |= InstanceFlags.ODown;
                master.ODownSinceTime = now;
            }
        }
        else if (master.Has(InstanceFlags.ODown))
        {
            Event(SentinelLogLevel.Warning, "-odown", master, "%@");
            master.Flags &= ~InstanceFlags.ODown;
        }
    }

    private void AskMasterStateToOtherSentinels(SentinelInstance master, bool forced, long now)
    {
        foreach (var ri in master.Sentinels.Values)
        {
            long elapsed = now - ri.LastMasterDownReplyTime;
            if (elapsed > AskPeriodMs * 5)
            {
                ri.Flags &= ~InstanceFlags.MasterDown;
                ri.Leader = null;
            }
            if (!master.Has(InstanceFlags.SDown)) continue;
            if (ri.Link.Disconnected || ri.Link.Cmd < 0) continue;
            if (!forced && now - ri.LastMasterDownReplyTime < AskPeriodMs) continue;
            var peer = ri;
            Send(ri, ri.Link.Cmd,
                [MapCommand(ri, "SENTINEL"), "is-master-down-by-addr", Announce(master.Addr), master.Addr.Port.ToString(CultureInfo.InvariantCulture),
                 CurrentEpoch.ToString(CultureInfo.InvariantCulture), master.FailoverState > FailoverState.None ? MyId : "*"],
                (r, t) => IsMasterDownReply(peer, r, t));
        }
    }

    private void IsMasterDownReply(SentinelInstance ri, RespReply r, long now)
    {
        if (r.Type != RespType.Array || r.Elements.Count != 3) return;
        if (r.Elements[0].Type != RespType.Integer || r.Elements[1].Type is not (RespType.Bulk or RespType.Status) || r.Elements[2].Type != RespType.Integer) return;
        ri.LastMasterDownReplyTime = now;
        if (r.Elements[0].Integer == 1) ri.Flags |= InstanceFlags.MasterDown;
        else ri.Flags &= ~InstanceFlags.MasterDown;
        string leader = r.Elements[1].Text;
        if (leader != "*")
        {
            if (ri.LeaderEpoch != r.Elements[2].Integer)
                _env.Log(SentinelLogLevel.Warning, $"{ri.Name} voted for {leader} {r.Elements[2].Integer}");
            ri.Leader = leader;
            ri.LeaderEpoch = r.Elements[2].Integer;
        }
    }
}
