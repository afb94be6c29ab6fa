using System.Runtime.InteropServices;

namespace Cinnabar.Server;

/// <summary>
/// Threads for background saves and AOF rewrites (Redis forks a child for these). A dedicated
/// thread, not a pool worker: a seconds-long job would hold a worker the connections need.
/// On Linux the thread lowers its own priority (nice +10, setpriority on its thread id), so
/// on a machine with few cores the request path keeps the CPU and the job takes the rest.
/// </summary>
internal static partial class BackgroundJobs
{
    private const int PrioProcess = 0;
    private const int JobNice = 10;

    [LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    [LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, int who, int prio);

    public static void Run(string name, Action job)
    {
        var t = new Thread(() =>
        {
            LowerPriority();
            job();
        })
        { IsBackground = true, Name = name };
        t.Start();
    }

    private static void LowerPriority()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            SetPriority(PrioProcess, GetTid(), JobNice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: run at normal priority.
        }
    }
}
