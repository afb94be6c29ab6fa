using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Cinnabar.Server.Config;

namespace Cinnabar.Server;

/// <summary>
/// The process title (`ps`, /proc/PID/cmdline) from proc-title-template, as Redis's
/// redisSetProcTitle/setproctitle.c do on Linux. There is no system call for it: the kernel shows
/// the bytes of the process's original argv area, so the title is written over that area, which
/// is contiguous with the environment strings after it (ps shows a title longer than the argv area
/// when the byte at its end is no longer a NUL). Like setproctitle.c, the environment strings are
/// first copied to the heap and `environ` repointed at the copies, so getenv keeps working; the
/// runtime keeps copies of its own (argv, environment) and never reads the original area again.
/// Title set from the template at startup (set-proc-title yes) and on CONFIG SET proc-title-template.
/// {title} is the name the server was started as: the launcher passes its own $0 in
/// CINNABAR_EXEC_NAME (a wrapper such as the suite's src/redis-server sets it first).
/// </summary>
internal static class ProcTitle
{
    private static readonly object Gate = new();
    private static bool _initialized;
    private static nint _area;
    private static int _capacity;

    public static string ExecName { get; } =
        Environment.GetEnvironmentVariable("CINNABAR_EXEC_NAME") is { Length: > 0 } name ? name : "cinnabar-server";

    /// <summary>Sets the title from the configured template; false when it cannot be set here.</summary>
    public static bool Apply(ServerConfig config)
    {
        if (!OperatingSystem.IsLinux()) return false;
        string title = Expand(config.Get("proc-title-template"), config);
        lock (Gate)
        {
            if (!_initialized)
            {
                _initialized = true;
                try { Locate(); }
                catch (Exception e) when (e is IOException or FormatException or DllNotFoundException or EntryPointNotFoundException)
                {
                    _capacity = 0;
                }
            }
            if (_capacity < 2) return false;
            Write(title);
            return true;
        }
    }

    /// <summary>Redis's expandProcTitleTemplate: the variables replaced, spaces trimmed at both ends.</summary>
    public static string Expand(string template, ServerConfig c)
    {
        var inv = CultureInfo.InvariantCulture;
        string listenAddr = c.Port != 0
            ? $"{(c.Bind.Length > 0 ? c.Bind[0] : "*")}:{c.Port.ToString(inv)}"
            : "unixsocket:" + c.UnixSocket;
        string mode = c.ClusterEnabled ? "[cluster]" : c.SentinelMode ? "[sentinel]" : "";
        return template
            .Replace("{title}", ExecName, StringComparison.Ordinal)
            .Replace("{listen-addr}", listenAddr, StringComparison.Ordinal)
            .Replace("{server-mode}", mode, StringComparison.Ordinal)
            .Replace("{config-file}", c.ConfigFile ?? "-", StringComparison.Ordinal)
            .Replace("{port}", c.Port.ToString(inv), StringComparison.Ordinal)
            .Replace("{tls-port}", c.Get("tls-port"), StringComparison.Ordinal)
            .Replace("{unixsocket}", c.UnixSocket, StringComparison.Ordinal)
            .Trim(' ');
    }

    /// <summary>
    /// Finds the argv and environment areas (/proc/self/stat fields 48-51: arg_start, arg_end,
    /// env_start, env_end) and moves the environment strings out of the way.
    /// </summary>
    private static void Locate()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        // Fields after the command name (field 2, in parentheses, may hold spaces): index 0 is field 3.
        var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        if (f.Length < 49) return;
        long argStart = long.Parse(f[48 - 3], CultureInfo.InvariantCulture);
        long argEnd = long.Parse(f[49 - 3], CultureInfo.InvariantCulture);
        long envStart = long.Parse(f[50 - 3], CultureInfo.InvariantCulture);
        long envEnd = long.Parse(f[51 - 3], CultureInfo.InvariantCulture);
        if (argStart == 0 || argEnd <= argStart) return;
        _area = (nint)argStart;
        _capacity = (int)Math.Min(argEnd - argStart, 4096);
        if (envStart == argEnd && envEnd > envStart && RelocateEnvironment(envStart, envEnd))
            _capacity = (int)Math.Min(envEnd - argStart, 4096);   // the kernel shows at most a page
    }

    /// <summary>Points each `environ` entry that lies in [start, end) at a heap copy (never freed).</summary>
    private static bool RelocateEnvironment(long start, long end)
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "environ", out var environVar))
            return false;
        nint envp = Marshal.ReadIntPtr(environVar);
        if (envp == 0) return false;
        for (int i = 0; ; i++)
        {
            nint s = Marshal.ReadIntPtr(envp, i * nint.Size);
            if (s == 0) break;
            if (s < start || s >= end) continue;
            int len = 0;
            while (s + len < end && Marshal.ReadByte(s, len) != 0) len++;
            nint copy = Marshal.AllocHGlobal(len + 1);
            unsafe { Buffer.MemoryCopy((void*)s, (void*)copy, len, len); }
            Marshal.WriteByte(copy, len, 0);
            Marshal.WriteIntPtr(envp, i * nint.Size, copy);
        }
        return true;
    }

    private static unsafe void Write(string title)
    {
        var area = new Span<byte>((void*)_area, _capacity);
        int n = Math.Min(Encoding.UTF8.GetByteCount(title), _capacity - 1);
        byte[] bytes = Encoding.UTF8.GetBytes(title);
        bytes.AsSpan(0, n).CopyTo(area);
        area[n..].Clear();
    }
}
