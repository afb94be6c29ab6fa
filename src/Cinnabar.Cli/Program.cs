// cinnabar-cli: a drop-in for redis-cli 7.0's everyday modes — one-shot commands (with -r/-i/-x),
// the interactive prompt (or line-by-line commands from a non-TTY stdin), --pipe mass insertion
// and -c cluster redirects. Output formatting follows redis-cli byte for byte (ReplyFormatter).
using System.Text;
using Cinnabar.Cli;
using Cinnabar.Protocol;

return Cli.Run(args);

namespace Cinnabar.Cli
{
    public sealed class Cli
    {
        public const string Version = "7.0.15";

        private readonly CliOptions _o;
        private readonly Stream _stdout;
        private readonly OutputMode _mode;
        private Connection? _conn;
        private bool _hadError;
        private bool _inMulti;
        private string _lostReason = "Server closed the connection";
        private bool _inRepl; // redis-cli announces cluster redirects only at the prompt

        private Cli(CliOptions o, Stream stdout, OutputMode mode)
        {
            _o = o;
            _stdout = stdout;
            _mode = mode;
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
            if (o.Password == null && Environment.GetEnvironmentVariable("REDISCLI_AUTH") is { } envAuth) o.Password = envAuth;
            if (o.AuthWarning && o.Password != null && !o.NoAuthWarning)
                StdIo.Err.WriteLine("Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe.");
            var mode = o.Output == OutputMode.Auto ? (Console.IsOutputRedirected ? OutputMode.Raw : OutputMode.Human) : o.Output;
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
                cli._conn?.Dispose();
            }
        }

        private void Out(string s) => Out(Encoding.UTF8.GetBytes(s));

        private void Out(byte[] b)
        {
            _stdout.Write(b);
            _stdout.Flush();
        }

        /// <summary>Connects and performs redis-cli's handshake: AUTH, SELECT, HELLO 3.</summary>
        private bool Connect(bool quiet = false)
        {
            _conn?.Dispose();
            _inMulti = false;
            _conn = Connection.Open(_o, out string? err);
            if (_conn == null)
            {
                if (!quiet) StdIo.Err.WriteLine(err);
                return false;
            }
            if (_o.Password != null)
            {
                var r = _o.User != null ? _conn.Call("AUTH", _o.User, _o.Password) : _conn.Call("AUTH", _o.Password);
                if (r is { Type: RespType.Error }) StdIo.Err.WriteLine("AUTH failed: " + r.Text);
            }
            if (_o.Db != 0)
            {
                var r = _conn.Call("SELECT", _o.Db.ToString(System.Globalization.CultureInfo.InvariantCulture));
                if (r is { Type: RespType.Error }) StdIo.Err.WriteLine($"SELECT {_o.Db} failed: {r.Text}");
            }
            if (_o.Resp == 3)
            {
                var r = _conn.Call("HELLO", "3");
                if (r is { Type: RespType.Error }) StdIo.Err.WriteLine("HELLO 3 failed: " + r.Text);
            }
            return true;
        }

        private byte[] Format(RespReply r)
        {
            return _mode switch
            {
                OutputMode.Human => ReplyFormatter.Human(r),
                OutputMode.Csv => ReplyFormatter.Csv(r),
                _ => ReplyFormatter.Raw(r, _o.MbDelim, _o.CmdDelim),
            };
        }

        /// <summary>Sends one command (following cluster redirects with -c) and prints its reply.
        /// Returns false when the connection was lost.</summary>
        private bool Execute(List<byte[]> argv, bool errorsToStderr = false)
        {
            _lostReason = "Server closed the connection";
            RespReply? r;
            try
            {
                r = _conn!.Call(argv);
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
                if (Encoding.UTF8.GetString(argv[0]).Equals("shutdown", StringComparison.OrdinalIgnoreCase))
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
            if (r.Type == RespType.Status && argv.Count == 2 && Encoding.ASCII.GetString(argv[0]).Equals("select", StringComparison.OrdinalIgnoreCase)
                && int.TryParse(argv[1], out int db))
                _o.Db = db;
            string name = Encoding.UTF8.GetString(argv[0]).ToLowerInvariant();
            // redis-cli 7.0 marks an open transaction in the prompt with "(TX)".
            if (name == "multi" && r.Type != RespType.Error) _inMulti = true;
            else if (name is "exec" or "discard") _inMulti = false;
            bool pubsub = name is "subscribe" or "psubscribe" or "ssubscribe";
            if (pubsub && _mode == OutputMode.Human && r.Type != RespType.Error) Out("Reading messages... (press Ctrl-C to quit)\n");
            Out(Format(r));
            if (r.Type != RespType.Error && (pubsub || name == "monitor"))
            {
                // Like redis-cli: once subscribed (or monitoring) print whatever arrives until the
                // connection ends or the user interrupts.
                while (true)
                {
                    RespReply? next;
                    try
                    {
                        next = _conn!.Read();
                    }
                    catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                    {
                        next = null;
                    }
                    if (next == null) return false;
                    Out(Format(next));
                }
            }
            return true;
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
            _o.Port = int.Parse(parts[2][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            _o.Socket = null;
            if (_inRepl) Out($"-> Redirected to slot [{parts[1]}] located at {_o.Host}:{_o.Port}\n");
            if (!Connect()) return false;
            if (parts[0] == "ASK") _conn!.Call("ASKING");
            reply = _conn!.Call(argv);
            return reply != null;
        }

        private int CommandMode()
        {
            var argv = RawArgs.Tail(_o.Command);
            if (_o.StdinLastArg)
            {
                var stdin = StdIo.In;
                var ms = new MemoryStream();
                stdin.CopyTo(ms);
                argv.Add(ms.ToArray());
            }
            if (!Connect()) return 1;
            long remaining = _o.Repeat;
            while (remaining == -1 || remaining-- > 0)
            {
                if (_conn == null && !Connect()) return 1;
                if (!Execute(argv, _o.ExitOnError))
                {
                    StdIo.Err.WriteLine("Error: " + _lostReason);
                    return 1;
                }
                if (_o.ExitOnError && _hadError) return 1;
                if (_o.IntervalSeconds > 0 && remaining != 0) Thread.Sleep(TimeSpan.FromSeconds(_o.IntervalSeconds));
            }
            return _o.ExitOnError && _hadError ? 1 : 0;
        }

        // --scan: walk the keyspace with SCAN [MATCH pattern] and print every key.
        private int ScanMode()
        {
            if (!Connect()) return 1;
            string cursor = "0";
            do
            {
                var args = new List<string> { "SCAN", cursor };
                if (_o.Pattern != null) args.AddRange(["MATCH", _o.Pattern]);
                var r = _conn!.Call([.. args]);
                if (r == null || r.Type == RespType.Error || r.Elements.Count != 2)
                {
                    StdIo.Err.WriteLine("Error: " + (r?.Text ?? "Server closed the connection"));
                    return 1;
                }
                cursor = r.Elements[0].Text;
                foreach (var key in r.Elements[1].Elements)
                    Out(_mode == OutputMode.Human ? Encoding.UTF8.GetBytes(ArgSplitter.Repr(key.Str) + "\n") : [.. key.Str, (byte)'\n']);
            }
            while (cursor != "0");
            return 0;
        }

        // --eval file [key ...] [, arg ...]: EVAL with the file's text; "," separates keys from args.
        private int EvalMode()
        {
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
            int comma = _o.Command.IndexOf(",");
            int numKeys = comma >= 0 ? comma : _o.Command.Count;
            var argv = new List<byte[]> { "EVAL"u8.ToArray(), script, Encoding.ASCII.GetBytes(numKeys.ToString(System.Globalization.CultureInfo.InvariantCulture)) };
            foreach (var a in RawArgs.Tail(_o.Command))
                if (a is not [(byte)',']) argv.Add(a);
            if (!Connect()) return 1;
            if (!Execute(argv, _o.ExitOnError))
            {
                StdIo.Err.WriteLine("Error: " + _lostReason);
                return 1;
            }
            return _o.ExitOnError && _hadError ? 1 : 0;
        }

        private string Prompt()
        {
            if (_conn == null) return "not connected> ";
            string where = _o.Socket != null ? "redis " + _o.Socket : $"{_o.Host}:{_o.Port}";
            if (_o.Db != 0) where += $"[{_o.Db}]";
            if (_inMulti) where += "(TX)";
            return where + "> ";
        }

        private int Repl()
        {
            _inRepl = true;
            bool tty = !Console.IsInputRedirected;
            var input = new LineReader(StdIo.In);
            Connect();
            while (true)
            {
                if (tty) Out(Prompt());
                byte[]? line = input.ReadLine();
                if (line == null) break;
                var argv = ArgSplitter.Split(line);
                if (argv == null)
                {
                    Out("Invalid argument(s)\n");
                    continue;
                }
                if (argv.Count == 0) continue;
                string cmd = Encoding.UTF8.GetString(argv[0]);
                if (cmd.Equals("quit", StringComparison.OrdinalIgnoreCase) || cmd.Equals("exit", StringComparison.OrdinalIgnoreCase)) return 0;
                if (cmd.Equals("help", StringComparison.OrdinalIgnoreCase) || cmd == "?")
                {
                    Out(HelpText.Repl);
                    continue;
                }
                if (cmd.Equals("clear", StringComparison.OrdinalIgnoreCase) && argv.Count == 1)
                {
                    if (tty) Out("\u001b[H\u001b[2J");
                    continue;
                }
                if (cmd.Equals("connect", StringComparison.OrdinalIgnoreCase) && argv.Count >= 3)
                {
                    _o.Host = Encoding.UTF8.GetString(argv[1]);
                    _o.Port = int.TryParse(argv[2], out int port) ? port : 0;
                    _o.Socket = null;
                    Connect();
                    continue;
                }
                // "N command ..." repeats the command N times, like redis-cli.
                long repeat = 1;
                if (argv.Count > 1 && long.TryParse(argv[0], out long n))
                {
                    repeat = n;
                    argv.RemoveAt(0);
                }
                for (long i = 0; i < repeat; i++)
                {
                    if (_conn == null && !Connect()) break;
                    if (!Execute(argv))
                    {
                        StdIo.Err.WriteLine("Error: " + _lostReason);
                        _conn?.Dispose();
                        _conn = null;
                        break;
                    }
                    if (_o.IntervalSeconds > 0 && i + 1 < repeat) Thread.Sleep(TimeSpan.FromSeconds(_o.IntervalSeconds));
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
