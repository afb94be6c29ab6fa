using System.Diagnostics;

namespace Cinnabar.Integration.Tests.Infrastructure;

/// <summary>Runs external tools (redis-cli, redis-benchmark, python3) with a deadline.</summary>
public static class Tools
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string file, IEnumerable<string> args, string? stdin = null, int timeoutMs = 60000)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin != null,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        if (stdin != null)
        {
            p.StandardInput.Write(stdin);
            p.StandardInput.Close();
        }
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} timed out");
        }
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, errTask.Result);
    }

    public static string RedisCli(int port, params string[] args)
    {
        var all = new List<string> { "-p", port.ToString() };
        all.AddRange(args);
        return Run("redis-cli", all).Stdout;
    }

    /// <summary>Polls a condition until it holds or the deadline passes (house rule 5: no fixed sleeps).</summary>
    public static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (condition()) return;
            Thread.Sleep(20);
        }
        throw new TimeoutException("timed out waiting for " + what);
    }
}
