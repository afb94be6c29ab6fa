using System.Collections.Concurrent;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Atomic slot migration between Cinnabar masters (CLUSTER MIGRATION IMPORT, Redis 8.4's
/// surface), with real processes: slots move under write load with no ASK and no lost
/// acknowledged write; a cancel or a kill -9 of either side midway leaves the slots with the
/// source and nothing imported behind on the destination.
/// </summary>
[Collection("cluster")]
public sealed class ClusterAtomicMigrationTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);
    private readonly List<ServerProcess> _nodes = new();

    public void Dispose()
    {
        foreach (var n in _nodes) n.Dispose();
    }

    private static string Call(ServerProcess n, params string[] args)
    {
        using var c = n.Connect();
        return c.Call(args).ToString();
    }

    /// <summary>Masters owning equal ranges, all ok. Extra arguments go to every node.</summary>
    private List<ServerProcess> Build(int count, params string[] extra)
    {
        var masters = new List<ServerProcess>();
        int per = 16384 / count;
        for (int i = 0; i < count; i++)
        {
            var n = ServerProcess.StartCinnabar(["--cluster-enabled", "yes", "--cluster-node-timeout", "3000", "--appendonly", "no", .. extra]);
            _nodes.Add(n);
            masters.Add(n);
            Assert.Equal("OK", Call(n, "CLUSTER", "SET-CONFIG-EPOCH", (i + 1).ToString()));
            Assert.Equal("OK", Call(n, "CLUSTER", "ADDSLOTSRANGE", (i * per).ToString(), (i == count - 1 ? 16383 : (i + 1) * per - 1).ToString()));
        }
        foreach (var n in masters.Skip(1)) Assert.Equal("OK", Call(n, "CLUSTER", "MEET", "127.0.0.1", masters[0].Port.ToString()));
        Tools.WaitUntil(() => masters.All(n => Call(n, "CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal)), Deadline, "cluster ok");
        return masters;
    }

    private static Dictionary<string, string> Status(ServerProcess n, string id)
    {
        using var c = n.Connect();
        var r = c.Call("CLUSTER", "MIGRATION", "STATUS", "ID", id);
        var map = new Dictionary<string, string>();
        if (r.Items == null || r.Items.Count == 0) return map;
        var items = r.Items[0].Items!;
        for (int i = 0; i + 1 < items.Count; i += 2) map[items[i].ToString()] = items[i + 1].ToString();
        return map;
    }

    private static string State(ServerProcess n, string id) => Status(n, id).GetValueOrDefault("state", "");

    private static bool Owns(ServerProcess viewer, string ownerId, int slot) =>
        Call(viewer, "CLUSTER", "NODES").Split('\n').Any(l => l.StartsWith(ownerId, StringComparison.Ordinal) &&
            l.Split(' ').Skip(8).Any(r => r.Contains('-') ? int.Parse(r.Split('-')[0]) <= slot && slot <= int.Parse(r.Split('-')[1]) : r == slot.ToString()));

    private static long KeysInSlots(ServerProcess n, int from, int to)
    {
        using var c = n.Connect();
        long total = 0;
        for (int s = from; s <= to; s++) total += c.Call("CLUSTER", "COUNTKEYSINSLOT", s.ToString()).Integer;
        return total;
    }

    /// <summary>INFO keyspace's key count of db0 (it counts keys being imported, DBSIZE does not).</summary>
    private static long InfoKeys(ServerProcess n)
    {
        foreach (var line in Call(n, "INFO", "keyspace").Split("\r\n"))
            if (line.StartsWith("db0:keys=", StringComparison.Ordinal)) return long.Parse(line[9..line.IndexOf(',')]);
        return 0;
    }

    /// <summary>Keys named so that they fall in [from, to] (found by trying names).</summary>
    private static List<string> KeysIn(int from, int to, int count, string prefix)
    {
        var keys = new List<string>();
        for (int i = 0; keys.Count < count; i++)
        {
            string k = $"{prefix}:{i}";
            int slot = Slot.Of(k);
            if (slot >= from && slot <= to) keys.Add(k);
        }
        return keys;
    }

    [Fact]
    public void Slots_move_under_write_load_without_ask_and_without_losing_a_write()
    {
        var m = Build(2);
        string aId = Call(m[0], "CLUSTER", "MYID"), bId = Call(m[1], "CLUSTER", "MYID");
        using var client = new ClusterClient(m.Select(n => n.Port));
        var preload = KeysIn(0, 999, 5000, "pre");
        foreach (var k in preload) Assert.Equal("OK", client.Call("SET", k, "v-" + k));
        // A big collection goes in bounded commands; TTLs travel.
        var bigKey = KeysIn(0, 999, 1, "big")[0];
        for (int i = 0; i < 20; i++)
            client.Call(["HSET", bigKey, .. Enumerable.Range(i * 1000, 1000).SelectMany(f => new[] { "f" + f, "v" + f })]);
        var ttlKey = KeysIn(0, 999, 1, "ttl")[0];
        Assert.Equal("OK", client.Call("SET", ttlKey, "x", "EX", "3600"));

        var acked = new ConcurrentDictionary<string, string>();
        var stop = new CancellationTokenSource();
        var writeKeys = KeysIn(0, 1999, 400, "w");
        var writer = Task.Run(() =>
        {
            using var wc = new ClusterClient(m.Select(n => n.Port));
            for (long i = 0; !stop.IsCancellationRequested; i++)
            {
                string k = writeKeys[(int)(i % writeKeys.Count)];
                string v = i.ToString();
                if (wc.Call("SET", k, v) == "OK") acked[k] = v;
            }
            return wc.AsksSeen;
        });
        Thread.Sleep(300);
        string id = Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "999");
        Assert.Equal(40, id.Length);
        Tools.WaitUntil(() => State(m[1], id) is "completed" or "failed", Deadline, "the import to end");
        Assert.Equal("completed", State(m[1], id));
        Tools.WaitUntil(() => State(m[0], id) is "completed" or "failed", Deadline, "the source task to end");
        var src = Status(m[0], id);
        Assert.Equal("completed", src["state"]);
        Assert.Equal("migrate", src["operation"]);
        Assert.True(long.Parse(src["write_pause_ms"]) >= 0);
        Assert.Equal("0-999", src["slots"]);
        Thread.Sleep(300);
        stop.Cancel();
        Assert.Equal(0, writer.Result);

        foreach (var n in m) Assert.True(Owns(n, bId, 0) && Owns(n, bId, 999) && Owns(n, aId, 1000), "slot owners after the import");
        Tools.WaitUntil(() => KeysInSlots(m[0], 0, 999) == 0, Deadline, "the source to drop the moved keys");
        Assert.True(acked.Count > 100, $"only {acked.Count} keys written");
        foreach (var (k, v) in acked) Assert.Equal(v, client.Call("GET", k));
        foreach (var k in preload) Assert.Equal("v-" + k, client.Call("GET", k));
        Assert.Equal("20000", client.Call("HLEN", bigKey));
        long ttl = long.Parse(client.Call("TTL", ttlKey));
        Assert.InRange(ttl, 3000, 3600);
        Assert.Equal(0, client.AsksSeen);
    }

    /// <summary>
    /// Big collections are streamed in bounded chunks before the walk, their writers held back
    /// meanwhile; a write that gets past the hold (a script's undeclared key) makes the key start
    /// over from a copy. Nothing acknowledged is lost or applied twice (lists keep their order).
    /// </summary>
    [Fact]
    public void Big_collections_move_in_chunks_and_keep_every_write_made_to_them_meanwhile()
    {
        // 20 ms per chunk (and per key): the big keys take a second or two to stream.
        var m = Build(2, "--rdb-key-save-delay", "20000");
        string bId = Call(m[1], "CLUSTER", "MYID");
        using var client = new ClusterClient(m.Select(n => n.Port));
        var names = KeysIn(0, 99, 4, "bigc");
        string hash = names[0], list = names[1], zset = names[2], set = names[3];
        for (int i = 0; i < 200; i++)
            client.Call(["HSET", hash, .. Enumerable.Range(i * 1000, 1000).SelectMany(f => new[] { "f" + f, "v" + f })]);
        for (int i = 0; i < 50; i++)
            client.Call(["RPUSH", list, .. Enumerable.Range(i * 1000, 1000).Select(e => "e" + e)]);
        for (int i = 0; i < 20; i++)
        {
            client.Call(["ZADD", zset, .. Enumerable.Range(i * 1000, 1000).SelectMany(e => new[] { e.ToString(), "m" + e })]);
            client.Call(["SADD", set, .. Enumerable.Range(i * 1000, 1000).Select(e => "s" + e)]);
        }
        Assert.Equal("1", client.Call("EXPIRE", list, "3600"));

        var hashAdded = new List<string>();
        var listAdded = new List<string>();
        int zAdded = 0, sAdded = 0;
        var stop = new CancellationTokenSource();
        var writer = Task.Run(() =>
        {
            using var wc = new ClusterClient(m.Select(n => n.Port));
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                if (wc.Call("HSET", hash, "x" + i, "y" + i) == "1") hashAdded.Add("x" + i);
                if (long.TryParse(wc.Call("RPUSH", list, "n" + i), out _)) listAdded.Add("n" + i);
                if (wc.Call("ZADD", zset, "-1", "z" + i) == "1") zAdded++;
                if (wc.Call("SADD", set, "t" + i) == "1") sAdded++;
            }
        });
        // A script writing a key it did not declare gets past the hold on the key (the writer
        // above waits on its HSET meanwhile).
        var scripted = new List<string>();
        var scripter = Task.Run(() =>
        {
            using var source = m[0].Connect();
            for (int i = 0; !stop.IsCancellationRequested; i++)
            {
                var r = source.Call("EVAL", "return redis.call('hset', '" + hash + "', 'u" + i + "', 'w')", "0");
                if (r.ToString() == "1") scripted.Add("u" + i);
                else if (r.IsError) break; // the slot moved
                Thread.Sleep(5);
            }
        });
        Thread.Sleep(200);
        string id = Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "99");
        Tools.WaitUntil(() => State(m[1], id) is "completed" or "failed" or "canceled", TimeSpan.FromSeconds(120), "the import to end");
        Assert.Equal("completed", State(m[1], id));
        Thread.Sleep(300);
        stop.Cancel();
        writer.Wait(Deadline);
        scripter.Wait(Deadline);
        Assert.True(writer.IsCompletedSuccessfully, writer.Exception?.ToString());
        Assert.True(scripter.IsCompletedSuccessfully, scripter.Exception?.ToString());
        hashAdded.AddRange(scripted);
        foreach (var n in m) Tools.WaitUntil(() => Owns(n, bId, 0) && Owns(n, bId, 99), Deadline, "every node to see the new owner");

        Assert.Equal((200000 + hashAdded.Count).ToString(), client.Call("HLEN", hash));
        foreach (var f in hashAdded) Assert.NotEqual("(nil)", client.Call("HGET", hash, f));
        for (int f = 0; f < 200000; f += 4999) Assert.Equal("v" + f, client.Call("HGET", hash, "f" + f));
        Assert.Equal((50000 + listAdded.Count).ToString(), client.Call("LLEN", list));
        for (int e = 0; e < 50000; e += 997) Assert.Equal("e" + e, client.Call("LINDEX", list, e.ToString()));
        for (int j = 0; j < listAdded.Count; j++) Assert.Equal(listAdded[j], client.Call("LINDEX", list, (50000 + j).ToString()));
        Assert.InRange(long.Parse(client.Call("TTL", list)), 3000, 3600);
        Assert.Equal((20000 + zAdded).ToString(), client.Call("ZCARD", zset));
        Assert.Equal("m0", client.Call("ZRANGE", zset, (zAdded).ToString(), (zAdded).ToString()).Trim('[', ']'));
        Assert.Equal((20000 + sAdded).ToString(), client.Call("SCARD", set));
        Assert.True(hashAdded.Count > 0 && listAdded.Count > 0, "no write was made during the move");
        // The scripts' writes reached the hash while it was streamed: it was sent again from a copy.
        Assert.True(m[0].Output.Contains("a write reached a big key while it was being sent"), m[0].Output);
    }

    [Fact]
    public void A_cancel_midway_leaves_the_slots_and_keys_with_the_source()
    {
        // One millisecond per key: the snapshot of 3000 keys takes about 3 s.
        var m = Build(2, "--rdb-key-save-delay", "1000");
        string aId = Call(m[0], "CLUSTER", "MYID");
        using var client = new ClusterClient(m.Select(n => n.Port));
        var keys = KeysIn(0, 99, 3000, "c");
        foreach (var k in keys) client.Call("SET", k, "1");
        string id = Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "99");
        Tools.WaitUntil(() => long.Parse(Status(m[1], id).GetValueOrDefault("bytes", "0")) > 0, Deadline, "the snapshot to start arriving");
        // Neither side lets the legacy path touch a slot of the running task.
        Assert.StartsWith("ERR Slot 5 is currently in an active atomic slot migration", Call(m[0], "CLUSTER", "SETSLOT", "5", "MIGRATING", Call(m[1], "CLUSTER", "MYID")));
        Assert.StartsWith("ERR Slot 5 is currently in an active atomic slot migration", Call(m[1], "CLUSTER", "SETSLOT", "5", "IMPORTING", aId));
        Assert.Equal("ERR another ASM task is already in progress", Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "200", "300"));
        var progress = Status(m[1], id);
        Assert.Equal("ready-to-stream", progress["state"]);
        Assert.Equal("snapshot", progress["phase"]);
        Assert.Equal("import", progress["operation"]);
        Assert.Equal("0-99", progress["slots"]);
        Assert.Equal(aId, progress["source"]);
        Assert.Equal("-1", progress["end_time"]);
        Assert.Equal("1", Call(m[1], "CLUSTER", "MIGRATION", "CANCEL", "ID", id));
        Assert.Equal("canceled", State(m[1], id));
        Tools.WaitUntil(() => State(m[0], id) == "failed", Deadline, "the source to see the destination go");
        Tools.WaitUntil(() => InfoKeys(m[1]) == 0, Deadline, "the destination to drop what it imported");
        foreach (var n in m) Assert.True(Owns(n, aId, 0) && Owns(n, aId, 99));
        Assert.Equal(3000, KeysInSlots(m[0], 0, 99));
        Assert.Equal("OK", client.Call("SET", keys[0], "after"));
        Assert.Equal("0", Call(m[1], "CLUSTER", "MIGRATION", "CANCEL", "ALL"));
    }

    [Fact]
    public void A_destination_killed_midway_leaves_the_source_serving_its_slots()
    {
        var m = Build(3, "--rdb-key-save-delay", "1000");
        string aId = Call(m[0], "CLUSTER", "MYID");
        using var client = new ClusterClient(m.Select(n => n.Port));
        var keys = KeysIn(0, 99, 3000, "d");
        foreach (var k in keys) client.Call("SET", k, "1");
        string id = Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "99");
        Tools.WaitUntil(() => State(m[0], id) == "send-bulk-and-stream", Deadline, "the source to stream");
        m[1].Kill();
        Tools.WaitUntil(() => State(m[0], id) == "failed", Deadline, "the source task to fail");
        Assert.True(Owns(m[0], aId, 0) && Owns(m[2], aId, 99));
        Assert.Equal("OK", Call(m[0], "SET", keys[1], "after"));
        Assert.Equal(3000, KeysInSlots(m[0], 0, 99));
    }

    [Fact]
    public void A_source_killed_midway_leaves_nothing_imported_on_the_destination()
    {
        var m = Build(3, "--rdb-key-save-delay", "1000");
        string aId = Call(m[0], "CLUSTER", "MYID");
        using var client = new ClusterClient(m.Select(n => n.Port));
        foreach (var k in KeysIn(0, 99, 3000, "s")) client.Call("SET", k, "1");
        string id = Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "99");
        Tools.WaitUntil(() => InfoKeys(m[1]) > 0, Deadline, "keys to start arriving");
        // Keys being imported are not listed: the slots are not this node's yet.
        Assert.Equal("0", Call(m[1], "DBSIZE"));
        Assert.Equal(0, KeysInSlots(m[1], 0, 99));
        Assert.Equal("[]", Call(m[1], "KEYS", "*"));
        Assert.Equal("[0,[]]", Call(m[1], "SCAN", "0", "COUNT", "10000"));
        m[0].Kill();
        Tools.WaitUntil(() => State(m[1], id) == "failed", Deadline, "the import to fail");
        Assert.NotEqual("", Status(m[1], id)["last_error"]);
        Tools.WaitUntil(() => InfoKeys(m[1]) == 0, Deadline, "the destination to drop what it imported");
        Assert.True(Owns(m[1], aId, 0) && Owns(m[2], aId, 99), "the slots still belong to the (dead) source");
    }

    [Fact]
    public void Import_errors_name_the_problem()
    {
        var m = Build(3);   // 0-5460, 5461-10921, 10922-16383
        Assert.Equal("ERR Slot 0 is already served by this node", Call(m[0], "CLUSTER", "MIGRATION", "IMPORT", "0", "10"));
        Assert.Equal("ERR slots belong to different source nodes", Call(m[2], "CLUSTER", "MIGRATION", "IMPORT", "0", "10", "6000", "6010"));
        Assert.Equal("ERR Invalid or out of range slot", Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "16384"));
        Assert.Equal("ERR Slot 5 specified multiple times", Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0", "10", "5", "6"));
        Assert.StartsWith("ERR wrong number of arguments", Call(m[1], "CLUSTER", "MIGRATION", "IMPORT", "0"));
        Assert.Equal("[]", Call(m[1], "CLUSTER", "MIGRATION", "STATUS", "ID", "nosuchid"));
        Assert.StartsWith("ERR wrong number of arguments", Call(m[1], "CLUSTER", "MIGRATION", "STATUS"));
        Assert.Equal("0", Call(m[1], "CLUSTER", "MIGRATION", "CANCEL", "ALL"));
    }

    /// <summary>A minimal cluster client: follows MOVED (and ASK, which it counts), retries TRYAGAIN.</summary>
    private sealed class ClusterClient : IDisposable
    {
        private readonly Dictionary<int, RespConnection> _conns = new();
        private readonly int[] _owner = new int[16384];

        public ClusterClient(IEnumerable<int> ports)
        {
            var first = ports.First();
            Array.Fill(_owner, first);
            foreach (var p in ports) Conn(p);
        }

        public int AsksSeen { get; private set; }

        private RespConnection Conn(int port)
        {
            if (!_conns.TryGetValue(port, out var c)) _conns[port] = c = new RespConnection(port, 30000);
            return c;
        }

        public string Call(params string[] args)
        {
            int slot = Slot.Of(args[1]);
            int port = _owner[slot];
            for (int attempt = 0; attempt < 50; attempt++)
            {
                var r = Conn(port).Call(args).ToString();
                if (r.StartsWith("MOVED ", StringComparison.Ordinal))
                {
                    port = int.Parse(r[(r.LastIndexOf(':') + 1)..]);
                    _owner[slot] = port;
                    continue;
                }
                if (r.StartsWith("ASK ", StringComparison.Ordinal))
                {
                    AsksSeen++;
                    var c = Conn(int.Parse(r[(r.LastIndexOf(':') + 1)..]));
                    c.Call("ASKING");
                    return c.Call(args).ToString();
                }
                if (r.StartsWith("TRYAGAIN", StringComparison.Ordinal) || r.StartsWith("CLUSTERDOWN", StringComparison.Ordinal))
                {
                    Thread.Sleep(20);
                    continue;
                }
                return r;
            }
            throw new InvalidOperationException("too many redirections for " + args[1]);
        }

        public void Dispose()
        {
            foreach (var c in _conns.Values) c.Dispose();
        }
    }

    /// <summary>CRC16 (XMODEM) of the hash tag, as Redis Cluster's keyHashSlot.</summary>
    private static class Slot
    {
        public static int Of(string key)
        {
            int s = key.IndexOf('{');
            if (s >= 0)
            {
                int e = key.IndexOf('}', s + 1);
                if (e > s + 1) key = key[(s + 1)..e];
            }
            int crc = 0;
            foreach (byte b in System.Text.Encoding.UTF8.GetBytes(key))
            {
                crc ^= b << 8;
                for (int i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? ((crc << 1) ^ 0x1021) & 0xFFFF : (crc << 1) & 0xFFFF;
            }
            return crc & 16383;
        }
    }
}
