using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// The legacy slot-migration path (CLUSTER SETSLOT IMPORTING / MIGRATING / NODE, GETKEYSINSLOT,
/// MIGRATE with RESTORE-ASKING, ASK and MOVED redirections) with real processes, driven by
/// Debian's `redis-cli --cluster` 7.0.15 exactly as an operator would: reshard under write load,
/// reshard between redis-server and Cinnabar, add-node + rebalance, emptying and del-node of a
/// master, fix of a half-migrated slot, import from a standalone server.
/// Set CINNABAR_RESHARD_WITH_REDIS=1 to run the very same steps on redis-server 7.0 only: that
/// tells a Cinnabar difference from a test mistake.
/// </summary>
[Collection("cluster")]
public sealed class ClusterReshardingTests : IDisposable
{
    private static readonly bool AllRedis = Environment.GetEnvironmentVariable("CINNABAR_RESHARD_WITH_REDIS") == "1";

    private readonly List<ServerProcess> _nodes = new();
    private readonly ITestOutputHelper _log;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public ClusterReshardingTests(ITestOutputHelper log) => _log = log;

    public void Dispose()
    {
        foreach (var n in _nodes) n.Dispose();
    }

    // ---- processes and redis-cli ------------------------------------------------------------------

    private ServerProcess Start(bool redis = false, bool cluster = true)
    {
        redis |= AllRedis;
        if (redis && !ServerProcess.RedisAvailable) throw new InvalidOperationException("redis-server is required (.ci/run installs it)");
        string[] args = cluster
            ? ["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--appendonly", "no"]
            : ["--appendonly", "no"];
        var n = ServerProcess.Start(redis, args);
        _nodes.Add(n);
        return n;
    }

    private static string Addr(ServerProcess n) => $"127.0.0.1:{n.Port}";

    private static string Call(ServerProcess n, params object[] args)
    {
        using var c = n.Connect();
        return c.Call(args).ToString();
    }

    private static string MyId(ServerProcess n) => Call(n, "CLUSTER", "MYID");

    private static readonly Regex Colour = new("\u001b\\[[0-9;]*m", RegexOptions.Compiled);

    /// <summary>Runs redis-cli (stdin closed, or fed the given answers), output without colour codes.</summary>
    private (int Code, string Output) Cli(string[] args, string stdin = "", int timeoutMs = 120_000)
    {
        var sw = Stopwatch.StartNew();
        var (code, stdout, stderr) = Tools.Run("redis-cli", args, stdin, timeoutMs);
        _log.WriteLine($"[{_clock.Elapsed.TotalSeconds:F1}s] redis-cli {string.Join(' ', args)} -> exit {code} in {sw.ElapsedMilliseconds} ms");
        return (code, Colour.Replace(stdout + stderr, ""));
    }

    private void CliOk(string[] args, int timeoutMs = 120_000)
    {
        var (code, output) = Cli(args, timeoutMs: timeoutMs);
        Assert.True(code == 0, $"redis-cli {string.Join(' ', args)} exited {code}:\n{Tail(output)}");
    }

    private static string Tail(string s, int lines = 60)
    {
        var all = s.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Three masters made by `redis-cli --cluster create` (0-5460, 5461-10922, 10923-16383
    /// in the order given), every node ok and `--cluster check` passing.</summary>
    private List<ServerProcess> CreateCluster(params bool[] redis)
    {
        var masters = redis.Select(r => Start(r)).ToList();
        CliOk(["--cluster", "create", .. masters.Select(Addr), "--cluster-replicas", "0", "--cluster-yes"]);
        WaitAllOk(masters);
        CheckCluster(masters[0]);
        return masters;
    }

    private static void WaitAllOk(IEnumerable<ServerProcess> nodes) =>
        Tools.WaitUntil(() => nodes.All(n => Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(60), "cluster_state:ok on every node");

    /// <summary>`redis-cli --cluster check` must pass: every node agrees, no open slot, all covered.</summary>
    private string CheckCluster(ServerProcess any)
    {
        string last = "";
        try
        {
            Tools.WaitUntil(() =>
            {
                var (code, output) = Cli(["--cluster", "check", Addr(any)]);
                last = output;
                return code == 0 && output.Contains("[OK] All nodes agree about slots configuration.", StringComparison.Ordinal)
                    && output.Contains("[OK] All 16384 slots covered.", StringComparison.Ordinal)
                    && !output.Contains("[WARNING]", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(60), "redis-cli --cluster check to pass");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(e.Message + ", last output:\n" + Tail(last), e);
        }
        return last;
    }

    // ---- slot maps ----------------------------------------------------------------------------------

    /// <summary>Slots listed on one CLUSTER NODES line (ranges only; "[slot-&gt;-id]" markers are not owned).</summary>
    private static List<int> SlotsOfLine(string line)
    {
        var slots = new List<int>();
        var f = line.Split(' ');
        for (int i = 8; i < f.Length; i++)
        {
            if (f[i].Length == 0 || f[i][0] == '[') continue;
            int dash = f[i].IndexOf('-');
            int a = int.Parse(dash < 0 ? f[i] : f[i][..dash]), b = dash < 0 ? a : int.Parse(f[i][(dash + 1)..]);
            for (int s = a; s <= b; s++) slots.Add(s);
        }
        return slots;
    }

    private static string[] NodeLines(ServerProcess viewer) =>
        Call(viewer, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Node id -> number of slots, as `viewer` sees the cluster.</summary>
    private static Dictionary<string, int> SlotCounts(ServerProcess viewer) =>
        NodeLines(viewer).ToDictionary(l => l.Split(' ')[0], l => SlotsOfLine(l).Count);

    private static List<int> OwnSlots(ServerProcess n) =>
        SlotsOfLine(NodeLines(n).Single(l => l.Contains("myself", StringComparison.Ordinal)));

    /// <summary>The slot count of `id`'s shard in CLUSTER SHARDS (slots come as start/end pairs).</summary>
    private static long ShardSlotCount(ServerProcess viewer, string id)
    {
        using var c = viewer.Connect();
        foreach (var shard in c.Call("CLUSTER", "SHARDS").Items!)
        {
            var fields = shard.Items!;
            var slots = fields[fields.FindIndex(r => r.ToString() == "slots") + 1].Items!;
            var nodes = fields[fields.FindIndex(r => r.ToString() == "nodes") + 1].Items!;
            if (!nodes.Any(node => node.Items!.Any(v => v.ToString() == id))) continue;
            long count = 0;
            for (int i = 0; i + 1 < slots.Count; i += 2) count += slots[i + 1].Integer - slots[i].Integer + 1;
            return count;
        }
        throw new InvalidOperationException($"{id} is in no shard of CLUSTER SHARDS");
    }

    /// <summary>Waits until every viewer sees exactly these slot counts (ids not listed: not checked).</summary>
    private static void WaitSlotCounts(IEnumerable<ServerProcess> viewers, Dictionary<string, int> expected, string what)
    {
        string last = "";
        try
        {
            Tools.WaitUntil(() => viewers.All(v =>
            {
                var seen = SlotCounts(v);
                last = $"{v.Port}: " + string.Join(", ", seen.Select(kv => $"{kv.Key[..8]}={kv.Value}"));
                return expected.All(kv => seen.TryGetValue(kv.Key, out int n) && n == kv.Value);
            }), TimeSpan.FromSeconds(30), what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; expected {string.Join(", ", expected.Select(kv => $"{kv.Key[..8]}={kv.Value}"))}; last seen {last}", e);
        }
    }

    private static void AssertNoOpenSlots(IEnumerable<ServerProcess> nodes)
    {
        foreach (var n in nodes)
        {
            string text = Call(n, "CLUSTER", "NODES");
            Assert.False(text.Contains("->-", StringComparison.Ordinal) || text.Contains("-<-", StringComparison.Ordinal),
                $"{Addr(n)} still has a slot importing or migrating:\n{text}");
        }
    }

    /// <summary>
    /// Per-slot key counts (COUNTKEYSINSLOT at each slot's owner) equal those of the expected key
    /// names, every node's owned slots add up to its DBSIZE (no key left in a slot it gave away),
    /// and the masters together cover all 16384 slots.
    /// </summary>
    private static void AssertKeysPerSlot(IEnumerable<ServerProcess> masters, IEnumerable<string> keys)
    {
        var expected = new int[ClusterClient.SlotCount];
        foreach (var k in keys) expected[ClusterClient.Slot(k)]++;
        var actual = new int[ClusterClient.SlotCount];
        var covered = new bool[ClusterClient.SlotCount];
        foreach (var n in masters)
        {
            var own = OwnSlots(n);
            using var c = n.Connect();
            long sum = 0;
            foreach (var chunk in own.Chunk(1000))
            {
                foreach (int s in chunk) c.Send("CLUSTER", "COUNTKEYSINSLOT", s.ToString());
                foreach (int s in chunk)
                {
                    var r = c.Read();
                    Assert.False(r.IsError, $"COUNTKEYSINSLOT {s} on {Addr(n)}: {r}");
                    Assert.False(covered[s], $"slot {s} owned by two masters");
                    covered[s] = true;
                    actual[s] = (int)r.Integer;
                    sum += r.Integer;
                }
            }
            long dbsize = c.Call("DBSIZE").Integer;
            Assert.True(sum == dbsize, $"{Addr(n)}: its {own.Count} slots hold {sum} keys but DBSIZE is {dbsize}");
        }
        var uncovered = Enumerable.Range(0, ClusterClient.SlotCount).Where(s => !covered[s]).Take(10).ToList();
        Assert.True(uncovered.Count == 0, "slots owned by no master: " + string.Join(",", uncovered));
        var wrong = Enumerable.Range(0, ClusterClient.SlotCount).Where(s => expected[s] != actual[s]).ToList();
        Assert.True(wrong.Count == 0, $"{wrong.Count} slots with the wrong key count, e.g. "
            + string.Join(", ", wrong.Take(10).Select(s => $"slot {s}: {actual[s]} keys, expected {expected[s]}")));
    }

    // ---- data ---------------------------------------------------------------------------------------

    private static List<(string Key, string Value)> Strings(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => ($"{prefix}:{i}", $"v{i}-{prefix}")).ToList();

    private static void AssertStrings(ClusterClient client, List<(string Key, string Value)> kvs, string what)
    {
        var got = client.GetMany(kvs.Select(kv => kv.Key).ToList());
        var wrong = kvs.Select((kv, i) => (kv.Key, kv.Value, Got: got[i])).Where(x => x.Got != x.Value).ToList();
        Assert.True(wrong.Count == 0, $"{what}: {wrong.Count} of {kvs.Count} keys wrong, e.g. "
            + string.Join(", ", wrong.Take(10).Select(x => $"{x.Key}={x.Got ?? "(nil)"} (expected {x.Value})")));
    }

    /// <summary>Hash tags whose slot is in `slots`, one per key so the keys spread over several slots.</summary>
    private static List<string> TagsIn(IReadOnlySet<int> slots, string prefix, int count)
    {
        var tags = new List<string>();
        for (int i = 0; tags.Count < count; i++)
            if (slots.Contains(ClusterClient.Slot($"{prefix}{i}"))) tags.Add($"{prefix}{i}");
        return tags;
    }

    /// <summary>`perSlot` names (prefix + number) in each of `slots`.</summary>
    private static List<string> NamesPerSlot(IReadOnlySet<int> slots, string prefix, int perSlot)
    {
        var names = new List<string>();
        var have = new Dictionary<int, int>();
        for (int i = 0; have.Count < slots.Count || have.Values.Any(n => n < perSlot); i++)
        {
            string name = $"{prefix}{i}";
            int slot = ClusterClient.Slot(name);
            if (!slots.Contains(slot) || have.GetValueOrDefault(slot) == perSlot) continue;
            have[slot] = have.GetValueOrDefault(slot) + 1;
            names.Add(name);
        }
        return names;
    }

    private const long TtlMs = 600_000;

    /// <summary>
    /// Keys of every type, in a small and a large encoding each (listpack/intset against
    /// hashtable/quicklist/skiplist, a string past MIGRATE's 64 KiB chunk), a stream with deleted
    /// entries, a consumer group and pending entries; about half with a TTL. Returns the key names
    /// and which of them have the TTL.
    /// </summary>
    private static List<(string Key, bool Ttl)> WriteTypedKeys(ClusterClient c, List<string> tags)
    {
        var keys = new List<(string Key, bool Ttl)>();
        int t = 0;
        string Next(string kind, bool ttl)
        {
            string key = $"{{{tags[t++]}}}:{kind}";
            keys.Add((key, ttl));
            return key;
        }
        void Ok(params object[] args)
        {
            var r = c.Call(args);
            Assert.False(r.IsError, $"{string.Join(' ', args.Take(3))}: {r}");
        }
        Ok("SET", Next("str", true), "hello");
        Ok("SET", Next("int", false), "1234567");
        Ok("SET", Next("big", true), new string('x', 150_000) + "end");
        string h = Next("hash-small", true);
        Ok("HSET", h, "a", "1", "b", "2", "c", "3");
        string hb = Next("hash-big", false);
        Ok(["HSET", hb, .. Enumerable.Range(0, 300).SelectMany(i => new object[] { $"f{i}", $"value-{i}" })]);
        Ok("RPUSH", Next("list-small", false), "a", "b", "c", "a");
        Ok(["RPUSH", Next("list-big", true), .. Enumerable.Range(0, 3000).Select(i => (object)$"element-{i}")]);
        Ok(["SADD", Next("set-int", true), .. Enumerable.Range(0, 100).Select(i => (object)(i * 7))]);
        Ok(["SADD", Next("set-big", false), .. Enumerable.Range(0, 300).Select(i => (object)$"member-{i}")]);
        Ok("ZADD", Next("zset-small", true), "1.5", "a", "-2", "b", "3e10", "c");
        Ok(["ZADD", Next("zset-big", false), .. Enumerable.Range(0, 300).SelectMany(i => new object[] { (i * 0.25).ToString(System.Globalization.CultureInfo.InvariantCulture), $"m{i}" })]);
        string s = Next("stream", true);
        for (int i = 1; i <= 120; i++) Ok("XADD", s, $"{i}-1", "field", $"value-{i}", "n", i.ToString());
        Ok("XDEL", s, "7-1", "8-1");
        Ok("XGROUP", "CREATE", s, "group1", "0");
        Ok("XGROUP", "CREATE", s, "group2", "50-1");
        Ok("XREADGROUP", "GROUP", "group1", "alice", "COUNT", "10", "STREAMS", s, ">");
        Ok("XREADGROUP", "GROUP", "group1", "bob", "COUNT", "5", "STREAMS", s, ">");
        Ok("XACK", s, "group1", "1-1", "2-1");
        foreach (var (key, ttl) in keys)
            if (ttl) Assert.Equal("1", c.Call("PEXPIRE", key, TtlMs.ToString()).ToString());
        return keys;
    }

    /// <summary>The logical value of a key, independent of encoding and implementation.</summary>
    private static string Snapshot(ClusterClient c, string key)
    {
        string type = c.Call("TYPE", key).ToString();
        string body = type switch
        {
            "string" => c.Call("GET", key).ToString(),
            "hash" => string.Join(",", c.Call("HGETALL", key).Items!.Chunk(2).Select(p => $"{p[0]}={p[1]}").Order(StringComparer.Ordinal)),
            "list" => c.Call("LRANGE", key, "0", "-1").ToString(),
            "set" => string.Join(",", c.Call("SMEMBERS", key).Items!.Select(m => m.ToString()).Order(StringComparer.Ordinal)),
            "zset" => c.Call("ZRANGE", key, "0", "-1", "WITHSCORES").ToString(),
            "stream" => StreamSnapshot(c, key),
            _ => "",
        };
        return $"{type}:{body}";
    }

    private static string StreamSnapshot(ClusterClient c, string key)
    {
        var info = c.Call("XINFO", "STREAM", key).Items!;
        string Field(string name) => info[info.FindIndex(r => r.ToString() == name) + 1].ToString();
        return string.Join("|",
            c.Call("XRANGE", key, "-", "+").ToString(),
            $"length={Field("length")} last={Field("last-generated-id")} maxdeleted={Field("max-deleted-entry-id")} added={Field("entries-added")} groups={Field("groups")}",
            c.Call("XINFO", "GROUPS", key).ToString(),
            c.Call("XPENDING", key, "group1").ToString());
    }

    // ---- a cluster-aware client ---------------------------------------------------------------------

    /// <summary>
    /// A tiny cluster client: routes by its slot map (from CLUSTER SLOTS), follows -MOVED (and
    /// remembers the new owner), follows -ASK with ASKING for that one command, waits 10 ms and
    /// retries on -TRYAGAIN. Other errors are returned to the caller. One thread at a time.
    /// </summary>
    private sealed class ClusterClient : IDisposable
    {
        public const int SlotCount = 16384;
        private readonly Dictionary<int, RespConnection> _connections = new();
        private readonly int[] _ownerPort = new int[SlotCount];
        public int Moved { get; private set; }
        public int Asked { get; private set; }
        public int TryAgain { get; private set; }

        /// <param name="standalone">a non-cluster server: every slot is the seed's</param>
        public ClusterClient(int seedPort, bool standalone = false)
        {
            Array.Fill(_ownerPort, seedPort);
            if (standalone) return;
            foreach (var range in Connection(seedPort).Call("CLUSTER", "SLOTS").Items!)
            {
                int port = (int)range.Items![2].Items![1].Integer;
                for (long s = range.Items[0].Integer; s <= range.Items[1].Integer; s++) _ownerPort[s] = port;
            }
        }

        public static int Slot(string key)
        {
            int open = key.IndexOf('{');
            if (open >= 0)
            {
                int close = key.IndexOf('}', open + 1);
                if (close > open + 1) key = key[(open + 1)..close];
            }
            ushort crc = 0;
            foreach (byte b in Encoding.UTF8.GetBytes(key))
            {
                crc ^= (ushort)(b << 8);
                for (int i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
            }
            return crc & (SlotCount - 1);
        }

        private RespConnection Connection(int port)
        {
            if (!_connections.TryGetValue(port, out var c))
            {
                c = new RespConnection(port, 15000);
                _connections[port] = c;
            }
            return c;
        }

        private static int PortOf(string redirect) => int.Parse(redirect[(redirect.LastIndexOf(':') + 1)..]);

        /// <summary>Runs a command whose first argument after the name is its key.</summary>
        public Reply Call(params object[] args)
        {
            int slot = Slot(Convert.ToString(args[1], System.Globalization.CultureInfo.InvariantCulture)!);
            int port = _ownerPort[slot];
            bool asking = false;
            for (int attempt = 0; attempt < 500; attempt++)
            {
                Reply r;
                var c = Connection(port);
                try
                {
                    if (asking)
                    {
                        c.Send("ASKING");
                        c.Send(args);
                        var ok = c.Read();
                        r = c.Read();
                        if (ok.ToString() != "OK") throw new InvalidOperationException($"ASKING on {port}: {ok}");
                    }
                    else
                    {
                        r = c.Call(args);
                    }
                }
                catch (IOException)
                {
                    _connections.Remove(port);
                    c.Dispose();
                    throw;
                }
                asking = false;
                if (!r.IsError) return r;
                string e = r.ToString();
                if (e.StartsWith("MOVED ", StringComparison.Ordinal))
                {
                    Moved++;
                    port = PortOf(e);
                    _ownerPort[int.Parse(e.Split(' ')[1])] = port;
                }
                else if (e.StartsWith("ASK ", StringComparison.Ordinal))
                {
                    Asked++;
                    port = PortOf(e);
                    asking = true;
                }
                else if (e.StartsWith("TRYAGAIN", StringComparison.Ordinal))
                {
                    TryAgain++;
                    Thread.Sleep(10);
                }
                else
                {
                    return r;
                }
            }
            throw new InvalidOperationException($"too many redirections for {string.Join(' ', args.Take(2))}");
        }

        /// <summary>Pipelines commands per owner (by the slot map); a redirected one is retried with Call.</summary>
        private List<Reply> Pipelined(IReadOnlyList<object[]> commands)
        {
            var replies = new Reply[commands.Count];
            foreach (var group in Enumerable.Range(0, commands.Count).GroupBy(i => _ownerPort[Slot((string)commands[i][1])]))
            {
                var c = Connection(group.Key);
                foreach (var chunk in group.Chunk(500))
                {
                    foreach (int i in chunk) c.Send(commands[i]);
                    foreach (int i in chunk) replies[i] = c.Read();
                }
            }
            for (int i = 0; i < replies.Length; i++)
            {
                string e = replies[i].IsError ? replies[i].ToString() : "";
                if (e.StartsWith("MOVED ", StringComparison.Ordinal) || e.StartsWith("ASK ", StringComparison.Ordinal) || e.StartsWith("TRYAGAIN", StringComparison.Ordinal))
                    replies[i] = Call(commands[i]);
            }
            return replies.ToList();
        }

        public void SetMany(IEnumerable<(string Key, string Value)> kvs)
        {
            var replies = Pipelined(kvs.Select(kv => new object[] { "SET", kv.Key, kv.Value }).ToList());
            var bad = replies.FirstOrDefault(r => r.ToString() != "OK");
            Assert.True(bad == null, "SET failed: " + bad);
        }

        /// <summary>GET of every key; null for a missing one.</summary>
        public List<string?> GetMany(IReadOnlyList<string> keys)
        {
            var replies = Pipelined(keys.Select(k => new object[] { "GET", k }).ToList());
            return replies.Select(r =>
            {
                Assert.False(r.IsError, "GET failed: " + r);
                return r.IsNull ? null : r.ToString();
            }).ToList();
        }

        public void Dispose()
        {
            foreach (var c in _connections.Values) c.Dispose();
        }
    }

    /// <summary>
    /// Writes through a ClusterClient on its own thread until stopped, each write's value being
    /// its sequence number: SET of keys spread over all slots and, every other write, of "hot"
    /// keys in the slots being moved; MSET of key pairs sharing a hash tag (TRYAGAIN while their
    /// slot is split between two nodes); INCR of a few counters. A spotter thread polls the
    /// source's CLUSTER NODES for the slot being migrated ("[slot-&gt;-id]") and the hot writes
    /// and MSETs go to that slot while there is one, so they meet the slot half moved (ASK,
    /// TRYAGAIN, keys on both sides). The writer remembers the last acknowledged value of each key.
    /// A write whose outcome is unknown (an error other than a redirection, a dropped connection)
    /// is recorded as a failure and its keys are left out of the exact comparison.
    /// </summary>
    private sealed class Writer
    {
        public const int Counters = 32;
        private readonly int _seedPort;
        private readonly int _spreadCount;
        private readonly Thread _thread;
        private readonly Thread _spotter;
        private readonly int _sourcePort;
        private readonly Dictionary<int, List<int>> _hotBySlot = new();
        private readonly Dictionary<int, int> _pairBySlot = new();
        private volatile int _migratingSlot = -1;
        private volatile bool _stop;
        private long _ops;
        public int SlotsSpotted { get; private set; }
        public long WritesToSpottedSlot { get; private set; }
        public IReadOnlyList<string> Keys { get; }
        public IReadOnlyList<string> PairTags { get; }
        public string Prefix { get; }
        public long[] LastAcked { get; }
        public long[] PairAcked { get; }
        public long[] CounterAcked { get; } = new long[Counters];
        public HashSet<string> Uncertain { get; } = new();
        public List<string> Failures { get; } = new();
        public int Moved { get; private set; }
        public int Asked { get; private set; }
        public int TryAgain { get; private set; }

        public Writer(string prefix, IReadOnlyList<string> spread, IReadOnlyList<string> hot, IReadOnlyList<string> pairTags, int seedPort, int sourcePort)
        {
            Prefix = prefix;
            _seedPort = seedPort;
            _sourcePort = sourcePort;
            _spreadCount = spread.Count;
            Keys = spread.Concat(hot).ToList();
            PairTags = pairTags;
            LastAcked = new long[Keys.Count];
            Array.Fill(LastAcked, -1);
            PairAcked = new long[pairTags.Count];
            Array.Fill(PairAcked, -1);
            for (int i = spread.Count; i < Keys.Count; i++)
            {
                int slot = ClusterClient.Slot(Keys[i]);
                if (!_hotBySlot.TryGetValue(slot, out var list)) _hotBySlot[slot] = list = new List<int>();
                list.Add(i);
            }
            for (int i = 0; i < pairTags.Count; i++) _pairBySlot.TryAdd(ClusterClient.Slot(pairTags[i]), i);
            _thread = new Thread(Run) { IsBackground = true, Name = "reshard-writer" };
            _spotter = new Thread(Spot) { IsBackground = true, Name = "reshard-spotter" };
        }

        public long Ops => Interlocked.Read(ref _ops);
        public string Counter(int i) => $"{Prefix}:ctr:{i}";
        public static string PairKey(string tag, char which) => $"{{{tag}}}:{which}";

        public void Start()
        {
            _thread.Start();
            _spotter.Start();
        }

        public void Stop()
        {
            _stop = true;
            if (!_thread.Join(TimeSpan.FromSeconds(60)) || !_spotter.Join(TimeSpan.FromSeconds(30))) throw new TimeoutException("the writer did not stop");
        }

        private static readonly Regex MigratingMarker = new(@"\[(\d+)->-", RegexOptions.Compiled);

        private void Spot()
        {
            try
            {
                using var c = new RespConnection(_sourcePort);
                int last = -1;
                while (!_stop)
                {
                    var m = MigratingMarker.Match(c.Call("CLUSTER", "NODES").ToString());
                    int slot = m.Success ? int.Parse(m.Groups[1].Value) : -1;
                    if (slot >= 0 && slot != last) SlotsSpotted++;
                    last = slot;
                    _migratingSlot = slot;
                    Thread.Sleep(2);
                }
            }
            catch (Exception e)
            {
                Fail(["(spotter)"], e.ToString());
            }
        }
        private void Run()
        {
            try
            {
                using var client = new ClusterClient(_seedPort);
                for (long seq = 0; !_stop; seq++) WriteOne(client, seq);
            }
            catch (Exception e)
            {
                Fail(["(writer)"], e.ToString());
            }
        }

        private void WriteOne(ClusterClient client, long seq)
        {
            string value = seq.ToString();
            int hotCount = Keys.Count - _spreadCount;
            int i = (int)(seq / 10);
            int spotted = _migratingSlot;
            bool toSpotted = false;
            string[] keys;
            Action acknowledge;
            object[] command;
            switch (seq % 10)
            {
                case 9:
                    keys = [Counter(i % Counters)];
                    command = ["INCR", keys[0]];
                    acknowledge = () => CounterAcked[i % Counters]++;
                    break;
                case 7 when PairTags.Count > 0:
                    int p = i % PairTags.Count;
                    if (spotted >= 0 && _pairBySlot.TryGetValue(spotted, out int sp)) (p, toSpotted) = (sp, true);
                    keys = [PairKey(PairTags[p], 'a'), PairKey(PairTags[p], 'b')];
                    command = ["MSET", keys[0], value, keys[1], value];
                    acknowledge = () => PairAcked[p] = seq;
                    break;
                default:
                    int k = seq % 2 == 0 && hotCount > 0 ? _spreadCount + (int)(seq / 2 % hotCount) : (int)(seq / 2 % _spreadCount);
                    if (seq % 2 == 0 && spotted >= 0 && _hotBySlot.TryGetValue(spotted, out var inSlot)) (k, toSpotted) = (inSlot[(int)(seq / 2 % inSlot.Count)], true);
                    keys = [Keys[k]];
                    command = ["SET", keys[0], value];
                    acknowledge = () => LastAcked[k] = seq;
                    break;
            }
            try
            {
                var r = client.Call(command);
                if (r.IsError) Fail(keys, r.ToString());
                else acknowledge();
                if (toSpotted) WritesToSpottedSlot++;
            }
            catch (Exception e)
            {
                // Unknown outcome (a dropped connection, a timeout): the keys are left out of the comparison.
                Fail(keys, e.GetType().Name + ": " + e.Message);
                Thread.Sleep(50);
            }
            Interlocked.Increment(ref _ops);
            Moved = client.Moved;
            Asked = client.Asked;
            TryAgain = client.TryAgain;
        }

        private void Fail(string[] keys, string what)
        {
            lock (Failures)
            {
                Uncertain.UnionWith(keys);
                if (Failures.Count < 20) Failures.Add($"{string.Join(' ', keys)}: {what}");
            }
        }
    }

    // ---- tests --------------------------------------------------------------------------------------

    [Fact]
    public void Resharding_1000_slots_under_write_load_loses_no_acknowledged_write()
    {
        const int slotsToMove = 1000;
        var masters = CreateCluster(false, false, false);
        string src = MyId(masters[0]), dst = MyId(masters[1]), other = MyId(masters[2]);
        var before = SlotCounts(masters[0]);
        // redis-cli moves a single source's slots in ascending order: these are the ones that go.
        // 20 hot keys and an MSET pair in each of them make every slot take several
        // GETKEYSINSLOT/MIGRATE rounds, and the writer aims at the slot being migrated.
        var going = OwnSlots(masters[0]).Order().Take(slotsToMove).ToHashSet();
        var targetBefore = OwnSlots(masters[1]).ToHashSet();
        var spread = Enumerable.Range(0, 20_000).Select(i => $"rs1:k:{i}").ToList();
        var hot = NamesPerSlot(going, "rs1:h:", 20);
        var pairTags = NamesPerSlot(going, "rs1:p:", 1);
        var writer = new Writer("rs1", spread, hot, pairTags, masters[2].Port, masters[0].Port);
        var pairKeys = pairTags.SelectMany(t => new[] { Writer.PairKey(t, 'a'), Writer.PairKey(t, 'b') }).ToList();
        // A pair's two keys are written first and last, so that GETKEYSINSLOT (newest first in
        // Redis 7.0) hands them to different MIGRATE batches and an MSET meets them split.
        using (var loader = new ClusterClient(masters[0].Port))
        {
            loader.SetMany(pairTags.Select(t => (Writer.PairKey(t, 'a'), "initial")));
            loader.SetMany(writer.Keys.Select(k => (k, "initial")));
            loader.SetMany(pairTags.Select(t => (Writer.PairKey(t, 'b'), "initial")));
        }
        writer.Start();
        try
        {
            Tools.WaitUntil(() => writer.Ops >= 500, TimeSpan.FromSeconds(30), "the writer to get going");
            long opsAtStart = writer.Ops;
            var sw = Stopwatch.StartNew();
            CliOk(["--cluster", "reshard", Addr(masters[0]), "--cluster-from", src, "--cluster-to", dst,
                "--cluster-slots", slotsToMove.ToString(), "--cluster-yes", "--cluster-pipeline", "10"], timeoutMs: 150_000);
            long opsDuring = writer.Ops - opsAtStart;
            _log.WriteLine($"reshard took {sw.ElapsedMilliseconds} ms with {opsDuring} writes meanwhile");
            Assert.True(opsDuring >= 100, $"only {opsDuring} writes ran during the reshard");
        }
        finally
        {
            writer.Stop();
        }
        _log.WriteLine($"writer: {writer.Ops} writes ({writer.WritesToSpottedSlot} to the slot being migrated, {writer.SlotsSpotted} slots spotted), "
            + $"{writer.Moved} MOVED, {writer.Asked} ASK, {writer.TryAgain} TRYAGAIN, {writer.Failures.Count} failures");

        // Every acknowledged write is there: each key holds its last acknowledged value.
        using var reader = new ClusterClient(masters[0].Port);
        var lost = new List<string>();
        void Expect(string key, string? got, long acked, string what)
        {
            string expected = acked < 0 ? "initial" : acked.ToString();
            if (got != expected && !writer.Uncertain.Contains(key)) lost.Add($"{key}={got ?? "(nil)"} (acknowledged {what} {expected})");
        }
        var got = reader.GetMany(writer.Keys);
        for (int i = 0; i < writer.Keys.Count; i++) Expect(writer.Keys[i], got[i], writer.LastAcked[i], "SET");
        var gotPairs = reader.GetMany(pairKeys);
        for (int i = 0; i < pairKeys.Count; i++) Expect(pairKeys[i], gotPairs[i], writer.PairAcked[i / 2], "MSET");
        for (int i = 0; i < Writer.Counters; i++)
        {
            var value = reader.Call("GET", writer.Counter(i));
            string expected = writer.CounterAcked[i].ToString();
            if (value.ToString() != expected && !writer.Uncertain.Contains(writer.Counter(i))) lost.Add($"{writer.Counter(i)}={value} (acknowledged {expected} INCRs)");
        }
        Assert.True(lost.Count == 0, $"{lost.Count} acknowledged writes lost, e.g. {string.Join(", ", lost.Take(10))}");
        Assert.True(writer.Failures.Count == 0, "writes failed during the reshard: " + string.Join("; ", writer.Failures));
        Assert.True(writer.Moved > 0, "the writer was never redirected: nothing moved under it");

        string check = CheckCluster(masters[2]);
        Assert.Contains("[OK] All 16384 slots covered.", check);
        WaitSlotCounts(masters, new() { [src] = before[src] - slotsToMove, [dst] = before[dst] + slotsToMove, [other] = before[other] },
            $"every node to see {slotsToMove} slots moved");
        Assert.Equal(before[dst] + slotsToMove, ShardSlotCount(masters[1], dst));
        Assert.Equal(before[src] - slotsToMove, ShardSlotCount(masters[2], src));
        Assert.True(going.SetEquals(OwnSlots(masters[1]).Where(s => !targetBefore.Contains(s))), "the target did not receive the source's first slots");
        AssertNoOpenSlots(masters);
        AssertKeysPerSlot(masters, writer.Keys.Concat(pairKeys)
            .Concat(Enumerable.Range(0, Writer.Counters).Where(i => writer.CounterAcked[i] > 0).Select(writer.Counter)));
    }

    /// <summary>MIGRATE between implementations: the payloads are DUMP/RESTORE's, so every type,
    /// both encodings of each, and TTLs must cross in both directions.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Resharding_between_redis_and_cinnabar_keeps_every_type_and_ttl(bool redisSource)
    {
        const int slotsToMove = 300;
        var masters = CreateCluster(redisSource, !redisSource, false);
        var (source, target) = (masters[0], masters[1]);
        string src = MyId(source), dst = MyId(target);
        var before = SlotCounts(source);
        // redis-cli moves a single source's slots in ascending order: these are the ones that go.
        var goingSlots = OwnSlots(source).Order().Take(slotsToMove).ToHashSet();
        using var client = new ClusterClient(source.Port);
        var plain = Strings("mx-plain", 3000);
        client.SetMany(plain);
        var created = Stopwatch.StartNew();
        var typed = WriteTypedKeys(client, TagsIn(goingSlots, "mx", 13));
        var snapshots = typed.ToDictionary(k => k.Key, k => Snapshot(client, k.Key));

        CliOk(["--cluster", "reshard", Addr(target), "--cluster-from", src, "--cluster-to", dst,
            "--cluster-slots", slotsToMove.ToString(), "--cluster-yes", "--cluster-pipeline", "10"], timeoutMs: 150_000);

        WaitSlotCounts(masters, new() { [src] = before[src] - slotsToMove, [dst] = before[dst] + slotsToMove }, $"every node to see {slotsToMove} slots moved");
        var targetSlots = OwnSlots(target).ToHashSet();
        foreach (var (key, ttl) in typed)
        {
            Assert.True(targetSlots.Contains(ClusterClient.Slot(key)), $"{key} (slot {ClusterClient.Slot(key)}) did not move to the target");
            using (var direct = target.Connect())
                Assert.Equal(1, direct.Call("EXISTS", key).Integer);
            Assert.Equal(snapshots[key], Snapshot(client, key));
            long pttl = client.Call("PTTL", key).Integer;
            if (!ttl) Assert.Equal(-1, pttl);
            else Assert.True(pttl > 0 && pttl <= TtlMs && pttl >= TtlMs - created.ElapsedMilliseconds - 1000,
                $"{key}: PTTL {pttl} after {created.ElapsedMilliseconds} ms, set to {TtlMs}");
        }
        AssertStrings(client, plain, "plain keys after the reshard");
        CheckCluster(source);
        AssertNoOpenSlots(masters);
        AssertKeysPerSlot(masters, plain.Select(kv => kv.Key).Concat(typed.Select(k => k.Key)));
    }

    [Fact]
    public void Add_node_then_rebalance_gives_the_new_master_a_quarter_of_the_slots()
    {
        var masters = CreateCluster(false, false, false);
        var data = Strings("rb", 5000);
        using (var loader = new ClusterClient(masters[0].Port)) loader.SetMany(data);
        var added = Start();
        string addedId = MyId(added);

        var (code, output) = Cli(["--cluster", "add-node", Addr(added), Addr(masters[0])]);
        Assert.True(code == 0, $"add-node exited {code}:\n{Tail(output)}");
        Assert.Contains("[OK] New node added correctly.", output);
        var all = masters.Append(added).ToList();
        Tools.WaitUntil(() => all.All(n => NodeLines(n).Count(l => !l.Contains("handshake", StringComparison.Ordinal)) == 4),
            TimeSpan.FromSeconds(60), "every node to know the new one");
        WaitAllOk(all);
        CheckCluster(added);

        CliOk(["--cluster", "rebalance", Addr(masters[0]), "--cluster-use-empty-masters", "--cluster-yes"], timeoutMs: 150_000);

        string last = "";
        Tools.WaitUntil(() => all.All(v =>
        {
            var counts = SlotCounts(v);
            last = string.Join(", ", counts.Values);
            return counts.Count == 4 && counts.Values.All(n => n is >= 4000 and <= 4200);
        }), TimeSpan.FromSeconds(30), "every node to see about 4096 slots per master");
        _log.WriteLine("slots per master after rebalance: " + last);
        Assert.InRange(ShardSlotCount(added, addedId), 4000, 4200);
        CheckCluster(masters[1]);
        AssertNoOpenSlots(all);
        using var client = new ClusterClient(added.Port);
        AssertStrings(client, data, "keys after the rebalance");
        AssertKeysPerSlot(all, data.Select(kv => kv.Key));
    }

    [Fact]
    public void A_master_emptied_by_rebalance_is_removed_with_del_node()
    {
        var masters = CreateCluster(false, false, false);
        var data = Strings("dn", 5000);
        using (var loader = new ClusterClient(masters[0].Port)) loader.SetMany(data);
        var leaving = masters[1];
        string leavingId = MyId(leaving);
        var staying = new List<ServerProcess> { masters[0], masters[2] };

        CliOk(["--cluster", "rebalance", Addr(masters[0]), "--cluster-weight", $"{leavingId}=0", "--cluster-yes"], timeoutMs: 150_000);
        WaitSlotCounts(masters, new() { [leavingId] = 0 }, "every node to see the leaving master without slots");
        // Redis 7.0: a master whose last slot is taken by SETSLOT NODE becomes a replica of the taker.
        Tools.WaitUntil(() => NodeLines(leaving).Single(l => l.Contains("myself", StringComparison.Ordinal)).Contains("slave", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), "the emptied master to turn into a replica");
        CheckCluster(masters[0]);

        var (code, output) = Cli(["--cluster", "del-node", Addr(masters[0]), leavingId]);
        Assert.True(code == 0, $"del-node exited {code}:\n{Tail(output)}");
        Assert.Contains(">>> Sending CLUSTER FORGET messages to the cluster...", output);
        Assert.Contains(">>> Sending CLUSTER RESET SOFT to the deleted node.", output);

        Tools.WaitUntil(() => staying.All(n => !Call(n, "CLUSTER", "NODES").Contains(leavingId, StringComparison.Ordinal)),
            TimeSpan.FromSeconds(30), "the remaining nodes to forget the deleted one");
        // The deleted node keeps running alone: it knows only itself, holds no slot and no key.
        var alone = NodeLines(leaving);
        Assert.True(alone.Length == 1 && alone[0].StartsWith(leavingId, StringComparison.Ordinal) && alone[0].Contains("myself,master", StringComparison.Ordinal),
            "the deleted node's CLUSTER NODES:\n" + string.Join('\n', alone));
        Assert.Empty(SlotsOfLine(alone[0]));
        Assert.Equal("0", Call(leaving, "DBSIZE"));

        string check = CheckCluster(masters[2]);
        Assert.DoesNotContain(leavingId, check);
        WaitAllOk(staying);
        foreach (var n in staying) Assert.DoesNotContain(leavingId, Call(n, "CLUSTER", "NODES"));
        using var client = new ClusterClient(masters[2].Port);
        AssertStrings(client, data, "keys after removing a master");
        AssertKeysPerSlot(staying, data.Select(kv => kv.Key));
    }

    [Fact]
    public void Fix_closes_a_slot_left_half_migrated_without_losing_keys()
    {
        var masters = CreateCluster(false, false, false);
        var data = Strings("fx-plain", 2000);
        using var client = new ClusterClient(masters[0].Port);
        client.SetMany(data);
        var (owner, importer) = (masters[2], masters[0]);
        string tag = TagsIn(OwnSlots(owner).ToHashSet(), "fx", 1)[0];
        int slot = ClusterClient.Slot(tag);
        var slotData = Enumerable.Range(0, 10).Select(i => (Key: $"{{{tag}}}:{i}", Value: $"slotvalue-{i}")).ToList();
        client.SetMany(slotData);

        // A migration interrupted after its first MIGRATE: both ends open, keys on both sides.
        Assert.Equal("OK", Call(importer, "CLUSTER", "SETSLOT", slot.ToString(), "IMPORTING", MyId(owner)));
        Assert.Equal("OK", Call(owner, "CLUSTER", "SETSLOT", slot.ToString(), "MIGRATING", MyId(importer)));
        Assert.Equal("OK", Call(owner, "MIGRATE", "127.0.0.1", importer.Port.ToString(), "", "0", "5000", "KEYS",
            slotData[0].Key, slotData[1].Key, slotData[2].Key));
        Assert.Equal("3", Call(importer, "CLUSTER", "COUNTKEYSINSLOT", slot.ToString()));
        Assert.Equal("7", Call(owner, "CLUSTER", "COUNTKEYSINSLOT", slot.ToString()));
        // Clients still reach every key meanwhile (ASK for the moved ones).
        AssertStrings(client, slotData, "keys of the half-migrated slot");
        var (checkCode, checkOut) = Cli(["--cluster", "check", Addr(masters[1])]);
        Assert.True(checkCode != 0, "check passed with an open slot:\n" + Tail(checkOut));
        Assert.Contains($"[WARNING] The following slots are open: {slot}.", checkOut);

        var (code, output) = Cli(["--cluster", "fix", Addr(masters[1]), "--cluster-yes"], stdin: "yes\nyes\nyes\n", timeoutMs: 120_000);
        Assert.True(code == 0, $"fix exited {code}:\n{Tail(output)}");
        Assert.Contains($">>> Fixing open slot {slot}", output);

        CheckCluster(masters[1]);
        AssertNoOpenSlots(masters);
        var holders = masters.Where(n => Call(n, "CLUSTER", "COUNTKEYSINSLOT", slot.ToString()) != "0").ToList();
        Assert.True(holders.Count == 1 && OwnSlots(holders[0]).Contains(slot), $"slot {slot}'s keys are on {holders.Count} nodes, or not on its owner");
        Assert.Equal("10", Call(holders[0], "CLUSTER", "COUNTKEYSINSLOT", slot.ToString()));
        using var fresh = new ClusterClient(masters[1].Port);
        AssertStrings(fresh, slotData, "keys of the fixed slot");
        AssertStrings(fresh, data, "other keys after the fix");
        AssertKeysPerSlot(masters, data.Concat(slotData).Select(kv => kv.Key));
    }

    [Fact]
    public void Import_copies_a_standalone_servers_keys_into_the_cluster()
    {
        var masters = CreateCluster(false, false, false);
        var standalone = Start(cluster: false);
        var data = Strings("im", 1500);
        using (var c = standalone.Connect())
        {
            foreach (var chunk in data.Chunk(500))
            {
                foreach (var (k, v) in chunk) c.Send("SET", k, v);
                foreach (var _ in chunk) Assert.Equal("OK", c.Read().ToString());
            }
        }
        // The typed keys are written and read by the same helpers as in the cluster.
        List<(string Key, bool Ttl)> typed;
        Dictionary<string, string> snapshots;
        var created = Stopwatch.StartNew();
        using (var direct = new ClusterClient(standalone.Port, standalone: true))
        {
            typed = WriteTypedKeys(direct, Enumerable.Range(0, 13).Select(i => $"imtag{i}").ToList());
            snapshots = typed.ToDictionary(k => k.Key, k => Snapshot(direct, k.Key));
        }
        int total = data.Count + typed.Count;
        Assert.Equal(total.ToString(), Call(standalone, "DBSIZE"));

        var (code, output) = Cli(["--cluster", "import", Addr(masters[0]), "--cluster-from", Addr(standalone), "--cluster-copy"], timeoutMs: 150_000);
        Assert.True(code == 0, $"import exited {code}:\n{Tail(output)}");
        Assert.Contains($"*** Importing {total} keys from DB 0", output);

        using var client = new ClusterClient(masters[1].Port);
        AssertStrings(client, data, "imported keys");
        foreach (var (key, ttl) in typed)
        {
            Assert.Equal(snapshots[key], Snapshot(client, key));
            long pttl = client.Call("PTTL", key).Integer;
            if (!ttl) Assert.Equal(-1, pttl);
            else Assert.True(pttl > 0 && pttl <= TtlMs && pttl >= TtlMs - created.ElapsedMilliseconds - 1000, $"{key}: PTTL {pttl}");
        }
        // --cluster-copy leaves the source as it was.
        Assert.Equal(total.ToString(), Call(standalone, "DBSIZE"));
        CheckCluster(masters[2]);
        AssertKeysPerSlot(masters, data.Select(kv => kv.Key).Concat(typed.Select(k => k.Key)));
    }
}
