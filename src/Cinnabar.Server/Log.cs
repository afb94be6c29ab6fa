using System.Globalization;

namespace Cinnabar.Server;

/// <summary>
/// Redis's log format: "pid:role dd Mon yyyy hh:mm:ss.mmm level message", level being
/// '.' debug, '-' verbose, '*' notice, '#' warning. Writes to stdout when logfile is "".
/// </summary>
public sealed class Log
{
    private readonly object _lock = new();
    private TextWriter _out = Console.Out;
    private int _minLevel = 2;

    public char Role { get; set; } = 'M';

    public void Configure(string logFile, string level)
    {
        _minLevel = LevelOf(level);
        if (!string.IsNullOrEmpty(logFile))
        {
            var stream = new FileStream(logFile, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
            _out = new StreamWriter(stream) { AutoFlush = true };
        }
    }

    public void SetLevel(string level) => _minLevel = LevelOf(level);

    private static int LevelOf(string level) => level switch
    {
        "debug" => 0,
        "verbose" => 1,
        "notice" => 2,
        _ => 3,
    };

    public void Debug(string msg) => Write(0, msg);
    public void Verbose(string msg) => Write(1, msg);
    public void Notice(string msg) => Write(2, msg);
    public void Warning(string msg) => Write(3, msg);

    public void Write(int level, string msg)
    {
        if (level < _minLevel) return;
        char mark = level switch { 0 => '.', 1 => '-', 2 => '*', _ => '#' };
        var now = DateTime.Now;
        string line = $"{Environment.ProcessId}:{Role} {now.ToString("dd MMM yyyy HH:mm:ss.fff", CultureInfo.InvariantCulture)} {mark} {msg}";
        lock (_lock)
        {
            try { _out.WriteLine(line); _out.Flush(); }
            catch (IOException) { }
        }
    }

    /// <summary>A raw line without the prefix (the startup banner).</summary>
    public void Raw(string text)
    {
        lock (_lock)
        {
            try { _out.WriteLine(text); _out.Flush(); }
            catch (IOException) { }
        }
    }
}
