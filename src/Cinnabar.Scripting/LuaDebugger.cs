using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>The debugging client's connection, read and written synchronously while a session runs.</summary>
public interface ILdbChannel
{
    /// <summary>Blocks until some bytes arrive; returns 0 (or less) when the client is gone or the server stops.</summary>
    int Read(Span<byte> buffer);

    void Write(ReadOnlySpan<byte> data);
}

/// <summary>
/// One Lua debugger session (Redis 7.0's LDB, eval.c): the script stops before lines (step mode,
/// breakpoints, redis.breakpoint(), or a count hook past the time limit), and while stopped the
/// debugger reads commands from the client's connection itself, blocking, and answers each with a
/// multibulk of status replies (its log lines). Everything stays inside a Lua hook: the engine's
/// line hook calls <see cref="OnHook"/>, which returns an error text to raise (abort, protocol
/// error) or null to let the script go on.
/// Differences from Redis, on purpose: commands pipelined in one read are all served in order
/// (Redis drops what follows the first), and the state belongs to the session, not to the server.
/// </summary>
public sealed class LuaDebugger
{
    private const int MaxBreakpoints = 64;
    private const int DefaultMaxLen = 256;
    private const int MaxValueDepth = 10;          // LUA_MINSTACK / 2
    private const int MaxCommandBufferBytes = 1 << 20;

    private readonly ILdbChannel _channel;
    private readonly List<byte[]> _logs = new();
    private readonly byte[][] _src;
    // Breakpoints as Redis keeps them (an int array); removal moves bytes exactly as its memmove does.
    private readonly byte[] _bp = new byte[MaxBreakpoints * 4];
    private int _bpCount;
    private readonly List<byte> _cbuf = new();
    private readonly Stopwatch _sinceStop = Stopwatch.StartNew();
    private bool _hintSent;

    public LuaDebugger(ILdbChannel channel, ReadOnlySpan<byte> script, long timeLimitMs)
    {
        _channel = channel;
        TimeLimitMs = timeLimitMs > 0 ? timeLimitMs : 5000;
        // The source as the debugger lists it: trailing newlines dropped, split on '\n'.
        int len = script.Length;
        while (len > 0 && script[len - 1] is (byte)'\n' or (byte)'\r') len--;
        var lines = new List<byte[]>();
        var rest = script[..len];
        while (true)
        {
            int nl = rest.IndexOf((byte)'\n');
            if (nl < 0)
            {
                lines.Add(rest.ToArray());
                break;
            }
            lines.Add(rest[..nl].ToArray());
            rest = rest[(nl + 1)..];
        }
        _src = len == 0 ? [] : lines.ToArray();
    }

    /// <summary>Stop at the next line whatever the breakpoints (also: redis.call logs while set).</summary>
    public bool Step { get; set; } = true;
    public bool LuaBreakpoint { get; set; }
    public int CurrentLine { get; private set; }
    public long MaxLen { get; private set; } = DefaultMaxLen;
    public long TimeLimitMs { get; }

    /// <summary>True once the client went away: the script then runs to its end without stopping.</summary>
    public bool Disconnected { get; private set; }

    // ------------------------------------------------------------------ log

    public void Log(string ascii) => _logs.Add(Encoding.UTF8.GetBytes(ascii));
    public void Log(byte[] entry) => _logs.Add(entry);

    /// <summary>ldbLogWithMaxLen: long entries are cut at maxlen with " ..." and, once, a hint.</summary>
    public void LogWithMaxLen(byte[] entry)
    {
        bool trimmed = false;
        if (MaxLen > 0 && entry.Length > MaxLen)
        {
            var cut = new byte[MaxLen + 4];
            entry.AsSpan(0, (int)MaxLen).CopyTo(cut);
            " ..."u8.CopyTo(cut.AsSpan((int)MaxLen));
            entry = cut;
            trimmed = true;
        }
        Log(entry);
        if (trimmed && !_hintSent)
        {
            _hintSent = true;
            Log("<hint> The above reply was trimmed. Use 'maxlen 0' to disable trimming.");
        }
    }

    /// <summary>ldbSendLogs: every pending entry as a status reply (CR/LF become spaces), in one multibulk.</summary>
    public void SendLogs()
    {
        var w = new List<byte>(64);
        Append(w, "*" + _logs.Count.ToString(CultureInfo.InvariantCulture) + "\r\n");
        foreach (var entry in _logs)
        {
            w.Add((byte)'+');
            foreach (byte b in entry) w.Add(b is (byte)'\r' or (byte)'\n' ? (byte)' ' : b);
            w.Add((byte)'\r');
            w.Add((byte)'\n');
        }
        _logs.Clear();
        try
        {
            _channel.Write(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(w));
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // As in Redis, a failed write is noticed by the next read.
        }
    }

    private static void Append(List<byte> w, string ascii)
    {
        foreach (char c in ascii) w.Add((byte)c);
    }

    private static void Append(List<byte> w, ReadOnlySpan<byte> s)
    {
        foreach (byte b in s) w.Add(b);
    }

    // ------------------------------------------------------------------ hook

    /// <summary>
    /// luaLdbLineHook: called for line and count events of the script. Returns the error text to
    /// raise in the script, or null to go on.
    /// </summary>
    internal string? OnHook(LuaEngine engine, LuaState l, bool countEvent, int line, bool userScript)
    {
        CurrentLine = line;
        bool bp = IsBreakpoint(line) || LuaBreakpoint;
        bool timeout = false;
        if (!userScript) return null;
        // Redis checks the time limit on count events only. Our hook is Lua code, whose own
        // instructions consume the instruction count too: in a tight loop the count can run out
        // inside the hook every time, and the event is lost. Line events check the time as well.
        if (!Step && !bp)
        {
            if (_sinceStop.ElapsedMilliseconds < TimeLimitMs) return null;
            timeout = true;
            Step = true;
        }
        if (!Step && !bp) return null;
        string reason = bp ? (LuaBreakpoint ? "redis.breakpoint() called" : "break point")
            : timeout ? "timeout reached, infinite loop?" : "step over";
        Step = false;
        LuaBreakpoint = false;
        Log($"* Stopped at {CurrentLine}, stop reason = {reason}");
        LogSourceLine(CurrentLine);
        SendLogs();
        string? raise = Repl(engine, l, out bool gone);
        if (raise != null) return raise;
        // With the client gone in the middle of an endless loop, the script must end somehow.
        if (gone && timeout) return "timeout during Lua debugging with client closing connection";
        _sinceStop.Restart();
        return null;
    }

    // ------------------------------------------------------------------ REPL

    /// <summary>ldbRepl: serves commands until one resumes the script. Returns an error to raise, or null.</summary>
    private string? Repl(LuaEngine engine, LuaState l, out bool gone)
    {
        gone = false;
        var buf = new byte[1024];
        while (true)
        {
            byte[][]? argv;
            while ((argv = ParseCommand(out bool protocolError)) == null)
            {
                if (protocolError) return "protocol error";
                int n = Disconnected ? 0 : _channel.Read(buf);
                if (n <= 0)
                {
                    // The client is gone: let the script run to its end without stopping again.
                    Disconnected = true;
                    Step = false;
                    _bpCount = 0;
                    gone = true;
                    return null;
                }
                _cbuf.AddRange(buf.AsSpan(0, n));
                if (_cbuf.Count > MaxCommandBufferBytes)
                {
                    _cbuf.Clear();
                    return "max client buffer reached";
                }
            }
            var name = CString(argv[0]);
            if (Is(name, "h", "help"))
            {
                LogHelp();
                SendLogs();
            }
            else if (Is(name, "s", "step") || Is(name, "n", "next"))
            {
                Step = true;
                return null;
            }
            else if (Is(name, "c", "continue")) return null;
            else if (Is(name, "t", "trace"))
            {
                Trace(engine, l);
                SendLogs();
            }
            else if (Is(name, "m", "maxlen"))
            {
                SetMaxLen(argv);
                SendLogs();
            }
            else if (Is(name, "b", "break"))
            {
                Break(argv);
                SendLogs();
            }
            else if (Is(name, "e", "eval"))
            {
                Eval(engine, l, argv);
                SendLogs();
            }
            else if (Is(name, "a", "abort")) return "script aborted for user request";
            else if (argv.Length > 1 && Is(name, "r", "redis"))
            {
                RedisCommand(engine, l, argv);
                SendLogs();
            }
            else if (Is(name, "p", "print"))
            {
                if (argv.Length == 2) Print(engine, l, CString(argv[1]));
                else PrintAll(engine, l);
                SendLogs();
            }
            else if (Is(name, "l", "list"))
            {
                int around = CurrentLine, context = 5;
                if (argv.Length > 1)
                {
                    int num = Atoi(argv[1]);
                    if (num > 0) around = num;
                }
                if (argv.Length > 2) context = Atoi(argv[2]);
                List(around, context);
                SendLogs();
            }
            else if (Is(name, "w", "whole"))
            {
                List(1, 1000000);
                SendLogs();
            }
            else
            {
                Log("<error> Unknown Redis Lua debugger command or wrong number of arguments.");
                SendLogs();
            }
        }
    }

    private static bool Is(ReadOnlySpan<byte> name, string shortName, string longName) =>
        Ascii.EqualsIgnoreCase(name, shortName) || Ascii.EqualsIgnoreCase(name, longName);

    /// <summary>An argument as C code sees it: up to its first NUL byte.</summary>
    private static ReadOnlySpan<byte> CString(byte[] arg)
    {
        int z = Array.IndexOf(arg, (byte)0);
        return z < 0 ? arg : arg.AsSpan(0, z);
    }

    /// <summary>C's atoi: optional blanks and sign, then digits up to the first other byte.</summary>
    private static int Atoi(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && s[i] is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r' or (byte)'\v' or (byte)'\f') i++;
        bool neg = false;
        if (i < s.Length && s[i] is (byte)'+' or (byte)'-') neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] is >= (byte)'0' and <= (byte)'9')
        {
            v = v * 10 + (s[i++] - '0');
            if (v > int.MaxValue) v = int.MaxValue + 1L;
        }
        return (int)(neg ? -v : v);
    }

    /// <summary>
    /// ldbReplParseCommand: a forgiving multibulk parser (count 1..1024, each argument 1..1024
    /// bytes). Null with <paramref name="protocolError"/> false means "read more".
    /// </summary>
    private byte[][]? ParseCommand(out bool protocolError)
    {
        protocolError = false;
        if (_cbuf.Count == 0) return null;
        var buf = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_cbuf);
        // The C code works on a NUL-terminated copy: a NUL byte ends every search.
        int star = FindByte(buf, 0, (byte)'*');
        if (star < 0)
        {
            protocolError = true;
            return null;
        }
        int crlf = FindCrlf(buf, star);
        if (crlf < 0) return null;
        int argc = Atoi(buf[(star + 1)..crlf]);
        if (argc <= 0 || argc > 1024)
        {
            protocolError = true;
            return null;
        }
        int p = crlf + 2;
        var argv = new byte[argc][];
        for (int i = 0; i < argc; i++)
        {
            if (p >= buf.Length || buf[p] == 0) return null;
            if (buf[p] != '$')
            {
                protocolError = true;
                return null;
            }
            crlf = FindCrlf(buf, p);
            if (crlf < 0) return null;
            int slen = Atoi(buf[(p + 1)..crlf]);
            if (slen <= 0 || slen > 1024)
            {
                protocolError = true;
                return null;
            }
            p = crlf + 2;
            if (p + slen + 2 > buf.Length) return null;
            argv[i] = buf.Slice(p, slen).ToArray();
            p += slen;
            if (buf[p] != '\r' || buf[p + 1] != '\n')
            {
                protocolError = true;
                return null;
            }
            p += 2;
        }
        _cbuf.RemoveRange(0, p);
        return argv;
    }

    private static int FindByte(ReadOnlySpan<byte> s, int from, byte b)
    {
        for (int i = from; i < s.Length; i++)
        {
            if (s[i] == b) return i;
            if (s[i] == 0) return -1;
        }
        return -1;
    }

    private static int FindCrlf(ReadOnlySpan<byte> s, int from)
    {
        for (int i = from; i + 1 < s.Length; i++)
        {
            if (s[i] == 0) return -1;
            if (s[i] == '\r' && s[i + 1] == '\n') return i;
        }
        return -1;
    }

    private void LogHelp()
    {
        foreach (var line in HelpLines) Log(line);
    }

    private static readonly string[] HelpLines =
    [
        "Redis Lua debugger help:",
        "[h]elp               Show this help.",
        "[s]tep               Run current line and stop again.",
        "[n]ext               Alias for step.",
        "[c]ontinue           Run till next breakpoint.",
        "[l]ist               List source code around current line.",
        "[l]ist [line]        List source code around [line].",
        "                     line = 0 means: current position.",
        "[l]ist [line] [ctx]  In this form [ctx] specifies how many lines",
        "                     to show before/after [line].",
        "[w]hole              List all source code. Alias for 'list 1 1000000'.",
        "[p]rint              Show all the local variables.",
        "[p]rint <var>        Show the value of the specified variable.",
        "                     Can also show global vars KEYS and ARGV.",
        "[b]reak              Show all breakpoints.",
        "[b]reak <line>       Add a breakpoint to the specified line.",
        "[b]reak -<line>      Remove breakpoint from the specified line.",
        "[b]reak 0            Remove all breakpoints.",
        "[t]race              Show a backtrace.",
        "[e]val <code>        Execute some Lua code (in a different callframe).",
        "[r]edis <cmd>        Execute a Redis command.",
        "[m]axlen [len]       Trim logged Redis replies and Lua var dumps to len.",
        "                     Specifying zero as <len> means unlimited.",
        "[a]bort              Stop the execution of the script. In sync",
        "                     mode dataset changes will be retained.",
        "",
        "Debugger functions you can call from Lua scripts:",
        "redis.debug()        Produce logs in the debugger console.",
        "redis.breakpoint()   Stop execution like if there was a breakpoint in the",
        "                     next line of code.",
    ];

    // ------------------------------------------------------------------ source and breakpoints

    private ReadOnlySpan<byte> SourceLine(int line)
    {
        int idx = line - 1;
        if (idx < 0 || idx >= _src.Length) return "<out of range source code line>"u8;
        return _src[idx];
    }

    private int Bp(int j) => BinaryPrimitives.ReadInt32LittleEndian(_bp.AsSpan(j * 4));

    private bool IsBreakpoint(int line)
    {
        for (int j = 0; j < _bpCount; j++) if (Bp(j) == line) return true;
        return false;
    }

    private bool AddBreakpoint(int line)
    {
        if (line <= 0 || line > _src.Length) return false;
        if (!IsBreakpoint(line) && _bpCount != MaxBreakpoints)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_bp.AsSpan(_bpCount++ * 4), line);
            return true;
        }
        return false;
    }

    private bool DelBreakpoint(int line)
    {
        for (int j = 0; j < _bpCount; j++)
        {
            if (Bp(j) != line) continue;
            _bpCount--;
            // Redis moves (count - j) BYTES of the int array here, not ints: kept as is so that
            // the remaining breakpoints are the ones Redis would keep.
            Buffer.BlockCopy(_bp, (j + 1) * 4, _bp, j * 4, _bpCount - j);
            return true;
        }
        return false;
    }

    /// <summary>ldbLogSourceLine: "-> " current, "  #" breakpoint, "->#" both; number left-aligned on 3.</summary>
    private void LogSourceLine(int line)
    {
        bool bp = IsBreakpoint(line);
        bool current = CurrentLine == line;
        string prefix = current && bp ? "->#" : current ? "-> " : bp ? "  #" : "   ";
        var w = new List<byte>();
        Append(w, prefix + line.ToString(CultureInfo.InvariantCulture).PadRight(3) + " ");
        Append(w, SourceLine(line));
        Log(w.ToArray());
    }

    private void List(int around, int context)
    {
        for (int j = 1; j <= _src.Length; j++)
        {
            if (around != 0 && Math.Abs((long)around - j) > context) continue;
            LogSourceLine(j);
        }
    }

    private void Break(byte[][] argv)
    {
        if (argv.Length == 1)
        {
            if (_bpCount == 0)
            {
                Log("No breakpoints set. Use 'b <line>' to add one.");
                return;
            }
            Log($"{_bpCount} breakpoints set:");
            for (int j = 0; j < _bpCount; j++) LogSourceLine(Bp(j));
            return;
        }
        for (int j = 1; j < argv.Length; j++)
        {
            if (!RequestParser.TryParseLong(argv[j], out long line) || line is > int.MaxValue or < int.MinValue)
            {
                var w = new List<byte>();
                Append(w, "Invalid argument:'");
                Append(w, CString(argv[j]));
                Append(w, "'");
                Log(w.ToArray());
            }
            else if (line == 0)
            {
                _bpCount = 0;
                Log("All breakpoints removed.");
            }
            else if (line > 0)
            {
                if (_bpCount == MaxBreakpoints) Log("Too many breakpoints set.");
                else if (AddBreakpoint((int)line)) List((int)line, 1);
                else Log("Wrong line number.");
            }
            else
            {
                Log(DelBreakpoint((int)-line) ? "Breakpoint removed." : "No breakpoint in the specified line.");
            }
        }
    }

    private void SetMaxLen(byte[][] argv)
    {
        if (argv.Length == 2)
        {
            int v = Atoi(argv[1]);
            _hintSent = true;
            if (v != 0 && v <= 60) v = 60;
            MaxLen = v;
        }
        Log(MaxLen != 0 ? $"<value> replies are truncated at {MaxLen} bytes." : "<value> replies are unlimited.");
    }

    // ------------------------------------------------------------------ Lua inspection

    private void Trace(LuaEngine engine, LuaState l)
    {
        int top = l.GetTop();
        int count = engine.PushDebugFrames(l, withLocals: false);
        int frames = l.GetTop();
        for (int i = 1; i <= count; i++)
        {
            l.RawGetInteger(frames, i);
            int f = l.GetTop();
            if (LuaEngine.FrameIsUser(l, f))
            {
                l.GetField(f, "name");
                var name = l.Type(-1) == LuaType.String ? l.ToBuffer(-1) : "top level"u8.ToArray();
                l.Pop(1);
                l.GetField(f, "line");
                int line = (int)l.ToNumber(-1);
                l.Pop(1);
                var w = new List<byte>();
                Append(w, i == 1 ? "In " : "From ");
                Append(w, name);
                Append(w, ":");
                Log(w.ToArray());
                LogSourceLine(line);
            }
            l.Pop(1);
        }
        if (count == 0) Log("<error> Can't retrieve Lua stack.");
        l.SetTop(top);
    }

    private void Print(LuaEngine engine, LuaState l, ReadOnlySpan<byte> varName)
    {
        int top = l.GetTop();
        try
        {
            int count = engine.PushDebugFrames(l, withLocals: true);
            int frames = l.GetTop();
            for (int i = 1; i <= count; i++)
            {
                l.RawGetInteger(frames, i);
                int f = l.GetTop();
                int n = OpenLocals(l, f);
                for (int k = 1; k <= n; k++)
                {
                    l.RawGetInteger(f + 1, k);
                    bool match = l.ToSpan(-1).SequenceEqual(varName);
                    l.Pop(1);
                    if (!match) continue;
                    l.RawGetInteger(f + 2, k);
                    LogStackValue(l, "<value> "u8);
                    return;
                }
                l.SetTop(f - 1);
            }
            if (varName.SequenceEqual("ARGV"u8) || varName.SequenceEqual("KEYS"u8))
            {
                engine.PushScriptGlobal(l, Encoding.ASCII.GetString(varName));
                LogStackValue(l, "<value> "u8);
            }
            else Log("No such variable.");
        }
        finally
        {
            l.SetTop(top);
        }
    }

    /// <summary>For the frame table at index f (from PushDebugFrames): pushes its "names" and
    /// "values" arrays (at f+1, f+2) and returns how many locals they hold.</summary>
    private static int OpenLocals(LuaState l, int f)
    {
        l.GetField(f, "n");
        int n = (int)l.ToNumber(-1);
        l.Pop(1);
        l.GetField(f, "names");
        l.GetField(f, "values");
        return n;
    }

    private void PrintAll(LuaEngine engine, LuaState l)
    {
        int top = l.GetTop();
        int vars = 0;
        int count = engine.PushDebugFrames(l, withLocals: true);
        if (count > 0)
        {
            l.RawGetInteger(-1, 1);
            int f = l.GetTop();
            int n = OpenLocals(l, f);
            for (int k = 1; k <= n; k++)
            {
                l.RawGetInteger(f + 1, k);
                var name = l.ToBuffer(-1);
                l.Pop(1);
                if (name.AsSpan().IndexOf("(*temporary)"u8) >= 0) continue;
                var prefix = new List<byte>();
                Append(prefix, "<value> ");
                Append(prefix, CString(name));
                Append(prefix, " = ");
                l.RawGetInteger(f + 2, k);
                LogStackValue(l, prefix.ToArray());
                l.Pop(1);
                vars++;
            }
        }
        l.SetTop(top);
        if (vars == 0) Log("No local variables in the current context.");
    }

    /// <summary>ldbLogStackValue: the value on top of the stack, after a prefix, cut at maxlen.</summary>
    private void LogStackValue(LuaState l, ReadOnlySpan<byte> prefix)
    {
        var w = new List<byte>();
        Append(w, prefix);
        CatValue(w, l, l.GetTop(), 0);
        LogWithMaxLen(w.ToArray());
    }

    /// <summary>ldbCatStackValueRec: strings quoted, numbers as %g, tables as {a; b} or {[k]=v; ...}.</summary>
    internal static unsafe void CatValue(List<byte> w, LuaState l, int idx, int level)
    {
        if (level++ == MaxValueDepth)
        {
            Append(w, "<max recursion level reached! Nested table?>");
            return;
        }
        switch (l.Type(idx))
        {
            case LuaType.String:
                Append(w, ArgSplitter.Repr(l.ToSpan(idx)));
                break;
            case LuaType.Boolean:
                Append(w, l.ToBoolean(idx) ? "true" : "false");
                break;
            case LuaType.Number:
                Append(w, LuaNumbers.FormatG(l.ToNumber(idx), 6));
                break;
            case LuaType.Nil:
                Append(w, "nil");
                break;
            case LuaType.Table:
                CatTable(w, l, idx, level);
                break;
            default:
            {
                var t = l.Type(idx);
                string typeName = t switch
                {
                    LuaType.Function => "function",
                    LuaType.UserData => "userdata",
                    LuaType.Thread => "thread",
                    LuaType.LightUserData => "light-userdata",
                    _ => "unknown",
                };
                if (typeName == "unknown")
                {
                    Append(w, "\"<unknown-lua-type>\"");
                    break;
                }
                nint p = (nint)Lua51.lua_topointer(l.Handle, idx);
                // glibc's %p.
                string ptr = p == 0 ? "(nil)" : "0x" + p.ToString("x", CultureInfo.InvariantCulture);
                Append(w, "\"" + typeName + "@" + ptr + "\"");
                break;
            }
        }
    }

    private static void CatTable(List<byte> w, LuaState l, int idx, int level)
    {
        idx = l.AbsIndex(idx);
        long expected = 1;
        bool isArray = true;
        var asArray = new List<byte>();
        var asMap = new List<byte>();
        l.CheckStack(4);
        l.PushNil();
        while (l.Next(idx))
        {
            int value = l.GetTop();
            int key = value - 1;
            if (isArray && (l.Type(key) != LuaType.Number || l.ToNumber(key) != expected)) isArray = false;
            CatValue(asArray, l, value, level);
            Append(asArray, "; ");
            asMap.Add((byte)'[');
            CatValue(asMap, l, key, level);
            Append(asMap, "]=");
            CatValue(asMap, l, value, level);
            Append(asMap, "; ");
            l.Pop(1);
            expected++;
        }
        if (asArray.Count > 0) asArray.RemoveRange(asArray.Count - 2, 2);
        if (asMap.Count > 0) asMap.RemoveRange(asMap.Count - 2, 2);
        w.Add((byte)'{');
        w.AddRange(isArray ? asArray : asMap);
        w.Add((byte)'}');
    }

    private void Eval(LuaEngine engine, LuaState l, byte[][] argv)
    {
        var code = new List<byte>();
        for (int i = 1; i < argv.Length; i++)
        {
            if (i > 1) code.Add((byte)' ');
            code.AddRange(argv[i]);
        }
        string? error = engine.DebugEval(l, code.ToArray(), out bool hasValue);
        if (error != null)
        {
            var w = new List<byte>();
            Append(w, "<error> ");
            Append(w, Encoding.UTF8.GetBytes(error));
            Log(w.ToArray());
            return;
        }
        if (hasValue)
        {
            LogStackValue(l, "<retval> "u8);
            l.Pop(1);
        }
    }

    private void RedisCommand(LuaEngine engine, LuaState l, byte[][] argv)
    {
        if (!l.CheckStack(argv.Length + 1))
        {
            // Redis logs this text through its protocol-to-human conversion, which yields nothing.
            Log("<reply> ");
            return;
        }
        Step = true;
        try
        {
            engine.DebugRedisCall(argv[1..]);
        }
        finally
        {
            Step = false;
        }
    }

    // ------------------------------------------------------------------ redis.call logging

    /// <summary>"&lt;redis&gt; cmd arg ...": at most ten arguments, then how many more.</summary>
    internal void LogCommand(byte[][] argv)
    {
        var w = new List<byte>();
        Append(w, "<redis>");
        for (int j = 0; j < argv.Length; j++)
        {
            if (j == 10)
            {
                // Redis's count here is one short; kept for identical output.
                Append(w, $" ... ({argv.Length - j - 1} more)");
                break;
            }
            w.Add((byte)' ');
            Append(w, argv[j]);
        }
        Log(w.ToArray());
    }

    /// <summary>An error a redis.call produced (luaPushErrorBuff logs it while stepping).</summary>
    internal void LogError(ReadOnlySpan<byte> text)
    {
        var w = new List<byte>();
        Append(w, "<error> ");
        Append(w, text);
        Log(w.ToArray());
    }

    /// <summary>The errors inside a reply (each logged as "&lt;error&gt; -..."), then "&lt;reply&gt; ..." in human form.</summary>
    internal void LogReply(ReadOnlySpan<byte> reply)
    {
        int pos = 0;
        LogNestedErrors(reply, ref pos);
        var w = new List<byte>();
        Append(w, "<reply> ");
        RespToHuman.Append(w, reply, 0);
        LogWithMaxLen(w.ToArray());
    }

    private void LogNestedErrors(ReadOnlySpan<byte> r, ref int pos)
    {
        if (pos >= r.Length) return;
        int nl = r[pos..].IndexOf("\r\n"u8);
        if (nl < 0)
        {
            pos = r.Length;
            return;
        }
        byte type = r[pos];
        var header = r.Slice(pos + 1, nl - 1);
        pos += nl + 2;
        switch (type)
        {
            case (byte)'-':
                var e = new List<byte>();
                Append(e, "<error> -");
                Append(e, header);
                Log(e.ToArray());
                break;
            case (byte)'$' or (byte)'=' or (byte)'!':
                if (RequestParser.TryParseLong(header, out long len) && len >= 0) pos += (int)len + 2;
                break;
            case (byte)'*' or (byte)'~' or (byte)'>' or (byte)'%' or (byte)'|':
                if (!RequestParser.TryParseLong(header, out long n) || n < 0) break;
                if (type is (byte)'%' or (byte)'|') n *= 2;
                for (long i = 0; i < n; i++) LogNestedErrors(r, ref pos);
                if (type == '|') LogNestedErrors(r, ref pos);
                break;
        }
    }
}

/// <summary>ldbRedisProtocolToHuman: a reply in the debugger's readable form.</summary>
internal static class RespToHuman
{
    public static int Append(List<byte> o, ReadOnlySpan<byte> r, int p)
    {
        if (p >= r.Length) return p;
        return r[p] switch
        {
            (byte)':' => Line(o, r, p, ""),
            (byte)'$' => Bulk(o, r, p),
            (byte)'+' or (byte)'-' => Status(o, r, p),
            (byte)'*' => Aggregate(o, r, p, "[", "]", pairs: false, nullable: true),
            (byte)'~' => Aggregate(o, r, p, "~(", ")", pairs: false, nullable: false),
            (byte)'%' => Aggregate(o, r, p, "{", "}", pairs: true, nullable: false),
            (byte)'_' => Fixed(o, r, p, "(null)"),
            (byte)'#' => Fixed(o, r, p, p + 1 < r.Length && r[p + 1] == 't' ? "#true" : "#false"),
            (byte)',' => Line(o, r, p, "(double) "),
            // Other RESP3 types are not converted (nothing is written, nothing consumed), as in Redis.
            _ => p,
        };
    }

    private static int LineEnd(ReadOnlySpan<byte> r, int p)
    {
        int cr = r[p..].IndexOf((byte)'\r');
        return cr < 0 ? r.Length : p + cr;
    }

    private static void Add(List<byte> o, ReadOnlySpan<byte> s)
    {
        foreach (byte b in s) o.Add(b);
    }

    private static void Add(List<byte> o, string s)
    {
        foreach (char c in s) o.Add((byte)c);
    }

    private static int Line(List<byte> o, ReadOnlySpan<byte> r, int p, string prefix)
    {
        int cr = LineEnd(r, p + 1);
        Add(o, prefix);
        Add(o, r[(p + 1)..cr]);
        return cr + 2;
    }

    private static int Fixed(List<byte> o, ReadOnlySpan<byte> r, int p, string text)
    {
        Add(o, text);
        return LineEnd(r, p + 1) + 2;
    }

    private static int Status(List<byte> o, ReadOnlySpan<byte> r, int p)
    {
        int cr = LineEnd(r, p + 1);
        Add(o, ArgSplitter.Repr(r[p..cr]));
        return cr + 2;
    }

    private static int Bulk(List<byte> o, ReadOnlySpan<byte> r, int p)
    {
        int cr = LineEnd(r, p + 1);
        RequestParser.TryParseLong(r[(p + 1)..cr], out long len);
        if (len == -1)
        {
            Add(o, "NULL");
            return cr + 2;
        }
        int start = cr + 2;
        int n = (int)Math.Clamp(len, 0, Math.Max(0, r.Length - start));
        Add(o, ArgSplitter.Repr(r.Slice(start, n)));
        return start + (int)len + 2;
    }

    private static int Aggregate(List<byte> o, ReadOnlySpan<byte> r, int p, string open, string close, bool pairs, bool nullable)
    {
        int cr = LineEnd(r, p + 1);
        RequestParser.TryParseLong(r[(p + 1)..cr], out long n);
        p = cr + 2;
        if (nullable && n == -1)
        {
            Add(o, "NULL");
            return p;
        }
        Add(o, open);
        for (long j = 0; j < n; j++)
        {
            p = Append(o, r, p);
            if (pairs)
            {
                Add(o, " => ");
                p = Append(o, r, p);
            }
            if (j != n - 1) o.Add((byte)',');
        }
        Add(o, close);
        return p;
    }
}
