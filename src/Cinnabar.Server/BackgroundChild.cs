using System.Diagnostics;

namespace Cinnabar.Server;

/// <summary>
/// What stands for Redis's fork child while a BGSAVE or AOF rewrite runs on a thread (.NET has
/// no fork()). The job itself is a thread (BackgroundJobs); this object is its handle:
/// - a cancellation token the job's key-save delay and loops observe: the server ends a job
///   early (CONFIG SET appendonly no, SHUTDOWN) the way Redis kills its child with SIGUSR1;
/// - a real, idle child process (a `cat` reading a pipe only we write to), so that what an
///   operator or a test does to Redis's child works here too: `pgrep -P`/`ps --ppid` find it,
///   temp files carry its pid (temp-PID.rdb, temp-rewriteaof-bg-PID.aof), and killing it
///   (kill -9) aborts the job, which then ends as "terminated by signal 9". It exits by itself
///   when the server dies (its stdin reaches end of file), so it never outlives us.
/// Without /bin/sh the job still runs; its pid is then the server's.
/// </summary>
internal sealed class BackgroundChild : IDisposable
{
    private readonly Process? _standIn;
    private int _ended;

    private BackgroundChild(Process? standIn)
    {
        _standIn = standIn;
        Pid = standIn?.Id ?? Environment.ProcessId;
    }

    /// <summary>The pid Redis's child would have: temp file names and log lines use it.</summary>
    public int Pid { get; }

    public CancellationTokenSource Cancel { get; } = new();

    /// <summary>The signal that ended the stand-in from outside (0: none, or we ended it).</summary>
    public int KilledBySignal { get; private set; }

    /// <summary>Set when the server itself stopped the job (Redis's SIGUSR1: not an error).</summary>
    public bool StoppedByServer { get; private set; }

    public static BackgroundChild Start()
    {
        Process? p = null;
        try
        {
            var psi = new ProcessStartInfo("/bin/sh")
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = false,
                RedirectStandardError = false,
            };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("exec cat >/dev/null 2>&1");
            p = Process.Start(psi);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
        {
            p = null;
        }
        var child = new BackgroundChild(p);
        if (p != null)
        {
            p.EnableRaisingEvents = true;
            p.Exited += (_, _) => child.OnStandInExited();
            if (p.HasExited) child.OnStandInExited();
        }
        return child;
    }

    private void OnStandInExited()
    {
        if (Volatile.Read(ref _ended) != 0) return;
        // Killed from outside: Process reports 128 + signal for a signalled child.
        int code;
        try { code = _standIn!.ExitCode; }
        catch (InvalidOperationException) { code = 0; }
        KilledBySignal = code > 128 ? code - 128 : 9;
        try { Cancel.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    /// <summary>The server ends the job early (Redis: kill(child, SIGUSR1)).</summary>
    public void Stop()
    {
        StoppedByServer = true;
        try { Cancel.Cancel(); }
        catch (ObjectDisposedException) { }
    }

    /// <summary>True once the job must stop: stopped by the server or its stand-in killed.</summary>
    public bool Aborted => Cancel.IsCancellationRequested;

    /// <summary>The job is over: the stand-in exits (its stdin closes) and is reaped.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _ended, 1) != 0) return;
        if (_standIn != null)
        {
            try
            {
                _standIn.StandardInput.Close();
                if (!_standIn.WaitForExit(1000)) _standIn.Kill();
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or System.ComponentModel.Win32Exception) { }
            _standIn.Dispose();
        }
        Cancel.Dispose();
    }
}
