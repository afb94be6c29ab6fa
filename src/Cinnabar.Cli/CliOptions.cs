using System.Globalization;

namespace Cinnabar.Cli;

public enum OutputMode
{
    Auto,
    Raw,
    Human,
    Csv,
}

/// <summary>
/// Command-line options with redis-cli 7.0's parsing rules: options come first, an option that
/// needs a value but is the last argument is "unrecognized", and the first argument not starting
/// with '-' begins the command.
/// </summary>
public sealed class CliOptions
{
    public string Host { get; set; } = "127.0.0.1";
    public int Port { get; set; } = 6379;
    public string? Socket { get; set; }
    public string? User { get; set; }
    public string? Password { get; set; }
    public bool NoAuthWarning { get; set; }
    public bool AuthWarning { get; set; }
    public int Db { get; set; }
    public OutputMode Output { get; set; } = OutputMode.Auto;
    public long Repeat { get; set; } = 1;
    public double IntervalSeconds { get; set; }
    public bool StdinLastArg { get; set; }
    public bool ExitOnError { get; set; }
    public int Resp { get; set; } = 2;
    /// <summary>-2 was given: --json/--quoted-json then keep RESP2 instead of trying HELLO 3.</summary>
    public bool Resp2Forced { get; set; }
    public bool Cluster { get; set; }
    public bool Pipe { get; set; }
    public bool Scan { get; set; }
    public string? Pattern { get; set; }
    public string? EvalFile { get; set; }
    public int PipeTimeout { get; set; } = 30;
    public string MbDelim { get; set; } = "\n";
    public string CmdDelim { get; set; } = "\n";
    public bool ShowVersion { get; set; }
    public bool ShowHelp { get; set; }
    public List<string> Command { get; } = [];

    // Client modes (redis-cli's main() order: cluster manager, latency, latency-dist, replica,
    // rdb, pipe, bigkeys, memkeys, hotkeys, stat, scan, lru-test, intrinsic-latency).
    public string? StdinTag { get; set; }
    public bool AskPass { get; set; }
    public bool QuotedInput { get; set; }
    public bool Json { get; set; }
    public bool QuotedJson { get; set; }
    public bool Latency { get; set; }
    public bool LatencyHistory { get; set; }
    public bool LatencyDist { get; set; }
    public bool Mono { get; set; }
    public bool LruTest { get; set; }
    public long LruTestSampleSize { get; set; }
    public bool Replica { get; set; }
    public bool Stat { get; set; }
    public bool IntrinsicLatency { get; set; }
    public int IntrinsicLatencyDuration { get; set; }
    public string? RdbFile { get; set; }
    public bool FunctionsRdb { get; set; }
    public bool BigKeys { get; set; }
    public bool MemKeys { get; set; }
    public int MemKeysSamples { get; set; }
    public bool HotKeys { get; set; }
    /// <summary>--count for --scan (redis-cli 7.2): SCAN's COUNT hint; 0 = server default.</summary>
    public int ScanCount { get; set; }
    public bool Ldb { get; set; }
    public bool LdbSync { get; set; }
    public bool Verbose { get; set; }
    /// <summary>--show-pushes: null = default (shown in a terminal, hidden otherwise).</summary>
    public bool? ShowPushes { get; set; }
    /// <summary>--cluster &lt;verb&gt; [args] and the --cluster-* options (Name is null without --cluster).</summary>
    public ClusterManagerOptions ClusterCmd { get; } = new();

    public bool ClusterManagerMode => ClusterCmd.Name != null;

    /// <summary>Parses argv. On error returns null and sets error to redis-cli's message.</summary>
    public static CliOptions? Parse(string[] args, out string? error)
    {
        var o = new CliOptions();
        error = null;
        int i = 0;
        bool seen2 = false, seen3 = false;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            bool last = i == args.Length - 1;
            string Next() => args[++i];
            if (ParseClusterOption(o, args, ref i, out error))
                continue;
            if (error != null) return null;
            switch (a)
            {
                case "-h" when !last: o.Host = Next(); break;
                case "-h" when last: o.ShowHelp = true; break;
                case "--help": o.ShowHelp = true; break;
                case "--version" or "-v": o.ShowVersion = true; break;
                case "-p" when !last: o.Port = AtoI(Next()); break;
                case "-s" when !last: o.Socket = Next(); break;
                case "-a" or "--pass" when !last: o.Password = Next(); o.AuthWarning = true; break;
                case "--user" when !last: o.User = Next(); break;
                case "--no-auth-warning": o.NoAuthWarning = true; break;
                case "-u" when !last:
                    if (!o.ParseUri(Next())) { error = "Invalid URI scheme"; return null; }
                    break;
                case "-n" when !last: o.Db = AtoI(Next()); break;
                case "-r" when !last: o.Repeat = AtoL(Next()); break;
                case "-i" when !last:
                    o.IntervalSeconds = double.TryParse(Next(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : 0;
                    break;
                case "-d" when !last: o.MbDelim = Unescape(Next()); break;
                case "-D" when !last: o.CmdDelim = Unescape(Next()); break;
                case "--raw": o.Output = OutputMode.Raw; break;
                case "--no-raw": o.Output = OutputMode.Human; break;
                case "--csv": o.Output = OutputMode.Csv; break;
                case "--scan": o.Scan = true; break;
                case "--pattern" when !last: o.Pattern = Next(); break;
                case "--quoted-pattern" when !last:
                    {
                        var parts = Cinnabar.Protocol.ArgSplitter.SplitToStrings(Next());
                        if (parts is not { Count: 1 })
                        {
                            error = "Invalid quoted string specified for --quoted-pattern.";
                            return null;
                        }
                        o.Pattern = parts[0];
                        break;
                    }
                case "--eval" when !last: o.EvalFile = Next(); break;
                case "-x": o.StdinLastArg = true; break;
                case "-e": o.ExitOnError = true; break;
                case "-2": o.Resp = 2; o.Resp2Forced = true; seen2 = true; break;
                case "-3": o.Resp = 3; seen3 = true; break;
                case "-c": o.Cluster = true; break;
                case "--pipe": o.Pipe = true; break;
                case "--pipe-timeout" when !last: o.PipeTimeout = AtoI(Next()); break;
                case "-X" when !last: o.StdinTag = Next(); break;
                case "--askpass": o.AskPass = true; break;
                case "--quoted-input": o.QuotedInput = true; break;
                case "--json": o.Json = true; o.Output = OutputMode.Raw; break;
                case "--quoted-json": o.QuotedJson = true; o.Output = OutputMode.Raw; break;
                case "--latency": o.Latency = true; break;
                case "--latency-dist": o.LatencyDist = true; break;
                case "--latency-history": o.Latency = true; o.LatencyHistory = true; break;
                case "--mono": o.Mono = true; break;
                case "--lru-test" when !last: o.LruTest = true; o.LruTestSampleSize = AtoL(Next()); break;
                case "--slave" or "--replica": o.Replica = true; break;
                case "--stat": o.Stat = true; break;
                case "--intrinsic-latency" when !last: o.IntrinsicLatency = true; o.IntrinsicLatencyDuration = AtoI(Next()); break;
                case "--rdb" when !last: o.RdbFile = Next(); o.FunctionsRdb = false; break;
                case "--functions-rdb" when !last: o.RdbFile = Next(); o.FunctionsRdb = true; break;
                case "--bigkeys": o.BigKeys = true; break;
                case "--memkeys": o.MemKeys = true; o.MemKeysSamples = 0; break;
                case "--memkeys-samples":
                    // redis-cli reads the value without checking it exists (atoi(NULL) crashes it).
                    o.MemKeys = true;
                    o.MemKeysSamples = last ? 0 : AtoI(Next());
                    break;
                case "--hotkeys": o.HotKeys = true; break;
                case "--count" when !last: o.ScanCount = AtoI(Next()); break;
                case "--ldb": o.Ldb = true; o.Output = OutputMode.Raw; break;
                case "--ldb-sync-mode": o.Ldb = true; o.LdbSync = true; o.Output = OutputMode.Raw; break;
                case "--verbose": o.Verbose = true; break;
                case "--show-pushes" when !last:
                    {
                        string v = Next();
                        if (v.StartsWith('n') || v.StartsWith('N')) o.ShowPushes = false;
                        else if (v.StartsWith('y') || v.StartsWith('Y')) o.ShowPushes = true;
                        else StdErrLine($"Unknown --show-pushes value '{v}' (valid: '[y]es', '[n]o')");
                        break;
                    }
                case "--cluster" when !last:
                    {
                        // The verb, then every following argument not starting with '-'.
                        if (o.ClusterManagerMode)
                        {
                            o.ShowHelp = true;
                            o.HelpExitCode = 1;
                            break;
                        }
                        o.ClusterCmd.Name = args[++i];
                        int j = i + 1;
                        while (j < args.Length && !args[j].StartsWith('-')) o.ClusterCmd.Args.Add(args[j++]);
                        i = j - 1;
                        break;
                    }
                case "--cluster" when last: o.ShowHelp = true; o.HelpExitCode = 1; break;
                default:
                    if (a.Length > 0 && a[0] == '-')
                    {
                        error = $"Unrecognized option or bad number of args for: '{a}'";
                        return null;
                    }
                    for (; i < args.Length; i++) o.Command.Add(args[i]);
                    break;
            }
        }
        if (o.Socket != null && o.Cluster)
        {
            error = "Options -c and -s are mutually exclusive.";
            return null;
        }
        if (seen2 && seen3)
        {
            error = "Options -2 and -3 are mutually exclusive.";
            return null;
        }
        return o;
    }

    /// <summary>Exit code after printing the usage (1 when it was shown for a bad --cluster).</summary>
    public int HelpExitCode { get; set; }

    /// <summary>Warnings printed while parsing (redis-cli writes them and goes on).</summary>
    private static void StdErrLine(string s) => StdIo.Err.WriteLine(s);

    // The --cluster-* options, and (with --cluster given) the verb's arguments when they come
    // after options, as redis-cli accepts `--cluster check --cluster-search-multiple-owners h:p`.
    private static bool ParseClusterOption(CliOptions o, string[] args, ref int i, out string? error)
    {
        var c = o.ClusterCmd!;
        string a = args[i];
        bool last = i == args.Length - 1;
        error = null;
        switch (a)
        {
            case "--cluster-only-masters": c.OnlyMasters = true; return true;
            case "--cluster-only-replicas": c.OnlyReplicas = true; return true;
            case "--cluster-replicas" when !last: c.Replicas = AtoI(args[++i]); return true;
            case "--cluster-master-id" when !last: c.MasterId = args[++i]; return true;
            case "--cluster-from" when !last: c.From = args[++i]; return true;
            case "--cluster-to" when !last: c.To = args[++i]; return true;
            case "--cluster-from-user" when !last: c.FromUser = args[++i]; return true;
            case "--cluster-from-pass" when !last: c.FromPass = args[++i]; return true;
            case "--cluster-from-askpass": c.FromAskPass = true; return true;
            case "--cluster-weight" when !last:
                if (c.Weights.Count > 0)
                {
                    error = "WARNING: you cannot use --cluster-weight more than once.\nYou can set more weights by adding them as a space-separated list, ie:\n--cluster-weight n1=w n2=w";
                    return false;
                }
                while (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Contains('=')) c.Weights.Add(args[++i]);
                return true;
            case "--cluster-slots" when !last: c.Slots = AtoI(args[++i]); return true;
            case "--cluster-timeout" when !last: c.Timeout = AtoI(args[++i]); return true;
            case "--cluster-pipeline" when !last: c.Pipeline = AtoI(args[++i]); return true;
            case "--cluster-threshold" when !last:
                c.Threshold = double.TryParse(args[++i], NumberStyles.Float, CultureInfo.InvariantCulture, out var t) ? t : 0;
                return true;
            case "--cluster-yes": c.Yes = true; return true;
            case "--cluster-simulate": c.Simulate = true; return true;
            case "--cluster-replace": c.Replace = true; return true;
            case "--cluster-copy": c.Copy = true; return true;
            case "--cluster-slave": c.Slave = true; return true;
            case "--cluster-use-empty-masters": c.UseEmptyMasters = true; return true;
            case "--cluster-search-multiple-owners": c.SearchMultipleOwners = true; return true;
            case "--cluster-fix-with-unreachable-masters": c.FixWithUnreachableMasters = true; return true;
            // Beyond redis-cli.
            case "--cluster-throttle" when !last: c.Throttle = AtoL(args[++i]); return true;
            case "--cluster-atomic": c.Atomic = true; return true;
            case "--cluster-no-progress": c.NoProgress = true; return true;
        }
        if (o.ClusterManagerMode && (a.Length == 0 || a[0] != '-'))
        {
            // Arguments after options belong to the verb when it has none yet; otherwise
            // redis-cli skips them.
            if (c.Args.Count == 0)
            {
                int j = i;
                while (j < args.Length && !args[j].StartsWith('-')) c.Args.Add(args[j++]);
                i = j - 1;
            }
            return true;
        }
        return false;
    }

    // redis-cli uses atoi: leading digits, anything else is 0.
    private static int AtoI(string s) => (int)AtoL(s);

    private static long AtoL(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool neg = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
        long v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9') v = unchecked(v * 10 + (s[i++] - '0'));
        return neg ? -v : v;
    }

    private static string Unescape(string s)
    {
        var parts = Cinnabar.Protocol.ArgSplitter.SplitToStrings("\"" + s + "\"");
        return parts is { Count: 1 } ? parts[0] : s;
    }

    /// <summary>redis://[[user]:password@]host[:port][/db] (also rediss:// is rejected: no TLS).</summary>
    private bool ParseUri(string uri)
    {
        const string scheme = "redis://";
        if (!uri.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        string rest = uri[scheme.Length..];
        int at = rest.LastIndexOf('@');
        if (at >= 0)
        {
            string cred = rest[..at];
            rest = rest[(at + 1)..];
            int colon = cred.IndexOf(':');
            if (colon >= 0)
            {
                User = Uri.UnescapeDataString(cred[..colon]); // redis-cli sends AUTH "" pass for ":pass@"
                Password = Uri.UnescapeDataString(cred[(colon + 1)..]);
                AuthWarning = true;
            }
            else
            {
                Password = Uri.UnescapeDataString(cred);
                AuthWarning = true;
            }
        }
        int slash = rest.IndexOf('/');
        string hostPort = slash >= 0 ? rest[..slash] : rest;
        if (slash >= 0 && slash + 1 < rest.Length) Db = AtoI(rest[(slash + 1)..]);
        int pc = hostPort.LastIndexOf(':');
        if (pc >= 0)
        {
            Port = AtoI(hostPort[(pc + 1)..]);
            hostPort = hostPort[..pc];
        }
        if (hostPort.Length > 0) Host = hostPort;
        return true;
    }
}
