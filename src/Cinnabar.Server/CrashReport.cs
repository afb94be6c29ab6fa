using System.Runtime.InteropServices;
using System.Text;
using Cinnabar.Server.Commands;
using Cinnabar.Server.Config;

namespace Cinnabar.Server;

/// <summary>
/// Redis's bug report (debug.c sigsegvHandler): a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
/// SIGABRT) or DEBUG SEGFAULT logs "crashed by signal", a stack trace, INFO and CLIENT LIST, then
/// the process dies by that same signal. Our stack trace is the managed one of the thread that
/// reports (the command's thread for DEBUG SEGFAULT).
/// </summary>
internal static partial class CrashReport
{
    private const int SigAbrt = 6;
    private const int SigSegv = 11;
    /// <summary>si_code of a signal sent by kill() (SI_USER).</summary>
    private const int SiUser = 0;
    /// <summary>si_code of a write to a read-only mapping (SEGV_ACCERR), as DEBUG SEGFAULT provokes.</summary>
    private const int SegvAccErr = 2;

    private static int _reporting;

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SetSignalHandler(int sig, nint handler);

    [LibraryImport("libc", EntryPoint = "raise")]
    private static partial int Raise(int sig);

    /// <summary>Reports a SIGABRT sent to the process (Redis installs its handler for it too).</summary>
    public static IDisposable? InstallAbortHandler(RedisServer server)
    {
        try
        {
            return PosixSignalRegistration.Create((PosixSignal)SigAbrt, ctx =>
            {
                ctx.Cancel = true;
                Crash(server, SigAbrt, SiUser, address: null);
            });
        }
        catch (Exception e) when (e is PlatformNotSupportedException or IOException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>DEBUG SEGFAULT: Redis writes to a read-only page; we report the same crash and die by SIGSEGV.</summary>
    public static void DebugSegfault(CommandContext ctx) => Crash(ctx.Server, SigSegv, SegvAccErr, address: "0x7f0000000000");

    /// <summary>Logs the bug report, then ends the process by <paramref name="sig"/> with its default action.</summary>
    public static void Crash(RedisServer server, int sig, int siCode, string? address)
    {
        if (Interlocked.Exchange(ref _reporting, 1) == 0)
        {
            try
            {
                Write(server, sig, siCode, address);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                server.Log.Warning($"Failed to write the crash report: {e.Message}");
            }
        }
        try
        {
            SetSignalHandler(sig, 0); // SIG_DFL
            Raise(sig);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
        Environment.Exit(128 + sig);
    }

    private static void Write(RedisServer server, int sig, int siCode, string? address)
    {
        var log = server.Log;
        log.Raw("\n\n=== REDIS BUG REPORT START: Cut & paste starting from here ===");
        log.Warning($"Redis {ServerConfig.RedisVersion} crashed by signal: {sig}, si_code: {siCode}");
        if (address != null) log.Warning($"Accessing address: {address}");
        log.Raw("\n------ STACK TRACE ------\n");
        log.Raw("Backtrace:\n" + Environment.StackTrace);
        // The rest needs the server's state: never wait long for a lock a stuck thread may hold.
        bool locked = Monitor.TryEnter(server.ExecLock, TimeSpan.FromSeconds(1));
        try
        {
            if (locked)
            {
                string[] sections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace"];
                log.Raw("\n------ INFO OUTPUT ------\n" + InfoCommand.Build(server, new HashSet<string>(sections)).Replace("\r\n", "\n"));
                var sb = new StringBuilder();
                foreach (var c in server.Clients) sb.Append(server.DescribeClient(c)).Append('\n');
                log.Raw("\n------ CLIENT LIST OUTPUT ------\n" + sb);
            }
        }
        finally
        {
            if (locked) Monitor.Exit(server.ExecLock);
        }
        log.Raw("\n=== REDIS BUG REPORT END. Make sure to include from START to END. ===\n");
    }
}
