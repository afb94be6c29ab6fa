using System.Runtime.InteropServices;
using Cinnabar.Server;
using Cinnabar.Server.Config;

return ServerMain.Run(args);

namespace Cinnabar.Server
{
    /// <summary>redis-server's command line: [config file] [--directive value ...], --version, --help.</summary>
    public static class ServerMain
    {
        public static int Run(string[] args)
        {
            // A script past busy-reply-threshold, a blocking save or a diskless load can each hold a
            // pool thread for long; with the default minimum (one per core) the work that answers
            // -BUSY or serves replicas would wait for the pool's slow thread injection.
            ThreadPool.GetMinThreads(out int workers, out int io);
            if (workers < 16) ThreadPool.SetMinThreads(16, io);
            // redis-sentinel, or redis-server --sentinel (the flag may sit anywhere).
            bool sentinelMode = args.Any(a => a is "--sentinel") || Path.GetFileName(Environment.GetCommandLineArgs()[0]).Contains("sentinel", StringComparison.Ordinal);
            args = args.Where(a => a is not "--sentinel").ToArray();
            if (args.Length == 1 && args[0] is "-v" or "--version")
            {
                Console.WriteLine($"Redis server v={ServerConfig.RedisVersion} sha=00000000:0 malloc=libc bits=64 build=cinnabar (Cinnabar {typeof(ServerMain).Assembly.GetName().Version})");
                return 0;
            }
            if (args.Length == 1 && args[0] is "-h" or "--help")
            {
                Usage();
                return 0;
            }
            if (args.Any(a => a is "--test-memory"))
            {
                Console.Error.WriteLine("--test-memory is not supported by Cinnabar: use a dedicated memory tester such as memtester.");
                return 1;
            }
            var config = new ServerConfig();
            var (path, text) = ServerConfig.ArgsToConfigText(args);
            List<Cinnabar.Sentinel.SentinelNode.ConfigLine>? sentinelLines = null;
            if (sentinelMode)
            {
                if (Sentinel.SentinelStartup.PrepareConfig(config, path) is { } fatal)
                {
                    Console.Error.WriteLine(fatal);
                    return 1;
                }
                sentinelLines = new();
            }
            string configText = "";
            if (path != null)
            {
                try
                {
                    configText = path == "-" ? Console.In.ReadToEnd() : File.ReadAllText(path);
                    config.ConfigFile = path == "-" ? null : Path.GetFullPath(path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    Console.Error.WriteLine($"Fatal error, can't open config file '{path}': {e.Message}");
                    return 1;
                }
            }
            if (sentinelLines != null) configText = Sentinel.SentinelStartup.ExtractSentinelLines(configText, sentinelLines);
            var err = config.LoadText(configText + "\n" + text, path != null && path != "-" ? Path.GetDirectoryName(Path.GetFullPath(path)) : null);
            if (err != null)
            {
                Console.Error.WriteLine(err);
                return 1;
            }
            if (config.Daemonize && Environment.GetEnvironmentVariable("CINNABAR_DAEMON_CHILD") == null)
                return Daemon.Spawn(args);
            var log = new Log();
            try { log.Configure(config.LogFile, config.LogLevel); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Console.Error.WriteLine($"Can't open the log file: {e.Message}");
                return 1;
            }
            log.Role = 'C';
            log.Warning("oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo");
            log.Warning($"Redis version={ServerConfig.RedisVersion}, bits=64, commit=00000000, modified=0, pid={Environment.ProcessId}, just started");
            if (path == null)
                log.Warning($"Warning: no config file specified, using the default config. In order to specify a config file use {Environment.GetCommandLineArgs()[0]} /path/to/redis.conf");
            else log.Warning("Configuration loaded");
            log.Role = 'M';
            var server = new RedisServer(config, log);
            // Redis's updateProcTitleTemplate: CONFIG SET proc-title-template retitles at once.
            config.Changed += (name, _) => { if (name == "proc-title-template") ProcTitle.Apply(config); };
            if (sentinelLines != null) return Sentinel.SentinelStartup.Run(server, sentinelLines);
            try
            {
                ServerStartup.Initialize(server);
                // Clients may connect before the dataset is loaded: they get -LOADING until it is.
                server.Rdb.Loading = true;
                server.Start();
                if (config.Get("set-proc-title") == "yes") ProcTitle.Apply(config);
            }
            catch (InvalidOperationException e)
            {
                log.Warning(e.Message);
                return 1;
            }
            Announce(server, config.ClusterEnabled ? "cluster" : "standalone");
            log.Warning("Server initialized");
            try
            {
                ServerStartup.LoadData(server);
            }
            catch (InvalidOperationException)
            {
                return 1;
            }
            finally
            {
                server.Rdb.Loading = false;
            }
            // Startup and loading leave garbage behind (configuration, decoding buffers): it goes
            // before serving, so that used_memory starts from what is live.
            RedisServer.ReclaimDroppedMemory();
            log.Notice("Ready to accept connections");
            return WaitUntilStopped(server, saveOnSignal: null);
        }

        /// <summary>The PID file, then the banner (Redis shows its logo, with "PID: n" that test
        /// harnesses look for, when always-show-logo is set or stdout is a terminal; otherwise a
        /// one-line summary. Ours is a plain banner).</summary>
        internal static void Announce(RedisServer server, string mode)
        {
            var config = server.Config;
            var log = server.Log;
            if (config.PidFile.Length > 0)
            {
                try { File.WriteAllText(config.PidFile, Environment.ProcessId + "\n"); }
                catch (IOException e) { log.Warning($"Failed to write PID file: {e.Message}"); }
            }
            if (config.Get("always-show-logo") == "yes" || (config.LogFile.Length == 0 && !Console.IsOutputRedirected))
                log.Raw($"\n    Cinnabar {ServerConfig.RedisVersion} (00000000/0) 64 bit, Redis-compatible\n    Running in {mode} mode\n    Port: {config.Port}\n    PID: {Environment.ProcessId}\n\n");
            else log.Notice($"Running mode={mode}, port={config.Port}.");
        }

        /// <summary>Serves until SHUTDOWN, SIGTERM or SIGINT (a signal shuts down as SHUTDOWN with
        /// <paramref name="saveOnSignal"/>: null saves when save points are set).</summary>
        internal static int WaitUntilStopped(RedisServer server, bool? saveOnSignal)
        {
            using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, ctx =>
            {
                ctx.Cancel = true;
                OnSignal(server, "SIGTERM", saveOnSignal);
            });
            using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, ctx =>
            {
                ctx.Cancel = true;
                OnSignal(server, "SIGINT", saveOnSignal);
            });
            using var abort = CrashReport.InstallAbortHandler(server);
            server.Stopped.Wait();
            return 0;
        }

        private static void OnSignal(RedisServer server, string name, bool? save) => server.SignalShutdown.OnSignal(name, save);

        private static void Usage()
        {
            Console.Error.WriteLine("Usage: ./cinnabar-server [/path/to/redis.conf] [options] [-]");
            Console.Error.WriteLine("       ./cinnabar-server - (read config from stdin)");
            Console.Error.WriteLine("       ./cinnabar-server -v or --version");
            Console.Error.WriteLine("       ./cinnabar-server -h or --help");
            Console.Error.WriteLine();
            Console.Error.WriteLine("Examples:");
            Console.Error.WriteLine("       ./cinnabar-server (run the server with default conf)");
            Console.Error.WriteLine("       ./cinnabar-server /etc/redis/6379.conf");
            Console.Error.WriteLine("       ./cinnabar-server --port 7777");
            Console.Error.WriteLine("       ./cinnabar-server /etc/myredis.conf --loglevel verbose -");
        }
    }

    /// <summary>
    /// daemonize yes: .NET cannot fork, so the process re-launches itself detached (new session,
    /// stdin/stdout/stderr on /dev/null as Redis's daemonize leaves them) and exits.
    /// </summary>
    public static class Daemon
    {
        public static int Spawn(string[] args)
        {
            var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh") { UseShellExecute = false };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("if command -v setsid >/dev/null 2>&1; then exec setsid \"$0\" \"$@\" </dev/null >/dev/null 2>&1; "
                + "else exec \"$0\" \"$@\" </dev/null >/dev/null 2>&1; fi");
            psi.ArgumentList.Add(Environment.ProcessPath!);
            // Run through the dotnet host (bin/cinnabar-server): the host needs the assembly path.
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
                psi.ArgumentList.Add(Environment.GetCommandLineArgs()[0]);
            foreach (var a in args) psi.ArgumentList.Add(a);
            psi.Environment["CINNABAR_DAEMON_CHILD"] = "1";
            using var p = System.Diagnostics.Process.Start(psi);
            return p == null ? 1 : 0;
        }
    }

    /// <summary>Wires subsystems into a new server (persistence, replication ...). Extended as they land.</summary>
    public static partial class ServerStartup
    {
        public static void Initialize(RedisServer server)
        {
            if (server.Acl.LoadAtStartup() != null) throw new InvalidOperationException("Critical error while loading ACLs. Exiting.");
            InitializeSubsystems(server);
        }

        public static void LoadData(RedisServer server)
        {
            var replicaOf = server.Config.Find("replicaof") != null ? server.Config.Get("replicaof") : "";
            var parts = replicaOf.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            bool replicaOfDirective = parts.Length == 2 && int.TryParse(parts[1], out _);
            if (replicaOfDirective) server.StartingAsReplica = true;
            if (server.AofConfigured) server.StartAofAtStartup();
            else server.LoadRdbAtStartup();
            if (replicaOfDirective)
            {
                lock (server.ExecLock) server.ReplicaOf(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            }
            LoadDataSubsystems(server);
            lock (server.ExecLock) server.StartingAsReplica = false;
        }

        static partial void InitializeSubsystems(RedisServer server);
        static partial void LoadDataSubsystems(RedisServer server);
    }
}
