using System.Globalization;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Config;

// Configuration design. One table of directives (ConfigDirectives*.cs) serves the config file,
// the command line (turned into config text appended after the file, as redis-server does),
// CONFIG GET/SET/REWRITE and INFO. Each directive has a kind (bool/int/memory/enum/string/special),
// a default, a range, aliases and a mutability, all matching redis-server 7.0.15 as observed.
// Invariants: _values holds the canonical text CONFIG GET shows for every directive, and the
// public typed fields always agree with it (Apply writes the field; Show renders merged or
// clamped values back). Validation (Canonicalise) never has side effects, so CONFIG SET can check
// every pair before applying any, and roll back applied ones if a later Apply fails.

/// <summary>
/// The server's configuration: canonical string values for every directive (what CONFIG GET
/// shows) plus typed fields the hot paths read. Values flow file/command line/CONFIG SET ->
/// <see cref="Set"/> (validate, canonicalise) -> directive.Apply (typed field) -> stored string.
/// </summary>
public sealed partial class ServerConfig
{
    public const string RedisVersion = "7.0.15";

    private readonly Dictionary<string, ConfigDirective> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, string> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ConfigDirective> _ordered = new();

    // Typed values read by the server (updated by each directive's Apply).
    public int Port = 6379;
    public string[] Bind = ["*", "-::*"];
    public bool ProtectedMode = true;
    public string UnixSocket = "";
    public int UnixSocketPerm;
    public string? RequirePass;
    public int Databases = 16;
    public int MaxClients = 10000;
    public long TimeoutSeconds;
    public long TcpKeepAliveSeconds = 300;
    public int TcpBacklog = 511;
    public long ProtoMaxBulkLen = 512L * 1024 * 1024;
    public long ClientQueryBufferLimit = 1024L * 1024 * 1024;
    public long MaxMemory;
    public string MaxMemoryPolicy = "noeviction";
    public int MaxMemorySamples = 5;
    public int Hz = 10;
    public string Dir = Directory.GetCurrentDirectory();
    public string LogFile = "";
    public string LogLevel = "notice";
    public string PidFile = "";
    public bool Daemonize;
    public long SlowlogLogSlowerThanUs = 10000;
    public int SlowlogMaxLen = 128;
    public long LatencyMonitorThresholdMs;
    public string NotifyKeyspaceEvents = "";
    public bool ClusterEnabled;
    public int LfuLogFactor = 10;
    public int LfuDecayTime = 1;
    public bool ActiveExpireEnabled = true;
    public long BusyReplyThresholdMs = 5000;
    public bool ReplicaReadOnly = true;

    /// <summary>Set by CONFIG SET: re-listens after a port/bind change at runtime; false when listening failed.</summary>
    public Func<bool>? RebindListeners { get; set; }

    /// <summary>The config file path, if the server was started with one (CONFIG REWRITE target).</summary>
    public string? ConfigFile { get; set; }

    /// <summary>Raised after a successful runtime change (name, canonical value).</summary>
    public event Action<string, string>? Changed;

    public ServerConfig()
    {
        RegisterAll();
        foreach (var d in _ordered)
        {
            var err = Set(d.Name, d.Default, startup: true);
            if (err != null) throw new InvalidOperationException($"bad default for {d.Name}: {err}");
        }
    }

    public IReadOnlyList<ConfigDirective> Directives => _ordered;

    public ConfigDirective? Find(string name) => _byName.TryGetValue(name, out var d) ? d : null;

    private void Add(ConfigDirective d)
    {
        _ordered.Add(d);
        _byName.Add(d.Name, d);
        foreach (var a in d.Aliases) _byName.Add(a, d);
    }

    public string Get(string name) => _values.TryGetValue(Find(name)?.Name ?? name, out var v) ? v : "";

    /// <summary>All (name, value) pairs matching a glob, including aliases, as CONFIG GET returns them.</summary>
    public IEnumerable<(string Name, string Value)> Match(string pattern)
    {
        var patternBytes = Encoding.UTF8.GetBytes(pattern);
        foreach (var d in _ordered)
        {
            if (d.Hidden) continue;
            if (GlobMatcher.Match(patternBytes, Encoding.UTF8.GetBytes(d.Name), ignoreCase: true)) yield return (d.Name, _values[d.Name]);
            foreach (var a in d.Aliases)
                if (GlobMatcher.Match(patternBytes, Encoding.UTF8.GetBytes(a), ignoreCase: true)) yield return (a, _values[d.Name]);
        }
    }

    /// <summary>Validates and sets a directive. Returns Redis's error reason, or null on success.</summary>
    public string? Set(string name, string value, bool startup = false)
    {
        var d = Find(name);
        if (d == null) return "Bad directive or wrong number of arguments";
        if (!startup && !d.Mutable) return "can't set immutable config";
        var (canonical, error) = Canonicalise(d, value);
        if (error != null) return error;
        if (d.Apply != null)
        {
            var applyErr = d.Apply(this, canonical!);
            if (applyErr != null) return applyErr;
        }
        _values[d.Name] = d.Show != null ? d.Show(this) : canonical!;
        if (!startup) Changed?.Invoke(d.Name, _values[d.Name]);
        return null;
    }

    /// <summary>
    /// CONFIG SET with several pairs (Redis 7.0): every value is validated first, then applied in
    /// order; if an apply fails, the ones already applied are restored, so the change is atomic.
    /// Returns (failing name, reason) or null.
    /// </summary>
    public (string Name, string Error)? SetMany(IReadOnlyList<(string Name, string Value)> pairs)
    {
        var canon = new List<(ConfigDirective D, string Value)>(pairs.Count);
        foreach (var (name, value) in pairs)
        {
            var d = Find(name)!;
            if (!d.Mutable) return (name, "can't set immutable config");
            var (c, err) = Canonicalise(d, value);
            if (err != null) return (name, err);
            canon.Add((d, c!));
        }
        var old = new List<(ConfigDirective D, string Value)>();
        for (int i = 0; i < canon.Count; i++)
        {
            var (d, v) = canon[i];
            string before = _values[d.Name];
            string? err = d.Apply?.Invoke(this, v);
            if (err != null)
            {
                // Roll back in reverse order, as Redis restores the previous values; the failing
                // directive first, since its Apply may have changed its typed field before failing.
                old.Add((d, before));
                for (int j = old.Count - 1; j >= 0; j--)
                {
                    var (od, ov) = old[j];
                    var (oc, _) = Canonicalise(od, ov);
                    od.Apply?.Invoke(this, oc ?? ov);
                    _values[od.Name] = od.Show != null ? od.Show(this) : ov;
                }
                return (pairs[i].Name, err);
            }
            old.Add((d, before));
            _values[d.Name] = d.Show != null ? d.Show(this) : v;
        }
        foreach (var (d, _) in canon) Changed?.Invoke(d.Name, _values[d.Name]);
        return null;
    }

    /// <summary>Redis's string2ll: optional '-', digits only, no spaces or '+', no overflow.</summary>
    public static bool TryParseStrictLong(string s, out long n)
    {
        n = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        int i = s[0] == '-' ? 1 : 0;
        if (i == s.Length) return false;
        for (int k = i; k < s.Length; k++) if (!char.IsAsciiDigit(s[k])) return false;
        if (s.Length - i > 1 && s[i] == '0') return false;
        return long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out n);
    }

    private static (string? Value, string? Error) Canonicalise(ConfigDirective d, string value)
    {
        switch (d.Kind)
        {
            case ConfigKind.Bool:
                if (value.Equals("yes", StringComparison.OrdinalIgnoreCase)) return ("yes", null);
                if (value.Equals("no", StringComparison.OrdinalIgnoreCase)) return ("no", null);
                return (null, "argument must be 'yes' or 'no'");
            case ConfigKind.Int:
            {
                if (!TryParseStrictLong(value, out long n))
                    return (null, "argument couldn't be parsed into an integer");
                if (n < d.Min || n > d.Max) return (null, $"argument must be between {d.Min} and {d.Max} inclusive");
                return (n.ToString(CultureInfo.InvariantCulture), null);
            }
            case ConfigKind.Memory:
            {
                if (!TryParseMemory(value, out long n)) return (null, "argument must be a memory value");
                if (n < d.Min || n > d.Max) return (null, $"argument must be between {d.Min} and {d.Max} inclusive");
                return (n.ToString(CultureInfo.InvariantCulture), null);
            }
            case ConfigKind.Enum:
            {
                var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length == 0 || (!d.MultiArg && parts.Length > 1))
                    return (null, "argument(s) must be one of the following: " + string.Join(", ", d.EnumValues));
                var chosen = new List<string>();
                foreach (var p in parts)
                {
                    var match = d.EnumValues.FirstOrDefault(e => e.Equals(p, StringComparison.OrdinalIgnoreCase));
                    if (match == null) return (null, "argument(s) must be one of the following: " + string.Join(", ", d.EnumValues));
                    chosen.Add(match);
                }
                // Flag enums (shutdown-on-sigint...) read back in their declaration order, as Redis's bit flags do.
                if (d.MultiArg) chosen = chosen.Distinct().OrderBy(c => Array.IndexOf(d.EnumValues, c)).ToList();
                return (string.Join(' ', chosen), null);
            }
            case ConfigKind.Special:
                return d.Parse != null ? d.Parse(value) : (value, null);
            default:
                return (value, null);
        }
    }

    /// <summary>Redis's memtoull: a number with an optional b/k/kb/m/mb/g/gb unit (k = 1000, kb = 1024).</summary>
    public static bool TryParseMemory(string s, out long bytes)
    {
        bytes = 0;
        // Negative sizes are refused ("argument must be a memory value"), as memtoull does.
        int i = 0;
        while (i < s.Length && char.IsAsciiDigit(s[i])) i++;
        if (i == 0) return false;
        if (!long.TryParse(s.AsSpan(0, i), NumberStyles.None, CultureInfo.InvariantCulture, out long n)) return false;
        long mul = s[i..].ToLowerInvariant() switch
        {
            "" or "b" => 1,
            "k" => 1000,
            "kb" => 1024,
            "m" => 1000 * 1000,
            "mb" => 1024 * 1024,
            "g" => 1000L * 1000 * 1000,
            "gb" => 1024L * 1024 * 1024,
            _ => 0,
        };
        if (mul == 0) return false;
        if (n > long.MaxValue / mul) return false;
        bytes = n * mul;
        return true;
    }

    /// <summary>
    /// Loads redis.conf-style text (file contents followed by the command line's --options).
    /// Returns null or a Redis-style fatal error report. As redis-server: the last occurrence of
    /// a directive wins, except "save" whose first occurrence replaces the defaults and later
    /// ones add points; relative include paths are opened from the current directory (which
    /// an earlier "dir" line has already changed).
    /// </summary>
    public string? LoadText(string text, string? sourceDir = null, int depth = 0)
    {
        _ = sourceDir; // kept for callers: Redis resolves includes from the current directory, not the file's
        return LoadText(text, new HashSet<string>(StringComparer.OrdinalIgnoreCase), depth);
    }

    private string? LoadText(string text, HashSet<string> seenAccumulating, int depth)
    {
        var lines = text.Split('\n');
        for (int lineNo = 0; lineNo < lines.Length; lineNo++)
        {
            string line = lines[lineNo].Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var argv = ArgSplitter.SplitToStrings(line);
            if (argv == null) return FatalError(lineNo + 1, line, "Unbalanced quotes in configuration line");
            if (argv.Count == 0) continue;
            string name = argv[0].ToLowerInvariant();
            string? err = name switch
            {
                "include" => LoadInclude(argv, seenAccumulating, depth),
                "rename-command" => argv.Count == 3 ? AddRename(argv[1], argv[2]) : "wrong number of arguments",
                "user" => AddUserLine(argv),
                "loadmodule" => "Module loading is not supported by Cinnabar",
                _ => LoadDirective(argv, seenAccumulating),
            };
            if (err == null) continue;
            if (err.Contains(" # Fatal error, can't open config file", StringComparison.Ordinal)) return err;
            return FatalError(lineNo + 1, line, err);
        }
        return null;
    }

    private string? LoadDirective(List<string> argv, HashSet<string> seenAccumulating)
    {
        var d = Find(argv[0]);
        if (d == null) return "Bad directive or wrong number of arguments";
        // A bare "save" line adds no save point, but the first "save" line of a file replaces the
        // defaults, so a lone bare "save" means none (setConfigSaveOption with no arguments).
        if (argv.Count < 2 && d.Name == "save")
            return seenAccumulating.Add(d.Name) ? Set(d.Name, "", startup: true) : null;
        // Multi-argument enums (shutdown-on-sigint...) check their own argument count: none is
        // an invalid value, not a wrong number of arguments.
        if (argv.Count < 2 && d.Kind is ConfigKind.Enum && d.MultiArg) return Set(d.Name, "", startup: true);
        if (argv.Count < 2)
            return d.Accumulates ? null : "wrong number of arguments";
        string value;
        if (d.Kind is ConfigKind.Special || (d.Kind is ConfigKind.Enum && d.MultiArg)) value = string.Join(' ', argv.Skip(1));
        else if (argv.Count != 2) return "wrong number of arguments";
        else value = argv[1];
        if (d.Accumulates && !seenAccumulating.Add(d.Name) && value.Length > 0)
            value = _values[d.Name] + (_values[d.Name].Length > 0 ? " " : "") + value;
        return Set(d.Name, value, startup: true);
    }

    private string? LoadInclude(List<string> argv, HashSet<string> seenAccumulating, int depth)
    {
        if (argv.Count != 2) return "wrong number of arguments";
        if (depth > 16) return "Too many nested includes";
        string pattern = argv[1];
        var files = new List<string>();
        // Redis 7.0 accepts a glob in the file name part of an include path.
        if (Path.GetFileName(pattern).IndexOfAny(['*', '?', '[']) >= 0)
        {
            string dirPart = Path.GetDirectoryName(pattern) is { Length: > 0 } dp ? dp : ".";
            var glob = Encoding.UTF8.GetBytes(Path.GetFileName(pattern));
            if (Directory.Exists(dirPart))
                foreach (var f in Directory.GetFiles(dirPart).Order(StringComparer.Ordinal))
                    if (GlobMatcher.Match(glob, Encoding.UTF8.GetBytes(Path.GetFileName(f)), ignoreCase: false)) files.Add(f);
        }
        else files.Add(pattern);
        foreach (var f in files)
        {
            string inc;
            try { inc = File.ReadAllText(f); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return CantOpenConfigFile(f, e);
            }
            var err = LoadText(inc, seenAccumulating, depth + 1);
            if (err != null) return err;
        }
        return null;
    }

    /// <summary>
    /// redis-server's report for a config file (main or included) that cannot be read: a log line,
    /// not the FATAL CONFIG FILE ERROR banner, with the file's absolute path and the errno text.
    /// </summary>
    public static string CantOpenConfigFile(string path, Exception e)
    {
        string now = DateTime.Now.ToString("dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture);
        string reason = e switch
        {
            FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
            UnauthorizedAccessException => "Permission denied",
            _ => e.Message,
        };
        return $"{Environment.ProcessId}:C {now} # Fatal error, can't open config file '{Path.GetFullPath(path)}': {reason}";
    }

    /// <summary>rename-command lines (old, new); "" as new name disables the command. Applied by the server.</summary>
    public List<(string Old, string New)> RenamedCommands { get; } = new();

    /// <summary>"user ..." ACL lines from the config file, for the ACL subsystem.</summary>
    public List<List<string>> UserLines { get; } = new();

    /// <summary>CONFIG REWRITE's "user" lines, supplied by the ACL subsystem (null: leave user lines alone).</summary>
    public Func<List<string>>? UserRewriteLines { get; set; }

    /// <summary>Sentinel mode (redis-server --sentinel): the restricted command table, no dataset.</summary>
    public bool SentinelMode { get; set; }

    /// <summary>CONFIG REWRITE's "sentinel ..." lines (rewrite key, line, force), supplied in sentinel mode.</summary>
    public Func<List<(string Key, string Line, bool Force)>>? SentinelRewriteLines { get; set; }

    private string? AddRename(string oldName, string newName)
    {
        RenamedCommands.Add((oldName, newName));
        return null;
    }

    private string? AddUserLine(List<string> argv)
    {
        if (argv.Count < 2) return "wrong number of arguments";
        // ACLAppendUserForLoading: a user may be declared once.
        if (UserLines.Exists(l => l[0] == argv[1]))
            return $"Error in user declaration '{argv[1]}': Duplicate user found. A user can only be defined once in config files";
        UserLines.Add(argv.Skip(1).ToList());
        return null;
    }

    private static string FatalError(int line, string text, string reason) =>
        $"\n*** FATAL CONFIG FILE ERROR (Redis {RedisVersion}) ***\nReading the configuration file, at line {line}\n>>> '{text}'\n{reason}";

    /// <summary>Turns redis-server style argv (config path, then --name value ...) into config text.</summary>
    public static (string? ConfigPath, string Text) ArgsToConfigText(string[] args)
    {
        string? path = null;
        int i = 0;
        if (args.Length > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) && args[0] != "-")
        {
            path = args[0];
            i = 1;
        }
        // Redis's main(): a "--name" starts a new line only once the previous directive got at
        // least one value, so "--port --loglevel verbose" gives port the values "--loglevel" and
        // "verbose". "--save" and "--sentinel" followed by another option (or last) take no value.
        var sb = new StringBuilder();
        bool lastHasValue = true;
        for (; i < args.Length; i++)
        {
            string a = args[i];
            if (lastHasValue && a.StartsWith("--", StringComparison.Ordinal))
            {
                if (sb.Length > 0) sb.Append('\n');
                sb.Append(a[2..]).Append(' ');
                if (ArgSplitter.SplitToStrings(a)?.Count != 1)
                {
                    lastHasValue = true; // "--port 6380" in one argument
                    continue;
                }
                lastHasValue = false;
                bool nextIsOption = i + 1 < args.Length && args[i + 1].StartsWith("--", StringComparison.Ordinal);
                bool isLast = i == args.Length - 1;
                if (a.Equals("--save", StringComparison.OrdinalIgnoreCase) && (nextIsOption || isLast))
                {
                    sb.Append("\"\"");
                    lastHasValue = nextIsOption;
                }
                else if (a.Equals("--sentinel", StringComparison.OrdinalIgnoreCase) && nextIsOption) lastHasValue = true;
            }
            else
            {
                // Values are quoted so that spaces survive the line splitter (redis-server does sdscatrepr).
                sb.Append(ArgSplitter.Repr(Encoding.UTF8.GetBytes(a))).Append(' ');
                lastHasValue = true;
            }
        }
        return (path, sb.ToString());
    }
}
