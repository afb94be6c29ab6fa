using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

[Flags]
public enum CmFlags
{
    None = 0,
    Myself = 1,
    Slave = 2,
    Friend = 4,
    NoAddr = 8,
    Disconnect = 16,
    Fail = 32,
}

/// <summary>
/// One node as the cluster manager sees it (redis-cli's clusterManagerNode): its address and
/// connection, what its CLUSTER NODES line says about itself (flags, master, slots, open slots)
/// and the working fields of the verbs (dirty, weight, balance).
/// </summary>
public sealed class CmNode : IDisposable
{
    public const int Slots = 16384;

    public CmNode(string ip, int port, int busPort = 0)
    {
        Ip = ip;
        Port = port;
        BusPort = busPort != 0 ? busPort : port + 10000;
    }

    public Connection? Conn { get; private set; }
    public string? Name { get; set; }
    public string Ip { get; set; }
    public int Port { get; set; }
    public int BusPort { get; set; }
    /// <summary>The config epoch column of CLUSTER NODES (redis-cli calls it current_epoch).</summary>
    public long CurrentEpoch { get; set; }
    public long PingSent { get; set; }
    public long PingRecv { get; set; }
    public CmFlags Flags { get; set; }
    public List<string> FlagsStr { get; } = [];
    /// <summary>Master id when this node is a replica.</summary>
    public string? Replicate { get; set; }
    /// <summary>Set when Slots were changed locally and must be flushed (ADDSLOTS) to the node.</summary>
    public bool Dirty { get; set; }
    public bool[] SlotMap { get; } = new bool[Slots];
    public int SlotsCount { get; set; }
    public int ReplicasCount { get; set; }
    /// <summary>Other nodes listed in this node's CLUSTER NODES (only while loading).</summary>
    public List<CmNode>? Friends { get; set; }
    /// <summary>Open slots: (slot, destination id) from "[slot->-id]".</summary>
    public List<(string Slot, string Node)> Migrating { get; } = [];
    /// <summary>Open slots: (slot, source id) from "[slot-&lt;-id]".</summary>
    public List<(string Slot, string Node)> Importing { get; } = [];
    public float Weight { get; set; } = 1.0f;
    public int Balance { get; set; }

    public bool IsSlave => (Flags & CmFlags.Slave) != 0;
    public string Addr => $"{Ip}:{Port}";

    public void ResetSlots()
    {
        Array.Clear(SlotMap);
        SlotsCount = 0;
        Migrating.Clear();
        Importing.Clear();
    }

    /// <summary>Connects and authenticates as the options say; prints redis-cli's messages on failure.</summary>
    public bool Connect(CliOptions o)
    {
        Conn?.Dispose();
        Conn = null;
        var target = new CliOptions { Host = Ip, Port = Port };
        var c = Connection.Open(target, out string? err);
        if (c == null)
        {
            // Connection.Open words it "Could not connect to Redis at h:p: reason".
            StdIo.Err.WriteLine(err);
            return false;
        }
        Conn = c;
        if (o.Password != null)
        {
            var r = o.User == null ? Command("AUTH", o.Password) : Command("AUTH", o.User, o.Password);
            if (!CheckReply(r, out _, print: true)) return false;
        }
        return true;
    }

    /// <summary>Sends a command; null when there is no connection or it broke.</summary>
    public RespReply? Command(params string[] args) => Command(args.Select(Encoding.UTF8.GetBytes).ToList());

    public RespReply? Command(IReadOnlyList<byte[]> args)
    {
        if (Conn == null) return null;
        try
        {
            return Conn.Call(args);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return null;
        }
    }

    /// <summary>clusterManagerCheckRedisReply: false for a missing or error reply; an error is
    /// printed ("Node h:p replied with error:\n...") unless the caller takes it in err.</summary>
    public bool CheckReply(RespReply? r, out string? err, bool print = false)
    {
        err = null;
        if (r == null) return false;
        if (r.Type != RespType.Error) return true;
        err = r.Text;
        if (print) CmLog.Err($"Node {Ip}:{Port} replied with error:\n{err}\n");
        return false;
    }

    /// <summary>
    /// CLUSTER NODES of this node: its own line fills this object (flags, slots, open slots);
    /// with getFriends the other lines become Friends (new unconnected nodes).
    /// </summary>
    public bool LoadInfo(bool getFriends, out string? err)
    {
        var reply = Command("CLUSTER", "NODES");
        if (!CheckReply(reply, out err)) return false;
        string text = reply!.Text;
        foreach (string raw in text.Split('\n'))
        {
            if (raw.Length == 0) continue;
            var tok = raw.Split(' ');
            if (tok.Length < 3) return false;
            string name = tok[0], addr = tok[1], flags = tok[2];
            string? masterId = tok.Length > 3 ? tok[3] : null;
            if (!ParseAddress(addr, out string ip, out int port, out int busPort))
            {
                StdIo.Err.WriteLine("Error: invalid CLUSTER NODES reply");
                return false;
            }
            bool myself = flags.Contains("myself", StringComparison.Ordinal);
            CmNode current;
            if (myself)
            {
                BusPort = busPort;
                Flags |= CmFlags.Myself;
                current = this;
                ResetSlots();
                for (int i = 8; i < tok.Length; i++) ParseSlotToken(tok[i]);
                Dirty = false;
            }
            else if (!getFriends)
            {
                continue;
            }
            else
            {
                current = new CmNode(ip, port, busPort) { Flags = CmFlags.Friend };
                (Friends ??= []).Add(current);
            }
            current.Name = name;
            current.FlagsStr.Clear();
            foreach (string f in flags.Split(',', StringSplitOptions.RemoveEmptyEntries))
            {
                switch (f)
                {
                    case "noaddr": current.Flags |= CmFlags.NoAddr; break;
                    case "disconnected": current.Flags |= CmFlags.Disconnect; break;
                    case "fail": current.Flags |= CmFlags.Fail; break;
                    case "slave":
                        current.Flags |= CmFlags.Slave;
                        if (masterId != null) current.Replicate = masterId;
                        break;
                }
                current.FlagsStr.Add(f);
            }
            if (tok.Length > 6) current.CurrentEpoch = AtoL(tok[6]);
            if (tok.Length > 4) current.PingSent = AtoL(tok[4]);
            if (tok.Length > 5) current.PingRecv = AtoL(tok[5]);
            if (!getFriends && myself) break;
        }
        return true;
    }

    private void ParseSlotToken(string def)
    {
        if (def.Length == 0) return;
        if (def[0] == '[')
        {
            string inner = def[1..].TrimEnd(']');
            int m = inner.IndexOf("->-", StringComparison.Ordinal);
            if (m >= 0)
            {
                Migrating.Add((inner[..m], inner[(m + 3)..]));
                return;
            }
            int im = inner.IndexOf("-<-", StringComparison.Ordinal);
            if (im >= 0) Importing.Add((inner[..im], inner[(im + 3)..]));
            return;
        }
        int dash = def.IndexOf('-');
        if (dash >= 0)
        {
            int start = (int)AtoL(def[..dash]), stop = (int)AtoL(def[(dash + 1)..]);
            SlotsCount += stop - (start - 1);
            for (int s = Math.Max(0, start); s <= stop && s < Slots; s++) SlotMap[s] = true;
        }
        else
        {
            int s = (int)AtoL(def);
            if (s >= 0 && s < Slots) SlotMap[s] = true;
            SlotsCount++;
        }
    }

    /// <summary>ip:port[@bus_port] (a hostname after a comma is dropped).</summary>
    public static bool ParseAddress(string addr, out string ip, out int port, out int busPort)
    {
        ip = "";
        port = 0;
        busPort = 0;
        int comma = addr.IndexOf(',');
        if (comma >= 0) addr = addr[..comma];
        int at = addr.LastIndexOf('@');
        if (at >= 0)
        {
            busPort = (int)AtoL(addr[(at + 1)..]);
            addr = addr[..at];
        }
        int colon = addr.LastIndexOf(':');
        if (colon < 0) return false;
        ip = addr[..colon];
        port = (int)AtoL(addr[(colon + 1)..]);
        return true;
    }

    public static long AtoL(string s)
    {
        int i = 0;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9') v = unchecked(v * 10 + (s[i++] - '0'));
        return neg ? -v : v;
    }

    /// <summary>INFO field as a long (getLongInfoField); 0 when absent.</summary>
    public static long InfoField(string info, string field)
    {
        foreach (var line in info.Split('\n'))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
                return AtoL(line[(field.Length + 1)..].TrimEnd('\r'));
        }
        return 0;
    }

    public void Dispose()
    {
        Conn?.Dispose();
        Conn = null;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Ip}:{Port}");
}
