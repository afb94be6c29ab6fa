using Cinnabar.Cluster;
using Cinnabar.Protocol;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// Per-slot usage counters for CLUSTER SLOT-STATS (Redis 8.2 / Valkey 8.0): cpu-usec,
/// network-bytes-in and network-bytes-out of commands bound to one slot, counted once for the
/// outer command (EXEC, EVAL, FCALL) when cluster-slot-stats-enabled is yes. key-count comes from
/// the slot index. The counters of a slot reset when it changes owner.
/// </summary>
public sealed class SlotStats
{
    public const int Slots = ClusterNode.SlotCount;
    private readonly long[] _cpuUsec = new long[Slots];
    private readonly long[] _bytesIn = new long[Slots];
    private readonly long[] _bytesOut = new long[Slots];
    private readonly Peer?[] _owner = new Peer?[Slots];
    private long _seenVersion = -1;

    public long CpuUsec(int slot) => _cpuUsec[slot];
    public long BytesIn(int slot) => _bytesIn[slot];
    public long BytesOut(int slot) => _bytesOut[slot];

    public void Record(int slot, long micros, long bytesIn, long bytesOut)
    {
        if ((uint)slot >= Slots) return;
        _cpuUsec[slot] += micros;
        _bytesIn[slot] += bytesIn;
        _bytesOut[slot] += bytesOut;
    }

    /// <summary>Zeroes the counters of every slot whose owner changed since the last look.</summary>
    public void Refresh(ClusterNode node)
    {
        if (node.SlotMapVersion == _seenVersion) return;
        _seenVersion = node.SlotMapVersion;
        for (int s = 0; s < Slots; s++)
        {
            var owner = node.SlotOwner(s);
            if (owner == _owner[s]) continue;
            _owner[s] = owner;
            _cpuUsec[s] = _bytesIn[s] = _bytesOut[s] = 0;
        }
    }

    /// <summary>Size of a command as it arrived in RESP (multibulk).</summary>
    public static long RequestBytes(CommandArgs args)
    {
        long n = 1 + Digits(args.Count) + 2;
        for (int i = 0; i < args.Count; i++)
        {
            int len = args[i].Length;
            n += 1 + Digits(len) + 2 + len + 2;
        }
        return n;
    }

    public static long RequestBytes(byte[][] argv)
    {
        long n = 1 + Digits(argv.Length) + 2;
        foreach (var a in argv) n += 1 + Digits(a.Length) + 2 + a.Length + 2;
        return n;
    }

    private static int Digits(long v) => v < 10 ? 1 : (int)Math.Floor(Math.Log10(v)) + 1;
}
