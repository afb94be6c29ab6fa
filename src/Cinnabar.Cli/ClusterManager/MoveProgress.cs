using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// The slot-moving verbs' stdout/stderr: redis-cli's text, passed through the live progress line
/// (so that a line drawn on a shared terminal is erased before anything else is written).
/// </summary>
internal static class MoveOut
{
    public static void Print(string s)
    {
        var p = MoveProgress.Current;
        p?.BeforeStdout();
        CmLog.Print(s);
        p?.AfterStdout(s);
    }

    public static void PrintBytes(ReadOnlySpan<byte> b)
    {
        var p = MoveProgress.Current;
        p?.BeforeStdout();
        StdIo.Out.Write(b);
        p?.AfterStdout(Encoding.UTF8.GetString(b));
    }

    public static void Info(string s) => Log(CmLog.Info, s);
    public static void Warn(string s) => Log(CmLog.Warn, s);
    public static void Err(string s) => Log(CmLog.Err, s);
    public static void Ok(string s) => Log(CmLog.Ok, s);

    /// <summary>An error-coloured line whose middle is raw bytes (a key name).</summary>
    public static void ErrBytes(string before, byte[] middle, string after)
    {
        var bytes = new List<byte>();
        bytes.AddRange(Encoding.UTF8.GetBytes((CmLog.Colors ? "\u001b[31;1m" : "") + before));
        bytes.AddRange(middle);
        bytes.AddRange(Encoding.UTF8.GetBytes(after + (CmLog.Colors ? "\u001b[0m" : "")));
        PrintBytes(bytes.ToArray());
    }

    /// <summary>A line to stderr (after erasing a progress line).</summary>
    public static void Stderr(string s)
    {
        MoveProgress.Current?.BeforeStderr();
        StdIo.Err.Write(s);
    }

    private static void Log(Action<string> log, string s)
    {
        var p = MoveProgress.Current;
        p?.BeforeStdout();
        log(s);
        p?.AfterStdout(s);
    }
}

/// <summary>
/// Beyond redis-cli: the live progress line (stderr, only when stderr is a terminal or
/// CINNABAR_CLI_PROGRESS=always, never with --cluster-no-progress), the --cluster-throttle rate
/// limit (always), and the closing summary table (stdout, only when stdout is a terminal or
/// progress is forced). With neither terminal nor forcing, output stays redis-cli's.
/// </summary>
internal sealed partial class MoveProgress : IDisposable
{
    public static MoveProgress? Current { get; private set; }

    private readonly string _verb;
    private readonly long _throttle;
    private readonly bool _draw;
    private readonly bool _summary;
    private readonly bool _shared;
    private readonly Stopwatch _sw = Stopwatch.StartNew();
    private long _totalSlots;
    private long _totalKeys;
    private long _slotsDone;
    private long _keysDone;
    private long _bytesDone;
    private long _lastDrawMs = -1000;
    private bool _drawn;
    private bool _drawnInline;
    private int _col;

    private MoveProgress(string verb, long totalSlots, long totalKeys, long throttle, bool draw, bool summary, bool shared)
    {
        _verb = verb;
        _totalSlots = totalSlots;
        _totalKeys = totalKeys;
        _throttle = throttle;
        _draw = draw;
        _summary = summary;
        _shared = shared;
    }

    /// <summary>Starts tracking a move (slots and/or keys to do; 0 = unknown) and makes it Current.</summary>
    public static MoveProgress Begin(CliOptions o, string verb, long totalSlots, long totalKeys)
    {
        bool forced = string.Equals(Environment.GetEnvironmentVariable("CINNABAR_CLI_PROGRESS"), "always", StringComparison.Ordinal);
        bool errTty = IsTty(2), outTty = IsTty(1);
        bool draw = !o.ClusterCmd.NoProgress && (errTty || forced);
        var p = new MoveProgress(verb, totalSlots, totalKeys, o.ClusterCmd.Throttle, draw, outTty || forced, errTty && outTty);
        Current = p;
        return p;
    }

    public long SlotsDone => _slotsDone;
    public long KeysDone => _keysDone;

    public void AddTotalSlots(long n) => _totalSlots += n;

    /// <summary>True when the live line is shown (worth spending round trips on totals).</summary>
    public bool Drawing => _draw;

    public void AddTotalKeys(long n) => _totalKeys += n;

    /// <summary>Keys in the planned slots: CLUSTER COUNTKEYSINSLOT, pipelined per source.</summary>
    public static long CountKeys(IEnumerable<ReshardVerb.Move> table)
    {
        long total = 0;
        foreach (var group in table.GroupBy(m => m.Source))
        {
            var conn = group.Key.Conn;
            if (conn == null) continue;
            try
            {
                var slots = group.Select(m => m.Slot).ToList();
                var ms = new MemoryStream();
                foreach (int slot in slots)
                    ms.Write(Connection.Encode(["CLUSTER"u8.ToArray(), "COUNTKEYSINSLOT"u8.ToArray(), Encoding.ASCII.GetBytes(slot.ToString(CultureInfo.InvariantCulture))]));
                conn.Send(ms.ToArray());
                foreach (int _ in slots)
                {
                    var r = conn.Read();
                    if (r is { Type: Cinnabar.Protocol.RespType.Integer }) total += r.Integer;
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                return 0;
            }
        }
        return total;
    }

    /// <summary>Keys moved by a MIGRATE batch: counted, then the throttle may sleep.</summary>
    public void AddKeys(long n)
    {
        _keysDone += n;
        Throttle();
        Tick(false);
    }

    public void SlotDone()
    {
        _slotsDone++;
        Tick(false);
    }

    private long _baseSlots, _baseKeys, _baseBytes;

    /// <summary>An atomic task starts: its counters add to what is done so far.</summary>
    public void BeginTask()
    {
        _baseSlots = _slotsDone;
        _baseKeys = _keysDone;
        _baseBytes = _bytesDone;
    }

    /// <summary>Counters reported by the running atomic task (CLUSTER MIGRATION STATUS).</summary>
    public void SetTaskCounters(long slotsOfTask, bool done, long keys, long bytes)
    {
        _slotsDone = _baseSlots + (done ? slotsOfTask : 0);
        _keysDone = _baseKeys + keys;
        _bytesDone = _baseBytes + bytes;
        Tick(false);
    }

    public long BytesDone => _bytesDone;

    /// <summary>Sleeps as long as the keys moved so far need to stay under --cluster-throttle.</summary>
    public void ThrottleNow() => Throttle();

    /// <summary>Sleeps as long as needed to stay at or under --cluster-throttle keys per second.</summary>
    private void Throttle()
    {
        if (_throttle <= 0) return;
        double due = (double)_keysDone / _throttle;
        while (true)
        {
            double late = due - _sw.Elapsed.TotalSeconds;
            if (late <= 0) return;
            Thread.Sleep(TimeSpan.FromSeconds(Math.Min(late, 0.2)));
            Tick(false);
        }
    }

    public void Tick(bool force)
    {
        if (!_draw) return;
        long now = _sw.ElapsedMilliseconds;
        if (!force && now - _lastDrawMs < 200) return;
        _lastDrawMs = now;
        string line = Render();
        if (!_shared)
        {
            Write("\r\u001b[0K" + line);
            _drawn = true;
            return;
        }
        // stdout and stderr share the terminal: draw on a line of our own only when stdout sits
        // at the start of a line; mid-line, show the status after the cursor and come back.
        if (_col == 0)
        {
            Write("\r\u001b[0K" + line);
            _drawn = true;
            _drawnInline = false;
        }
        else if (_col + 2 + line.Length < TerminalWidth())
        {
            Write("\u001b7  " + line + "\u001b[0K\u001b8");
            _drawn = true;
            _drawnInline = true;
        }
    }

    private string Render()
    {
        double secs = Math.Max(_sw.Elapsed.TotalSeconds, 0.001);
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"[{_verb}] ");
        if (_totalSlots > 0) sb.Append(CultureInfo.InvariantCulture, $"slots {_slotsDone}/{_totalSlots} | ");
        if (_totalKeys > 0) sb.Append(CultureInfo.InvariantCulture, $"keys {_keysDone}/{_totalKeys} | ");
        else sb.Append(CultureInfo.InvariantCulture, $"keys {_keysDone} | ");
        sb.Append(CultureInfo.InvariantCulture, $"{_keysDone / secs:0} keys/s");
        if (_bytesDone > 0) sb.Append(CultureInfo.InvariantCulture, $" | {FormatBytes(_bytesDone / secs)}/s");
        // Each slot costs a few round trips and each key a share of a MIGRATE: weigh both.
        double? fk = _totalKeys > 0 ? (double)_keysDone / _totalKeys : null, fs = _totalSlots > 0 ? (double)_slotsDone / _totalSlots : null;
        double frac = fk != null && fs != null ? (fk.Value + fs.Value) / 2 : fk ?? fs ?? 0;
        if (frac > 0 && frac < 1) sb.Append(" | ETA ").Append(FormatDuration(secs * (1 - frac) / frac));
        return sb.ToString();
    }

    private static string FormatBytes(double b) =>
        b >= 1 << 30 ? (b / (1 << 30)).ToString("0.0", CultureInfo.InvariantCulture) + " GB"
        : b >= 1 << 20 ? (b / (1 << 20)).ToString("0.0", CultureInfo.InvariantCulture) + " MB"
        : b >= 1 << 10 ? (b / (1 << 10)).ToString("0.0", CultureInfo.InvariantCulture) + " KB"
        : b.ToString("0", CultureInfo.InvariantCulture) + " B";

    private static string FormatDuration(double s)
    {
        var t = TimeSpan.FromSeconds(Math.Min(s, 359999));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(int)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    private void Erase()
    {
        if (!_drawn) return;
        Write(_drawnInline ? "\u001b[0K" : "\r\u001b[0K");
        _drawn = false;
    }

    public void BeforeStdout()
    {
        if (_shared) Erase();
    }

    public void AfterStdout(string s)
    {
        int nl = s.LastIndexOf('\n');
        _col = nl >= 0 ? s.Length - nl - 1 : _col + s.Length;
    }

    public void BeforeStderr() => Erase();

    private static void Write(string s)
    {
        try
        {
            StdIo.ErrStream.Write(Encoding.UTF8.GetBytes(s));
        }
        catch (IOException)
        {
            // A progress line that cannot be shown is no reason to stop moving slots.
        }
    }

    /// <summary>Ends the move: erases the progress line; prints the summary table when wanted.</summary>
    public void Finish(bool printSummary = true)
    {
        Erase();
        if (Current == this) Current = null;
        if (!_summary || !printSummary) return;
        double secs = _sw.Elapsed.TotalSeconds;
        var rows = new List<(string, string)>();
        if (_totalSlots > 0 || _slotsDone > 0) rows.Add(("Slots moved", _slotsDone.ToString(CultureInfo.InvariantCulture)));
        rows.Add(("Keys moved", _keysDone.ToString(CultureInfo.InvariantCulture)));
        if (_bytesDone > 0) rows.Add(("Bytes moved", FormatBytes(_bytesDone)));
        rows.Add(("Elapsed", secs.ToString("0.00", CultureInfo.InvariantCulture) + " s"));
        rows.Add(("Keys/s", (secs > 0 ? _keysDone / secs : 0).ToString("0", CultureInfo.InvariantCulture)));
        int w1 = rows.Max(r => r.Item1.Length), w2 = rows.Max(r => r.Item2.Length);
        string border = "+" + new string('-', w1 + 2) + "+" + new string('-', w2 + 2) + "+\n";
        var sb = new StringBuilder(border);
        foreach (var (k, v) in rows) sb.Append("| ").Append(k.PadRight(w1)).Append(" | ").Append(v.PadLeft(w2)).Append(" |\n");
        sb.Append(border);
        CmLog.Print(sb.ToString());
    }

    public void Dispose()
    {
        if (Current == this)
        {
            Erase();
            Current = null;
        }
    }

    // ------------------------------------------------------------------ terminal helpers

    [LibraryImport("libc", EntryPoint = "isatty")]
    private static partial int SysIsATty(int fd);

    [StructLayout(LayoutKind.Sequential)]
    private struct WinSize
    {
        public ushort Rows, Cols, XPixel, YPixel;
    }

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int SysIoctl(int fd, nuint request, ref WinSize ws);

    public static bool IsTty(int fd)
    {
        try
        {
            return SysIsATty(fd) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    }

    private static int TerminalWidth()
    {
        try
        {
            var ws = default(WinSize);
            if (SysIoctl(2, 0x5413 /* TIOCGWINSZ */, ref ws) == 0 && ws.Cols > 0) return ws.Cols;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        return 80;
    }
}

/// <summary>printf's %.Nf: the exact binary value rounded half to even (as glibc does).</summary>
internal static class CFormat
{
    public static string Fixed(double v, int decimals)
    {
        if (double.IsNaN(v)) return "nan";
        if (double.IsInfinity(v)) return v > 0 ? "inf" : "-inf";
        bool neg = v < 0 || (v == 0 && double.IsNegative(v));
        long bits = BitConverter.DoubleToInt64Bits(Math.Abs(v));
        int exp = (int)((bits >> 52) & 0x7FF);
        long mant = bits & 0xFFFFFFFFFFFFFL;
        if (exp == 0) exp = 1;
        else mant |= 1L << 52;
        exp -= 1075; // value = mant * 2^exp
        // scaled = value * 10^decimals, rounded half to even.
        BigInteger num = new BigInteger(mant) * BigInteger.Pow(10, decimals);
        BigInteger q;
        if (exp >= 0) q = num << exp;
        else
        {
            BigInteger den = BigInteger.One << -exp;
            q = BigInteger.DivRem(num, den, out BigInteger rem);
            int cmp = (rem * 2).CompareTo(den);
            if (cmp > 0 || (cmp == 0 && !q.IsEven)) q += 1;
        }
        string digits = q.ToString(CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        string s = decimals == 0 ? digits : digits[..^decimals] + "." + digits[^decimals..];
        return neg ? "-" + s : s;
    }
}
