using Cinnabar.Cluster;

namespace Cinnabar.Cluster.Tests.Simulation;

/// <summary>
/// A seeded, deterministic network of <see cref="ClusterNode"/>s. Time is simulated (ms); every
/// event (cron tick, connect, frame delivery, link close) goes through one priority queue ordered by
/// (time, sequence), and all randomness comes from the seed, so a seed replays the same run exactly.
/// Frames go through BusCodec.Encode/Decode, so the state machines exchange real Redis 7.0 bytes.
/// Links behave like TCP: ordered, no loss; a partition stalls them (bytes are retransmitted and
/// arrive after the heal unless an end closes the link first), a dead node resets them, and
/// connection attempts to an unreachable node fail.
/// </summary>
public sealed class SimCluster
{
    private readonly PriorityQueue<Action, (long Time, long Seq)> _events = new();
    private long _seq;
    private readonly Random _rng;
    private int _nextLinkId = 1;
    private readonly Dictionary<int, SimLink> _links = new();
    private readonly HashSet<(int, int)> _cut = new();
    private readonly Dictionary<int, SimNode> _byBusPort = new();

    public long Now { get; private set; } = 1_700_000_000_000;
    public List<SimNode> Nodes { get; } = new();
    public int Seed { get; }
    public int MinDelayMs { get; set; } = 1;
    public int MaxDelayMs { get; set; } = 5;
    /// <summary>Chance that a frame is lost on the way (0 = none; draws from the seed only when set).</summary>
    public double DropRate { get; set; }
    /// <summary>Called around every frame a node handles (the chaos tests check invariants there).</summary>
    public Action<SimNode, BusMessage>? BeforeDelivery { get; set; }
    public Action<SimNode, BusMessage>? AfterDelivery { get; set; }
    /// <summary>
    /// Whether nodes make their nodes.conf text at each save (as real nodes write the file). A
    /// large simulation that never restarts a node turns it off: the text has a line per known node
    /// and a node saves whenever it learns one, which is quadratic work per node.
    /// </summary>
    public bool KeepConfigs { get; set; } = true;
    public long BytesSent { get; private set; }
    public long FramesSent { get; private set; }

    public SimCluster(int seed)
    {
        Seed = seed;
        _rng = new Random(seed);
    }

    private sealed class SimLink
    {
        public int Id;
        public SimNode Owner = null!;
        public SimLink? Peer;
        public bool Open = true;
        public long LastDeliveryMs;
    }

    public SimNode AddNode(long nodeTimeoutMs = 15000, string hostname = "")
    {
        int index = Nodes.Count;
        var node = new SimNode(this, index, new Random(_rng.Next()), nodeTimeoutMs, hostname);
        Nodes.Add(node);
        _byBusPort[node.BusPort] = node;
        // Crons start at a random phase, as real processes do.
        Schedule(_rng.Next(0, 100), () => CronLoop(node));
        return node;
    }

    private void CronLoop(SimNode n)
    {
        if (n.Alive && !IsStopped(n))
        {
            n.Node.Tick(Now);
            n.Node.BeforeSleep(Now);
        }
        Schedule(ClusterNode.CronPeriodMs, () => CronLoop(n));
    }

    public void Schedule(long delayMs, Action a) => _events.Enqueue(a, (Now + delayMs, _seq++));

    private int Delay() => _rng.Next(MinDelayMs, MaxDelayMs + 1);

    public void RunFor(long ms) => RunUntil(() => false, ms);

    /// <summary>Runs events until the condition holds (checked after each event) or the time budget ends.</summary>
    public bool RunUntil(Func<bool> condition, long maxMs, long checkEveryMs = 0)
    {
        long end = Now + maxMs;
        long nextCheck = Now;
        while (_events.TryPeek(out var action, out var when) && when.Time <= end)
        {
            _events.Dequeue();
            Now = Math.Max(Now, when.Time);
            action();
            // Large clusters check their (O(n^2)) condition every checkEveryMs of simulated time.
            if (Now < nextCheck) continue;
            nextCheck = Now + checkEveryMs;
            if (condition()) return true;
        }
        Now = end;
        return condition();
    }

    /// <summary>SIGSTOP for ms: the node neither ticks nor reads (its peers' bytes wait in its
    /// socket buffers and are read, in order, once it resumes); its links stay up.</summary>
    public void Stop(SimNode n, long ms) => n.StoppedUntil = Math.Max(n.StoppedUntil, Now + ms);

    public bool IsStopped(SimNode n) => n.StoppedUntil > Now;

    public bool Reachable(SimNode a, SimNode b) =>
        a.Alive && b.Alive && !_cut.Contains((a.Index, b.Index)) && !_cut.Contains((b.Index, a.Index));

    /// <summary>Cuts every link between the two groups (both directions) until Heal.</summary>
    public void Partition(IEnumerable<SimNode> side)
    {
        var set = side.Select(n => n.Index).ToHashSet();
        foreach (var a in Nodes)
            foreach (var b in Nodes)
                if (set.Contains(a.Index) != set.Contains(b.Index)) _cut.Add((a.Index, b.Index));
    }

    public void Heal() => _cut.Clear();

    // ---- transport used by SimNode's environment ----

    internal int Connect(SimNode from, string ip, int cport)
    {
        var outLink = new SimLink { Id = _nextLinkId++, Owner = from };
        _links[outLink.Id] = outLink;
        var target = ip == "127.0.0.1" && _byBusPort.TryGetValue(cport, out var t) ? t : null;
        void Complete()
        {
            if (!outLink.Open) return;
            if (target != null && IsStopped(target) && Reachable(from, target))
            {
                // The kernel accepts; the stopped process sees the connection when it resumes.
                _events.Enqueue(Complete, (target.StoppedUntil, _seq++));
                return;
            }
            if (target == null || !Reachable(from, target))
            {
                // The connect fails (refused or timed out).
                Schedule(target == null ? 1 : 1000, () => CloseFromNetwork(outLink));
                return;
            }
            var inLink = new SimLink { Id = _nextLinkId++, Owner = target, Peer = outLink };
            outLink.Peer = inLink;
            _links[inLink.Id] = inLink;
            target.Node.InboundLinkAccepted(inLink.Id, Now);
            // Frames queued before the connection completed go first, then the connect handler's PING/MEET.
            foreach (var f in from.TakeQueued(outLink.Id)) Transmit(outLink, f);
            from.Node.LinkEstablished(outLink.Id, Now);
            from.Node.BeforeSleep(Now);
        }
        Schedule(Delay(), Complete);
        return outLink.Id;
    }

    internal void Send(SimNode from, int linkId, BusMessage m)
    {
        if (!_links.TryGetValue(linkId, out var link) || !link.Open) return;
        var bytes = BusCodec.Encode(m);
        if (link.Peer == null)
        {
            from.Queue(linkId, bytes);
            return;
        }
        Transmit(link, bytes);
    }

    private void Transmit(SimLink link, byte[] bytes)
    {
        BytesSent += bytes.Length;
        FramesSent++;
        // "Loss" on a TCP link is a lost connection: both ends see it close.
        if (DropRate > 0 && _rng.NextDouble() < DropRate)
        {
            CloseFromNetwork(link);
            return;
        }
        var peer = link.Peer!;
        long at = Math.Max(Now + Delay(), link.LastDeliveryMs);
        link.LastDeliveryMs = at;
        void Deliver()
        {
            if (!peer.Open || !link.Open) return;
            if (!Reachable(link.Owner, peer.Owner))
            {
                // Partitioned: TCP retransmits, so the bytes arrive after the heal, in order
                // (later frames on this link queue behind), unless a side gives up on the link.
                long retry = Now + 200;
                link.LastDeliveryMs = Math.Max(link.LastDeliveryMs, retry);
                _events.Enqueue(Deliver, (retry, _seq++));
                return;
            }
            if (IsStopped(peer.Owner))
            {
                // Read when the process resumes; frames keep their order (same time, rising seq).
                _events.Enqueue(Deliver, (peer.Owner.StoppedUntil, _seq++));
                return;
            }
            var msg = BusCodec.Decode(bytes);
            Assert.NotNull(msg);
            string peerIp = "127.0.0.1", localIp = "127.0.0.1";
            BeforeDelivery?.Invoke(peer.Owner, msg!);
            peer.Owner.Node.Handle(peer.Id, msg!, peerIp, localIp, Now);
            peer.Owner.Node.BeforeSleep(Now);
            AfterDelivery?.Invoke(peer.Owner, msg!);
        }
        _events.Enqueue(Deliver, (at, _seq++));
    }

    internal void Close(int linkId)
    {
        if (!_links.Remove(linkId, out var link)) return;
        link.Open = false;
        if (link.Peer is { Open: true } p) Schedule(Delay(), () => CloseFromNetwork(p));
    }

    private void CloseFromNetwork(SimLink link)
    {
        if (!link.Open) return;
        link.Open = false;
        _links.Remove(link.Id);
        if (link.Owner.Alive) link.Owner.Node.LinkClosed(link.Id);
        if (link.Peer is { Open: true } p) Schedule(Delay(), () => CloseFromNetwork(p));
    }

    /// <summary>Kills a node: its links close (the peers see resets), it stops ticking.</summary>
    public void Kill(SimNode n)
    {
        n.Alive = false;
        foreach (var l in _links.Values.Where(l => l.Owner == n).ToList())
        {
            l.Open = false;
            _links.Remove(l.Id);
            if (l.Peer is { Open: true } p) Schedule(Delay(), () => CloseFromNetwork(p));
        }
    }

    /// <summary>Resets one link, as a lost TCP connection: both ends see it close.</summary>
    public void ResetLink(int linkId)
    {
        if (_links.TryGetValue(linkId, out var l)) CloseFromNetwork(l);
    }

    public IReadOnlyCollection<int> OpenLinkIds => _links.Keys;

    public int NextInt(int min, int max) => _rng.Next(min, max);

    // ---- queries for invariants ----

    public bool AllKnowEachOther() =>
        Nodes.Where(n => n.Alive).All(n =>
            n.Node.Nodes.Count(p => !p.InHandshake) == Nodes.Count &&
            n.Node.Nodes.All(p => !p.InHandshake));

    public bool AgreeOnSlots()
    {
        var alive = Nodes.Where(n => n.Alive).ToList();
        for (int s = 0; s < ClusterNode.SlotCount; s++)
        {
            string? owner = alive[0].Node.SlotOwner(s)?.Name;
            foreach (var n in alive)
                if (n.Node.SlotOwner(s)?.Name != owner) return false;
        }
        return true;
    }

    public bool AllStateOk() => Nodes.Where(n => n.Alive).All(n => n.Node.StateOk);
}
