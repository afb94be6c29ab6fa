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
                case "-2": o.Resp = 2; seen2 = true; break;
                case "-3": o.Resp = 3; seen3 = true; break;
                case "-c": o.Cluster = true; break;
                case "--pipe": o.Pipe = true; break;
                case "--pipe-timeout" when !last: o.PipeTimeout = AtoI(Next()); break;
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
        if (seen2 && seen3)
        {
            error = "Options -2 and -3 are mutually exclusive.";
            return null;
        }
        return o;
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
