using System.Diagnostics;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cinnabar.Cli.Tests;

/// <summary>
/// bin/cinnabar-cluster: one command brings up a 3-master, 3-replica cluster on loopback that
/// real clients use, status shows it, stop/start brings it back from its files, clean removes it.
/// </summary>
public sealed class ClusterScriptTests : IDisposable
{
    private static string Script => Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-cluster");

    private readonly ITestOutputHelper _log;
    private readonly string _dir = Directory.CreateTempSubdirectory("cinnabar-cluster-test-").FullName;
    private readonly int _base = PickBase();

    public ClusterScriptTests(ITestOutputHelper log) => _log = log;

    /// <summary>A base port whose six node ports and their bus ports are free (above the range
    /// ServerProcess.FreePort hands out, so parallel tests cannot collide).</summary>
    private static int PickBase()
    {
        var rnd = new Random();
        for (int attempt = 0; attempt < 200; attempt++)
        {
            int b = 50000 + rnd.Next(0, 400) * 10;
            if (Enumerable.Range(1, 6).All(i => ServerProcess.IsFree(b + i) && ServerProcess.IsFree(b + i + 10000))) return b;
        }
        throw new InvalidOperationException("no free port range for the cluster");
    }

    private (int Code, string Out) Run(string verb, int timeoutMs = 240_000)
    {
        var sw = Stopwatch.StartNew();
        var (code, stdout, stderr) = Tools.Run(Script, [verb, "--port", _base.ToString(), "--dir", _dir], "", timeoutMs);
        _log.WriteLine($"cinnabar-cluster {verb} -> {code} in {sw.ElapsedMilliseconds} ms\n{stdout}{stderr}");
        return (code, stdout + stderr);
    }

    private IEnumerable<int> Ports => Enumerable.Range(_base + 1, 6);

    private static string Cli(int port, params string[] args)
    {
        var (_, stdout, _) = Tools.Run("redis-cli", ["-p", port.ToString(), .. args], "", 30_000);
        return stdout.Replace("\r", "");
    }

    private List<int> Pids() => Ports
        .Select(p => Path.Combine(_dir, p.ToString(), "cinnabar.pid"))
        .Where(File.Exists)
        .Select(f => int.TryParse(File.ReadAllText(f).Trim(), out int pid) ? pid : 0)
        .Where(pid => pid > 0)
        .ToList();

    private static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    [Fact]
    public void Start_status_stop_restart_and_clean()
    {
        var (code, output) = Run("start");
        Assert.True(code == 0, output);
        Assert.Contains("Cluster ready", output, StringComparison.Ordinal);
        Assert.Equal(6, Pids().Count);

        // Every node agrees the cluster is healthy: 3 masters own all slots, 3 replicas.
        foreach (int p in Ports) Assert.Contains("cluster_state:ok", Cli(p, "CLUSTER", "INFO"), StringComparison.Ordinal);
        var nodes = Cli(_base + 1, "CLUSTER", "NODES").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(6, nodes.Length);
        Assert.Equal(3, nodes.Count(l => l.Split(' ')[2].Contains("master", StringComparison.Ordinal)));
        Assert.Equal(3, nodes.Count(l => l.Split(' ')[2].Contains("slave", StringComparison.Ordinal)));

        // A cluster client writes through it.
        var writes = string.Join("\n", Enumerable.Range(0, 60).Select(i => $"SET key:{i} value-{i}")) + "\n";
        Tools.Run("redis-cli", ["-c", "-p", (_base + 1).ToString()], writes, 60_000);
        Assert.Equal("value-42\n", Tools.Run("redis-cli", ["-c", "-p", (_base + 3).ToString(), "GET", "key:42"], "", 30_000).Stdout);

        var (scode, status) = Run("status");
        Assert.True(scode == 0, status);
        var rows = status.Split('\n').Where(l => l.StartsWith("127.0.0.1:", StringComparison.Ordinal)).ToList();
        Assert.Equal(6, rows.Count);
        Assert.All(rows, r => Assert.Contains(" up ", r, StringComparison.Ordinal));
        Assert.Equal(3, rows.Count(r => Regex.IsMatch(r, @"\smaster\s")));
        Assert.Equal(3, rows.Count(r => Regex.IsMatch(r, @"\sreplica\s")));
        long masterKeys = rows.Where(r => Regex.IsMatch(r, @"\smaster\s")).Sum(r => long.Parse(Regex.Split(r.Trim(), @"\s+")[6]));
        Assert.Equal(60, masterKeys);
        Assert.Contains("cluster_state:ok", status, StringComparison.Ordinal);

        // Stop: every process is gone.
        var pids = Pids();
        (code, output) = Run("stop");
        Assert.True(code == 0, output);
        Assert.All(pids, pid => Assert.False(Alive(pid), $"pid {pid} still running"));
        (code, _) = Run("status");
        Assert.NotEqual(0, code);

        // Start again: the nodes come back from nodes.conf and their AOF, with the data.
        (code, output) = Run("start");
        Assert.True(code == 0, output);
        Assert.DoesNotContain("Performing hash slots allocation", output, StringComparison.Ordinal);
        Assert.Equal("value-7\n", Tools.Run("redis-cli", ["-c", "-p", (_base + 2).ToString(), "GET", "key:7"], "", 30_000).Stdout);

        pids = Pids();
        (code, output) = Run("clean");
        Assert.True(code == 0, output);
        Assert.False(Directory.Exists(_dir));
        Assert.All(pids, pid => Assert.False(Alive(pid), $"pid {pid} still running"));
    }

    [Fact]
    public void Help_and_bad_usage()
    {
        var (code, stdout, _) = Tools.Run(Script, ["--help"], "", 30_000);
        Assert.Equal(0, code);
        foreach (var verb in new[] { "start", "stop", "status", "watch", "clean" })
            Assert.Contains("  " + verb, stdout, StringComparison.Ordinal);
        var bad = Tools.Run(Script, ["frobnicate"], "", 30_000);
        Assert.Equal(1, bad.ExitCode);
        Assert.Contains("unknown command 'frobnicate'", bad.Stderr, StringComparison.Ordinal);
        var badPort = Tools.Run(Script, ["start", "--port", "x"], "", 30_000);
        Assert.Equal(1, badPort.ExitCode);
    }

    public void Dispose()
    {
        foreach (int pid in Pids())
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
                p.WaitForExit(10_000);
            }
            catch (ArgumentException)
            {
            }
            catch (InvalidOperationException)
            {
            }
        }
        ServerProcess.DeleteDir(_dir);
    }
}
