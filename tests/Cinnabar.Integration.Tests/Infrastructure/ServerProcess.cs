using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Cinnabar.Integration.Tests.Infrastructure;

/// <summary>
/// A real server process on 127.0.0.1: Cinnabar through bin/cinnabar-server, or Debian's
/// redis-server for side-by-side checks. Started on a free port, awaited until it answers PING,
/// and killed by PID on dispose. Each instance gets its own temporary directory.
/// </summary>
public sealed class ServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();

    public int Port { get; }
    public string Dir { get; }
    public int Pid => _process.Id;
    public bool IsRedis { get; }
    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    private bool _ownsDir;

    private ServerProcess(Process process, int port, string dir, bool isRedis)
    {
        _process = process;
        Port = port;
        Dir = dir;
        IsRedis = isRedis;
    }

    public static string RepoRoot
    {
        get
        {
            var dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "Cinnabar.slnx"))) dir = Path.GetDirectoryName(dir);
            return dir ?? throw new InvalidOperationException("repo root not found");
        }
    }

    public static bool RedisAvailable => File.Exists("/usr/bin/redis-server");

    /// <summary>Starts Cinnabar with the given extra arguments (after --port/--dir).</summary>
    public static ServerProcess StartCinnabar(params string[] args) => Start(false, args);

    /// <summary>Starts Debian's redis-server 7.0 with the same argument conventions.</summary>
    public static ServerProcess StartRedis(params string[] args) => Start(true, args);

    public static ServerProcess Start(bool redis, string[] args, string? configFile = null, int? port = null, string? dir = null)
    {
        int p = port ?? FreePort();
        bool ownsDir = dir == null;
        dir ??= Directory.CreateTempSubdirectory(redis ? "redis-" : "cinnabar-").FullName;
        var psi = new ProcessStartInfo(redis ? "/usr/bin/redis-server" : Path.Combine(RepoRoot, "bin", "cinnabar-server"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = dir,
        };
        if (configFile != null) psi.ArgumentList.Add(configFile);
        foreach (var a in new[] { "--port", p.ToString(), "--dir", dir, "--bind", "127.0.0.1", "--save", "" }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        var proc = Process.Start(psi)!;
        var sp = new ServerProcess(proc, p, dir, redis) { _ownsDir = ownsDir };
        proc.OutputDataReceived += (_, e) => { if (e.Data != null) lock (sp._output) sp._output.AppendLine(e.Data); };
        proc.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (sp._output) sp._output.AppendLine(e.Data); };
        proc.BeginOutputReadLine();
        proc.BeginErrorReadLine();
        try
        {
            sp.WaitReady(TimeSpan.FromSeconds(120));
        }
        catch
        {
            // A server that never became ready is still a process of ours: never leave it behind.
            sp.Dispose();
            throw;
        }
        return sp;
    }

    public void WaitReady(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        DateTime? noAuthSince = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"server exited with {_process.ExitCode}: {Output}");
            try
            {
                using var c = new RespConnection(Port);
                var pong = c.Call("PING").ToString();
                // With no default user PING says NOAUTH even while loading: then the log's
                // "Ready to accept connections" (or 2 s of NOAUTH when logging elsewhere) says it is up.
                if (pong == "NOAUTH Authentication required.")
                {
                    noAuthSince ??= DateTime.UtcNow;
                    if (Output.Contains("Ready to accept connections", StringComparison.Ordinal) || DateTime.UtcNow - noAuthSince > TimeSpan.FromSeconds(2)) return;
                }
                // Wait until the dataset is loaded (PING is answered while loading, GET is not).
                if (pong == "PONG" && c.Call("INFO", "persistence").ToString().Contains("loading:0")) return;
            }
            catch (SocketException) { }
            catch (IOException) { }
            Thread.Sleep(50);
        }
        throw new TimeoutException("server did not start: " + Output);
    }

    public RespConnection Connect() => new(Port);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit((int)timeout.TotalMilliseconds)) return false;
        // The timed wait does not wait for the asynchronous output readers; the untimed one does,
        // so Output holds everything the process wrote (a crash report, for instance).
        _process.WaitForExit();
        return true;
    }

    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10000);
        }
        catch (InvalidOperationException) { }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        if (_ownsDir) DeleteDir(Dir);
    }

    public static void DeleteDir(string dir)
    {
        try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static readonly HashSet<int> HandedOut = new();
    private static readonly Random PortRandom = new();

    /// <summary>
    /// A port free now (and port+10000, for cluster buses), never handed out twice by this
    /// process, so parallel tests cannot race for the same port. Never one of the Redis suite's
    /// cluster and sentinel runners' ports (20000-20099, 30000-30099 and their buses 40000-40099):
    /// CI runs those runners while these tests run, and a runner restarts nodes on their ports.
    /// </summary>
    public static int FreePort()
    {
        lock (HandedOut)
        {
            for (int attempt = 0; attempt < 1000; attempt++)
            {
                int port = PortRandom.Next(20000, 40000);
                if (port % 10000 < 100 || HandedOut.Contains(port) || !IsFree(port) || !IsFree(port + 10000)) continue;
                HandedOut.Add(port);
                return port;
            }
        }
        throw new InvalidOperationException("no free port");
    }

    public static bool IsFree(int port)
    {
        try
        {
            var l = new TcpListener(IPAddress.Loopback, port);
            l.Start();
            l.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
