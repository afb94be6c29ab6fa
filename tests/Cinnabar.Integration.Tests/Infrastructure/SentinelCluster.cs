using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Xunit.Abstractions;

namespace Cinnabar.Integration.Tests.Infrastructure;

/// <summary>
/// Ports for sentinel deployments, from 17100-17499: ServerProcess.FreePort draws from
/// 20000-39999 (and checks port+10000 for cluster buses), the Redis test suite uses
/// 20000-20099/30000-30099 and the kernel's ephemeral range starts at 32768, so nothing else
/// hands these out. A port is never reused while another is free, so a killed node's port stays
/// ours until it is restarted.
/// </summary>
public static class SentinelPorts
{
    private const int First = 17100, Last = 17499;
    private static readonly object Lock = new();
    private static int _next = First;

    public static int Allocate()
    {
        lock (Lock)
        {
            for (int i = 0; i <= Last - First; i++)
            {
                int p = _next;
                _next = _next >= Last ? First : _next + 1;
                if (ServerProcess.IsFree(p)) return p;
            }
        }
        throw new InvalidOperationException("no free port in 17100-17499");
    }

}

/// <summary>
/// A sentinel process: Cinnabar's (bin/cinnabar-sentinel) or Debian's /usr/bin/redis-sentinel,
/// started from a config file of its own (which it rewrites), logging to stdout (captured).
/// Killed by PID (SIGKILL) on Kill/Dispose; Restart starts it again from the rewritten config.
/// </summary>
public sealed class SentinelProcess : IDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _process;

    public bool IsRedis { get; }
    public int Port { get; }
    public string Dir { get; }
    public string ConfPath { get; }
    public int Pid => _process?.Id ?? -1;
    public string Kind => IsRedis ? "redis-sentinel" : "cinnabar-sentinel";

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private SentinelProcess(bool redis, int port, string dir)
    {
        IsRedis = redis;
        Port = port;
        Dir = dir;
        ConfPath = Path.Combine(dir, "sentinel.conf");
    }

    public static SentinelProcess Start(bool redis, int port, string dir, string masterName, int masterPort, int quorum,
        int downAfterMs, int failoverTimeoutMs, Func<int, string, string>? extraConf = null)
    {
        Directory.CreateDirectory(dir);
        var s = new SentinelProcess(redis, port, dir);
        File.WriteAllText(s.ConfPath,
            $"port {port}\n" +
            "bind 127.0.0.1\n" +
            $"dir {dir}\n" +
            $"sentinel monitor {masterName} 127.0.0.1 {masterPort} {quorum}\n" +
            $"sentinel down-after-milliseconds {masterName} {downAfterMs}\n" +
            $"sentinel failover-timeout {masterName} {failoverTimeoutMs}\n" +
            (extraConf?.Invoke(port, dir) ?? ""));
        s.Launch();
        return s;
    }

    /// <summary>Starts the process from ConfPath and waits until it answers PING.</summary>
    public void Launch()
    {
        var exe = IsRedis ? "/usr/bin/redis-sentinel" : Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-sentinel");
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Dir,
        };
        psi.ArgumentList.Add(ConfPath);
        lock (_output) _output.AppendLine($"=== {Kind} starting on port {Port} at {DateTime.Now:HH:mm:ss.fff} ===");
        var p = Process.Start(psi)!;
        _process = p;
        p.OutputDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (_output) _output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (p.HasExited)
            {
                p.WaitForExit();
                throw new InvalidOperationException($"{Kind} on port {Port} exited with {p.ExitCode}:\n{Output}");
            }
            try
            {
                using var c = new RespConnection(Port, 2000);
                if (c.Call("PING").ToString() == "PONG") return;
            }
            catch (SocketException) { }
            catch (IOException) { }
            if (sw.Elapsed > TimeSpan.FromSeconds(120))
            {
                Kill();
                throw new TimeoutException($"{Kind} on port {Port} did not start:\n{Output}");
            }
            Thread.Sleep(50);
        }
    }

    public bool HasExited => _process == null || _process.HasExited;

    public void Kill()
    {
        var p = _process;
        if (p == null) return;
        try
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit(10000);
        }
        catch (InvalidOperationException) { }
    }

    public void Restart()
    {
        Kill();
        Launch();
    }

    public RespConnection Connect(int timeoutMs = 5000) => new(Port, timeoutMs);

    public Reply Call(params object[] args)
    {
        using var c = Connect();
        return c.Call(args);
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
    }
}

/// <summary>A data node (Cinnabar or redis-server) with a fixed port and directory, so it can be
/// killed and started again in the same place.</summary>
public sealed class DataNode : IDisposable
{
    public bool IsRedis { get; }
    public int Port { get; }
    public string Dir { get; }
    public ServerProcess? Process { get; private set; }
    private readonly string[] _args;
    private readonly StringBuilder _pastOutput = new();

    public DataNode(bool redis, int port, string dir, string[] args)
    {
        IsRedis = redis;
        Port = port;
        Dir = dir;
        _args = args;
    }

    public string Kind => IsRedis ? "redis-server" : "cinnabar-server";
    public bool Alive => Process is { HasExited: false };
    public string Output => _pastOutput + (Process?.Output ?? "");

    public void Start()
    {
        Directory.CreateDirectory(Dir);
        Process = ServerProcess.Start(IsRedis, _args, port: Port, dir: Dir);
    }

    /// <summary>SIGKILL, as `kill -9`.</summary>
    public void Kill()
    {
        if (Process == null) return;
        Process.Kill();
        _pastOutput.Append(Process.Output).AppendLine("=== killed ===");
        Process.Dispose();
        Process = null;
    }

    public RespConnection Connect(int timeoutMs = 5000) => new(Port, timeoutMs);

    public Reply Call(params object[] args)
    {
        using var c = Connect();
        return c.Call(args);
    }

    public void Dispose() => Kill();
}

/// <summary>
/// A monitored replication group on 127.0.0.1: one master, N replicas (started with --replicaof)
/// and sentinels of either kind watching it as "mymaster" with quorum 2. Everything is killed by
/// PID and its directory removed on Dispose, even when a test fails half way; the sentinels' logs
/// go to the test output then.
/// </summary>
public sealed class SentinelCluster : IDisposable
{
    public const string MasterName = "mymaster";
    public const int DownAfterMs = 2000;
    public const int FailoverTimeoutMs = 10000;
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private readonly ITestOutputHelper _log;
    private readonly string _root;
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public List<DataNode> Nodes { get; } = new();
    public List<SentinelProcess> Sentinels { get; } = new();

    /// <summary>The port the sentinels were last seen agreeing on (the initial master at first).</summary>
    public int MasterPort { get; private set; }

    private SentinelCluster(ITestOutputHelper log)
    {
        _log = log;
        _root = Directory.CreateTempSubdirectory("sentinel-").FullName;
    }

    /// <summary>Starts the data nodes (the first is the master), waits for every replica's link,
    /// then starts the sentinels (true = Debian's redis-sentinel) and waits until each knows the
    /// replicas and the other sentinels. extraConf(port, dir), if given, returns lines appended to
    /// each sentinel's config (it may also write files into the sentinel's directory, which exists).</summary>
    public static SentinelCluster Start(ITestOutputHelper log, bool redisData, bool[] redisSentinels, int replicas = 2,
        Func<int, string, string>? extraConf = null)
    {
        if ((redisData || redisSentinels.Any(r => r)) && !File.Exists("/usr/bin/redis-sentinel"))
            throw new InvalidOperationException("redis-server/redis-sentinel are required (.ci/run installs them)");
        var c = new SentinelCluster(log);
        try
        {
            int masterPort = SentinelPorts.Allocate();
            c.MasterPort = masterPort;
            c.AddNode(redisData, masterPort, []);
            for (int i = 0; i < replicas; i++) c.AddNode(redisData, SentinelPorts.Allocate(), ["--replicaof", $"127.0.0.1 {masterPort}"]);
            foreach (var r in c.Nodes.Skip(1)) c.WaitReplicaOf(r, masterPort);
            for (int i = 0; i < redisSentinels.Length; i++)
            {
                int port = SentinelPorts.Allocate();
                c.Sentinels.Add(SentinelProcess.Start(redisSentinels[i], port, Path.Combine(c._root, $"sentinel-{port}"),
                    MasterName, masterPort, 2, DownAfterMs, FailoverTimeoutMs, extraConf));
            }
            c.Log($"started: master {masterPort}, replicas {string.Join(",", c.Nodes.Skip(1).Select(n => n.Port))}, sentinels " +
                  string.Join(",", c.Sentinels.Select(s => $"{s.Port}({s.Kind})")));
            c.WaitDiscovery();
            return c;
        }
        catch
        {
            c.Dispose();
            throw;
        }
    }

    private void AddNode(bool redis, int port, string[] extra)
    {
        var node = new DataNode(redis, port, Path.Combine(_root, $"node-{port}"), ["--repl-diskless-sync-delay", "0", .. extra]);
        Nodes.Add(node);
        node.Start();
    }

    public void Log(string text) => _log.WriteLine($"[{_clock.Elapsed.TotalSeconds,6:F1}s] {text}");

    public DataNode Node(int port) => Nodes.Single(n => n.Port == port);

    public DataNode Master => Node(MasterPort);

    // ---- observations ---------------------------------------------------------------------------

    /// <summary>A flat field/value reply (SENTINEL MASTER and the elements of SENTINEL REPLICAS) as a map.</summary>
    public static Dictionary<string, string> Map(Reply r)
    {
        if (r.IsError || r.Items == null) throw new InvalidOperationException("not a map reply: " + r);
        var d = new Dictionary<string, string>();
        for (int i = 0; i + 1 < r.Items.Count; i += 2) d[r.Items[i].ToString()] = r.Items[i + 1].ToString();
        return d;
    }

    public static Dictionary<string, string> MasterState(SentinelProcess s) => Map(s.Call("SENTINEL", "MASTER", MasterName));

    public static List<Dictionary<string, string>> ReplicasState(SentinelProcess s) =>
        s.Call("SENTINEL", "REPLICAS", MasterName).Items!.Select(Map).ToList();

    /// <summary>The master port a sentinel reports (its address must be 127.0.0.1).</summary>
    public static int MasterPortSeenBy(SentinelProcess s)
    {
        var r = s.Call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MasterName);
        if (r.Items is not { Count: 2 }) throw new InvalidOperationException("GET-MASTER-ADDR-BY-NAME: " + r);
        if (r.Items[0].ToString() != "127.0.0.1") throw new InvalidOperationException("unexpected master ip: " + r);
        return int.Parse(r.Items[1].ToString());
    }

    public static string InfoField(string info, string field)
    {
        foreach (var line in info.Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    public static string Replication(DataNode n) => n.Call("INFO", "replication").ToString();

    public static string Role(DataNode n) => n.Call("ROLE").Items![0].ToString();

    // ---- waits --------------------------------------------------------------------------------

    /// <summary>Polls until the condition holds; connection errors count as "not yet". On timeout
    /// the message carries the state of every process.</summary>
    public void WaitUntil(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Deadline;
        var sw = Stopwatch.StartNew();
        Exception? last = null;
        while (true)
        {
            try
            {
                if (condition())
                {
                    Log($"ok after {sw.Elapsed.TotalSeconds:F1}s: {what}");
                    return;
                }
            }
            catch (Exception e) when (e is IOException or SocketException or InvalidOperationException or NullReferenceException
                                          or FormatException or ArgumentOutOfRangeException)
            {
                last = e;
            }
            if (sw.Elapsed > limit)
                throw new TimeoutException($"timed out after {limit.TotalSeconds:F0}s waiting for {what}" +
                                           (last == null ? "" : $" (last error: {last.Message})") + "\n" + Diagnostics());
            Thread.Sleep(100);
        }
    }

    /// <summary>The node replicates from masterPort with its link up.</summary>
    public void WaitReplicaOf(DataNode n, int masterPort, TimeSpan? timeout = null) => WaitUntil(() =>
    {
        var info = Replication(n);
        return InfoField(info, "role") == "slave" && InfoField(info, "master_port") == masterPort.ToString()
               && InfoField(info, "master_link_status") == "up";
    }, $"{n.Port} to replicate from {masterPort} with its link up", timeout);

    /// <summary>Every sentinel sees the master ok (flags exactly "master"), all its replicas (link
    /// ok) and every other sentinel.</summary>
    public void WaitDiscovery(TimeSpan? timeout = null)
    {
        int replicas = Nodes.Count - 1;
        WaitUntil(() => Sentinels.All(s =>
        {
            var m = MasterState(s);
            return m["flags"] == "master" && m["port"] == MasterPort.ToString() && m["num-slaves"] == replicas.ToString()
                   && m["num-other-sentinels"] == (Sentinels.Count - 1).ToString()
                   && ReplicasState(s).All(r => r["flags"] == "slave" && r["master-link-status"] == "ok");
        }), $"every sentinel to know the master {MasterPort}, {replicas} replicas and {Sentinels.Count - 1} other sentinels", timeout);
    }

    /// <summary>Every live sentinel names the same master, other than `notPort`; returns it.</summary>
    public int WaitAgreedMaster(int notPort, TimeSpan? timeout = null)
    {
        int agreed = 0;
        WaitUntil(() =>
        {
            var seen = Sentinels.Where(s => !s.HasExited).Select(MasterPortSeenBy).Distinct().ToList();
            if (seen.Count != 1 || seen[0] == notPort) return false;
            agreed = seen[0];
            return true;
        }, $"every sentinel to name the same new master (not {notPort})", timeout);
        MasterPort = agreed;
        return agreed;
    }

    /// <summary>kill -9 of the current master; returns its port.</summary>
    public int KillMaster()
    {
        int old = MasterPort;
        Log($"kill -9 master {old} (pid {Master.Process?.Pid})");
        Master.Kill();
        return old;
    }

    /// <summary>A write on `writer` shows up on `reader`.</summary>
    public void WaitReplicated(DataNode writer, DataNode reader, string key, string value)
    {
        Assert.Equal("OK", writer.Call("SET", key, value).ToString());
        WaitUntil(() => reader.Call("GET", key).ToString() == value, $"{key}={value} written on {writer.Port} to be readable on {reader.Port}");
    }

    /// <summary>The whole state: each sentinel's view and log tail, each node's replication info.</summary>
    public string Diagnostics()
    {
        var sb = new StringBuilder();
        foreach (var s in Sentinels)
        {
            sb.AppendLine($"--- {s.Kind} {s.Port} (pid {s.Pid}, {(s.HasExited ? "exited" : "running")})");
            try
            {
                var m = MasterState(s);
                sb.AppendLine("  master: " + string.Join(" ", m.Select(kv => $"{kv.Key}={kv.Value}")));
                foreach (var r in ReplicasState(s))
                    sb.AppendLine($"  replica {r["name"]} flags={r["flags"]} link={r["master-link-status"]} master-port={r["master-port"]}");
            }
            catch (Exception e) { sb.AppendLine("  (no answer: " + e.Message + ")"); }
            sb.AppendLine(Tail(s.Output, 40));
        }
        foreach (var n in Nodes)
        {
            sb.Append($"--- {n.Kind} {n.Port} ({(n.Alive ? "running" : "down")}) ");
            try
            {
                var info = Replication(n);
                sb.AppendLine($"role={InfoField(info, "role")} master_port={InfoField(info, "master_port")} " +
                              $"link={InfoField(info, "master_link_status")} connected_slaves={InfoField(info, "connected_slaves")}");
            }
            catch (Exception e) { sb.AppendLine("(no answer: " + e.Message + ")"); }
        }
        return sb.ToString();
    }

    private static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public void Dispose()
    {
        foreach (var s in Sentinels) s.Kill();
        foreach (var n in Nodes) n.Kill();
        try
        {
            foreach (var s in Sentinels) _log.WriteLine($"===== {s.Kind} {s.Port} log =====\n{Tail(s.Output, 200)}");
        }
        catch (InvalidOperationException) { }
        foreach (var s in Sentinels) s.Dispose();
        ServerProcess.DeleteDir(_root);
    }
}
