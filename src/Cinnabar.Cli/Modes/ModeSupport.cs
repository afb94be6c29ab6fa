using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>
/// Standard output for the client modes, buffered the way C stdio buffers redis-cli's stdout:
/// line by line on a terminal, in 4 KiB blocks otherwise (so a mode that loops until it is
/// killed leaves the same partial output behind). Flush writes out what is pending.
/// </summary>
internal sealed class ModeOutput
{
    private const int BlockSize = 4096;
    private readonly MemoryStream _pending = new();
    private readonly bool _lineBuffered;

    public ModeOutput(bool terminal) => _lineBuffered = terminal;

    public void Write(string s) => Write(Encoding.UTF8.GetBytes(s));

    public void Write(ReadOnlySpan<byte> b)
    {
        _pending.Write(b);
        if (_lineBuffered ? b.Contains((byte)'\n') : _pending.Length >= BlockSize)
        {
            if (_lineBuffered) Flush();
            else FlushBlocks();
        }
    }

    /// <summary>stdio writes whole blocks once the buffer fills and keeps the remainder.</summary>
    private void FlushBlocks()
    {
        var buf = _pending.GetBuffer();
        int len = (int)_pending.Length;
        int whole = len / BlockSize * BlockSize;
        StdIo.Out.Write(buf.AsSpan(0, whole));
        var rest = buf.AsSpan(whole, len - whole).ToArray();
        _pending.SetLength(0);
        _pending.Write(rest);
    }

    public void Flush()
    {
        if (_pending.Length == 0) return;
        StdIo.Out.Write(_pending.GetBuffer().AsSpan(0, (int)_pending.Length));
        _pending.SetLength(0);
    }
}

/// <summary>Raised to end a mode with an exit code (redis-cli calls exit() from inside its modes).</summary>
internal sealed class ModeExit(int code) : Exception("mode exit " + code)
{
    public int Code { get; } = code;
}

/// <summary>What every client mode shares: options, output, the connection and a few C-isms.</summary>
internal sealed class ModeContext(CliOptions o, OutputMode mode, ModeOutput output)
{
    public CliOptions O { get; } = o;
    public OutputMode Mode { get; } = mode;
    public ModeOutput Out { get; } = output;
    public Connection? Conn { get; set; }

    /// <summary>redis-cli's OUTPUT_STANDARD: the TTY format (not --raw/--csv/--json, not redirected).</summary>
    public bool StandardOutput => Mode == OutputMode.Human && !O.Json && !O.QuotedJson;

    /// <summary>-i in microseconds, as redis-cli keeps it (seconds * 1e6, truncated).</summary>
    public long IntervalUs => (long)(O.IntervalSeconds * 1_000_000);

    public static void Err(string s) => StdIo.Err.Write(s);

    /// <summary>
    /// Connects like redis-cli's cliConnect(0): "Could not connect..." on failure, then AUTH,
    /// SELECT and HELLO 3, any of which failing ends the mode. Throws ModeExit(1) on failure.
    /// </summary>
    public Connection Connect()
    {
        var c = Connection.Open(O, out string? err);
        if (c == null)
        {
            Err(err + "\n");
            throw new ModeExit(1);
        }
        Conn = c;
        try
        {
            if (O.Password != null)
            {
                var r = O.User != null ? c.Call("AUTH", O.User, O.Password) : c.Call("AUTH", O.Password);
                if (r == null) Fail("\nI/O error\n");
                if (r!.Type == RespType.Error) Fail("AUTH failed: " + r.Text + "\n");
            }
            if (O.Db != 0)
            {
                string db = O.Db.ToString(CultureInfo.InvariantCulture);
                var r = c.Call("SELECT", db);
                if (r == null) Fail("\nI/O error\n");
                if (r!.Type == RespType.Error) Fail($"SELECT {db} failed: {r.Text}\n");
            }
            if (O.Resp == 3)
            {
                var r = c.Call("HELLO", "3");
                if (r == null) Fail("\nI/O error\n");
                if (r!.Type == RespType.Error) Fail("HELLO 3 failed: " + r.Text + "\n");
            }
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            Fail("\nI/O error\n");
        }
        return c;
    }

    private static void Fail(string message)
    {
        Err(message);
        throw new ModeExit(1);
    }

    /// <summary>
    /// redis-cli's reconnectingRedisCommand: on a lost link, "Reconnecting... N" once a second
    /// (plain connect, no AUTH/SELECT, as redis-cli does) until the command goes through.
    /// </summary>
    public RespReply ReconnectingCall(params string[] args)
    {
        int tries = 0;
        while (true)
        {
            if (Conn != null)
            {
                try
                {
                    var r = Conn.Call(args);
                    if (r != null)
                    {
                        if (tries > 0)
                        {
                            Out.Write("\r\u001b[0K");
                            Out.Flush();
                        }
                        return r;
                    }
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                }
                Conn.Dispose();
                Conn = null;
            }
            while (Conn == null)
            {
                Out.Write("\r\u001b[0K");
                Out.Write($"Reconnecting... {++tries}\r");
                Out.Flush();
                string? socket = O.Socket;
                O.Socket = null; // redis-cli reconnects over TCP to host:port
                Conn = Connection.Open(O, out _);
                O.Socket = socket;
                Thread.Sleep(1000);
            }
        }
    }
}

/// <summary>printf-style number formatting and clocks matching what redis-cli prints.</summary>
internal static class CFmt
{
    /// <summary>"%.Nf" (nan/inf spelled as glibc does).</summary>
    public static string F(double v, int decimals)
    {
        if (double.IsNaN(v)) return double.IsNegative(v) ? "-nan" : "nan";
        if (double.IsInfinity(v)) return v < 0 ? "-inf" : "inf";
        return v.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>"%05.2f": zero padded to 5 characters (spaces for nan/inf, as glibc does).</summary>
    public static string Pct(double v)
    {
        string s = F(v, 2);
        if (double.IsNaN(v) || double.IsInfinity(v)) return s.PadLeft(5);
        if (s.StartsWith('-')) return "-" + s[1..].PadLeft(4, '0');
        return s.PadLeft(5, '0');
    }

    public static string D(long v) => v.ToString(CultureInfo.InvariantCulture);

    public static string U(ulong v) => v.ToString(CultureInfo.InvariantCulture);

    private static readonly double TicksPerUs = Stopwatch.Frequency / 1_000_000.0;

    /// <summary>A monotonic microsecond clock (redis-cli's ustime, without wall-clock jumps).</summary>
    public static long Us() => (long)(Stopwatch.GetTimestamp() / TicksPerUs);

    public static long Ms() => Us() / 1000;

    public static void SleepUs(long us)
    {
        if (us > 0) Thread.Sleep(TimeSpan.FromMicroseconds(Math.Max(us, 1000)));
    }
}

/// <summary>SIGINT that ends a scanning loop gracefully (redis-cli's force_cancel_loop).</summary>
internal sealed class InterruptFlag : IDisposable
{
    private readonly PosixSignalRegistration? _reg;
    private volatile bool _set;

    public InterruptFlag()
    {
        try
        {
            _reg = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                _set = true;
            });
        }
        catch (PlatformNotSupportedException)
        {
        }
    }

    public bool IsSet => _set;

    public void Dispose() => _reg?.Dispose();
}
