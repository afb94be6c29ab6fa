using System.Diagnostics;
using System.Globalization;
using Cinnabar.Protocol;
using Cinnabar.Sentinel;

namespace Cinnabar.Server.Sentinel;

/// <summary>
/// The notification / client-reconfig script queue (sentinel.c "scripts execution"): at most 16
/// running and 256 queued; a script that exits 1 or dies by a signal is retried up to 10 times,
/// 30 s apart and doubling; one running past 60 s is killed. Used under the execution lock.
/// </summary>
internal sealed class SentinelScripts(Log log, SentinelNode node)
{
    private const int MaxRunning = 16;
    private const int MaxQueue = 256;
    private const int MaxRetry = 10;

    private sealed class Job
    {
        public required List<string> Argv;
        public bool Running;
        public int RetryNum;
        public long StartTime;
        public Process? Process;
    }

    private readonly List<Job> _queue = new();
    public int RunningCount => _queue.Count(j => j.Running);
    public int QueueLength => _queue.Count;

    public void Schedule(string path, IReadOnlyList<string> args, long now)
    {
        _queue.Add(new Job { Argv = [path, .. args] });
        if (_queue.Count <= MaxQueue) return;
        int i = _queue.FindIndex(j => !j.Running);
        if (i >= 0) _queue.RemoveAt(i);
    }

    /// <summary>Runs pending scripts, collects finished ones and kills those past their time.</summary>
    public void Run(long now)
    {
        int running = RunningCount;
        foreach (var job in _queue)
        {
            if (running >= MaxRunning) break;
            if (job.Running || (job.StartTime != 0 && job.StartTime > now)) continue;
            job.Running = true;
            job.StartTime = now;
            job.RetryNum++;
            try
            {
                var psi = new ProcessStartInfo(job.Argv[0]) { UseShellExecute = false };
                foreach (var a in job.Argv.Skip(1)) psi.ArgumentList.Add(a);
                job.Process = Process.Start(psi);
                running++;
                node.Event(SentinelLogLevel.Debug, "+script-child", null, (job.Process?.Id ?? 0).ToString(CultureInfo.InvariantCulture));
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException or IOException)
            {
                // execve failing in the child exits 2: no retry.
                log.Verbose($"Can't run script {job.Argv[0]}: {e.Message}");
                job.Process = null;
                node.Event(SentinelLogLevel.Warning, "-script-error", null, $"{job.Argv[0]} 0 2");
                job.Running = false;
                job.StartTime = -1;
            }
        }
        _queue.RemoveAll(j => j.StartTime == -1);
        Collect(now);
        foreach (var job in _queue)
        {
            if (!job.Running || job.Process == null || now - job.StartTime <= node.ScriptMaxRuntimeMs) continue;
            node.Event(SentinelLogLevel.Warning, "-script-timeout", null, $"{job.Argv[0]} {job.Process.Id}");
            try { job.Process.Kill(); }
            catch (InvalidOperationException) { }
        }
    }

    private void Collect(long now)
    {
        foreach (var job in _queue.ToList())
        {
            if (!job.Running || job.Process == null || !job.Process.HasExited) continue;
            int code = job.Process.ExitCode;
            // .NET reports death by signal N as exit code 128+N.
            int signal = code > 128 ? code - 128 : 0;
            int exitCode = signal != 0 ? 0 : code;
            node.Event(SentinelLogLevel.Debug, "-script-child", null, $"{job.Process.Id} {exitCode} {signal}");
            job.Process.Dispose();
            job.Process = null;
            job.Running = false;
            if ((signal != 0 || exitCode == 1) && job.RetryNum != MaxRetry)
            {
                long delay = node.ScriptRetryDelayMs;
                for (int r = job.RetryNum; r > 1; r--) delay *= 2;
                job.StartTime = now + delay;
                continue;
            }
            if (signal != 0 || exitCode != 0) node.Event(SentinelLogLevel.Warning, "-script-error", null, $"{job.Argv[0]} {signal} {exitCode}");
            _queue.Remove(job);
        }
    }

    /// <summary>SENTINEL PENDING-SCRIPTS.</summary>
    public void WritePending(RespWriter w)
    {
        long now = SentinelService.NowMs;
        w.WriteArrayHeader(_queue.Count);
        foreach (var job in _queue)
        {
            w.WriteMapHeader(5);
            w.WriteBulk("argv");
            w.WriteArrayHeader(job.Argv.Count);
            foreach (var a in job.Argv) w.WriteBulk(a);
            w.WriteBulk("flags");
            w.WriteBulk(job.Running ? "running" : "scheduled");
            w.WriteBulk("pid");
            w.WriteBulk((job.Process?.Id ?? 0).ToString(CultureInfo.InvariantCulture));
            if (job.Running)
            {
                w.WriteBulk("run-time");
                w.WriteBulk((now - job.StartTime).ToString(CultureInfo.InvariantCulture));
            }
            else
            {
                w.WriteBulk("run-delay");
                w.WriteBulk(Math.Max(0, job.StartTime != 0 ? job.StartTime - now : 0).ToString(CultureInfo.InvariantCulture));
            }
            w.WriteBulk("retry-num");
            w.WriteBulk(job.RetryNum.ToString(CultureInfo.InvariantCulture));
        }
    }
}
