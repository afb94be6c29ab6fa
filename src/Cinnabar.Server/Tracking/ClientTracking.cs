using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Tracking;

/// <summary>A tracking client's mode (Redis's CLIENT_TRACKING_* flags and redirection).</summary>
public sealed class TrackingState
{
    public bool Bcast;
    public bool OptIn;
    public bool OptOut;
    public bool NoLoop;
    /// <summary>CLIENT CACHING yes (OPTIN) / no (OPTOUT) given for the next command or transaction.</summary>
    public bool Caching;
    public bool BrokenRedirect;
    /// <summary>Client id invalidations go to; 0 = this connection.</summary>
    public long RedirectId;
    /// <summary>BCAST prefixes, sorted as Redis's radix tree orders them (bytewise).</summary>
    public List<byte[]>? Prefixes;
}

/// <summary>
/// Server-assisted client side caching, as Redis 7.0's tracking.c.
/// Default mode: after a read-only command, the keys it named are remembered in one table
/// (key -> ids of the clients that may cache it, shared by all databases). When a key is modified
/// every client in its entry gets one invalidation and the entry is dropped, so a client hears of a
/// key once per read. Ids are cleaned lazily: a client that went away or stopped tracking is
/// skipped when its key is invalidated. The table is bounded by tracking-table-max-keys: over the
/// limit, random keys are invalidated as if modified (with growing effort while still over).
/// BCAST mode: modified keys matching a registered prefix collect per prefix, and are sent to the
/// prefix's clients as one array when the current batch of commands ends (Redis's beforeSleep).
/// Delivery: RESP3 push (>2 invalidate [keys]) on the connection, or with REDIRECT to another
/// client: a push if it speaks RESP3, else a message on __redis__:invalidate if it is subscribed.
/// An invalidation for the client whose command is running is held until its reply is written
/// (after the outermost call), so it never interleaves with a reply or a transaction's replies.
/// Everything runs under the server's execution lock.
/// </summary>
public sealed class ClientTracking
{
    private static readonly byte[] ChannelName = "__redis__:invalidate"u8.ToArray();
    private readonly RedisServer _server;
    private readonly ByteTable<HashSet<long>> _table = new();
    // Sorted by prefix bytes, like Redis's PrefixTable radix tree.
    private readonly List<PrefixState> _prefixes = new();
    // Invalidations for the current client, sent after its command's reply (null = flush).
    private readonly List<byte[]?> _pending = new();
    private long _totalItems;
    private int _limitTimeouts;
    private int _callDepth;

    private sealed class PrefixState(byte[] prefix)
    {
        public byte[] Prefix { get; } = prefix;
        // Keys modified since the last broadcast -> the client that last modified each (for NOLOOP).
        public ByteTable<Client?> Keys { get; } = new();
        public List<Client> Clients { get; } = new();
    }

    public ClientTracking(RedisServer server) => _server = server;

    public int TrackingClients { get; private set; }
    public long TotalKeys => _table.Count;
    public long TotalItems => _totalItems;
    public int TotalPrefixes => _prefixes.Count;

    /// <summary>The client whose command (or transaction, or script) is running (Redis's current_client).</summary>
    public Client? CurrentClient { get; private set; }

    /// <summary>The client running the innermost command: the script client inside a script.</summary>
    public Client? ExecutingClient { get; private set; }

    /// <summary>True when a key modification may have to be reported to someone.</summary>
    public bool Active => _table.Count > 0 || _prefixes.Count > 0;

    // ------------------------------------------------------------------ call hooks

    /// <summary>Before a command's handler; returns the state <see cref="ExitCall"/> restores.</summary>
    public Client? EnterCall(Client c)
    {
        if (_callDepth++ == 0) CurrentClient = c;
        var outer = ExecutingClient;
        ExecutingClient = c;
        return outer;
    }

    /// <summary>After a command's handler and reply: the outermost call flushes held invalidations.</summary>
    public void ExitCall(Client? outer)
    {
        ExecutingClient = outer;
        if (--_callDepth > 0) return;
        var current = CurrentClient;
        CurrentClient = null;
        if (_pending.Count == 0) return;
        if (current == null || current.IsClosed)
        {
            _pending.Clear();
            return;
        }
        // Sent with CurrentClient cleared: these go out now, not held again.
        foreach (var key in _pending)
        {
            if (key == null) SendNull(current);
            else SendKey(current, key);
        }
        _pending.Clear();
    }

    /// <summary>
    /// After a read-only command (Redis's call()): remembers the keys it named for the client, or
    /// for a script's caller the keys the script declared. EVAL_RO/EVALSHA_RO/FCALL_RO themselves
    /// are skipped; the read commands they run count instead.
    /// </summary>
    public void AfterReadOnlyCommand(Client c, CommandDef cmd)
    {
        if (cmd.Parent == null && cmd.Name is "eval_ro" or "evalsha_ro" or "fcall_ro") return;
        var caller = (c.Flags & ClientFlags.Lua) != 0 && CurrentClient != null ? CurrentClient : c;
        var st = caller.Tracking;
        if (st == null || st.Bcast) return;
        RememberKeys(caller, st);
    }

    private void RememberKeys(Client c, TrackingState st)
    {
        if ((st.OptIn && !st.Caching) || (st.OptOut && st.Caching)) return;
        var cmd = c.Context.Command;
        var args = c.Context.Args;
        // Shard channels are keys for routing only (SSUBSCRIBE ...): not tracked.
        if (cmd == null || cmd.Is(CommandFlags.PubSub)) return;
        var indexes = cmd.GetKeyIndexes(args);
        foreach (int i in indexes)
        {
            if (i >= args.Count) continue;
            ref var ids = ref _table.GetOrAddRef(args[i], null, out _);
            ids ??= new HashSet<long>();
            if (ids.Add(c.Id)) _totalItems++;
        }
    }

    /// <summary>CLIENT CACHING lasts for one command, or one transaction (resetClient).</summary>
    public static void AfterCommandProcessed(Client c, ReadOnlySpan<byte> commandName)
    {
        var st = c.Tracking;
        if (st == null || !st.Caching) return;
        if ((c.Flags & ClientFlags.Multi) != 0) return;
        if (System.Text.Ascii.EqualsIgnoreCase(commandName, "client"u8)) return;
        st.Caching = false;
    }

    // ------------------------------------------------------------------ enable / disable

    public void Enable(Client c, long redirectId, bool bcast, bool optIn, bool optOut, bool noLoop, List<byte[]> prefixes)
    {
        var st = c.Tracking;
        if (st == null)
        {
            st = new TrackingState();
            c.Tracking = st;
            c.Flags |= ClientFlags.Tracking;
            TrackingClients++;
        }
        // Like enableTracking: CACHING survives, the other flags are set anew.
        st.BrokenRedirect = st.Bcast = st.OptIn = st.OptOut = st.NoLoop = false;
        st.RedirectId = redirectId;
        if (bcast)
        {
            st.Bcast = true;
            if (prefixes.Count == 0) AddPrefix(c, st, []);
            foreach (var p in prefixes) AddPrefix(c, st, p);
        }
        st.OptIn = optIn;
        st.OptOut = optOut;
        st.NoLoop = noLoop;
    }

    public void Disable(Client c)
    {
        var st = c.Tracking;
        if (st == null) return;
        if (st.Bcast && st.Prefixes != null)
        {
            foreach (var p in st.Prefixes)
            {
                int i = FindPrefix(p);
                if (i < 0) continue;
                var ps = _prefixes[i];
                ps.Clients.Remove(c);
                if (ps.Clients.Count == 0) _prefixes.RemoveAt(i);
            }
        }
        c.Tracking = null;
        c.Flags &= ~ClientFlags.Tracking;
        TrackingClients--;
    }

    /// <summary>
    /// checkPrefixCollisionsOrReply: two prefixes collide when one starts the other. Returns the
    /// error text, or null. <paramref name="stillEnable"/> mirrors Redis 7.0, which goes on to enable
    /// tracking (and also replies +OK) when the collision is between two new prefixes after the first.
    /// </summary>
    public static string? CheckPrefixCollisions(TrackingState? st, List<byte[]> prefixes, out bool stillEnable)
    {
        stillEnable = false;
        for (int i = 0; i < prefixes.Count; i++)
        {
            if (st?.Prefixes != null)
            {
                foreach (var existing in st.Prefixes)
                {
                    if (Overlap(existing, prefixes[i]))
                        return Errors.TrackingPrefixOverlapsExisting(CString(prefixes[i]), CString(existing));
                }
            }
            for (int j = i + 1; j < prefixes.Count; j++)
            {
                if (Overlap(prefixes[i], prefixes[j]))
                {
                    stillEnable = i > 0;
                    return Errors.TrackingPrefixOverlapsAnother(CString(prefixes[i]), CString(prefixes[j]));
                }
            }
        }
        return null;
    }

    private static bool Overlap(byte[] a, byte[] b)
    {
        int n = Math.Min(a.Length, b.Length);
        return a.AsSpan(0, n).SequenceEqual(b.AsSpan(0, n));
    }

    // Redis formats the prefixes with %s: the text stops at a NUL byte.
    private static string CString(byte[] b)
    {
        int n = Array.IndexOf(b, (byte)0);
        return System.Text.Encoding.UTF8.GetString(b, 0, n < 0 ? b.Length : n);
    }

    private void AddPrefix(Client c, TrackingState st, byte[] prefix)
    {
        int i = FindPrefix(prefix);
        PrefixState ps;
        if (i >= 0) ps = _prefixes[i];
        else
        {
            ps = new PrefixState(prefix);
            _prefixes.Insert(~i, ps);
        }
        if (ps.Clients.Contains(c)) return;
        ps.Clients.Add(c);
        st.Prefixes ??= new List<byte[]>();
        int at = st.Prefixes.BinarySearch(prefix, ByteOrder.Instance);
        if (at < 0) st.Prefixes.Insert(~at, prefix);
    }

    private int FindPrefix(byte[] prefix)
    {
        int lo = 0, hi = _prefixes.Count - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            int cmp = _prefixes[mid].Prefix.AsSpan().SequenceCompareTo(prefix);
            if (cmp == 0) return mid;
            if (cmp < 0) lo = mid + 1;
            else hi = mid - 1;
        }
        return ~lo;
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();
        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }

    // ------------------------------------------------------------------ invalidation

    /// <summary>
    /// A key changed (signalModifiedKey): tells every client that may cache it, and queues it for
    /// the BCAST clients of matching prefixes. <paramref name="modifier"/> is the client that ran
    /// the change (null for expiry and eviction); NOLOOP BCAST clients don't hear of their own.
    /// </summary>
    public void InvalidateKey(Client? modifier, ReadOnlySpan<byte> key, bool bcast = true)
    {
        if (bcast && _prefixes.Count > 0) RememberKeyToBroadcast(modifier, key);
        int idx = _table.FindIndex(key);
        if (idx < 0) return;
        var ids = _table.ValueAt(idx);
        foreach (long id in ids)
        {
            var target = _server.FindClient(id);
            var st = target?.Tracking;
            if (target == null || st == null || st.Bcast) continue;
            if (st.NoLoop && target == CurrentClient) continue;
            if (target == CurrentClient && _callDepth > 0) _pending.Add(key.ToArray());
            else SendKey(target, key);
        }
        _totalItems -= ids.Count;
        // The entry (its key copy and id set) is freed now for used_memory's sake, as in Redis:
        // maxmemory eviction would otherwise see the tracking table of the keys it just evicted
        // still counted, and evict again.
        RedisServer.NoteDropped(ids, TrackedEntryBytes(key.Length, ids.Count));
        _table.Remove(key);
    }

    // A table entry: the stored key copy, the HashSet<long> of client ids (its buckets and
    // entries), and the table's own slot.
    private static long TrackedEntryBytes(int keyLength, int ids) => 24 + keyLength + 80 + 28L * Math.Max(ids, 3) + 32;

    private void RememberKeyToBroadcast(Client? modifier, ReadOnlySpan<byte> key)
    {
        foreach (var ps in _prefixes)
        {
            if (ps.Prefix.Length > key.Length || !key.StartsWith(ps.Prefix)) continue;
            ref var slot = ref ps.Keys.GetOrAddRef(key, null, out _);
            slot = modifier;
        }
    }

    /// <summary>FLUSHDB/FLUSHALL: every tracking client hears "all keys" (a null), and the table empties.</summary>
    public void InvalidateAllOnFlush()
    {
        if (TrackingClients > 0)
        {
            foreach (var c in _server.Clients)
            {
                if (c.Tracking == null) continue;
                if (c == CurrentClient && _callDepth > 0) _pending.Add(null);
                else SendNull(c);
            }
        }
        _table.Clear();
        _totalItems = 0;
    }

    /// <summary>
    /// trackingLimitUsedSlots: while the table holds more than tracking-table-max-keys keys,
    /// invalidates random ones (as if modified, without BCAST). The effort grows each time the
    /// limit could not be reached, and resets once it is.
    /// </summary>
    public void EnforceLimit()
    {
        long maxKeys = _server.Config.TrackingTableMaxKeys;
        if (maxKeys == 0) return;
        if (_table.Count <= maxKeys)
        {
            _limitTimeouts = 0;
            return;
        }
        int effort = 100 * (_limitTimeouts + 1);
        while (effort-- > 0)
        {
            int idx = _table.RandomIndex(_server.Random);
            if (idx < 0) break;
            InvalidateKey(null, _table.KeyAt(idx), bcast: false);
            if (_table.Count <= maxKeys)
            {
                _limitTimeouts = 0;
                return;
            }
        }
        _limitTimeouts++;
    }

    /// <summary>
    /// trackingBroadcastInvalidationMessages: sends each prefix's modified keys to its clients (run
    /// once a batch of commands ends, and after the cron).
    /// </summary>
    public void BroadcastPending()
    {
        if (TrackingClients == 0 || _prefixes.Count == 0) return;
        foreach (var ps in _prefixes)
        {
            if (ps.Keys.Count == 0) continue;
            var keys = new List<KeyValuePair<byte[], Client?>>(ps.Keys.Count);
            foreach (var kv in ps.Keys) keys.Add(kv);
            keys.Sort(static (a, b) => a.Key.AsSpan().SequenceCompareTo(b.Key));
            byte[]? common = null;
            foreach (var c in ps.Clients.ToArray())
            {
                if (c.Tracking is { NoLoop: true })
                {
                    var own = BuildKeyArray(keys, c);
                    if (own != null) SendArray(c, own);
                }
                else SendArray(c, common ??= BuildKeyArray(keys, null)!);
            }
            ps.Keys.Clear();
        }
    }

    private static byte[]? BuildKeyArray(List<KeyValuePair<byte[], Client?>> keys, Client? exclude)
    {
        int count = 0;
        foreach (var kv in keys)
            if (exclude == null || kv.Value != exclude) count++;
        if (count == 0 && exclude != null) return null;
        var w = new RespWriter(64 + keys.Count * 16);
        w.WriteArrayHeader(count);
        foreach (var kv in keys)
            if (exclude == null || kv.Value != exclude) w.WriteBulk(kv.Key);
        return w.Written.ToArray();
    }

    // ------------------------------------------------------------------ delivery

    private enum Payload { Key, Null, Array }

    private void SendKey(Client c, ReadOnlySpan<byte> key) => Send(c, Payload.Key, key);

    // The "all keys" null is in the tracking client's protocol, even when redirected (as Redis).
    private void SendNull(Client c) => Send(c, Payload.Null, c.Reply.Protocol >= 3 ? "_\r\n"u8 : "$-1\r\n"u8);

    private void SendArray(Client c, byte[] array) => Send(c, Payload.Array, array);

    /// <summary>sendTrackingMessage: to the client, or to its redirection target.</summary>
    private void Send(Client c, Payload kind, ReadOnlySpan<byte> data)
    {
        var st = c.Tracking;
        var target = c;
        bool redirected = false;
        if (st != null && st.RedirectId != 0)
        {
            var redir = FindLiveClient(st.RedirectId);
            if (redir == null)
            {
                st.BrokenRedirect = true;
                if (c.Reply.Protocol >= 3)
                {
                    lock (c.OutputLock)
                    {
                        c.Reply.WritePushHeader(2);
                        c.Reply.WriteBulk("tracking-redir-broken"u8);
                        c.Reply.WriteInteger(st.RedirectId);
                    }
                    c.ScheduleFlush();
                }
                return;
            }
            target = redir;
            redirected = true;
        }
        lock (target.OutputLock)
        {
            var w = target.Reply;
            if (w.Protocol >= 3)
            {
                w.WritePushHeader(2);
                w.WriteBulk("invalidate"u8);
            }
            else if (redirected && target.SubscriptionCount > 0)
            {
                w.WriteArrayHeader(3);
                w.WriteBulk("message"u8);
                w.WriteBulk(ChannelName);
            }
            else return;
            if (kind == Payload.Key)
            {
                w.WriteArrayHeader(1);
                w.WriteBulk(data);
            }
            else w.WriteRaw(data);
        }
        target.ScheduleFlush();
    }

    /// <summary>A client that exists and is not on its way out (QUIT already answered, killed).</summary>
    private Client? FindLiveClient(long id)
    {
        var c = _server.FindClient(id);
        if (c == null || c.IsClosed || (c.Flags & (ClientFlags.CloseAfterReply | ClientFlags.CloseAsap)) != 0) return null;
        return c;
    }
}
