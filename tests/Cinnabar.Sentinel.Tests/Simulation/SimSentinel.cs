using System.Net;
using Cinnabar.Protocol;

namespace Cinnabar.Sentinel.Tests.Simulation;

/// <summary>
/// One sentinel process: a <see cref="SentinelNode"/>, the <see cref="ISentinelEnvironment"/> it acts
/// through, and the server side peers talk to (PING, PUBLISH, SENTINEL, INFO, AUTH, CLIENT).
/// The config file is the last <see cref="SentinelNode.RewriteLines"/> saved; a restart loads it.
/// </summary>
public sealed class SimSentinel : SimEndpoint, ISentinelEnvironment
{
    private readonly Action<SentinelNode>? _configure;
    private int _generation;

    internal SimSentinel(SimNetwork net, string ip, int port, int index, Random rng, Action<SentinelNode>? configure) : base(net, ip, port)
    {
        Index = index;
        Rng = rng;
        _configure = configure;
        Node = null!;
    }

    public int Index { get; }
    public Random Rng { get; }
    public SentinelNode Node { get; private set; }
    /// <summary>The config file: the "sentinel ..." lines of the last save.</summary>
    public List<string> SavedConfig { get; private set; } = new();
    public int Saves { get; private set; }
    /// <summary>When set, SaveConfig fails (as a read-only disk would).</summary>
    public bool FailSaves { get; set; }
    public List<string> LogLines { get; } = new();
    public List<(string Path, IReadOnlyList<string> Args)> Scripts { get; } = new();
    public int? CrashedWith { get; private set; }

    internal void Boot(List<string> config)
    {
        Node = new SentinelNode(this) { MyPort = Port };
        var lines = config.Select((l, i) => ParseLine(l, i + 1)).Where(l => l != null).Select(l => l!).ToList();
        var err = Node.LoadConfig(lines, Net.Now);
        if (err != null) throw new InvalidOperationException($"config error at line {err.Value.Line.LineNumber} '{err.Value.Line.Text}': {err.Value.Error}");
        _configure?.Invoke(Node);
        SavedConfig = config;
        Alive = true;
        Node.Start(Net.Now);
        int gen = ++_generation;
        Net.Schedule(Net.Rng.Next(0, 100), () => TickLoop(gen));
    }

    /// <summary>Splits a config line ("sentinel monitor m ip port q") into a ConfigLine without the "sentinel".</summary>
    public static SentinelNode.ConfigLine? ParseLine(string line, int number)
    {
        var argv = SplitArgs(line);
        if (argv.Count < 2 || !argv[0].Equals("sentinel", StringComparison.OrdinalIgnoreCase)) return null;
        return new SentinelNode.ConfigLine(argv.Skip(1).ToList(), number, line);
    }

    internal static List<string> SplitArgs(string line)
    {
        var res = new List<string>();
        int i = 0;
        while (i < line.Length)
        {
            while (i < line.Length && line[i] == ' ') i++;
            if (i >= line.Length) break;
            if (line[i] == '"')
            {
                var sb = new System.Text.StringBuilder();
                i++;
                while (i < line.Length && line[i] != '"')
                {
                    if (line[i] == '\\' && i + 1 < line.Length) i++;
                    sb.Append(line[i++]);
                }
                i++;
                res.Add(sb.ToString());
            }
            else
            {
                int start = i;
                while (i < line.Length && line[i] != ' ') i++;
                res.Add(line[start..i]);
            }
        }
        return res;
    }

    private void TickLoop(int gen)
    {
        if (gen != _generation || !Alive) return;
        if (StoppedUntil > Net.Now)
        {
            Net.At(StoppedUntil, () => TickLoop(gen));
            return;
        }
        Node.Tick(Net.Now);
        if (gen != _generation || !Alive) return; // crashed in the tick
        Net.Schedule(Node.NextTickDelayMs(), () => TickLoop(gen));
    }

    public void Kill()
    {
        _generation++;
        Net.KillEndpoint(this);
    }

    /// <summary>Restarts from the saved config file (a new SentinelNode; the state machine's memory is lost).</summary>
    public void Restart()
    {
        if (Alive) Kill();
        Boot(SavedConfig.ToList());
    }

    // ---------------------------------------------------------------- client commands (tests)

    /// <summary>Runs a SENTINEL command on this node now and returns the parsed reply.</summary>
    public RespReply Command(params string[] argv)
    {
        var w = new RespWriter();
        var full = argv.Length > 0 && argv[0].Equals("sentinel", StringComparison.OrdinalIgnoreCase) ? argv : ["sentinel", .. argv];
        Node.Command(full, w, Net.Now);
        return Parse(w);
    }

    public static RespReply Parse(RespWriter w)
    {
        var r = new RespReplyReader();
        r.Feed(w.Written.Span);
        var reply = r.TryRead() ?? throw new InvalidOperationException("incomplete reply");
        Assert.Equal(0, r.Buffered);
        return reply;
    }

    /// <summary>SENTINEL MASTER as a dictionary.</summary>
    public Dictionary<string, string> MasterInfo(string name = "mymaster") => ToMap(Command("master", name));

    public static Dictionary<string, string> ToMap(RespReply r)
    {
        Assert.True(r.Type is RespType.Array or RespType.Map, $"not a map: {r.Type} {r.Text}");
        var d = new Dictionary<string, string>();
        for (int i = 0; i + 1 < r.Elements.Count; i += 2) d[r.Elements[i].Text] = r.Elements[i + 1].Text;
        return d;
    }

    /// <summary>GET-MASTER-ADDR-BY-NAME as "ip:port", or null.</summary>
    public string? MasterAddr(string name = "mymaster")
    {
        var r = Command("get-master-addr-by-name", name);
        return r.Type == RespType.Nil ? null : $"{r.Elements[0].Text}:{r.Elements[1].Text}";
    }

    // ---------------------------------------------------------------- server side

    internal override void Handle(SimConnection conn, IReadOnlyList<string> argv, Action<RespReply> reply)
    {
        var w = new RespWriter();
        switch (argv[0].ToUpperInvariant())
        {
            case "PING":
                w.WriteSimpleString("PONG");
                break;
            case "AUTH" or "CLIENT":
                w.WriteOk();
                break;
            case "PUBLISH" when argv.Count == 3:
                Node.Publish(argv[1], argv[2], w, Net.Now);
                break;
            case "SENTINEL" when argv.Count >= 2:
                Node.Command(argv, w, Net.Now);
                break;
            case "INFO":
                w.WriteBulk("# Sentinel\r\n" + Node.InfoSection(Net.Now, 0, 0));
                break;
            default:
                w.WriteError($"ERR unknown command '{argv[0]}'");
                break;
        }
        reply(Parse(w));
    }

    // ---------------------------------------------------------------- ISentinelEnvironment

    int ISentinelEnvironment.Connect(string ip, int port) => Net.Connect(this, ip, port);

    void ISentinelEnvironment.Send(int conn, IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent)
    {
        if (Alive) Net.Send(conn, argv, onReply, persistent);
    }

    void ISentinelEnvironment.Close(int conn) => Net.CloseFromClient(conn);

    string? ISentinelEnvironment.LocalIp(int conn) => Net.IsOpen(conn) ? Ip : null;

    string? ISentinelEnvironment.Resolve(string host, bool allowDns)
    {
        if (IPAddress.TryParse(host, out _)) return host;
        if (allowDns && host.Equals("localhost", StringComparison.OrdinalIgnoreCase)) return "127.0.0.1";
        return null;
    }

    void ISentinelEnvironment.Publish(string channel, string message)
    {
        if (!Alive) return;
        if (channel == "+elected-leader")
        {
            var name = message.Split(' ')[1];
            Net.Elections.Add((Node.Masters[name].FailoverEpoch, Node.MyId, Index));
        }
        Net.Record(new SimEvent(Net.Now, Index, channel, message));
    }

    void ISentinelEnvironment.Log(SentinelLogLevel level, string message)
    {
        LogLines.Add($"{Net.Elapsed} {level} {message}");
        if (LogLines.Count > 2000) LogLines.RemoveRange(0, 1000);
    }

    bool ISentinelEnvironment.SaveConfig()
    {
        if (FailSaves) return false;
        Saves++;
        SavedConfig = Node.RewriteLines().Select(l => l.Line).ToList();
        return true;
    }

    void ISentinelEnvironment.ScheduleScript(string path, IReadOnlyList<string> args) => Scripts.Add((path, args.ToList()));

    int ISentinelEnvironment.Random(int max) => Rng.Next(max);

    void ISentinelEnvironment.Crash(int exitCode)
    {
        CrashedWith = exitCode;
        Kill();
    }

    public string Describe()
    {
        if (!Alive) return $"sentinel{Index} {Addr} DEAD";
        var parts = new List<string> { $"sentinel{Index} {Addr} id={Node.MyId[..8]} epoch={Node.CurrentEpoch} tilt={Node.Tilt} group={Group}" };
        foreach (var m in Node.Masters.Values)
            parts.Add($"[{m.Name} {m.Addr.Ip}:{m.Addr.Port} flags={SentinelNode.FlagsText(m)} state={m.FailoverState} cfg={m.ConfigEpoch} leader-epoch={m.LeaderEpoch} replicas={m.Replicas.Count} sentinels={m.Sentinels.Count}]");
        return string.Join(' ', parts);
    }
}
