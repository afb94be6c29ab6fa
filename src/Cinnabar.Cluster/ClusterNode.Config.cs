using System.Globalization;
using System.Text;

namespace Cinnabar.Cluster;

/// <summary>nodes.conf could not be used; Message is what Redis logs before exiting.</summary>
public sealed class ClusterConfigException(string message) : Exception(message);

// nodes.conf and CLUSTER NODES share one format (clusterGenNodeDescription / clusterLoadConfig).
public sealed partial class ClusterNode
{
    private static readonly (NodeFlags Flag, string Name)[] FlagNames =
    [
        (NodeFlags.Myself, "myself"), (NodeFlags.Master, "master"), (NodeFlags.Slave, "slave"),
        (NodeFlags.PFail, "fail?"), (NodeFlags.Fail, "fail"), (NodeFlags.Handshake, "handshake"),
        (NodeFlags.NoAddr, "noaddr"), (NodeFlags.NoFailover, "nofailover"),
    ];

    public static string FlagsText(NodeFlags flags)
    {
        var sb = new StringBuilder();
        foreach (var (flag, name) in FlagNames)
        {
            if ((flags & flag) == 0) continue;
            if (sb.Length > 0) sb.Append(',');
            sb.Append(name);
        }
        return sb.Length == 0 ? "noflags" : sb.ToString();
    }

    /// <summary>One CLUSTER NODES line, without the trailing newline.</summary>
    public string NodeDescription(Peer n, bool usePPort = false)
    {
        var sb = new StringBuilder(128);
        int port = usePPort && n.PPort != 0 ? n.PPort : n.Port;
        sb.Append(n.Name).Append(' ').Append(n.Ip).Append(':').Append(port).Append('@').Append(n.CPort);
        if (n.Hostname.Length > 0) sb.Append(',').Append(n.Hostname);
        sb.Append(' ').Append(FlagsText(n.Flags)).Append(' ');
        sb.Append(n.Master != null ? n.Master.Name : "-");
        ulong epoch = n.IsReplica && n.Master != null ? n.Master.ConfigEpoch : n.ConfigEpoch;
        sb.Append(' ').Append(n.PingSentMs).Append(' ').Append(n.PongReceivedMs).Append(' ').Append(epoch)
          .Append(n.IsConnected ? " connected" : " disconnected");
        if (n.NumSlots > 0)
        {
            foreach (var (start, end) in SlotRanges(n.Slots))
            {
                sb.Append(' ').Append(start);
                if (end != start) sb.Append('-').Append(end);
            }
        }
        if (n.IsMyself)
        {
            for (int j = 0; j < SlotCount; j++)
            {
                if (_migratingTo[j] != null) sb.Append(" [").Append(j).Append("->-").Append(_migratingTo[j]!.Name).Append(']');
                else if (_importingFrom[j] != null) sb.Append(" [").Append(j).Append("-<-").Append(_importingFrom[j]!.Name).Append(']');
            }
        }
        return sb.ToString();
    }

    public static IEnumerable<(int Start, int End)> SlotRanges(SlotBitmap slots)
    {
        int start = slots.NextWith(0, true);
        while (start < SlotCount)
        {
            int end = slots.NextWith(start, false);
            yield return (start, end - 1);
            start = end < SlotCount ? slots.NextWith(end, true) : SlotCount;
        }
    }

    /// <summary>CLUSTER NODES text: every node not matching filter, one line each ending in \n.</summary>
    public string NodesDescription(NodeFlags filter = NodeFlags.None, bool usePPort = false)
    {
        var sb = new StringBuilder();
        foreach (var n in _nodes.Values)
        {
            if ((n.Flags & filter) != 0) continue;
            sb.Append(NodeDescription(n, usePPort)).Append('\n');
        }
        return sb.ToString();
    }

    public string ConfigText() =>
        NodesDescription(NodeFlags.Handshake) +
        $"vars currentEpoch {CurrentEpoch} lastVoteEpoch {LastVoteEpoch}\n";

    public void SaveConfig(bool fsync)
    {
        _todo &= ~(Todo.SaveConfig | Todo.FsyncConfig);
        _env.SaveConfig(ConfigText, fsync);
    }

    /// <summary>clusterLoadConfig. Throws ClusterConfigException with Redis's message on a corrupt file.</summary>
    public static ClusterNode Load(string text, IClusterEnvironment env, ClusterOptions options, Random rng, long nowMs)
    {
        var placeholder = new Peer(new string('0', 40), NodeFlags.None, nowMs);
        var node = new ClusterNode(env, options, rng, placeholder);
        Peer? myself = null;
        foreach (var rawLine in text.Split('\n'))
        {
            string line = rawLine.TrimEnd('\r');
            if (line.Length == 0) continue;
            var argv = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (argv.Length == 0) continue;
            if (argv[0].Equals("vars", StringComparison.OrdinalIgnoreCase))
            {
                if (argv.Length % 2 == 0) throw Corrupt();
                for (int j = 1; j < argv.Length; j += 2)
                {
                    if (argv[j].Equals("currentEpoch", StringComparison.OrdinalIgnoreCase)) node.CurrentEpoch = ParseEpoch(argv[j + 1]);
                    else if (argv[j].Equals("lastVoteEpoch", StringComparison.OrdinalIgnoreCase)) node.LastVoteEpoch = ParseEpoch(argv[j + 1]);
                    else env.Log(ClusterLogLevel.Warning, $"Skipping unknown cluster config variable '{argv[j]}'");
                }
                continue;
            }
            if (argv.Length < 8 || !IsValidName(argv[0])) throw Corrupt();
            var n = node.LoadGetOrCreate(argv[0], nowMs);
            ParseAddress(argv[1], n);
            foreach (var f in argv[2].Split(','))
            {
                switch (f.ToLowerInvariant())
                {
                    case "myself":
                        if (myself != null) throw Corrupt();
                        myself = n;
                        n.Flags |= NodeFlags.Myself;
                        break;
                    case "master": n.Flags |= NodeFlags.Master; break;
                    case "slave": n.Flags |= NodeFlags.Slave; break;
                    case "fail?": n.Flags |= NodeFlags.PFail; break;
                    case "fail": n.Flags |= NodeFlags.Fail; n.FailTimeMs = nowMs; break;
                    case "handshake": n.Flags |= NodeFlags.Handshake; break;
                    case "noaddr": n.Flags |= NodeFlags.NoAddr; break;
                    case "nofailover": n.Flags |= NodeFlags.NoFailover; break;
                    case "noflags": break;
                    default: throw new ClusterConfigException("Unknown flag in redis cluster config file");
                }
            }
            if (argv[3] != "-")
            {
                if (!IsValidName(argv[3])) throw Corrupt();
                var master = node.LoadGetOrCreate(argv[3], nowMs);
                n.Master = master;
                AddReplica(master, n);
            }
            if (ParseLongLoose(argv[4]) != 0) n.PingSentMs = nowMs;
            if (ParseLongLoose(argv[5]) != 0) n.PongReceivedMs = nowMs;
            n.ConfigEpoch = n.IsReplica && n.Master != null ? 0 : ParseEpoch(argv[6]);
            for (int j = 8; j < argv.Length; j++) node.LoadSlotToken(argv[j], n, nowMs);
        }
        if (myself == null) throw Corrupt();
        node._nodes.Remove(placeholder.Name);
        node._peerSnapshot = null;
        node.Myself = myself;
        env.Log(ClusterLogLevel.Notice, $"Node configuration loaded, I'm {myself.Name}");
        ulong maxEpoch = node.MaxEpoch();
        if (maxEpoch > node.CurrentEpoch) node.CurrentEpoch = maxEpoch;
        node.ApplyMyselfAddress();
        return node;
    }

    private static ClusterConfigException Corrupt() => new("Unrecoverable error: corrupted cluster config file.");

    private Peer LoadGetOrCreate(string name, long nowMs)
    {
        if (_nodes.TryGetValue(name, out var n)) return n;
        n = new Peer(name, NodeFlags.None, nowMs);
        AddNode(n);
        return n;
    }

    private static void ParseAddress(string field, Peer n)
    {
        int comma = field.IndexOf(',');
        if (comma >= 0)
        {
            n.Hostname = field[(comma + 1)..];
            field = field[..comma];
        }
        else
        {
            n.Hostname = "";
        }
        int colon = field.LastIndexOf(':');
        if (colon < 0) throw Corrupt();
        n.Ip = field[..colon];
        string ports = field[(colon + 1)..];
        int at = ports.IndexOf('@');
        n.Port = (int)ParseLongLoose(at >= 0 ? ports[..at] : ports);
        n.CPort = at >= 0 ? (int)ParseLongLoose(ports[(at + 1)..]) : n.Port + 10000;
    }

    private void LoadSlotToken(string token, Peer n, long nowMs)
    {
        if (token.StartsWith('['))
        {
            int dash = token.IndexOf('-');
            if (dash < 0 || dash + 3 > token.Length) throw Corrupt();
            char direction = token[dash + 1];
            long slot = ParseLongLoose(token[1..dash]);
            if (slot < 0 || slot >= SlotCount) throw Corrupt();
            int close = token.IndexOf(']', dash);
            if (close < 0) throw Corrupt();
            string peerName = token[(dash + 3)..close];
            if (!IsValidName(peerName)) throw Corrupt();
            var cn = LoadGetOrCreate(peerName, nowMs);
            if (direction == '>') _migratingTo[slot] = cn;
            else _importingFrom[slot] = cn;
            return;
        }
        long start, stop;
        int d = token.IndexOf('-');
        if (d >= 0)
        {
            start = ParseLongLoose(token[..d]);
            stop = ParseLongLoose(token[(d + 1)..]);
        }
        else
        {
            start = stop = ParseLongLoose(token);
        }
        if (start < 0 || start >= SlotCount || stop < 0 || stop >= SlotCount) throw Corrupt();
        for (long s = start; s <= stop; s++) AddSlot(n, (int)s);
    }

    /// <summary>atoi: leading digits (optional sign), 0 when none.</summary>
    private static long ParseLongLoose(string s)
    {
        int i = 0;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) { neg = s[i] == '-'; i++; }
        long v = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i]) && v < int.MaxValue) v = v * 10 + (s[i++] - '0');
        return neg ? -v : v;
    }

    private static ulong ParseEpoch(string s) =>
        ulong.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v) ? v : (ulong)Math.Max(0, ParseLongLoose(s));

    public ulong MaxEpoch()
    {
        ulong max = CurrentEpoch;
        foreach (var n in _nodes.Values) if (n.ConfigEpoch > max) max = n.ConfigEpoch;
        return max;
    }

    /// <summary>Ports and hostname of myself follow the announce options (clusterUpdateMyselfAnnouncedPorts).</summary>
    public void ApplyMyselfAddress()
    {
        Myself.Port = Options.AnnouncedPort;
        Myself.PPort = Options.AnnouncedPPort;
        Myself.CPort = Options.AnnouncedCPort;
        Myself.Hostname = Options.AnnounceHostname;
        if (Options.AnnounceIp.Length > 0) Myself.Ip = Options.AnnounceIp;
    }
}
