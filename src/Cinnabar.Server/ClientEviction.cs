using System.Globalization;

namespace Cinnabar.Server;

/// <summary>
/// Client memory accounting and client eviction (Redis 7.0's maxmemory-clients: networking.c
/// getClientMemoryUsage / evictClients). Each client's memory (<see cref="Client.MemoryUsage"/>:
/// query buffer, reply buffers and pending output, MULTI queue, watched keys, subscriptions,
/// tracking prefixes, a fixed overhead) is re-measured after each batch it runs, whenever another
/// client writes into its output, and by the cron; the running sum over normal and pub/sub
/// clients is kept here. When the sum reaches maxmemory-clients, the largest evictable clients
/// (not no-evict, not master or replica links) are closed until it is below again.
/// All calls happen under the server's execution lock; measuring a client reads a few fields and
/// allocates nothing, so the hot path pays one update per batch.
/// </summary>
public sealed class ClientEviction
{
    private readonly RedisServer _server;
    private long _total;
    private string _configured = "";
    private long _absolute;
    private int _percent;

    public ClientEviction(RedisServer server) => _server = server;

    /// <summary>Memory of the normal and pub/sub clients (INFO mem_clients_normal).</summary>
    public long TotalNormal => Interlocked.Read(ref _total);

    /// <summary>The maxmemory-clients limit in bytes (a percentage is of maxmemory), 0 = off.</summary>
    public long Limit
    {
        get
        {
            string v = _server.Config.MaxMemoryClients;
            if (!ReferenceEquals(v, _configured))
            {
                _configured = v;
                _percent = 0;
                _absolute = 0;
                if (v.EndsWith('%')) int.TryParse(v.AsSpan(0, v.Length - 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out _percent);
                else long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out _absolute);
            }
            return _percent > 0 ? _server.Config.MaxMemory * _percent / 100 : _absolute;
        }
    }

    private static bool Counted(Client c) => !c.IsClosed && RedisServer.TypeOf(c) is ClientType.Normal or ClientType.PubSub;

    /// <summary>
    /// Re-measures a client (lock held) and evicts clients when over the limit.
    /// <paramref name="removeNow"/>: evicted clients leave the server's lists at once (false while
    /// another client's command may be iterating them, e.g. PUBLISH writing to subscribers).
    /// </summary>
    public void Update(Client c, bool removeNow = true)
    {
        Measure(c);
        if (_total > 0 && Limit is > 0 and var limit && _total >= limit) Evict(limit, removeNow);
    }

    /// <summary>Re-measures a client's memory into the running sum, without evicting.</summary>
    public void Measure(Client c)
    {
        long mem = Counted(c) && !c.CleanedUp ? c.MemoryUsage() : 0;
        long delta = mem - c.TrackedMemory;
        if (delta == 0) return;
        c.TrackedMemory = mem;
        Interlocked.Add(ref _total, delta);
    }

    /// <summary>A client leaves: its memory is no longer counted.</summary>
    public void Remove(Client c)
    {
        long mem = c.TrackedMemory;
        if (mem == 0) return;
        c.TrackedMemory = 0;
        Interlocked.Add(ref _total, -mem);
    }

    /// <summary>Re-measures every client and evicts when over the limit (cron, CONFIG SET).</summary>
    public void UpdateAll()
    {
        foreach (var c in _server.Clients) Measure(c);
        if (Limit is > 0 and var limit && _total >= limit) Evict(limit, true);
    }

    /// <summary>
    /// Evicts by the sizes last measured (CONFIG SET maxmemory-clients: Redis's evictClients
    /// uses the recorded usage; the client running CONFIG SET is not re-measured mid-command).
    /// </summary>
    public void EvictIfNeeded()
    {
        if (Limit is > 0 and var limit && _total >= limit) Evict(limit, true);
    }

    private void Evict(long limit, bool removeNow)
    {
        var candidates = new List<Client>();
        foreach (var c in _server.Clients)
        {
            if (c.TrackedMemory > 0 && (c.Flags & ClientFlags.NoEvict) == 0) candidates.Add(c);
        }
        if (_total < limit) return;
        candidates.Sort(static (a, b) => b.TrackedMemory.CompareTo(a.TrackedMemory));
        foreach (var c in candidates)
        {
            if (_total < limit) return;
            _server.Log.Notice("Evicting client: " + _server.DescribeClient(c));
            _server.Stats.EvictedClients++;
            Remove(c);
            c.Flags |= ClientFlags.CloseAsap;
            c.Close();
            if (removeNow) _server.RemoveClosedClient(c);
        }
        if (_total >= limit) _server.Log.Warning("Over client maxmemory after evicting all evictable clients");
    }
}
