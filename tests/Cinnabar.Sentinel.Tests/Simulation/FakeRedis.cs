using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Sentinel.Tests.Simulation;

public enum FakeMode
{
    Normal,
    /// <summary>PING gets -LOADING (a valid reply for sentinels).</summary>
    Loading,
    /// <summary>PING and INFO get -BUSY until SCRIPT KILL.</summary>
    Busy,
    /// <summary>Nothing is answered (but the connections stay up).</summary>
    Frozen,
}

/// <summary>
/// A Redis data node as far as a sentinel can see: AUTH, CLIENT, PING, INFO, SUBSCRIBE/PUBLISH on
/// its own channels, MULTI/SLAVEOF/CONFIG REWRITE/CLIENT KILL/EXEC and SCRIPT KILL. Replication is
/// modelled by <see cref="SimNetwork"/>'s data tick: a replica's link is up while its master is a
/// live master on the same side of any partition, and it copies the master's offset then.
/// </summary>
public sealed class FakeRedis : SimEndpoint
{
    internal FakeRedis(SimNetwork net, string ip, int port, int index) : base(net, ip, port)
    {
        Index = index;
        RunId = NewRunId();
    }

    public int Index { get; }
    public string RunId { get; set; }
    public FakeMode Mode { get; set; }
    public string? MasterHost { get; private set; }
    public int MasterPort { get; private set; }
    public bool IsMaster => MasterHost == null;
    public long Offset { get; set; }
    /// <summary>When set, INFO reports this offset instead of the replicated one.</summary>
    public long? OffsetOverride { get; set; }
    public int Priority { get; set; } = 100;
    public int ReplicaAnnounced { get; set; } = 1;
    public long LinkDownSince { get; internal set; }
    /// <summary>SLAVEOF is acknowledged but not applied (a replica that never reconfigures / never gets promoted).</summary>
    public bool IgnoreSlaveOf { get; set; }
    /// <summary>EXEC runs CLIENT KILL TYPE normal|pubsub against the other clients, as Redis does.</summary>
    public bool ClientKillEnabled { get; set; } = true;
    /// <summary>Every SLAVEOF applied or ignored: (time, "NO ONE" or "host port", from sentinel index).</summary>
    public List<(long Time, string Target, int Sentinel)> SlaveOfLog { get; } = new();
    public int ScriptKills { get; private set; }
    public int Restarts { get; private set; }
    public List<string> Commands { get; } = new();
    public bool RecordCommands { get; set; }

    private string NewRunId()
    {
        var sb = new StringBuilder(40);
        for (int i = 0; i < 40; i++) sb.Append("0123456789abcdef"[Net.Rng.Next(16)]);
        return sb.ToString();
    }

    public void ReplicaOf(FakeRedis? master)
    {
        if (master == null)
        {
            MasterHost = null;
            MasterPort = 0;
        }
        else
        {
            MasterHost = master.Ip;
            MasterPort = master.Port;
        }
        LinkDownSince = 0;
    }

    public FakeRedis? MasterNode => MasterHost == null ? null : Net.Redis.FirstOrDefault(r => r.Ip == MasterHost && r.Port == MasterPort);

    public bool LinkUp
    {
        get
        {
            var m = MasterNode;
            return m != null && m.Alive && m.IsMaster && m.Mode != FakeMode.Frozen && Net.SameSide(m, this);
        }
    }

    public void Kill() => Net.KillEndpoint(this);

    /// <summary>Restarts the process: a new run id, the persisted replication config kept.</summary>
    public void Restart()
    {
        Alive = true;
        Mode = FakeMode.Normal;
        RunId = NewRunId();
        Restarts++;
        LinkDownSince = 0;
    }

    internal override void Handle(SimConnection conn, IReadOnlyList<string> argv, Action<RespReply> reply)
    {
        if (Mode == FakeMode.Frozen) return;
        if (RecordCommands) Commands.Add(string.Join(' ', argv));
        string cmd = argv[0].ToUpperInvariant();
        if (conn.Multi != null && cmd is not ("EXEC" or "MULTI" or "DISCARD"))
        {
            conn.Multi.Add(argv);
            reply(RespReply.Status("QUEUED"));
            return;
        }
        switch (cmd)
        {
            case "MULTI":
                conn.Multi = new();
                reply(RespReply.Status("OK"));
                return;
            case "EXEC":
            {
                var queued = conn.Multi;
                conn.Multi = null;
                if (queued == null)
                {
                    reply(RespReply.Error("ERR EXEC without MULTI"));
                    return;
                }
                var results = new List<RespReply>();
                foreach (var q in queued) results.Add(Execute(conn, q));
                reply(new RespReply { Type = RespType.Array, Elements = results });
                return;
            }
            case "SUBSCRIBE":
                conn.Subscribed = true;
                for (int i = 1; i < argv.Count; i++)
                    Net.Push(conn, RespReply.Agg(RespType.Array, RespReply.Bulk("subscribe"), RespReply.Bulk(argv[i]), RespReply.Int(i)));
                return;
            default:
                reply(Execute(conn, argv));
                return;
        }
    }

    private RespReply Execute(SimConnection conn, IReadOnlyList<string> argv)
    {
        string cmd = argv[0].ToUpperInvariant();
        const string Busy = "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
        switch (cmd)
        {
            case "AUTH":
                return RespReply.Status("OK");
            case "CLIENT":
                if (argv.Count >= 3 && argv[1].Equals("SETNAME", StringComparison.OrdinalIgnoreCase)) conn.ClientName = argv[2];
                else if (argv.Count >= 4 && argv[1].Equals("KILL", StringComparison.OrdinalIgnoreCase) && ClientKillEnabled)
                    return RespReply.Int(KillClients(conn, argv[3].Equals("pubsub", StringComparison.OrdinalIgnoreCase)));
                return RespReply.Status("OK");
            case "PING":
                return Mode switch
                {
                    FakeMode.Loading => RespReply.Error("LOADING Redis is loading the dataset in memory"),
                    FakeMode.Busy => RespReply.Error(Busy),
                    _ => RespReply.Status("PONG"),
                };
            case "INFO":
                return Mode == FakeMode.Busy ? RespReply.Error(Busy) : RespReply.Bulk(Info());
            case "PUBLISH":
            {
                int n = 0;
                foreach (var c in Inbound.Where(c => c.Subscribed).ToList())
                {
                    Net.Push(c, RespReply.Agg(RespType.Array, RespReply.Bulk("message"), RespReply.Bulk(argv[1]), RespReply.Bulk(argv[2])));
                    n++;
                }
                return RespReply.Int(n);
            }
            case "SLAVEOF" or "REPLICAOF":
            {
                bool noOne = argv[1].Equals("NO", StringComparison.OrdinalIgnoreCase) && argv[2].Equals("ONE", StringComparison.OrdinalIgnoreCase);
                SlaveOfLog.Add((Net.Now, noOne ? "NO ONE" : $"{argv[1]} {argv[2]}", conn.Client.Index));
                if (!IgnoreSlaveOf)
                {
                    if (noOne) ReplicaOf(null);
                    else
                    {
                        MasterHost = argv[1];
                        MasterPort = int.Parse(argv[2], CultureInfo.InvariantCulture);
                        LinkDownSince = 0;
                    }
                }
                return RespReply.Status("OK");
            }
            case "CONFIG":
                return RespReply.Status("OK");
            case "SCRIPT":
                if (Mode == FakeMode.Busy)
                {
                    ScriptKills++;
                    Mode = FakeMode.Normal;
                    return RespReply.Status("OK");
                }
                return RespReply.Error("NOTBUSY No scripts in execution right now.");
            default:
                return RespReply.Error($"ERR unknown command '{argv[0]}'");
        }
    }

    private int KillClients(SimConnection caller, bool pubsub)
    {
        int n = 0;
        foreach (var c in Inbound.ToList())
        {
            if (c == caller || c.Subscribed != pubsub) continue;
            Net.CloseFromServer(c);
            n++;
        }
        return n;
    }

    /// <summary>The INFO text a sentinel parses (server and replication fields).</summary>
    public string Info()
    {
        var l = new List<string>
        {
            "# Server",
            "redis_version:7.0.15",
            "run_id:" + RunId,
            "tcp_port:" + Port,
            "",
            "# Replication",
        };
        if (IsMaster)
        {
            l.Add("role:master");
            var replicas = Net.Redis.Where(r => r.Alive && !r.IsMaster && r.MasterHost == Ip && r.MasterPort == Port && r.LinkUp).ToList();
            l.Add("connected_slaves:" + replicas.Count);
            for (int i = 0; i < replicas.Count; i++)
                l.Add($"slave{i}:ip={replicas[i].Ip},port={replicas[i].Port},state=online,offset={replicas[i].Offset},lag=0");
            l.Add("master_repl_offset:" + Offset);
        }
        else
        {
            bool up = LinkUp;
            l.Add("role:slave");
            l.Add("master_host:" + MasterHost);
            l.Add("master_port:" + MasterPort);
            l.Add("master_link_status:" + (up ? "up" : "down"));
            l.Add("master_last_io_seconds_ago:" + (up ? 0 : -1));
            l.Add("master_sync_in_progress:0");
            if (!up)
            {
                long since = LinkDownSince == 0 ? 0 : (Net.Now - LinkDownSince) / 1000;
                l.Add("master_link_down_since_seconds:" + since);
            }
            l.Add("slave_repl_offset:" + (OffsetOverride ?? Offset));
            l.Add("slave_priority:" + Priority);
            l.Add("slave_read_only:1");
            l.Add("replica_announced:" + ReplicaAnnounced);
            l.Add("connected_slaves:0");
            l.Add("master_repl_offset:" + (OffsetOverride ?? Offset));
        }
        return string.Join("\r\n", l) + "\r\n";
    }

    public string Describe() =>
        $"redis{Index} {Addr} alive={Alive} group={Group} mode={Mode} role={(IsMaster ? "master" : $"slave of {MasterHost}:{MasterPort} link={(LinkUp ? "up" : "down")}")} offset={Offset} runid={RunId[..8]}";
}
