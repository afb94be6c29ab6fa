namespace Cinnabar.Server;

/// <summary>Counters behind INFO stats / errorstats.</summary>
public sealed class Stats
{
    public long TotalConnections;
    public long RejectedConnections;
    /// <summary>Background jobs started (BGSAVE, AOF rewrite): Redis's total_forks, which tools watch.</summary>
    public long TotalForks;
    public long TotalCommands;
    public long NetInputBytes;
    public long NetOutputBytes;
    public long TotalErrorReplies;
    public long UnexpectedErrorReplies;
    public long TotalReadsProcessed;
    public long TotalWritesProcessed;
    public long EvictedClients;
    public long KeyspaceHits;
    public long KeyspaceMisses;
    public long BlockedClients;
    public readonly Dictionary<string, long> ErrorCounts = new(StringComparer.Ordinal);

    // instantaneous_ops_per_sec sampling (Redis keeps 16 samples taken every 100 ms)
    private readonly long[] _opsSamples = new long[16];
    private readonly long[] _inSamples = new long[16];
    private readonly long[] _outSamples = new long[16];
    private int _sampleIdx;
    private long _lastSampleMs, _lastOps, _lastIn, _lastOut;

    public void CountError(string message)
    {
        TotalErrorReplies++;
        int sp = message.IndexOf(' ');
        string code = sp < 0 ? message : message[..sp];
        if (code.Length > 128) code = code[..128];
        ErrorCounts.TryGetValue(code, out long n);
        if (n == 0 && ErrorCounts.Count >= 128) return;
        ErrorCounts[code] = n + 1;
    }

    public void Sample(long nowMs)
    {
        long dt = nowMs - _lastSampleMs;
        if (dt < 100) return;
        if (_lastSampleMs != 0)
        {
            _opsSamples[_sampleIdx] = (TotalCommands - _lastOps) * 1000 / dt;
            _inSamples[_sampleIdx] = (NetInputBytes - _lastIn) * 1000 / dt;
            _outSamples[_sampleIdx] = (NetOutputBytes - _lastOut) * 1000 / dt;
            _sampleIdx = (_sampleIdx + 1) % 16;
        }
        _lastSampleMs = nowMs;
        _lastOps = TotalCommands;
        _lastIn = NetInputBytes;
        _lastOut = NetOutputBytes;
    }

    public long InstantaneousOps => _opsSamples.Sum() / 16;
    public double InstantaneousInputKbps => _inSamples.Sum() / 16 / 1024.0;
    public double InstantaneousOutputKbps => _outSamples.Sum() / 16 / 1024.0;

    public void Reset()
    {
        TotalConnections = RejectedConnections = TotalCommands = NetInputBytes = NetOutputBytes = 0;
        TotalErrorReplies = UnexpectedErrorReplies = EvictedClients = 0;
        ErrorCounts.Clear();
    }
}
