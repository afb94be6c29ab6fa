// cinnabar-cli: a drop-in for redis-cli 7.0's everyday modes — one-shot commands (with -r/-i/-x/-X),
// the interactive prompt (line editing, history, hints, help; or line-by-line commands from a
// non-TTY stdin), --pipe mass insertion, --scan, --eval with the Lua debugger (--ldb) and -c
// cluster redirects. Output formatting follows redis-cli byte for byte (ReplyFormatter, JsonFormatter).
using System.Text;
using Cinnabar.Cli;
using Cinnabar.Protocol;

return Cli.Run(args);

namespace Cinnabar.Cli
{
    public sealed partial class Cli
    {
        public const string Version = "7.0.15";

        private readonly CliOptions _o;
        private readonly Stream _stdout;
        private OutputMode _mode;
        private Connection? _conn;
        private bool _hadError;
        private bool _inMulti;
        private int _preMultiDb;
        private string _lostReason = "Server closed the connection";
        private bool _inRepl; // redis-cli announces cluster redirects only at the prompt
        private readonly bool _pushOutput;

        private Cli(CliOptions o, Stream stdout, OutputMode mode)
        {
            _o = o;
            _stdout = stdout;
            _mode = mode;
            _ldb = o.Ldb;
            _pushOutput = o.ShowPushes ?? (LineEditor.IsATty(1) || Environment.GetEnvironmentVariable("FAKETTY") != null);
        }

        public static int Run(string[] args)
        {
            var o = CliOptions.Parse(args, out string? err);
            if (o == null)
            {
                StdIo.Err.WriteLine(err);
                return 1;
            }
            if (o.ShowVersion)
            {
                StdIo.Out.Write(Encoding.UTF8.GetBytes("redis-cli " + Version + "\n"));
                return 0;
            }
            if (o.ShowHelp)
            {
                (o.HelpExitCode == 0 ? StdIo.Out : StdIo.ErrStream).Write(Encoding.UTF8.GetBytes(HelpText.Usage));
                return o.HelpExitCode;
            }
            if (o.Ldb && o.EvalFile == null)
            {
                StdIo.Err.WriteLine("Options --ldb and --ldb-sync-mode require --eval.");
                StdIo.Err.WriteLine("Try redis-cli --help for more information.");
                return 1;
            }
            if (o.StdinLastArg && o.StdinTag != null)
            {
                StdIo.Err.WriteLine("Options -x and -X are mutually exclusive.");
                return 1;
            }
            if (o.AuthWarning && o.Password != null && !o.NoAuthWarning)
                StdIo.Err.WriteLine("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.");
            if (o.Password == null && Environment.GetEnvironmentVariable("REDISCLI_AUTH") is { } envAuth) o.Password = envAuth;
            if (o.AskPass)
            {
                // The prompt is read masked from the terminal, or as a plain line from a non-TTY stdin.
                o.Password = AskPassword("Please input password: ");
            }
            // redis-cli picks the human format when stdout is a terminal (or FAKETTY is set).
            bool ttyOut = LineEditor.IsATty(1) || Environment.GetEnvironmentVariable("FAKETTY") != null;
            var mode = o.Output == OutputMode.Auto ? (ttyOut ? OutputMode.Human : OutputMode.Raw) : o.Output;
            var stdout = StdIo.Out;
            var cli = new Cli(o, stdout, mode);
            try
            {
                if (o.ClusterManagerMode) return ClusterManager.ClusterManagerCli.Run(o);
                // The client modes, in redis-cli's order (each one exits when it ends).
                if (ClientModes.TryRun(o, mode, out int modeExit)) return modeExit;
                if (o.Pipe) return cli.PipeMode();
                if (o.Scan) return cli.ScanMode();
                if (o.EvalFile != null) return cli.EvalMode();
                if (o.Command.Count == 0) return cli.Repl();
                return cli.CommandMode();
            }
            catch (IOException) when (!StdIo.Healthy)
            {
                // stdout went away (e.g. `| head`): redis-cli would die of SIGPIPE quietly.
                return 1;
            }
            catch (UnknownReplyTypeException e)
            {
                stdout.Flush();
                StdIo.Err.WriteLine(e.Message);
                return 1;
            }
            finally
            {
                LineEditor.DisableRaw();
                cli._conn?.Dispose();
            }
        }

        // ---- state mirrored from redis-cli's config ----
        private bool _ldb;               // Lua debugger session active (--ldb or SCRIPT DEBUG + EVAL)
        private bool _ldbEnd;            // the debugger said <endsession>: the EVAL reply follows
        private bool _enableLdbOnEval;   // SCRIPT DEBUG YES|SYNC typed at the prompt
        private bool _restart;           // "restart" typed in a debugging session
        private bool _hints = true;      // :set hints / :set nohints
        private CommandHelp? _help;
        private int _resp3 = -1;         // -1: not decided yet; 0 none; 1 -3 (must work); 2 --json (best effort)
        private volatile bool _blocking;  // inside SUBSCRIBE/MONITOR: Ctrl-C returns to the prompt
        private volatile bool _aborted;

        private int Json => _o.QuotedJson ? 2 : _o.Json ? 1 : 0;

        private void Out(string s) => Out(Encoding.UTF8.GetBytes(s));

        private void Out(byte[] b)
        {
            _stdout.Write(b);
            _stdout.Flush();
        }

        private static string? AskPassword(string prompt)
        {
            if (!LineEditor.IsATty(0))
            {
                var line = new LineReader(StdIo.In).ReadLine();
                return line == null ? null : Encoding.UTF8.GetString(line);
            }
            LineEditor.MaskMode = true;
            try
            {
                var pw = LineEditor.ReadLine(prompt);
                return pw == null ? null : Encoding.UTF8.GetString(pw);
            }
            finally
            {
                LineEditor.MaskMode = false;
            }
        }

        /// <summary>Connects and performs redis-cli's handshake: AUTH, SELECT, HELLO 3. False when
        /// there is no connection or a handshake step failed (the connection is kept then, as in
        /// redis-cli).</summary>
        private bool Connect(bool quiet = false)
        {
            if (_conn != null)
            {
                _conn.Dispose();
                _conn = null;
            }
            _inMulti = false;
            _conn = Connection.Open(_o, out string? err);
            if (_conn == null)
            {
                if (!quiet) StdIo.Err.WriteLine(err);
                return false;
            }
            try
            {
                if (_o.Password != null)
                {
                    var r = _o.User != null ? _conn.Call("AUTH", _o.User, _o.Password) : _conn.Call("AUTH", _o.Password);
                    if (r == null)
                    {
                        StdIo.Err.WriteLine("\nI/O error");
                        return false;
                    }
                    if (r.Type == RespType.Error)
                    {
                        StdIo.Err.WriteLine("AUTH failed: " + r.Text);
                        return false;
                    }
                }
                _db = 0;
                if (!SelectDb()) return false;
                if (_resp3 < 0) _resp3 = _o.Resp == 3 ? 1 : (_o.Json || _o.QuotedJson) && !_o.Resp2Forced ? 2 : 0;
                if (_resp3 > 0)
                {
                    var r = _conn.Call("HELLO", "3");
                    if (r is { Type: RespType.Error })
                    {
                        StdIo.Err.WriteLine("HELLO 3 failed: " + r.Text);
                        if (_resp3 == 1) return false;
                    }
                }
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                StdIo.Err.WriteLine("\nI/O error");
                return false;
            }
            return true;
        }

        // The database asked for (-n, SELECT) and the one the connection is in, as redis-cli
        // tracks them: a new connection selects the asked one again, so does a successful AUTH.
        private int _inputDb = -1;
        private int _db;

        private bool SelectDb()
        {
            if (_inputDb < 0) _inputDb = _o.Db;
            if (_inputDb == _db) return true;
            var r = _conn!.Call("SELECT", _inputDb.ToString(System.Globalization.CultureInfo.InvariantCulture));
            if (r == null)
            {
                StdIo.Err.WriteLine("\nI/O error");
                return false;
            }
            if (r.Type == RespType.Error)
            {
                StdIo.Err.WriteLine($"SELECT {_inputDb} failed: {r.Text}");
                return false;
            }
            _db = _inputDb;
            return true;
        }

        // Replies redis-cli always prints raw (their text is meant to be read as is).
        private static bool RawOutputCommand(List<byte[]> argv)
        {
            string A(int i) => i < argv.Count ? Encoding.UTF8.GetString(argv[i]).ToLowerInvariant() : "";
            int n = argv.Count;
            string c = A(0), s = A(1);
            return c is "info" or "lolwut"
                || (n >= 2 && c == "debug" && s is "htstats" or "htstats-key" or "client-eviction")
                || (n >= 2 && c == "memory" && s is "malloc-stats" or "doctor")
                || (n == 2 && c == "cluster" && s is "nodes" or "info")
                || (n >= 2 && c == "client" && s is "list" or "info")
                || (n == 3 && c == "latency" && s == "graph")
                || (n == 2 && c == "latency" && s == "doctor")
                || (n >= 2 && c == "proxy" && s == "info");
        }

        private byte[] Format(RespReply r, bool outputRaw = false)
        {
            if (outputRaw) return _ldb ? LdbRaw(r) : ReplyFormatter.Raw(r, _o.MbDelim, "");
            if (_mode == OutputMode.Raw && Json > 0) return JsonFormatter.Format(r, Json == 2);
            return _mode switch
            {
                OutputMode.Human => ReplyFormatter.Human(r),
                OutputMode.Csv => ReplyFormatter.Csv(r),
                _ when _ldb => [.. LdbRaw(r), .. Encoding.UTF8.GetBytes(_o.CmdDelim)],
                _ => ReplyFormatter.Raw(r, _o.MbDelim, _o.CmdDelim),
            };
        }

        // The raw format during a debugging session: the debugger's status lines are coloured by
        // their prefix (with an xterm TERM), and "<endsession>" ends the session.
        private byte[] LdbRaw(RespReply r)
        {
            var o = new MemoryStream();
            void Walk(RespReply x)
            {
                switch (x.Type)
                {
                    case RespType.Status:
                        if (x.Str.AsSpan().StartsWith("<endsession>"u8))
                        {
                            _enableLdbOnEval = false;
                            _ldb = false;
                            _ldbEnd = true;
                            _mode = OutputMode.Human;
                        }
                        else o.Write(Colorize(x.Str));
                        break;
                    case RespType.Array or RespType.Set or RespType.Push:
                        for (int i = 0; i < x.Elements.Count; i++)
                        {
                            if (i > 0) o.Write(Encoding.UTF8.GetBytes(_o.MbDelim));
                            Walk(x.Elements[i]);
                        }
                        break;
                    case RespType.Map:
                        for (int i = 0; i + 1 < x.Elements.Count; i += 2)
                        {
                            if (i > 0) o.Write(Encoding.UTF8.GetBytes(_o.MbDelim));
                            Walk(x.Elements[i]);
                            o.WriteByte((byte)' ');
                            Walk(x.Elements[i + 1]);
                        }
                        break;
                    default:
                        o.Write(ReplyFormatter.Raw(x, _o.MbDelim, ""));
                        break;
                }
            }
            Walk(r);
            return o.ToArray();
        }

        private static byte[] Colorize(byte[] s)
        {
            string? term = Environment.GetEnvironmentVariable("TERM");
            if (term == null || !term.Contains("xterm", StringComparison.Ordinal)) return s;
            string t = Encoding.Latin1.GetString(s);
            string color = "white";
            if (t.Contains("<debug>", StringComparison.Ordinal)) color = "bold";
            if (t.Contains("<redis>", StringComparison.Ordinal)) color = "green";
            if (t.Contains("<reply>", StringComparison.Ordinal)) color = "cyan";
            if (t.Contains("<error>", StringComparison.Ordinal)) color = "red";
            if (t.Contains("<hint>", StringComparison.Ordinal)) color = "bold";
            if (t.Contains("<value>", StringComparison.Ordinal) || t.Contains("<retval>", StringComparison.Ordinal)) color = "magenta";
            if (s.Length > 4 && char.IsAsciiDigit(t[3]))
            {
                if (t[1] == '>') color = "yellow";
                else if (t[2] == '#') color = "bold";
            }
            int bold = color.Contains("bold", StringComparison.Ordinal) ? 1 : 0;
            int code = color switch { "red" => 31, "green" => 32, "yellow" => 33, "blue" => 34, "magenta" => 35, "cyan" => 36, _ => 37 };
            return [.. Encoding.ASCII.GetBytes($"\u001b[{bold};{code};49m"), .. s, .. "\u001b[0m"u8];
        }

        /// <summary>Reads the next reply, printing (or dropping) RESP3 pushes that arrive first.</summary>
        private RespReply? ReadReply(bool pushesAreReplies = false)
        {
            while (true)
            {
                var r = _conn!.Read();
                if (r == null || r.Type != RespType.Push || pushesAreReplies) return r;
                if (!_pushOutput) continue;
                if (_mode == OutputMode.Human && Json == 0 && IsInvalidate(r))
                {
                    var sb = new StringBuilder("-> invalidate: ");
                    var keys = r.Elements[1].Elements;
                    for (int i = 0; i < keys.Count; i++)
                    {
                        sb.Append('\'').Append(Encoding.UTF8.GetString(keys[i].Str.TakeWhile(b => b != 0).ToArray())).Append('\'');
                        if (i < keys.Count - 1) sb.Append(", ");
                    }
                    Out(sb.Append('\n').ToString());
                }
                else Out(Format(r));
            }
        }

        private static bool IsInvalidate(RespReply r) =>
            r.Elements.Count == 2 && r.Elements[0].Type is RespType.Bulk or RespType.Status or RespType.Verbatim
            && r.Elements[0].Str.AsSpan().StartsWith("invalidate"u8) && r.Elements[1].Type == RespType.Array;

        /// <summary>Sends one command (following cluster redirects with -c) and prints its reply.
        /// Returns false when the connection was lost.</summary>
        private bool Execute(List<byte[]> argv, bool errorsToStderr = false)
        {
            _lostReason = "Server closed the connection";
            string name = Encoding.UTF8.GetString(argv[0]).ToLowerInvariant();
            string Arg(int i) => Encoding.UTF8.GetString(argv[i]).ToLowerInvariant();
            bool outputRaw = RawOutputCommand(argv);
            if (argv.Count == 3 && name == "script" && Arg(1) == "debug")
                _enableLdbOnEval = Arg(2) is "yes" or "sync";
            if (name == "eval" && _enableLdbOnEval)
            {
                _ldb = true;
                _mode = OutputMode.Raw;
            }
            bool pubsub = name is "subscribe" or "psubscribe" or "ssubscribe";
            bool monitor = name == "monitor";
            RespReply? r;
            try
            {
                _conn!.Send(Connection.Encode(argv));
                r = ReadReply(pushesAreReplies: pubsub);
                int redirects = 0;
                while (_o.Cluster && r is { Type: RespType.Error } && redirects++ < 16 && TryRedirect(r, argv, out var next))
                    r = next;
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                _lostReason = e is System.Net.Sockets.SocketException { SocketErrorCode: System.Net.Sockets.SocketError.ConnectionReset }
                    ? "Connection reset by peer" : "Server closed the connection";
                r = null;
            }
            if (r == null)
            {
                // SHUTDOWN closes the connection instead of replying: redis-cli treats that as success.
                if (name == "shutdown")
                {
                    _conn?.Dispose();
                    _conn = null;
                    return true;
                }
                return false;
            }
            if (r.Type == RespType.Error)
            {
                _hadError = true;
                if (errorsToStderr)
                {
                    // With -e, redis-cli reports the error text on stderr and stops.
                    StdIo.Err.WriteLine(r.Text);
                    return true;
                }
            }
            if ((pubsub || monitor) && r.Type != RespType.Error)
            {
                if (pubsub && (_mode != OutputMode.Raw || Json > 0)) Out("Reading messages... (press Ctrl-C to quit)\n");
                Out(Format(r, outputRaw));
                // Like redis-cli: once subscribed (or monitoring) print whatever arrives until the
                // connection ends or the user interrupts (Ctrl-C at the prompt reconnects).
                _blocking = true;
                try
                {
                    while (true)
                    {
                        RespReply? next;
                        try
                        {
                            next = _conn!.Read();
                        }
                        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                        {
                            next = null;
                        }
                        if (next == null)
                        {
                            if (_aborted)
                            {
                                _aborted = false;
                                Connect();
                                return true;
                            }
                            return false;
                        }
                        Out(Format(next, outputRaw));
                    }
                }
                finally
                {
                    _blocking = false;
                }
            }
            Out(Format(r, outputRaw));
            bool err = r.Type == RespType.Error;
            if (name == "select" && argv.Count == 2 && !err)
            {
                _inputDb = _db = (int)CAtoL(Encoding.UTF8.GetString(argv[1]));
            }
            else if (name == "auth" && argv.Count is 2 or 3)
            {
                // redis-cli re-selects the database it was asked for after an AUTH.
                SelectDb();
            }
            else if (name == "multi" && argv.Count == 1 && !err)
            {
                _inMulti = true;
                _preMultiDb = _db;
            }
            else if (name == "exec" && argv.Count == 1 && _inMulti)
            {
                _inMulti = false;
                if (err || r.Type == RespType.Nil) _inputDb = _db = _preMultiDb;
            }
            else if (name == "discard" && argv.Count == 1 && !err)
            {
                _inMulti = false;
                _inputDb = _db = _preMultiDb;
            }
            else if (name == "reset" && argv.Count == 1 && !err)
            {
                _inMulti = false;
                _inputDb = _db = 0;
                _resp3 = 0;
            }
            return true;
        }

        private static long CAtoL(string s)
        {
            int i = 0;
            while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
            bool neg = false;
            if (i < s.Length && s[i] is '-' or '+') neg = s[i++] == '-';
            long v = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i])) v = unchecked(v * 10 + (s[i++] - '0'));
            return neg ? -v : v;
        }

        // -MOVED <slot> <host>:<port> / -ASK <slot> <host>:<port>: reconnect there and retry,
        // sending ASKING first for ASK, as redis-cli -c does.
        private bool TryRedirect(RespReply err, List<byte[]> argv, out RespReply? reply)
        {
            reply = null;
            var parts = err.Text.Split(' ');
            if (parts.Length != 3 || parts[0] is not ("MOVED" or "ASK")) return false;
            int colon = parts[2].LastIndexOf(':');
            if (colon < 0) return false;
            _o.Host = parts[2][..colon];
            _o.Port = (int)CAtoL(parts[2][(colon + 1)..]);
            _o.Socket = null;
            if (_inRepl) Out($"-> Redirected to slot [{CAtoL(parts[1])}] located at {_o.Host}:{_o.Port}\n");
            if (!Connect() && _conn == null) return false;
            if (parts[0] == "ASK")
            {
                var a = _conn!.Call("ASKING");
                if (a == null)
                {
                    StdIo.Err.WriteLine("\nI/O error");
                    return false;
                }
                if (a.Type == RespType.Error)
                {
                    StdIo.Err.WriteLine("ASKING failed: " + a.Text);
                    return false;
                }
            }
            _conn!.Send(Connection.Encode(argv));
            reply = ReadReply();
            return reply != null;
        }

        /// <summary>redis-cli's issueCommandRepeat: `help` is answered locally, the rest is sent
        /// (connecting first when needed) repeat times. False on a connection problem.</summary>
        private bool IssueCommand(List<byte[]> argv, long repeat, bool errorsToStderr = false)
        {
            string name = Encoding.UTF8.GetString(argv[0]);
            if (!_ldb && (name.Equals("help", StringComparison.OrdinalIgnoreCase) || name == "?"))
            {
                OutputHelp([.. argv.Skip(1).Select(Encoding.UTF8.GetString)]);
                return true;
            }
            if (_conn == null && !Connect() && _conn == null) return false;
            while (repeat < 0 || repeat-- > 0)
            {
                if (!Execute(argv, errorsToStderr))
                {
                    StdIo.Err.WriteLine("Error: " + _lostReason);
                    _conn?.Dispose();
                    _conn = null;
                    return false;
                }
                if (errorsToStderr && _hadError) return true;
                if (_o.IntervalSeconds > 0) Thread.Sleep(TimeSpan.FromSeconds(_o.IntervalSeconds));
            }
            return true;
        }

        private void InitHelp()
        {
            _help = null;
            if (_conn == null && !Connect(quiet: true) && _conn == null)
            {
                _help = CommandHelp.Embedded();
                return;
            }
            try
            {
                var docs = _conn!.Call("COMMAND", "DOCS");
                if (docs == null && Connect(quiet: true))
                {
                    // The server closed the link (as at the end of a debugging session): ask
                    // again on a new connection.
                    docs = _conn!.Call("COMMAND", "DOCS");
                }
                if (docs is { Type: RespType.Map or RespType.Array }) _help = CommandHelp.FromDocs(docs);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                _conn?.Dispose();
                _conn = null;
            }
            // A server without COMMAND DOCS (or none at all): the table built into the CLI.
            _help ??= CommandHelp.Embedded();
        }

        private void OutputHelp(List<string> args)
        {
            if (args.Count == 0)
            {
                Out(HelpText.Repl);
                return;
            }
            if (_help == null) InitHelp();
            Out(_help?.Help(args) ?? "\r\n");
        }

        private int CommandMode()
        {
            var argv = RawArgs.Tail(_o.Command);
            if (_o.QuotedInput)
            {
                var unquoted = new List<byte[]>();
                foreach (var a in argv)
                {
                    var parts = ArgSplitter.Split(a);
                    if (parts is not { Count: 1 })
                    {
                        Out("Invalid quoted string\n");
                        return 1;
                    }
                    unquoted.Add(parts[0]);
                }
                argv = unquoted;
            }
            if (_o.StdinLastArg)
            {
                argv.Add(ReadAllStdin());
            }
            else if (_o.StdinTag != null)
            {
                var tag = Encoding.UTF8.GetBytes(_o.StdinTag);
                int at = argv.FindIndex(a => a.AsSpan().SequenceEqual(tag));
                if (at < 0)
                {
                    StdIo.Err.WriteLine("Using -X option but stdin tag not match.");
                    return 1;
                }
                argv[at] = ReadAllStdin();
            }
            Connect(quiet: true);
            bool ok = IssueCommand(argv, _o.Repeat, _o.ExitOnError);
            if (_o.ExitOnError && _hadError) return 1;
            return ok ? 0 : 1;
        }

        private static byte[] ReadAllStdin()
        {
            var ms = new MemoryStream();
            StdIo.In.CopyTo(ms);
            return ms.ToArray();
        }

        // --scan: walk the keyspace with SCAN [MATCH pattern] [COUNT n] and print every key.
        private int ScanMode()
        {
            if (!Connect()) return 1;
            string cursor = "0";
            do
            {
                var args = new List<string> { "SCAN", cursor };
                if (_o.Pattern != null) args.AddRange(["MATCH", _o.Pattern]);
                if (_o.ScanCount != 0) args.AddRange(["COUNT", _o.ScanCount.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                RespReply? r;
                try
                {
                    r = _conn!.Call([.. args]);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    r = null;
                }
                string? problem = r switch
                {
                    null => "\nI/O error",
                    { Type: RespType.Error } => "SCAN error: " + r.Text,
                    { Type: not RespType.Array } => "Non ARRAY response from SCAN!",
                    { Elements.Count: not 2 } => "Invalid element count from SCAN!",
                    _ => null,
                };
                if (problem != null)
                {
                    StdIo.Err.WriteLine(problem);
                    return 1;
                }
                cursor = r!.Elements[0].Text;
                foreach (var key in r.Elements[1].Elements)
                {
                    if (_mode == OutputMode.Human) Out(Encoding.UTF8.GetBytes(ArgSplitter.Repr(key.Str) + "\n"));
                    else
                    {
                        // printf("%s\n"): the key up to its first NUL byte.
                        int nul = Array.IndexOf(key.Str, (byte)0);
                        Out([.. nul < 0 ? key.Str : key.Str[..nul], (byte)'\n']);
                    }
                }
                if (_o.IntervalSeconds > 0) Thread.Sleep(TimeSpan.FromSeconds(_o.IntervalSeconds));
            }
            while (cursor != "0");
            return 0;
        }

        // --eval file [key ...] [, arg ...]: EVAL with the file's text; "," separates keys from args.
        // With --ldb the server's Lua debugger is enabled first and the prompt drives it.
        private int EvalMode()
        {
            if (!Connect()) return 1;
            bool ok = true;
            while (true)
            {
                if (_ldb)
                    Out("Lua debugging session started, please use:\nquit    -- End the session.\nrestart -- Restart the script in debug mode again.\nhelp    -- Show Lua script debugging commands.\n\n");
                byte[] script;
                try
                {
                    script = File.ReadAllBytes(_o.EvalFile!);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    string why = e switch
                    {
                        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
                        UnauthorizedAccessException => "Permission denied",
                        _ => e.Message,
                    };
                    StdIo.Err.WriteLine($"Can't open file '{_o.EvalFile}': {why}");
                    return 1;
                }
                if (_ldb && _conn != null)
                {
                    try
                    {
                        _conn.Call("SCRIPT", "DEBUG", _o.LdbSync ? "sync" : "yes");
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                    {
                    }
                }
                int comma = _o.Command.IndexOf(",");
                int numKeys = comma >= 0 ? comma : _o.Command.Count;
                var argv = new List<byte[]> { "EVAL"u8.ToArray(), script, Encoding.ASCII.GetBytes(numKeys.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
                bool gotComma = false;
                foreach (var a in RawArgs.Tail(_o.Command))
                {
                    if (!gotComma && a is [(byte)',']) { gotComma = true; continue; }
                    argv.Add(a);
                }
                bool wasLdb = _ldb;
                ok = IssueCommand(argv, _o.Repeat, _o.ExitOnError);
                if (!wasLdb) break;
                if (!_ldb)
                {
                    // The session ended at once: the script did not compile. Show why.
                    Out("Eval debugging session can't start:\n");
                    ReadAndPrint();
                    break;
                }
                _restart = false;
                int code = Repl();
                if (!_restart) return code;
                Connect();
                Out("\n");
            }
            if (_o.ExitOnError && _hadError) return 1;
            return ok ? 0 : 1;
        }

        private void ReadAndPrint()
        {
            if (_conn == null) return;
            RespReply? r;
            try
            {
                r = ReadReply();
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                r = null;
            }
            if (r != null) Out(Format(r));
        }

        private string Prompt()
        {
            if (_ldb) return "lua debugger> ";
            if (_conn == null) return "not connected> ";
            string where = _o.Socket != null ? "redis " + _o.Socket : FormatAddr(_o.Host, _o.Port);
            if (_db != 0) where += $"[{_db}]";
            if (_inMulti) where += "(TX)";
            return where + "> ";
        }

        private static string FormatAddr(string host, int port) => host.Contains(':') ? $"[{host}]:{port}" : $"{host}:{port}";

        private static string? DotfilePath(string env, string name)
        {
            string? path = Environment.GetEnvironmentVariable(env);
            if (!string.IsNullOrEmpty(path)) return path == "/dev/null" ? null : path;
            string? home = Environment.GetEnvironmentVariable("HOME");
            return string.IsNullOrEmpty(home) ? null : home + "/" + name;
        }

        private void SetPreference(List<string> argv, bool interactive)
        {
            string where = interactive ? "" : ".redisclirc: ";
            if (argv[0].Equals(":set", StringComparison.OrdinalIgnoreCase) && argv.Count >= 2)
            {
                if (argv[1].Equals("hints", StringComparison.OrdinalIgnoreCase)) _hints = true;
                else if (argv[1].Equals("nohints", StringComparison.OrdinalIgnoreCase)) _hints = false;
                else Out($"{where}unknown redis-cli preference '{argv[1]}'\n");
            }
            else Out($"{where}unknown redis-cli internal command '{argv[0]}'\n");
        }

        private void LoadPreferences()
        {
            string? rc = DotfilePath("REDISCLI_RCFILE", ".redisclirc");
            if (rc == null || !File.Exists(rc)) return;
            try
            {
                foreach (var line in File.ReadAllLines(rc))
                {
                    var argv = ArgSplitter.SplitToStrings(line);
                    if (argv is { Count: > 0 }) SetPreference(argv, false);
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
        }

        // Lines that carry secrets stay out of the history, as in redis-cli.
        private static bool IsSensitive(List<string> a)
        {
            int n = a.Count;
            bool Is(int i, string s) => a[i].Equals(s, StringComparison.OrdinalIgnoreCase);
            if (Is(0, "auth")) return true;
            if (n > 1 && Is(0, "acl") && Is(1, "setuser")) return true;
            if (n > 2 && Is(0, "config") && Is(1, "set") && (Is(2, "masterauth") || Is(2, "masteruser") || Is(2, "requirepass"))) return true;
            if (n > 4 && Is(0, "hello"))
            {
                for (int j = 2; j < n; j++)
                {
                    int more = n - 1 - j;
                    if (Is(j, "auth") && more >= 2) return true;
                    if (Is(j, "setname") && more > 0) j++;
                    else return false;
                }
                return false;
            }
            if (n > 7 && Is(0, "migrate"))
            {
                for (int j = 6; j < n; j++)
                {
                    int more = n - 1 - j;
                    if (Is(j, "auth") && more > 0) return true;
                    if (Is(j, "auth2") && more >= 2) return true;
                    if (Is(j, "keys") && more > 0) return false;
                }
            }
            return false;
        }

        // strtol over the whole word: true when it is entirely a number (leading blanks and a sign allowed).
        private static bool WholeNumber(string s, out long v, out bool range)
        {
            v = 0;
            range = false;
            int i = 0;
            while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
            bool neg = false;
            if (i < s.Length && s[i] is '+' or '-') neg = s[i++] == '-';
            int digits = i;
            System.Numerics.BigInteger big = 0;
            while (i < s.Length && char.IsAsciiDigit(s[i])) big = big * 10 + (s[i++] - '0');
            if (i == digits) return s.Length == 0; // no digits: strtol stops at the start
            if (neg) big = -big;
            if (big > long.MaxValue || big < long.MinValue) range = true;
            else v = (long)big;
            return i == s.Length;
        }

        private System.Runtime.InteropServices.PosixSignalRegistration? _sigint;
        private LineReader? _stdinLines; // kept across debugger restarts: it buffers stdin

        private int Repl()
        {
            _inRepl = true;
            // redis-cli connects (reporting a failure) before the prompt; later commands retry.
            if (_conn == null && !_ldb) Connect();
            if (!_ldb) InitHelp();
            _sigint ??= System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                if (_blocking)
                {
                    _aborted = true;
                    _conn?.Dispose();
                }
                else
                {
                    LineEditor.DisableRaw();
                    Environment.Exit(1);
                }
            });
            bool tty = LineEditor.IsATty(0);
            LineEditor.MultiLine = true;
            LineEditor.Completion = buf => _help?.Complete(buf) ?? [];
            LineEditor.Hints = buf => _hints && _help != null ? _help.Hint(buf) : null;
            string? histFile = null;
            bool history = false;
            if (tty)
            {
                histFile = DotfilePath("REDISCLI_HISTFILE", ".rediscli_history");
                history = true;
                if (histFile != null) LineEditor.HistoryLoad(histFile);
                LoadPreferences();
            }
            var input = _stdinLines ??= new LineReader(StdIo.In);
            while (true)
            {
                byte[]? line = tty ? LineEditor.ReadLine(Prompt()) : input.ReadLine();
                if (line == null) break;
                if (line.Length == 0) continue;
                List<byte[]>? argv;
                string lineText = Encoding.Latin1.GetString(line);
                if (_ldb && (lineText.StartsWith("eval ", StringComparison.Ordinal) || lineText.StartsWith("e ", StringComparison.Ordinal)))
                {
                    int elen = line[1] == ' ' ? 2 : 5;
                    argv = [line[..(elen - 1)], line[elen..]];
                }
                else argv = ArgSplitter.Split(line);
                if (argv == null)
                {
                    Out("Invalid argument(s)\n");
                    if (history) LineEditor.HistoryAdd(line);
                    if (histFile != null) LineEditor.HistorySave(histFile);
                    continue;
                }
                if (argv.Count == 0) continue;
                var words = argv.Select(a => Encoding.UTF8.GetString(a)).ToList();
                long repeat = 1;
                int skip = 0;
                if (argv.Count > 1 && WholeNumber(Encoding.Latin1.GetString(argv[0]), out long n, out bool range))
                {
                    if (range || n <= 0)
                    {
                        Out("Invalid redis-cli repeat command option value.\n");
                        continue;
                    }
                    repeat = n;
                    skip = 1;
                }
                if (!IsSensitive(words.Skip(skip).ToList()))
                {
                    if (history) LineEditor.HistoryAdd(line);
                    if (histFile != null) LineEditor.HistorySave(histFile);
                }
                string cmd = words[0];
                if (cmd.Equals("quit", StringComparison.OrdinalIgnoreCase) || cmd.Equals("exit", StringComparison.OrdinalIgnoreCase)) return 0;
                if (cmd.StartsWith(':'))
                {
                    SetPreference(words, true);
                    continue;
                }
                if (cmd.Equals("restart", StringComparison.OrdinalIgnoreCase))
                {
                    if (_o.EvalFile != null)
                    {
                        _ldb = true;
                        _mode = OutputMode.Raw;
                        _restart = true;
                        return 0;
                    }
                    Out("Use 'restart' only in Lua debugging mode.\n");
                }
                else if (argv.Count == 3 && cmd.Equals("connect", StringComparison.OrdinalIgnoreCase))
                {
                    _o.Host = words[1];
                    _o.Port = (int)CAtoL(words[2]);
                    _o.Socket = null;
                    Connect();
                }
                else if (argv.Count == 1 && cmd.Equals("clear", StringComparison.OrdinalIgnoreCase))
                {
                    if (tty) LineEditor.ClearScreen();
                }
                else
                {
                    long start = Environment.TickCount64;
                    IssueCommand(argv.Skip(skip).ToList(), repeat);
                    if (_ldbEnd)
                    {
                        _ldbEnd = false;
                        ReadAndPrint();
                        Out($"\n(Lua debugging session ended{(_o.LdbSync ? "" : " -- dataset changes rolled back")})\n\n");
                        InitHelp();
                    }
                    long elapsed = Environment.TickCount64 - start;
                    if (elapsed >= 500 && _mode == OutputMode.Human)
                        Out(string.Format(System.Globalization.CultureInfo.InvariantCulture, "({0:F2}s)\n", elapsed / 1000.0));
                }
            }
            return 0;
        }

        // --pipe: stream stdin's raw protocol to the server while counting replies, then send an
        // ECHO with a random marker and stop when it comes back.
        private int PipeMode()
        {
            if (!Connect()) return 1;
            var stdin = StdIo.In;
            var conn = _conn!;
            var writer = Task.Run(() =>
            {
                var buf = new byte[64 * 1024];
                int n;
                while ((n = stdin.Read(buf)) > 0) conn.Send(buf.AsSpan(0, n));
            });
            var magic = new byte[20];
            const string hex = "0123456789abcdef";
            for (int i = 0; i < magic.Length; i++) magic[i] = (byte)hex[Random.Shared.Next(16)];
            long errors = 0, replies = 0;
            bool markerSent = false;
            while (true)
            {
                if (!markerSent && writer.IsCompleted)
                {
                    writer.GetAwaiter().GetResult();
                    Out("All data transferred. Waiting for the last reply...\n");
                    conn.Send(Connection.Encode([Encoding.ASCII.GetBytes("ECHO"), magic]));
                    markerSent = true;
                }
                RespReply? r;
                try
                {
                    r = conn.Read(markerSent ? _o.PipeTimeout * 1000 : 50);
                }
                catch (TimeoutException)
                {
                    if (!markerSent) continue;
                    StdIo.Err.WriteLine("No replies for " + _o.PipeTimeout + " seconds: exiting.");
                    return 1;
                }
                if (r == null)
                {
                    StdIo.Err.WriteLine("Error reading from the server: Connection reset by peer");
                    return 1;
                }
                if (markerSent && r.Type == RespType.Bulk && r.Str.AsSpan().SequenceEqual(magic)) break;
                if (r.Type == RespType.Error)
                {
                    errors++;
                    StdIo.Err.WriteLine(r.Text);
                }
                replies++;
            }
            Out("Last reply received from server.\n");
            Out($"errors: {errors}, replies: {replies}\n");
            return errors > 0 ? 1 : 0;
        }
    }
}
