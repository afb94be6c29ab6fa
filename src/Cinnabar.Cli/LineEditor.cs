using System.Runtime.InteropServices;
using System.Text;

namespace Cinnabar.Cli;

/// <summary>
/// The interactive line editor of the prompt, behaving like the linenoise library redis-cli
/// uses: raw termios mode while a line is edited, multi-line refresh, history (up/down,
/// Ctrl-P/N), cursor keys, Home/End, Ctrl-A/E/B/F/T/U/K/W/L/H/D/C, TAB completion cycling and
/// a grey hint after the typed text. Bytes are edited as bytes (one column each), like linenoise.
/// </summary>
internal static partial class LineEditor
{
    // ---- termios over libc (Linux layout: 4 flag words, c_line, c_cc[32], speeds) ----
    private const int TermiosSize = 64;
    private const uint BRKINT = 0x2, INPCK = 0x10, ISTRIP = 0x20, ICRNL = 0x100, IXON = 0x400;
    private const uint OPOST = 0x1, CS8 = 0x30;
    private const uint ISIG = 0x1, ICANON = 0x2, ECHO = 0x8, IEXTEN = 0x8000;
    private const int VTIME = 5, VMIN = 6, TCSAFLUSH = 2;
    private const nuint TIOCGWINSZ = 0x5413;

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int action, byte[] termios);

    [LibraryImport("libc", EntryPoint = "isatty")]
    private static partial int IsAttyNative(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static partial int Ioctl(int fd, nuint request, [Out] ushort[] winsize);

    public static bool IsATty(int fd) => IsAttyNative(fd) == 1;

    private static byte[]? _orig;
    private static bool _exitHooked;

    private static bool EnableRaw()
    {
        if (!IsATty(0)) return false;
        var t = new byte[TermiosSize];
        if (TcGetAttr(0, t) == -1) return false;
        _orig = (byte[])t.Clone();
        if (!_exitHooked)
        {
            _exitHooked = true;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => DisableRaw();
        }
        uint Get(int off) => BitConverter.ToUInt32(t, off);
        void Set(int off, uint v) => BitConverter.TryWriteBytes(t.AsSpan(off), v);
        Set(0, Get(0) & ~(BRKINT | ICRNL | INPCK | ISTRIP | IXON));
        Set(4, Get(4) & ~OPOST);
        Set(8, Get(8) | CS8);
        Set(12, Get(12) & ~(ECHO | ICANON | IEXTEN | ISIG));
        t[17 + VMIN] = 1;
        t[17 + VTIME] = 0;
        return TcSetAttr(0, TCSAFLUSH, t) >= 0;
    }

    public static void DisableRaw()
    {
        var o = _orig;
        if (o == null) return;
        _orig = null;
        TcSetAttr(0, TCSAFLUSH, o);
    }

    // ---- state shared with the CLI ----
    public static bool MultiLine { get; set; }
    public static bool MaskMode { get; set; }
    public static Func<string, List<string>>? Completion { get; set; }
    public static Func<string, string?>? Hints { get; set; }
    public static int HistoryMax { get; set; } = 100;
    private static readonly List<byte[]> History = [];

    public static void HistoryAdd(byte[] line)
    {
        if (HistoryMax == 0) return;
        if (History.Count > 0 && History[^1].AsSpan().SequenceEqual(line)) return;
        if (History.Count == HistoryMax) History.RemoveAt(0);
        History.Add(line);
    }

    public static void HistorySave(string file)
    {
        try
        {
            using (var fs = new FileStream(file, FileMode.Create, FileAccess.Write))
            {
                foreach (var h in History)
                {
                    fs.Write(h);
                    fs.WriteByte((byte)'\n');
                }
            }
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public static void HistoryLoad(string file)
    {
        byte[] data;
        try
        {
            data = File.ReadAllBytes(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return;
        }
        int start = 0;
        while (start < data.Length)
        {
            int nl = Array.IndexOf(data, (byte)'\n', start);
            int end = nl < 0 ? data.Length : nl;
            int e = end;
            while (e > start && (data[e - 1] == '\r' || data[e - 1] == '\n')) e--;
            HistoryAdd(data[start..e]);
            start = end + 1;
        }
    }

    // ---- terminal I/O ----
    private static void Write(string s) => Write(Encoding.Latin1.GetBytes(s));

    private static void Write(byte[] b)
    {
        StdIo.Out.Write(b);
    }

    private static int ReadByte()
    {
        var b = new byte[1];
        int n;
        try
        {
            n = StdIo.In.Read(b);
        }
        catch (IOException)
        {
            return -1;
        }
        return n <= 0 ? -1 : b[0];
    }

    private static int CursorPosition()
    {
        Write("\u001b[6n");
        var sb = new StringBuilder();
        while (sb.Length < 31)
        {
            int c = ReadByte();
            if (c < 0 || c == 'R') break;
            sb.Append((char)c);
        }
        string s = sb.ToString();
        if (s.Length < 2 || s[0] != 27 || s[1] != '[') return -1;
        var parts = s[2..].Split(';');
        return parts.Length == 2 && int.TryParse(parts[1], out int col) ? col : -1;
    }

    private static int Columns()
    {
        var ws = new ushort[4];
        if (Ioctl(1, TIOCGWINSZ, ws) != -1 && ws[1] != 0) return ws[1];
        int start = CursorPosition();
        if (start == -1) return 80;
        Write("\u001b[999C");
        int cols = CursorPosition();
        if (cols == -1) return 80;
        if (cols > start) Write($"\u001b[{cols - start}D");
        return cols;
    }

    public static void ClearScreen() => Write("\u001b[H\u001b[2J");

    private static bool UnsupportedTerm()
    {
        string? t = Environment.GetEnvironmentVariable("TERM");
        return t != null && (t.Equals("dumb", StringComparison.OrdinalIgnoreCase) || t.Equals("cons25", StringComparison.OrdinalIgnoreCase) || t.Equals("emacs", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Reads one line with the prompt. stdin must be a terminal (callers read lines
    /// directly otherwise). Null when the user pressed Ctrl-C, or Ctrl-D on an empty line.</summary>
    public static byte[]? ReadLine(string prompt)
    {
        if (UnsupportedTerm())
        {
            Write(prompt);
            var line = new List<byte>();
            while (true)
            {
                int c = ReadByte();
                if (c < 0) return line.Count > 0 ? Trim(line) : null;
                if (c == '\n') return Trim(line);
                line.Add((byte)c);
            }
        }
        if (!EnableRaw()) return null;
        byte[]? result;
        try
        {
            result = new State(prompt).Edit();
        }
        finally
        {
            DisableRaw();
        }
        Write("\n");
        return result;
    }

    private static byte[] Trim(List<byte> line)
    {
        while (line.Count > 0 && line[^1] is (byte)'\n' or (byte)'\r') line.RemoveAt(line.Count - 1);
        return [.. line];
    }

    private sealed class State(string prompt)
    {
        private List<byte> _buf = [];
        private int _pos;
        private int _oldPos;
        private readonly int _cols = Columns();
        private readonly int _plen = Encoding.Latin1.GetByteCount(prompt);
        private int _maxRows;
        private int _historyIndex;
        private bool _hintsOff;

        public byte[]? Edit()
        {
            HistoryAddRaw([]);
            Write(prompt);
            while (true)
            {
                int c = ReadByte();
                // End of input: linenoise hands back what was typed (an empty line keeps
                // redis-cli polling a dead terminal forever); an empty line ends the prompt here.
                if (c < 0) return _buf.Count > 0 ? [.. _buf] : null;
                if (c == 9 && Completion != null)
                {
                    c = CompleteLine();
                    if (c < 0) return _buf.Count > 0 ? [.. _buf] : null;
                    if (c == 0) continue;
                }
                switch (c)
                {
                    case 13: // Enter
                        History.RemoveAt(History.Count - 1);
                        if (MultiLine) MoveEnd();
                        if (Hints != null)
                        {
                            _hintsOff = true;
                            Refresh();
                            _hintsOff = false;
                        }
                        return [.. _buf];
                    case 3: // Ctrl-C
                        History.RemoveAt(History.Count - 1);
                        return null;
                    case 127:
                    case 8:
                        Backspace();
                        break;
                    case 4: // Ctrl-D: delete, or end of input on an empty line
                        if (_buf.Count > 0) Delete();
                        else
                        {
                            History.RemoveAt(History.Count - 1);
                            return null;
                        }
                        break;
                    case 20: // Ctrl-T: swap the two characters before the cursor
                        if (_pos > 0 && _pos < _buf.Count)
                        {
                            (_buf[_pos - 1], _buf[_pos]) = (_buf[_pos], _buf[_pos - 1]);
                            if (_pos != _buf.Count - 1) _pos++;
                            Refresh();
                        }
                        break;
                    case 2: MoveLeft(); break;
                    case 6: MoveRight(); break;
                    case 16: HistoryStep(1); break;
                    case 14: HistoryStep(-1); break;
                    case 27:
                        {
                            int s0 = ReadByte();
                            if (s0 < 0) break;
                            int s1 = ReadByte();
                            if (s1 < 0) break;
                            if (s0 == '[')
                            {
                                if (s1 >= '0' && s1 <= '9')
                                {
                                    int s2 = ReadByte();
                                    if (s2 < 0) break;
                                    if (s2 == '~' && s1 == '3') Delete();
                                }
                                else
                                {
                                    switch (s1)
                                    {
                                        case 'A': HistoryStep(1); break;
                                        case 'B': HistoryStep(-1); break;
                                        case 'C': MoveRight(); break;
                                        case 'D': MoveLeft(); break;
                                        case 'H': MoveHome(); break;
                                        case 'F': MoveEnd(); break;
                                    }
                                }
                            }
                            else if (s0 == 'O')
                            {
                                if (s1 == 'H') MoveHome();
                                else if (s1 == 'F') MoveEnd();
                            }
                            break;
                        }
                    case 21: // Ctrl-U
                        _buf.Clear();
                        _pos = 0;
                        Refresh();
                        break;
                    case 11: // Ctrl-K
                        _buf.RemoveRange(_pos, _buf.Count - _pos);
                        Refresh();
                        break;
                    case 1: MoveHome(); break;
                    case 5: MoveEnd(); break;
                    case 12: // Ctrl-L
                        ClearScreen();
                        Refresh();
                        break;
                    case 23: // Ctrl-W
                        {
                            int old = _pos;
                            while (_pos > 0 && _buf[_pos - 1] == ' ') _pos--;
                            while (_pos > 0 && _buf[_pos - 1] != ' ') _pos--;
                            _buf.RemoveRange(_pos, old - _pos);
                            Refresh();
                            break;
                        }
                    default:
                        Insert((byte)c);
                        break;
                }
            }
        }

        private static void HistoryAddRaw(byte[] line)
        {
            // The editor's scratch entry is always added (even when equal to the last one).
            if (HistoryMax == 0) return;
            if (History.Count == HistoryMax) History.RemoveAt(0);
            History.Add(line);
        }

        private void Insert(byte c)
        {
            if (_pos == _buf.Count)
            {
                _buf.Add(c);
                _pos++;
                if (!MultiLine && _plen + _buf.Count < _cols && Hints == null) Write([MaskMode ? (byte)'*' : c]);
                else Refresh();
            }
            else
            {
                _buf.Insert(_pos, c);
                _pos++;
                Refresh();
            }
        }

        private void Backspace()
        {
            if (_pos > 0 && _buf.Count > 0)
            {
                _buf.RemoveAt(_pos - 1);
                _pos--;
                Refresh();
            }
        }

        private void Delete()
        {
            if (_buf.Count > 0 && _pos < _buf.Count)
            {
                _buf.RemoveAt(_pos);
                Refresh();
            }
        }

        private void MoveLeft()
        {
            if (_pos > 0)
            {
                _pos--;
                Refresh();
            }
        }

        private void MoveRight()
        {
            if (_pos != _buf.Count)
            {
                _pos++;
                Refresh();
            }
        }

        private void MoveHome()
        {
            if (_pos != 0)
            {
                _pos = 0;
                Refresh();
            }
        }

        private void MoveEnd()
        {
            if (_pos != _buf.Count)
            {
                _pos = _buf.Count;
                Refresh();
            }
        }

        // dir 1 = previous (older), -1 = next.
        private void HistoryStep(int dir)
        {
            if (History.Count <= 1) return;
            History[History.Count - 1 - _historyIndex] = [.. _buf];
            _historyIndex += dir;
            if (_historyIndex < 0)
            {
                _historyIndex = 0;
                return;
            }
            if (_historyIndex >= History.Count)
            {
                _historyIndex = History.Count - 1;
                return;
            }
            _buf = [.. History[History.Count - 1 - _historyIndex]];
            _pos = _buf.Count;
            Refresh();
        }

        private int CompleteLine()
        {
            var lc = Completion!(Encoding.Latin1.GetString([.. _buf]));
            int c = 0;
            if (lc.Count == 0)
            {
                Beep();
                return c;
            }
            int i = 0;
            while (true)
            {
                if (i < lc.Count)
                {
                    var saved = _buf;
                    int savedPos = _pos;
                    _buf = [.. Encoding.Latin1.GetBytes(lc[i])];
                    _pos = _buf.Count;
                    Refresh();
                    _buf = saved;
                    _pos = savedPos;
                }
                else Refresh();
                c = ReadByte();
                if (c < 0) return -1;
                if (c == 9)
                {
                    i = (i + 1) % (lc.Count + 1);
                    if (i == lc.Count) Beep();
                    continue;
                }
                if (c == 27)
                {
                    if (i < lc.Count) Refresh();
                    return c;
                }
                if (i < lc.Count)
                {
                    _buf = [.. Encoding.Latin1.GetBytes(lc[i])];
                    _pos = _buf.Count;
                }
                return c;
            }
        }

        private static void Beep()
        {
            StdIo.ErrStream.Write("\u0007"u8);
        }

        private void Refresh()
        {
            if (MultiLine) RefreshMulti();
            else RefreshSingle();
        }

        private void AppendHints(MemoryStream ab)
        {
            if (Hints == null || _hintsOff || _plen + _buf.Count >= _cols) return;
            string? hint = Hints(Encoding.Latin1.GetString([.. _buf]));
            if (hint == null) return;
            int max = _cols - (_plen + _buf.Count);
            if (hint.Length > max) hint = hint[..max];
            ab.Write(Encoding.Latin1.GetBytes("\u001b[0;90;49m" + hint + "\u001b[0m"));
        }

        private void RefreshSingle()
        {
            int start = 0, len = _buf.Count, pos = _pos;
            while (_plen + pos >= _cols)
            {
                start++;
                len--;
                pos--;
            }
            while (_plen + len > _cols) len--;
            var ab = new MemoryStream();
            ab.Write("\r"u8);
            ab.Write(Encoding.Latin1.GetBytes(prompt));
            if (MaskMode) for (int k = 0; k < len; k++) ab.WriteByte((byte)'*');
            else ab.Write(_buf.GetRange(start, len).ToArray());
            AppendHints(ab);
            ab.Write("\u001b[0K"u8);
            ab.Write(Encoding.ASCII.GetBytes($"\r\u001b[{pos + _plen}C"));
            Write(ab.ToArray());
        }

        private void RefreshMulti()
        {
            int len = _buf.Count;
            int rows = (_plen + len + _cols - 1) / _cols;
            int rpos = (_plen + _oldPos + _cols) / _cols;
            int oldRows = _maxRows;
            if (rows > _maxRows) _maxRows = rows;
            var ab = new MemoryStream();
            if (oldRows - rpos > 0) ab.Write(Encoding.ASCII.GetBytes($"\u001b[{oldRows - rpos}B"));
            for (int j = 0; j < oldRows - 1; j++) ab.Write("\r\u001b[0K\u001b[1A"u8);
            ab.Write("\r\u001b[0K"u8);
            ab.Write(Encoding.Latin1.GetBytes(prompt));
            if (MaskMode) for (int k = 0; k < len; k++) ab.WriteByte((byte)'*');
            else ab.Write(_buf.ToArray());
            AppendHints(ab);
            if (_pos > 0 && _pos == len && (_pos + _plen) % _cols == 0)
            {
                ab.Write("\n\r"u8);
                rows++;
                if (rows > _maxRows) _maxRows = rows;
            }
            int rpos2 = (_plen + _pos + _cols) / _cols;
            if (rows - rpos2 > 0) ab.Write(Encoding.ASCII.GetBytes($"\u001b[{rows - rpos2}A"));
            int col = (_plen + _pos) % _cols;
            ab.Write(Encoding.ASCII.GetBytes(col != 0 ? $"\r\u001b[{col}C" : "\r"));
            _oldPos = _pos;
            Write(ab.ToArray());
        }
    }
}
