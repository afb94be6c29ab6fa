using System.Net;
using System.Net.Sockets;
using Cinnabar.Cluster;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// Wires the cluster state machine (Cinnabar.Cluster.ClusterNode) to this process: the bus
/// listener and links, nodes.conf, the cron, replication and pub/sub. Every call into the state
/// machine happens under the server's execution lock, so commands, bus packets and the cron see
/// one consistent node table and slot map.
/// </summary>
public sealed class ClusterService : IClusterEnvironment
{
    public const int PortIncrement = 10000;

    private readonly RedisServer _server;
    private readonly NodesConfFile _file;
    private readonly Dictionary<int, BusConnection> _conns = new();
    private readonly List<Socket> _listeners = new();
    private int _nextLinkId;
    private long _lastTickMs;

    public ClusterNode Node { get; }
    public ClusterRouter Router { get; }
    public SlotStats SlotStats { get; } = new();
    /// <summary>cluster-slot-stats-enabled: cpu and network counters per slot.</summary>
    public bool SlotStatsEnabled => _server.Config.ClusterSlotStatsEnabled;
    internal string BindSourceAddr => _server.Config.BindSourceAddr;
    public ClusterOptions Options { get; }
    internal Log Log => _server.Log;
    public int BusPort { get; }
    internal int MaxFrameBytes { get; }

    private ClusterService(RedisServer server, NodesConfFile file, ClusterOptions options, int busPort)
    {
        _server = server;
        _file = file;
        Options = options;
        BusPort = busPort;
        MaxFrameBytes = (int)Math.Min(int.MaxValue - 1024, server.Config.ProtoMaxBulkLen * 2 + 64 * 1024);
        string text = file.ReadAll();
        long now = NowMs;
        try
        {
            Node = text.Trim('\n', ' ', '\r').Length == 0
                ? ClusterNode.CreateNew(this, options, new Random(), now)
                : ClusterNode.Load(text, this, options, new Random(), now);
        }
        catch (ClusterConfigException e)
        {
            throw new InvalidOperationException(e.Message, e);
        }
        if (text.Length > 0) Node.SaveConfig(fsync: true);
        Router = new ClusterRouter(server, this);
        Migrations = new SlotMigrationService(server, this);
    }

    /// <summary>Atomic slot migration (CLUSTER MIGRATION, CLUSTER SYNCSLOTS).</summary>
    public SlotMigrationService Migrations { get; }

    /// <summary>replicationGetSlaveOffset on a replica (0 while no master stream exists, e.g. during
    /// a full sync: peers then report the replica as "loading"), master_repl_offset on a master.</summary>
    public long ReplicaOffset
    {
        get
        {
            if (!_server.IsReplica) return _server.Repl.MasterReplOffset;
            var link = _server.Repl.Link;
            bool streaming = link != null && link.Connected && !link.SyncInProgress;
            return streaming || _server.Repl.CachedMaster ? Math.Max(0, _server.Repl.MasterReplOffset) : 0;
        }
    }

    private static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>clusterInit: port checks, nodes.conf (locked), slot index, bus listener.</summary>
    public static ClusterService Start(RedisServer server)
    {
        var cfg = server.Config;
        if (cfg.ClusterPort == 0 && cfg.Port > 65535 - PortIncrement)
            throw new InvalidOperationException(
                "Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. " +
                "Your Redis port number must be 55535 or less.");
        if (cfg.Port == 0 && cfg.ClusterPort == 0)
            throw new InvalidOperationException("Redis port number must be set when cluster is enabled (or set cluster-port).");
        server.Keyspace.EnableSlotIndex();
        var file = NodesConfFile.OpenLocked(cfg.ClusterConfigFile);
        int busPort = cfg.ClusterPort != 0 ? cfg.ClusterPort : cfg.Port + PortIncrement;
        var options = new ClusterOptions();
        ApplyOptions(cfg, options, busPort);
        var svc = new ClusterService(server, file, options, busPort);
        svc.Listen();
        return svc;
    }

    /// <summary>After the dataset is loaded: accept bus links and run the cluster cron. Nothing
    /// earlier may act on gossip (a role change would start a replica sync while the AOF is still
    /// loading), just as Redis's clusterCron only runs once loading is done.</summary>
    public void Activate()
    {
        if (_active) return;
        _active = true;
        foreach (var l in _listeners) _ = AcceptLoopAsync(l);
        _server.CronTick += OnCron;
        _server.ClientClosed += Migrations.OnClientClosed;
    }

    private bool _active;

    /// <summary>Copies the cluster-* directives into the state machine's options (startup and CONFIG SET).</summary>
    public static void ApplyOptions(Config.ServerConfig cfg, ClusterOptions o, int busPort)
    {
        o.NodeTimeoutMs = Math.Max(1, cfg.ClusterNodeTimeout);
        o.AnnounceIp = cfg.ClusterAnnounceIp;
        o.AnnounceHostname = cfg.ClusterAnnounceHostname;
        // deriveAnnouncedPorts (no TLS here): the client port, the bus port, no separate plaintext port.
        o.AnnouncedPort = cfg.ClusterAnnouncePort != 0 ? cfg.ClusterAnnouncePort : cfg.Port;
        o.AnnouncedPPort = 0;
        o.AnnouncedCPort = cfg.ClusterAnnounceBusPort != 0 ? cfg.ClusterAnnounceBusPort : busPort;
        o.RequireFullCoverage = cfg.ClusterRequireFullCoverage;
        o.AllowReplicaMigration = cfg.ClusterAllowReplicaMigration;
        o.MigrationBarrier = cfg.ClusterMigrationBarrier;
        o.ReplicaNoFailover = cfg.ClusterReplicaNoFailover;
        o.ReplicaValidityFactor = cfg.ClusterReplicaValidityFactor;
        o.ReplPingReplicaPeriodSeconds = cfg.ReplPingReplicaPeriod;
    }

    public void OnConfigChanged(string name)
    {
        if (!name.StartsWith("cluster-", StringComparison.Ordinal) && name != "repl-ping-replica-period") return;
        ApplyOptions(_server.Config, Options, BusPort);
        // The NOFAILOVER flag travels in our header: keep myself's flag in step with the directive.
        if (Options.ReplicaNoFailover) Node.Myself.Flags |= NodeFlags.NoFailover;
        else Node.Myself.Flags &= ~NodeFlags.NoFailover;
        Node.AnnounceChanged();
        Node.BeforeSleep(NowMs);
    }

    private void Listen()
    {
        foreach (var raw in _server.Config.Bind)
        {
            var (ip, optional, addr) = BindAddress.Parse(raw);
            try
            {
                var s = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
                if (ip.AddressFamily == AddressFamily.InterNetworkV6) s.DualMode = false;
                s.Bind(new IPEndPoint(ip, BusPort));
                s.Listen(_server.Config.TcpBacklog);
                _listeners.Add(s);
            }
            catch (SocketException e)
            {
                if (optional && e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressFamilyNotSupported) continue;
                Log.Warning($"Could not bind {addr}:{BusPort}: {e.Message}");
                throw new InvalidOperationException($"Failed listening on port {BusPort} (cluster), aborting.", e);
            }
        }
        if (Options.ReplicaNoFailover) Node.Myself.Flags |= NodeFlags.NoFailover;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket s;
            try
            {
                s = await listener.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (_server.ShuttingDown) return;
                continue;
            }
            BusConnection conn;
            lock (_server.ExecLock)
            {
                conn = new BusConnection(this, ++_nextLinkId, s);
                _conns[conn.Id] = conn;
                Node.InboundLinkAccepted(conn.Id, NowMs);
            }
            Log.Verbose($"Accepting cluster node connection from {conn.PeerIp}:{(s.RemoteEndPoint as IPEndPoint)?.Port}");
            conn.StartReading();
        }
    }

    /// <summary>A whole frame arrived (message null when Redis would ignore it). Returns false when
    /// the link is gone.</summary>
    internal async ValueTask<bool> OnFrameAsync(BusConnection conn, BusMessage? message, ushort rawType)
    {
        // Never block the socket engine thread behind a long command or script: hop when contended.
        if (!Monitor.TryEnter(_server.ExecLock))
        {
            await Task.Run(() => { lock (_server.ExecLock) HandleFrameLocked(conn, message, rawType); }).ConfigureAwait(false);
            return !conn.Closed;
        }
        try
        {
            HandleFrameLocked(conn, message, rawType);
        }
        finally
        {
            Monitor.Exit(_server.ExecLock);
        }
        return !conn.Closed;
    }

    private void HandleFrameLocked(BusConnection conn, BusMessage? message, ushort rawType)
    {
        if (conn.Closed) return;
        long now = NowMs;
        if (message == null)
        {
            if (rawType < Node.MessagesReceived.Length) Node.MessagesReceived[rawType]++;
            return;
        }
        Node.Handle(conn.Id, message, conn.PeerIp, conn.LocalIp, now);
        Node.BeforeSleep(now);
        _server.AfterBatch();
    }

    internal void OnConnected(BusConnection conn) => RunLocked(() => ConnectedLocked(conn));

    /// <summary>Runs under the execution lock now, or on the pool when it is contended (a link
    /// event must never block the socket engine thread behind a long command or script).</summary>
    private void RunLocked(Action action)
    {
        if (Monitor.TryEnter(_server.ExecLock))
        {
            try { action(); }
            finally { Monitor.Exit(_server.ExecLock); }
            return;
        }
        _ = Task.Run(() => { lock (_server.ExecLock) action(); });
    }

    private void ConnectedLocked(BusConnection conn)
    {
        if (conn.Closed) return;
        long now = NowMs;
        Node.LinkEstablished(conn.Id, now);
        Node.BeforeSleep(now);
    }

    internal void OnConnectionLost(BusConnection conn) => RunLocked(() => LostLocked(conn));

    private void LostLocked(BusConnection conn)
    {
        _conns.Remove(conn.Id);
        Node.LinkClosed(conn.Id);
    }

    internal void Forget(BusConnection conn) => _conns.Remove(conn.Id);

    private void OnCron(long nowMsCached)
    {
        long now = NowMs;
        if (now - _lastTickMs < ClusterNode.CronPeriodMs - 5) return;
        _lastTickMs = now;
        EnforceSendBufferLimit();
        Node.Tick(now);
        Migrations.Cron(now);
        Node.BeforeSleep(now);
        RedirectBlockedClients();
    }

    /// <summary>clusterRedirectBlockedClientIfNeeded (clientsCron): a client blocked on a key whose
    /// slot is no longer served here is released with -MOVED (or CLUSTERDOWN).</summary>
    private void RedirectBlockedClients()
    {
        if (_server.BlockedClientCount == 0) return;
        foreach (var c in _server.Clients.ToArray())
        {
            var st = c.BlockState;
            if (st == null || st.Keys.Length == 0) continue;
            string? error = null;
            if (!Node.StateOk)
            {
                error = ClusterRouter.Down;
            }
            else
            {
                int slot = Cinnabar.Storage.HashSlot.Of(st.Keys[0]);
                var owner = Node.SlotOwner(slot);
                var cmd = _server.Commands.Lookup(st.Argv[0]);
                if ((c.Flags & ClientFlags.ReadOnly) != 0 && cmd != null && !cmd.Is(CommandFlags.Write) &&
                    Node.Myself.IsReplica && Node.Myself.Master == owner)
                    owner = Node.Myself;
                if (owner != Node.Myself && Node.ImportingFrom(slot) == null)
                    error = owner == null ? ClusterRouter.Unbound : $"MOVED {slot} {Router.Endpoint(owner)}:{owner.Port}";
            }
            if (error == null) continue;
            _server.Unblock(c, timedOut: false, write: true, error);
            c.ScheduleFlush();
        }
    }

    /// <summary>DEBUG CLUSTERLINK KILL to|from|all node-id: drops our links with that peer.</summary>
    public string? KillLinks(string direction, string nodeName)
    {
        var n = Node.Lookup(nodeName);
        if (n == null) return $"ERR Unknown node {nodeName}";
        bool to = direction.Equals("to", StringComparison.OrdinalIgnoreCase) || direction.Equals("all", StringComparison.OrdinalIgnoreCase);
        bool from = direction.Equals("from", StringComparison.OrdinalIgnoreCase) || direction.Equals("all", StringComparison.OrdinalIgnoreCase);
        if (!to && !from) return "ERR Unknown direction " + direction;
        if (to && n.LinkId >= 0) Drop(n.LinkId);
        if (from && n.InboundLinkId >= 0) Drop(n.InboundLinkId);
        return null;

        void Drop(int id)
        {
            if (_conns.Remove(id, out var conn)) conn.Close();
            Node.LinkClosed(id);
        }
    }

    /// <summary>clusterNodeCronFreeLinkOnBufferLimitReached.</summary>
    private void EnforceSendBufferLimit()
    {
        long limit = _server.Config.ClusterLinkSendbufLimit;
        if (limit <= 0) return;
        foreach (var conn in _conns.Values.ToArray())
        {
            if (conn.PendingBytes <= limit) continue;
            var link = Node.Links.FirstOrDefault(l => l.Id == conn.Id);
            Log.Warning($"Freeing cluster link({(conn.Inbound ? "from" : "to")} node {link?.Node?.Name ?? "(unknown)"}, used memory: {conn.PendingBytes}) due to exceeding send buffer memory limit.");
            Node.LinksBufferLimitExceeded++;
            conn.Close();
            Node.LinkClosed(conn.Id);
        }
    }

    /// <summary>Runs a top-level command and charges its time and bytes to its slot.</summary>
    internal void CallCounted(Client client, CommandDef cmd, Protocol.CommandArgs args)
    {
        int slot = Router.CurrentSlot;
        long bytesIn = 0;
        if (slot >= 0)
        {
            bytesIn = SlotStats.RequestBytes(args);
            if (cmd.Name == "exec" && client.MultiQueue != null)
            {
                bytesIn += 15; // the MULTI that opened the transaction
                foreach (var q in client.MultiQueue) bytesIn += SlotStats.RequestBytes(q);
            }
        }
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        int replyStart = client.Reply.Length;
        _server.Call(client, cmd, args);
        if (slot < 0) return;
        long micros = (long)System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        long bytesOut = Math.Max(0, client.Reply.Length - replyStart);
        SlotStats.Refresh(Node);
        SlotStats.Record(slot, micros, bytesIn, bytesOut);
    }

    /// <summary>Runs deferred cluster work after a command changed cluster state.</summary>
    public void AfterCommand() => Node.BeforeSleep(NowMs);

    public long Now => NowMs;

    internal BusConnection? Connection(int linkId) => _conns.TryGetValue(linkId, out var c) ? c : null;

    public void Shutdown()
    {
        foreach (var l in _listeners) l.Dispose();
        foreach (var c in _conns.Values.ToArray()) c.Close();
        _file.Dispose();
    }

    // ---- IClusterEnvironment ------------------------------------------------------------------

    int IClusterEnvironment.Connect(string ip, int cport)
    {
        var conn = new BusConnection(this, ++_nextLinkId, null);
        _conns[conn.Id] = conn;
        int timeoutMs = (int)Math.Clamp(Options.NodeTimeoutMs, 1000, 60_000);
        // Started after the state machine registered the link, so a failure is always reported.
        _ = Task.Run(() => conn.ConnectAsync(ip, cport, timeoutMs));
        return conn.Id;
    }

    void IClusterEnvironment.Send(int linkId, BusMessage message)
    {
        if (_conns.TryGetValue(linkId, out var conn)) conn.Enqueue(BusCodec.Encode(message));
    }

    void IClusterEnvironment.CloseLink(int linkId)
    {
        if (_conns.Remove(linkId, out var conn)) conn.Close();
    }

    void IClusterEnvironment.SaveConfig(string contents, bool fsync)
    {
        try
        {
            _file.Save(contents, fsync);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LastSaveError = e.Message;
            Log.Warning("Fatal: can't update cluster config file.");
            Environment.Exit(1);
        }
    }

    public string? LastSaveError { get; private set; }

    /// <summary>CLUSTER SAVECONFIG: an error is reported to the caller instead of exiting.</summary>
    public string? SaveConfigNow()
    {
        try
        {
            _file.Save(Node.ConfigText(), fsync: true);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }
    }

    void IClusterEnvironment.Log(ClusterLogLevel level, string message)
    {
        switch (level)
        {
            case ClusterLogLevel.Debug: Log.Debug(message); break;
            case ClusterLogLevel.Verbose: Log.Verbose(message); break;
            case ClusterLogLevel.Notice: Log.Notice(message); break;
            default: Log.Warning(message); break;
        }
    }

    void IClusterEnvironment.Publish(byte[] channel, byte[] message, bool shard) =>
        _server.PubSub.Publish(channel, message, shard);

    bool IClusterEnvironment.HasSubscribers(bool shard) =>
        shard ? _server.PubSub.ShardChannels.Count > 0 : _server.PubSub.ChannelCount + _server.PubSub.PatternCount > 0;

    long IClusterEnvironment.ReplicationOffset => ReplicaOffset;

    void IClusterEnvironment.ReplicateFrom(string ip, int port) => _server.ReplicaOf(ip, port);

    void IClusterEnvironment.StopReplicating() => _server.ReplicaOfNoOne();

    bool IClusterEnvironment.IsReplicating => _server.IsReplica;

    void IClusterEnvironment.SlotLeftMyShard(int slot) => _server.PubSub.RemoveShardChannelsInSlot(slot);

    int IClusterEnvironment.CountKeysInSlot(int slot) => _server.Keyspace[0].CountKeysInSlot(slot);

    void IClusterEnvironment.DeleteKeysInSlot(int slot)
    {
        // A slot an atomic migration just handed off is trimmed a batch per cron run instead
        // (all at once, 200k keys held the lock for seconds in bench/reshard.sh).
        if (Migrations.DeferTrim(slot)) return;
        DeleteKeysInSlot(slot);
    }

    /// <summary>delKeysInSlot: each key deleted and its DEL propagated. Returns how many.</summary>
    public int DeleteKeysInSlot(int slot)
    {
        var db = _server.Keyspace[0];
        var keys = new List<byte[]>();
        db.GetKeysInSlot(slot, int.MaxValue, keys);
        foreach (var key in keys)
        {
            if (!db.Delete(key)) continue;
            _server.Propagate(0, "DEL"u8.ToArray(), key);
            _server.SignalModified(db, key, null);
        }
        return keys.Count;
    }

    void IClusterEnvironment.PauseWrites(long untilMs) =>
        _server.PauseClients(Math.Max(0, untilMs - NowMs), writesOnly: true);

    void IClusterEnvironment.UnpauseWrites() => _server.UnpauseClients();

    long IClusterEnvironment.MasterDataAgeMs
    {
        get
        {
            var link = _server.Repl.Link;
            if (link == null) return 0;
            long now = Environment.TickCount64;
            return link.Connected ? now - link.LastIoMs : now - link.LinkDownSinceMs;
        }
    }

    void IClusterEnvironment.FlushAll() => _server.FlushForSync();
}
