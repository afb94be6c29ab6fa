using Cinnabar.Protocol;

namespace Cinnabar.Sentinel.Tests.Simulation;

/// <summary>A process on the simulated network: a fake Redis data node or a sentinel.</summary>
public abstract class SimEndpoint
{
    protected SimEndpoint(SimNetwork net, string ip, int port)
    {
        Net = net;
        Ip = ip;
        Port = port;
    }

    public SimNetwork Net { get; }
    public string Ip { get; }
    public int Port { get; }
    public bool Alive { get; internal set; } = true;
    /// <summary>Partition group: endpoints talk only within one group (0 = everybody when healed).</summary>
    public int Group { get; internal set; }
    /// <summary>SIGSTOP'd until this time: no ticks, incoming bytes wait and are read on resume.</summary>
    public long StoppedUntil { get; internal set; }
    /// <summary>Connections accepted by this endpoint (server side).</summary>
    internal readonly List<SimConnection> Inbound = new();

    public string Addr => $"{Ip}:{Port}";

    /// <summary>Handles one command from a client; <paramref name="reply"/> sends a reply back (it may
    /// be called zero times, e.g. a frozen node, or later).</summary>
    internal abstract void Handle(SimConnection conn, IReadOnlyList<string> argv, Action<RespReply> reply);

    public override string ToString() => $"{GetType().Name}({Addr})";
}

/// <summary>One TCP connection from a sentinel (client) to an endpoint (server).</summary>
public sealed class SimConnection
{
    public int Id { get; init; }
    public SimSentinel Client { get; init; } = null!;
    public SimEndpoint? Server { get; init; }
    /// <summary>The client has not closed it nor been told it closed.</summary>
    public bool ClientOpen { get; internal set; } = true;
    /// <summary>The server accepted it and has not closed it.</summary>
    public bool ServerOpen { get; internal set; }
    public bool Established { get; internal set; }
    internal long LastToServer;
    internal long LastToClient;
    internal ReplyCallback? Persistent;
    public bool Subscribed { get; internal set; }
    internal List<IReadOnlyList<string>>? Multi;
    public string? ClientName { get; internal set; }
}

/// <summary>A published sentinel event (what a SUBSCRIBE to the event channels would see).</summary>
public sealed record SimEvent(long Time, int Sentinel, string Channel, string Message)
{
    public override string ToString() => $"{Time,8} s{Sentinel} {Channel} {Message}";
}

/// <summary>
/// A seeded, deterministic network of sentinels and fake Redis nodes with virtual time. Every event
/// (sentinel tick, connect, command or reply delivery, close) goes through one priority queue
/// ordered by (time, sequence), and all randomness comes from the seed, so a seed replays exactly.
/// Delivery: a random delay, in order per connection and direction. A dead endpoint's connections
/// are reset (the client learns through <see cref="SentinelNode.ConnectionClosed"/>, always from a
/// scheduled event); connecting to it fails; endpoints in different partition groups silently
/// drop each other's bytes (a connect to the other side hangs).
/// </summary>
public sealed class SimNetwork
{
    public const long Epoch = 1_700_000_000_000;
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private long _seq;
    private int _nextConnId = 1;
    private readonly Dictionary<int, SimConnection> _conns = new();

    public SimNetwork(int seed)
    {
        Seed = seed;
        Rng = new Random(seed);
        Schedule(100, DataTick);
    }

    public int Seed { get; }
    public Random Rng { get; }
    public long Now { get; private set; } = Epoch;
    public long Elapsed => Now - Epoch;
    public int MinDelayMs { get; set; } = 1;
    public int MaxDelayMs { get; set; } = 8;
    public List<FakeRedis> Redis { get; } = new();
    public List<SimSentinel> Sentinels { get; } = new();
    public List<SimEvent> Events { get; } = new();
    /// <summary>Called for every published event, as it is published.</summary>
    public Action<SimEvent>? OnEvent { get; set; }
    /// <summary>(epoch, leader runid) of every +elected-leader, in order.</summary>
    public List<(long Epoch, string Leader, int Sentinel)> Elections { get; } = new();

    // ---------------------------------------------------------------- building

    public FakeRedis AddRedis()
    {
        int i = Redis.Count;
        var r = new FakeRedis(this, $"10.0.0.{i + 1}", 6379 + i, i);
        Redis.Add(r);
        return r;
    }

    /// <summary>Adds a sentinel started from <paramref name="config"/> ("sentinel ..." lines);
    /// <paramref name="configure"/> runs on every (re)created node before Start (tunables).</summary>
    public SimSentinel AddSentinel(IEnumerable<string> config, Action<SentinelNode>? configure = null)
    {
        int i = Sentinels.Count;
        var s = new SimSentinel(this, $"10.0.1.{i + 1}", 26379 + i, i, new Random(Rng.Next()), configure);
        Sentinels.Add(s);
        s.Boot(config.ToList());
        return s;
    }

    /// <summary>A master with <paramref name="replicas"/> replicas and <paramref name="sentinels"/>
    /// sentinels monitoring it as "mymaster".</summary>
    public static SimNetwork Standard(int seed, int sentinels, int replicas, int quorum, long downAfterMs = 2000, long failoverTimeoutMs = 10000,
        Action<SentinelNode>? configure = null, IEnumerable<string>? extraConfig = null)
    {
        var net = new SimNetwork(seed);
        var master = net.AddRedis();
        for (int i = 0; i < replicas; i++) net.AddRedis().ReplicaOf(master);
        var conf = new List<string>
        {
            $"sentinel monitor mymaster {master.Ip} {master.Port} {quorum}",
            $"sentinel down-after-milliseconds mymaster {downAfterMs}",
            $"sentinel failover-timeout mymaster {failoverTimeoutMs}",
        };
        if (extraConfig != null) conf.AddRange(extraConfig);
        for (int i = 0; i < sentinels; i++) net.AddSentinel(conf, configure);
        return net;
    }

    // ---------------------------------------------------------------- scheduler

    public void Schedule(long delayMs, Action a) => _events.Enqueue(a, (Now + Math.Max(0, delayMs), _seq++));

    internal void At(long time, Action a) => _events.Enqueue(a, (Math.Max(time, Now), _seq++));

    private int Delay() => Rng.Next(MinDelayMs, MaxDelayMs + 1);

    public void RunFor(long ms) => RunUntil(() => false, ms);

    /// <summary>Runs events until the condition holds (checked after each event) or the budget ends.</summary>
    public bool RunUntil(Func<bool> condition, long maxMs)
    {
        long end = Now + maxMs;
        while (_events.TryPeek(out var action, out var when) && when.Time <= end)
        {
            _events.Dequeue();
            Now = Math.Max(Now, when.Time);
            action();
            if (condition()) return true;
        }
        Now = end;
        return condition();
    }

    /// <summary>Runs until the condition has held continuously for <paramref name="stableMs"/>.</summary>
    public bool RunUntilStable(Func<bool> condition, long stableMs, long maxMs)
    {
        long end = Now + maxMs;
        while (Now < end)
        {
            if (!RunUntil(condition, end - Now)) return false;
            long since = Now;
            bool broke = RunUntil(() => !condition(), Math.Min(stableMs, end - Now));
            if (!broke && Now - since >= stableMs) return true;
        }
        return false;
    }

    /// <summary>Every 100 ms: masters take writes, linked replicas copy the offset.</summary>
    private void DataTick()
    {
        foreach (var r in Redis)
            if (r.Alive && r.IsMaster && r.StoppedUntil <= Now) r.Offset += Rng.Next(1, 1000);
        foreach (var r in Redis)
        {
            if (!r.Alive || r.IsMaster) continue;
            var m = r.MasterNode;
            if (r.LinkUp)
            {
                if (m != null && r.StoppedUntil <= Now) r.Offset = m.Offset;
                r.LinkDownSince = 0;
            }
            else if (r.LinkDownSince == 0) r.LinkDownSince = Now;
        }
        Schedule(100, DataTick);
    }

    // ---------------------------------------------------------------- faults

    private readonly HashSet<(SimEndpoint, SimEndpoint)> _blocked = new();

    /// <summary>Whether bytes pass between the two (same partition group, pair not blocked).</summary>
    public bool SameSide(SimEndpoint a, SimEndpoint b) => a.Group == b.Group && !_blocked.Contains((a, b)) && !_blocked.Contains((b, a));

    /// <summary>Cuts the link between two endpoints only (both ways) until <see cref="Heal"/>.</summary>
    public void Block(SimEndpoint a, SimEndpoint b) => _blocked.Add((a, b));

    /// <summary>Cuts the given endpoints off from the rest (both ways) until <see cref="Heal"/>.</summary>
    public void Partition(IEnumerable<SimEndpoint> side, int group = 1)
    {
        foreach (var e in side) e.Group = group;
    }

    public void Heal()
    {
        foreach (var r in Redis) r.Group = 0;
        foreach (var s in Sentinels) s.Group = 0;
        _blocked.Clear();
    }

    public void Stop(SimEndpoint e, long ms) => e.StoppedUntil = Math.Max(e.StoppedUntil, Now + ms);

    internal void KillEndpoint(SimEndpoint e)
    {
        e.Alive = false;
        foreach (var c in e.Inbound.ToList()) CloseFromServer(c);
        e.Inbound.Clear();
        foreach (var c in _conns.Values.Where(c => c.Client == e).ToList())
        {
            c.ClientOpen = false;
            _conns.Remove(c.Id);
            if (c.Server != null && c.ServerOpen) DropServerSide(c);
        }
    }

    // ---------------------------------------------------------------- transport

    public SimEndpoint? Lookup(string ip, int port) =>
        (SimEndpoint?)Redis.FirstOrDefault(r => r.Ip == ip && r.Port == port) ?? Sentinels.FirstOrDefault(s => s.Ip == ip && s.Port == port);

    public IEnumerable<SimConnection> OpenConnections => _conns.Values;

    public bool IsOpen(int conn) => _conns.TryGetValue(conn, out var c) && c.ClientOpen;

    internal int Connect(SimSentinel from, string ip, int port)
    {
        var c = new SimConnection { Id = _nextConnId++, Client = from, Server = Lookup(ip, port) };
        if (!from.Alive) return c.Id;
        _conns[c.Id] = c;
        long at = Now + Delay();
        c.LastToServer = at;
        At(at, () =>
        {
            if (!c.ClientOpen) return;
            var s = c.Server;
            if (s == null || !s.Alive)
            {
                if (s == null || SameSide(from, s)) NotifyClientClosed(c); // refused
                return; // across a partition the SYN is lost: the connect hangs
            }
            if (!SameSide(from, s)) return;
            c.Established = true;
            c.ServerOpen = true;
            s.Inbound.Add(c);
        });
        return c.Id;
    }

    internal void Send(int connId, IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent)
    {
        if (!_conns.TryGetValue(connId, out var c) || !c.ClientOpen || !c.Client.Alive) return;
        if (persistent) c.Persistent = onReply;
        var copy = argv.ToArray();
        long at = Math.Max(Now + Delay(), c.LastToServer);
        c.LastToServer = at;
        At(at, () => DeliverToServer(c, copy, onReply));
    }

    private void DeliverToServer(SimConnection c, string[] argv, ReplyCallback? onReply)
    {
        if (!c.ClientOpen) return;
        var s = c.Server;
        if (s == null || !c.Established) return;
        if (s.Alive && s.StoppedUntil > Now)
        {
            At(s.StoppedUntil, () => DeliverToServer(c, argv, onReply));
            return;
        }
        if (!SameSide(c.Client, s)) return; // dropped by the partition
        if (!s.Alive || !c.ServerOpen)
        {
            NotifyClientClosed(c); // RST
            return;
        }
        s.Handle(c, argv, reply => SendToClient(c, reply, onReply));
    }

    private void SendToClient(SimConnection c, RespReply reply, ReplyCallback? cb)
    {
        long at = Math.Max(Now + Delay(), c.LastToClient);
        c.LastToClient = at;
        At(at, () => DeliverToClient(c, reply, cb));
    }

    /// <summary>A push (pub/sub message) from the server to the connection's persistent callback.</summary>
    internal void Push(SimConnection c, RespReply reply)
    {
        if (!c.ServerOpen) return;
        long at = Math.Max(Now + Delay(), c.LastToClient);
        c.LastToClient = at;
        At(at, () => DeliverToClient(c, reply, c.Persistent));
    }

    private void DeliverToClient(SimConnection c, RespReply reply, ReplyCallback? cb)
    {
        if (!c.ClientOpen || !c.Client.Alive) return;
        if (c.Client.StoppedUntil > Now)
        {
            At(c.Client.StoppedUntil, () => DeliverToClient(c, reply, cb));
            return;
        }
        if (c.Server != null && !SameSide(c.Server, c.Client)) return;
        cb?.Invoke(reply, Now);
    }

    /// <summary>The client closes (env.Close): nothing is reported back to it.</summary>
    internal void CloseFromClient(int connId)
    {
        if (!_conns.Remove(connId, out var c)) return;
        c.ClientOpen = false;
        if (c.ServerOpen) DropServerSide(c);
    }

    private static void DropServerSide(SimConnection c)
    {
        c.ServerOpen = false;
        c.Server?.Inbound.Remove(c);
    }

    /// <summary>The server closes the connection (killed, CLIENT KILL): the client hears of it
    /// after a delay, unless a partition eats the FIN (then a later send gets the RST).</summary>
    internal void CloseFromServer(SimConnection c)
    {
        if (!c.ServerOpen) return;
        DropServerSide(c);
        long at = Math.Max(Now + Delay(), c.LastToClient);
        c.LastToClient = at;
        At(at, () =>
        {
            if (c.Server != null && !SameSide(c.Server, c.Client)) return;
            NotifyClientClosed(c);
        });
    }

    private void NotifyClientClosed(SimConnection c)
    {
        if (!c.ClientOpen) return;
        c.ClientOpen = false;
        _conns.Remove(c.Id);
        if (c.Client.Alive) c.Client.Node.ConnectionClosed(c.Id);
    }

    // ---------------------------------------------------------------- events

    internal void Record(SimEvent e)
    {
        Events.Add(e);
        OnEvent?.Invoke(e);
    }

    public IEnumerable<SimEvent> EventsOf(string channel) => Events.Where(e => e.Channel == channel);

    public string Dump(int lastEvents = 80)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"seed {Seed}, t={Elapsed} ms");
        foreach (var r in Redis) sb.AppendLine("  " + r.Describe());
        foreach (var s in Sentinels) sb.AppendLine("  " + s.Describe());
        sb.AppendLine("  last events:");
        foreach (var e in Events.TakeLast(lastEvents)) sb.AppendLine("    " + e with { Time = e.Time - Epoch });
        return sb.ToString();
    }
}
