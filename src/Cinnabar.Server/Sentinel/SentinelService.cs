using System.Net;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Sentinel;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Sentinel;

/// <summary>
/// Wires the sentinel state machine (Cinnabar.Sentinel.SentinelNode) to this process: outgoing
/// connections, the timer (a random 10-19 Hz, as Redis changes hz each run), the config file,
/// pub/sub events and scripts. Every call into the state machine happens under the server's
/// execution lock, like a command.
/// </summary>
public sealed class SentinelService : ISentinelEnvironment
{
    private readonly RedisServer _server;
    private readonly Dictionary<int, SentinelConnection> _conns = new();
    private int _nextConnId;

    public SentinelNode Node { get; }
    internal SentinelScripts Scripts { get; }

    /// <summary>bind-source-addr, which sentinel links honour too (redisAsyncConnectBind in sentinel.c).</summary>
    internal string BindSourceAddr => _server.Config.BindSourceAddr;

    private SentinelService(RedisServer server)
    {
        _server = server;
        Node = new SentinelNode(this)
        {
            MyPort = server.Config.Port,
            IsExecutable = IsExecutableFile,
        };
        Scripts = new SentinelScripts(server.Log, Node);
        Node.PendingScriptsWriter = Scripts.WritePending;
    }

    public static long NowMs => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    /// <summary>Creates the service and applies the config file's "sentinel" lines; throws with
    /// Redis's fatal config error text when one is invalid.</summary>
    public static SentinelService Create(RedisServer server, IReadOnlyList<SentinelNode.ConfigLine> lines)
    {
        var svc = new SentinelService(server);
        string pass = server.Config.Get("requirepass");
        svc.Node.RequirePass = pass.Length > 0 ? pass : null;
        var err = svc.Node.LoadConfig(lines, NowMs);
        if (err is { } e)
            throw new SentinelConfigException(
                $"\n*** FATAL CONFIG FILE ERROR (Redis {ServerConfig.RedisVersion}) ***\nReading the configuration file, at line {e.Line.LineNumber}\n>>> '{e.Line.Text}'\n{e.Error}");
        server.Config.SentinelRewriteLines = svc.Node.RewriteLines;
        return svc;
    }

    /// <summary>sentinelIsRunning, then the timer.</summary>
    public void Start()
    {
        lock (_server.ExecLock) Node.Start(NowMs);
        _ = TimerLoopAsync();
    }

    private async Task TimerLoopAsync()
    {
        while (!_server.Stopped.IsCompleted)
        {
            int delay;
            lock (_server.ExecLock)
            {
                long now = NowMs;
                Node.Tick(now);
                Scripts.Run(now);
                delay = Node.NextTickDelayMs();
            }
            await Task.Delay(delay).ConfigureAwait(false);
        }
    }

    // ---------------------------------------------------------------- connections

    internal void Deliver(SentinelConnection conn, List<RespReply> replies)
    {
        lock (_server.ExecLock)
        {
            long now = NowMs;
            foreach (var r in replies) conn.Dispatch(r, now);
        }
    }

    internal void Closed(SentinelConnection conn)
    {
        lock (_server.ExecLock)
        {
            if (_conns.Remove(conn.Id)) Node.ConnectionClosed(conn.Id);
            conn.Close();
        }
    }

    public int Connect(string ip, int port)
    {
        int id = ++_nextConnId;
        try
        {
            _conns[id] = new SentinelConnection(this, id, ip, port);
        }
        catch (Exception e) when (e is FormatException or SocketException)
        {
            // Reported as a close after this call returns, as a failed async connect would be.
            _ = Task.Run(() =>
            {
                lock (_server.ExecLock) Node.ConnectionClosed(id);
            });
        }
        return id;
    }

    public void Send(int conn, IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent = false)
    {
        if (_conns.TryGetValue(conn, out var c)) c.Send(argv, onReply, persistent);
    }

    public void Close(int conn)
    {
        if (_conns.Remove(conn, out var c)) c.Close();
    }

    public string? LocalIp(int conn) => _conns.TryGetValue(conn, out var c) ? c.LocalIp : null;

    public string? Resolve(string host, bool allowDns)
    {
        if (IPAddress.TryParse(host, out var ip)) return ip.ToString();
        if (!allowDns) return null;
        try
        {
            var addrs = Dns.GetHostAddresses(host);
            var pick = addrs.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addrs.FirstOrDefault();
            return pick?.ToString();
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            return null;
        }
    }

    // ---------------------------------------------------------------- the rest of the environment

    public void Publish(string channel, string message) =>
        _server.PubSub.Publish(Encoding.UTF8.GetBytes(channel), Encoding.UTF8.GetBytes(message));

    public void Log(SentinelLogLevel level, string message)
    {
        switch (level)
        {
            case SentinelLogLevel.Debug: _server.Log.Debug(message); break;
            case SentinelLogLevel.Verbose: _server.Log.Verbose(message); break;
            case SentinelLogLevel.Notice: _server.Log.Notice(message); break;
            default: _server.Log.Warning(message); break;
        }
    }

    /// <summary>sentinelFlushConfig: CONFIG REWRITE of the sentinel's file, then fsync.</summary>
    public bool SaveConfig()
    {
        string? path = _server.Config.ConfigFile;
        string? err = path == null ? "No such file or directory" : ConfigRewrite.Rewrite(_server.Config, path);
        if (err == null)
        {
            try
            {
                using var f = new FileStream(path!, FileMode.Open, FileAccess.Read);
                f.Flush(flushToDisk: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                err = e.Message;
            }
        }
        if (err != null)
        {
            _server.Log.Warning("WARNING: Sentinel was not able to save the new configuration on disk!!!: " + err);
            return false;
        }
        _server.Log.Notice("Sentinel new configuration saved on disk");
        return true;
    }

    public void ScheduleScript(string path, IReadOnlyList<string> args) => Scripts.Schedule(path, args, NowMs);

    public int Random(int max) => System.Random.Shared.Next(max);

    public void Crash(int exitCode)
    {
        _server.Log.Warning("Sentinel exiting with code " + exitCode);
        Environment.Exit(exitCode);
    }

    private static bool IsExecutableFile(string path)
    {
        try
        {
            if (!File.Exists(path)) return false;
            if (OperatingSystem.IsWindows()) return true;
            var mode = File.GetUnixFileMode(path);
            return (mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}

public sealed class SentinelConfigException(string message) : Exception(message);
