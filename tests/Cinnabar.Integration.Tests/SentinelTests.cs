using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace Cinnabar.Integration.Tests;

/// <summary>Sentinel deployments are timing-sensitive (down-after 2000 ms): they run alone, after
/// the parallel collections.</summary>
[CollectionDefinition("sentinel", DisableParallelization = true)]
public sealed class SentinelCollection;

/// <summary>
/// Sentinel mode with real processes on 127.0.0.1: three sentinels (Cinnabar's, Debian's
/// redis-sentinel 7.0, or both) watching a master and two replicas (Cinnabar or redis-server),
/// failing over on kill -9 or SENTINEL FAILOVER, and clients (StackExchange.Redis, redis-py,
/// ioredis) following them. Timings: down-after 2000 ms, failover-timeout 10000 ms, quorum 2.
/// </summary>
[Collection("sentinel")]
public sealed class SentinelTests : IDisposable
{
    private readonly ITestOutputHelper _out;
    private readonly List<SentinelCluster> _clusters = new();

    public SentinelTests(ITestOutputHelper output) => _out = output;

    public void Dispose()
    {
        foreach (var c in _clusters) c.Dispose();
    }

    private static readonly bool[] ThreeCinnabar = [false, false, false];
    private static readonly bool[] ThreeRedis = [true, true, true];
    private static readonly bool[] TwoCinnabarOneRedis = [false, false, true];

    private SentinelCluster Start(bool redisData = false, bool[]? redisSentinels = null)
    {
        var c = SentinelCluster.Start(_out, redisData, redisSentinels ?? ThreeCinnabar);
        _clusters.Add(c);
        return c;
    }

    /// <summary>kill -9 of the master, then everything the failover must leave behind: every
    /// sentinel names the same promoted replica, which answers ROLE master and takes writes; the
    /// other replica replicates from it and sees a write made on it. Returns (old, new) ports.</summary>
    private static (int Old, int New) KillMasterAndCheckFailover(SentinelCluster c)
    {
        var replicasBefore = c.Nodes.Where(n => n.Port != c.MasterPort).Select(n => n.Port).ToList();
        var sw = Stopwatch.StartNew();
        int old = c.KillMaster();
        int promoted = c.WaitAgreedMaster(old);
        c.Log($"failover: {old} -> {promoted} in {sw.Elapsed.TotalSeconds:F1}s");
        Assert.Contains(promoted, replicasBefore);
        CheckPromoted(c, promoted, replicasBefore.Where(p => p != promoted));
        return (old, promoted);
    }

    private static void CheckPromoted(SentinelCluster c, int promoted, IEnumerable<int> otherReplicas)
    {
        var master = c.Node(promoted);
        c.WaitUntil(() => SentinelCluster.Role(master) == "master", $"{promoted} to answer ROLE master");
        Assert.Equal("OK", master.Call("SET", "after:failover", promoted.ToString()).ToString());
        foreach (var port in otherReplicas)
        {
            var other = c.Node(port);
            c.WaitReplicaOf(other, promoted);
            c.WaitReplicated(master, other, "written:on:new:master", "v" + promoted);
        }
    }

    // ---- 1-3: failover on kill, the old master's return, manual failover ---------------------------

    [Fact]
    public void Killing_the_master_promotes_a_replica_that_every_sentinel_names_and_the_other_replica_follows()
    {
        var c = Start();
        Assert.Equal("OK", c.Master.Call("SET", "before", "1").ToString());
        foreach (var r in c.Nodes.Skip(1)) c.WaitUntil(() => r.Call("GET", "before").ToString() == "1", $"'before' on {r.Port}");
        var (_, promoted) = KillMasterAndCheckFailover(c);
        Assert.Equal("1", c.Node(promoted).Call("GET", "before").ToString());
    }

    [Fact]
    public void The_old_master_restarted_in_place_is_turned_into_a_replica_of_the_new_master()
    {
        var c = Start();
        var (old, promoted) = KillMasterAndCheckFailover(c);
        var oldMaster = c.Node(old);
        c.Log($"restarting the old master {old} (same port, same dir)");
        oldMaster.Start();
        c.WaitReplicaOf(oldMaster, promoted);
        c.WaitReplicated(c.Node(promoted), oldMaster, "seen:by:old:master", "yes");
        // The sentinels list it as a replica of the new master.
        c.WaitUntil(() => c.Sentinels.All(s => SentinelCluster.ReplicasState(s)
                .Any(r => r["port"] == old.ToString() && r["flags"] == "slave" && r["master-port"] == promoted.ToString())),
            $"every sentinel to list {old} as a replica of {promoted}");
    }

    [Fact]
    public void Sentinel_failover_command_promotes_a_replica_and_the_old_master_becomes_its_replica()
    {
        var c = Start();
        int old = c.MasterPort;
        var replicas = c.Nodes.Where(n => n.Port != old).Select(n => n.Port).ToList();
        Assert.Equal("OK", c.Sentinels[0].Call("SENTINEL", "FAILOVER", SentinelCluster.MasterName).ToString());
        int promoted = c.WaitAgreedMaster(old);
        Assert.Contains(promoted, replicas);
        CheckPromoted(c, promoted, replicas.Where(p => p != promoted));
        // The old master is alive: the sentinels convert it into a replica of the new one.
        c.WaitReplicaOf(c.Node(old), promoted);
        c.WaitReplicated(c.Node(promoted), c.Node(old), "seen:by:old:master", "yes");
    }

    // ---- 4: clients follow the failover ------------------------------------------------------------

    private static bool Transient(Exception e) =>
        e is RedisConnectionException or RedisTimeoutException or RedisServerException or TimeoutException;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StackExchange_redis_with_a_service_name_follows_the_failover(bool redisSentinels)
    {
        var c = Start(redisSentinels: redisSentinels ? ThreeRedis : ThreeCinnabar);
        var options = new ConfigurationOptions
        {
            ServiceName = SentinelCluster.MasterName,
            AbortOnConnectFail = false,
            ConnectTimeout = 5000,
            SyncTimeout = 5000,
            AsyncTimeout = 5000,
        };
        foreach (var s in c.Sentinels) options.EndPoints.Add("127.0.0.1", s.Port);
        // With ServiceName set, Connect talks to the sentinels and returns a multiplexer for the
        // master that follows +switch-master (the documented way, 2.x and 3.x).
        using var mux = ConnectionMultiplexer.Connect(options);
        var db = mux.GetDatabase();
        for (int i = 0; i < 100; i++) Assert.True(db.StringSet($"se:before:{i}", i));
        Assert.Equal(2, (int)db.Execute("WAIT", 2, 10000));

        int old = c.KillMaster();
        var sw = Stopwatch.StartNew();
        int attempts = 0;
        Exception? last = null;
        while (true)
        {
            attempts++;
            try
            {
                if (db.StringSet("se:after", "written after the failover")) break;
            }
            catch (Exception e) when (Transient(e))
            {
                last = e;
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(45),
                $"no write accepted within 45 s after the kill ({attempts} attempts), last error: {last}\n{c.Diagnostics()}");
            Thread.Sleep(200);
        }
        c.Log($"StackExchange.Redis wrote after {sw.Elapsed.TotalSeconds:F1}s, {attempts} attempts, last error: {last?.Message}");
        int promoted = c.WaitAgreedMaster(old);
        Assert.Equal("written after the failover", (string?)db.StringGet("se:after"));
        for (int i = 0; i < 100; i++) Assert.Equal(i.ToString(), (string?)db.StringGet($"se:before:{i}"));
        Assert.Equal("written after the failover", c.Node(promoted).Call("GET", "se:after").ToString());
    }

    [Fact]
    public void Redis_py_sentinel_master_for_follows_the_failover()
    {
        var c = Start();
        int old = c.MasterPort;
        var script = Path.Combine(ServerProcess.RepoRoot, "tests", "python", "redispy_sentinel.py");
        var (code, stdout, stderr) = Tools.Run("/usr/bin/python3",
            [script, c.Master.Process!.Pid.ToString(), .. c.Sentinels.Select(s => s.Port.ToString())], timeoutMs: 90000);
        c.Log(stdout + stderr);
        Assert.True(code == 0, stdout + stderr + "\n" + c.Diagnostics());
        Assert.Contains("redis-py sentinel ok", stdout);
        int promoted = c.WaitAgreedMaster(old);
        Assert.Equal("written after the failover", c.Node(promoted).Call("GET", "py:after").ToString());
        Assert.Equal("99", c.Node(promoted).Call("GET", "py:before:99").ToString());
    }

    [Fact]
    public void Ioredis_with_sentinels_follows_the_failover()
    {
        var dir = Path.Combine(ServerProcess.RepoRoot, "tests", "js");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "ioredis")))
            throw new InvalidOperationException("ioredis is not installed: run npm install in tests/js (.ci/run does)");
        var c = Start();
        int old = c.MasterPort;
        var (code, stdout, stderr) = Tools.Run("node",
            [Path.Combine(dir, "ioredis-sentinel.mjs"), c.Master.Process!.Pid.ToString(), .. c.Sentinels.Select(s => s.Port.ToString())],
            timeoutMs: 100000);
        c.Log(stdout + stderr);
        Assert.True(code == 0, stdout + stderr + "\n" + c.Diagnostics());
        Assert.Contains("ioredis sentinel ok", stdout);
        int promoted = c.WaitAgreedMaster(old);
        Assert.Equal("written after the failover", c.Node(promoted).Call("GET", "js:after").ToString());
        Assert.Equal("99", c.Node(promoted).Call("GET", "js:before:99").ToString());
    }

    // ---- 5: mixed deployments ----------------------------------------------------------------------

    [Fact]
    public void Redis_sentinels_fail_over_cinnabar_data_nodes()
    {
        var c = Start(redisData: false, redisSentinels: ThreeRedis);
        KillMasterAndCheckFailover(c);
    }

    [Fact]
    public void Cinnabar_sentinels_fail_over_redis_server_data_nodes()
    {
        var c = Start(redisData: true, redisSentinels: ThreeCinnabar);
        KillMasterAndCheckFailover(c);
    }

    [Fact]
    public void Cinnabar_and_redis_sentinels_discover_each_other_and_agree_on_the_new_master()
    {
        // Start waits until every sentinel, of either kind, counts num-other-sentinels = 2.
        var c = Start(redisData: false, redisSentinels: TwoCinnabarOneRedis);
        var ids = c.Sentinels.ToDictionary(s => s.Port, s => s.Call("SENTINEL", "MYID").ToString());
        foreach (var s in c.Sentinels)
        {
            var peers = s.Call("SENTINEL", "SENTINELS", SentinelCluster.MasterName).Items!.Select(SentinelCluster.Map).ToList();
            Assert.Equal(2, peers.Count);
            foreach (var p in peers)
            {
                // A sentinel's name is its runid, which is the peer's SENTINEL MYID.
                Assert.Equal(ids[int.Parse(p["port"])], p["runid"]);
                Assert.Equal(p["runid"], p["name"]);
                Assert.Equal("127.0.0.1", p["ip"]);
            }
        }
        KillMasterAndCheckFailover(c);
    }

    // ---- 6: restart from the rewritten config --------------------------------------------------

    /// <summary>The current epoch a sentinel announces in its hellos on the master's
    /// __sentinel__:hello channel (payload field 4).</summary>
    private static long HelloEpoch(SentinelCluster c, DataNode master, string myid)
    {
        using var conn = master.Connect(3000);
        conn.Call("SUBSCRIBE", "__sentinel__:hello");
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            Reply msg;
            try { msg = conn.Read(); }
            catch (IOException) { continue; }
            if (msg.Items is not { Count: 3 } || msg.Items[0].ToString() != "message") continue;
            var f = msg.Items[2].ToString().Split(',');
            if (f.Length == 8 && f[2] == myid) return long.Parse(f[3]);
        }
        throw new TimeoutException($"no hello from {myid} on {master.Port}\n{c.Diagnostics()}");
    }

    [Fact]
    public void A_cinnabar_sentinel_restarted_from_its_rewritten_config_resumes_its_identity_and_knowledge()
    {
        var c = Start();
        // A failover first, so the epochs are not 0.
        Assert.Equal("OK", c.Sentinels[0].Call("SENTINEL", "FAILOVER", SentinelCluster.MasterName).ToString());
        int old = c.MasterPort;
        int promoted = c.WaitAgreedMaster(old);
        c.WaitDiscovery(); // the old master listed as a replica: 2 replicas again everywhere

        var s = c.Sentinels[1];
        string myid = s.Call("SENTINEL", "MYID").ToString();
        Assert.Matches("^[0-9a-f]{40}$", myid);
        var before = SentinelCluster.MasterState(s);
        long epoch = HelloEpoch(c, c.Node(promoted), myid);
        Assert.True(epoch >= 1, $"current epoch {epoch} after a failover");
        var conf = File.ReadAllText(s.ConfPath);
        c.Log("rewritten config:\n" + conf);
        Assert.Contains($"sentinel myid {myid}", conf);
        Assert.Contains($"sentinel current-epoch {epoch}", conf);
        Assert.Contains($"sentinel monitor {SentinelCluster.MasterName} 127.0.0.1 {promoted} 2", conf);

        c.Log($"kill -9 sentinel {s.Port} and start it again from {s.ConfPath}");
        s.Restart();
        // Straight from the config file, before any hello or INFO could teach it anything.
        Assert.Equal(myid, s.Call("SENTINEL", "MYID").ToString());
        var after = SentinelCluster.MasterState(s);
        Assert.Equal(promoted.ToString(), after["port"]);
        Assert.Equal("2", after["num-slaves"]);
        Assert.Equal("2", after["num-other-sentinels"]);
        Assert.Equal(before["config-epoch"], after["config-epoch"]);
        Assert.Equal(promoted, SentinelCluster.MasterPortSeenBy(s));
        var peers = s.Call("SENTINEL", "SENTINELS", SentinelCluster.MasterName).Items!.Select(SentinelCluster.Map).Select(p => p["runid"]).ToHashSet();
        var others = c.Sentinels.Where(o => o != s).Select(o => o.Call("SENTINEL", "MYID").ToString()).ToHashSet();
        Assert.Equal(others, peers);
        Assert.Equal(epoch, HelloEpoch(c, c.Node(promoted), myid));
        // And it is a working member again: every sentinel sees every other one and the replicas.
        c.WaitDiscovery();
    }

    // ---- 7: INFO sentinel through redis-cli ------------------------------------------------------

    [Fact]
    public void Redis_cli_info_sentinel_reports_the_master_its_replicas_and_the_sentinels()
    {
        var c = Start();
        string expected = $"master0:name=mymaster,status=ok,address=127.0.0.1:{c.MasterPort},slaves=2,sentinels=3";
        foreach (var s in c.Sentinels)
        {
            string info = "";
            c.WaitUntil(() => (info = Tools.RedisCli(s.Port, "INFO", "sentinel")).Contains(expected, StringComparison.Ordinal),
                $"redis-cli -p {s.Port} INFO sentinel to contain {expected}");
            Assert.StartsWith("# Sentinel", info.TrimStart());
            Assert.Contains("sentinel_masters:1", info);
        }
    }

    /// <summary>Clients tell a sentinel from a data node by INFO's redis_mode (StackExchange.Redis
    /// reads it from INFO server; with "standalone" it treats the sentinel as a data node, sends it
    /// ECHO and never connects). Checked against redis-sentinel side by side.</summary>
    [Fact]
    public void Info_reports_redis_mode_sentinel_like_redis_sentinel()
    {
        var c = SentinelCluster.Start(_out, redisData: false, redisSentinels: [false, true], replicas: 0);
        _clusters.Add(c);
        foreach (var args in new[] { new[] { "INFO" }, ["INFO", "server"], ["INFO", "all"] })
        {
            var modes = c.Sentinels.Select(s => SentinelCluster.InfoField(s.Call(args).ToString(), "redis_mode")).ToList();
            Assert.Equal("sentinel", modes[1]); // redis-sentinel
            Assert.True(modes[0] == "sentinel", $"{string.Join(' ', args)} on cinnabar-sentinel: redis_mode:{modes[0]}");
        }
    }
}
