using System.Diagnostics;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// The stand-in for Redis's fork child (BGSAVE, BGREWRITEAOF): found as a child process, named in
/// temp files, killed with the job; and AOF manifests Redis refuses to load stop the server.
/// </summary>
public sealed class BackgroundChildTests
{
    internal static int? ChildOf(int pid)
    {
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int candidate)) continue;
            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after ')'.
                string stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == pid) return candidate;
            }
            catch (IOException) { }
        }
        return null;
    }

    private static void WaitFor(Func<bool> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > TimeSpan.FromSeconds(20)) throw new TimeoutException(what);
            Thread.Sleep(20);
        }
    }

    private static string Info(RespConnection c, string field)
    {
        foreach (var line in c.Call("INFO", "persistence").ToString().Split("\r\n"))
            if (line.StartsWith(field + ":", StringComparison.Ordinal)) return line[(field.Length + 1)..];
        return "";
    }

    [Fact]
    public void Killing_the_bgsave_child_fails_the_save_and_removes_its_temp_file()
    {
        using var s = ServerProcess.StartCinnabar();
        using var c = s.Connect();
        for (int i = 0; i < 20; i++) c.Call("SET", "bgchild:" + i, "v");
        c.Call("CONFIG", "SET", "rdb-key-save-delay", "100000");   // 2 s for 20 keys
        c.Call("BGSAVE");
        int child = 0;
        WaitFor(() => (child = ChildOf(s.Pid) ?? 0) != 0, "no child process during BGSAVE");
        string temp = Path.Combine(s.Dir, $"temp-{child}.rdb");
        WaitFor(() => File.Exists(temp), "no temp-<child pid>.rdb");
        Process.GetProcessById(child).Kill();
        WaitFor(() => Info(c, "rdb_bgsave_in_progress") == "0", "BGSAVE still running after its child was killed");
        Assert.Equal("err", Info(c, "rdb_last_bgsave_status"));
        Assert.False(File.Exists(temp));
        WaitFor(() => s.Output.Contains("Background saving terminated by signal", StringComparison.Ordinal), "no log line");
        c.Call("CONFIG", "SET", "rdb-key-save-delay", "0");
        Assert.Equal("Background saving started", c.Call("BGSAVE").ToString());
        WaitFor(() => Info(c, "rdb_bgsave_in_progress") == "0" && Info(c, "rdb_last_bgsave_status") == "ok", "second BGSAVE");
        WaitFor(() => ChildOf(s.Pid) == null, "the child outlived its job");
    }

    [Fact]
    public void Bgsave_reports_progress_and_copy_on_write_while_it_runs_and_the_peak_after()
    {
        using var s = ServerProcess.StartCinnabar();
        using var c = s.Connect();
        Assert.Equal("0", Info(c, "current_cow_size"));
        Assert.Equal("0", Info(c, "rdb_last_cow_size"));
        string value = new('A', 1000);
        for (int i = 0; i < 20; i++) c.Call("SET", "cowinfo:" + i, value);
        c.Call("CONFIG", "SET", "rdb-key-save-delay", "100000");   // 100 ms per key: about 2 s
        c.Call("BGSAVE");
        // Overwrite every key: those the save has not reached yet are copied for it first.
        for (int i = 0; i < 20; i++) c.Call("SETRANGE", "cowinfo:" + i, "0", "B");
        Assert.Equal("20", Info(c, "current_save_keys_total"));
        long cow = long.Parse(Info(c, "current_cow_size"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(cow >= 10 * 1000, $"current_cow_size {cow} while most of 20 keys of 1000 bytes were copied");
        Assert.Equal(cow.ToString(System.Globalization.CultureInfo.InvariantCulture), Info(c, "current_cow_peak"));
        WaitFor(() => Info(c, "current_save_keys_processed") != "0" && Info(c, "current_fork_perc") != "0.00", "no progress reported");
        WaitFor(() => Info(c, "rdb_bgsave_in_progress") == "0", "BGSAVE did not end");
        Assert.Equal("ok", Info(c, "rdb_last_bgsave_status"));
        Assert.Equal(cow.ToString(System.Globalization.CultureInfo.InvariantCulture), Info(c, "rdb_last_cow_size"));
        Assert.Equal("0", Info(c, "current_cow_size"));
        Assert.Equal("0", Info(c, "current_save_keys_total"));
        Assert.Equal("0.00", Info(c, "current_fork_perc"));
        WaitFor(() => s.Output.Contains("Fork CoW for RDB: current 0 MB, peak 0 MB, average 0 MB", StringComparison.Ordinal), "no Fork CoW log line");
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("no")]
    public void Aof_rewrite_reports_its_copy_on_write_as_aof_last_cow_size(string preamble)
    {
        using var s = ServerProcess.StartCinnabar("--appendonly", "yes", "--aof-use-rdb-preamble", preamble);
        using var c = s.Connect();
        WaitFor(() => Info(c, "aof_rewrite_in_progress") == "0", "initial rewrite");
        string value = new('A', 1000);
        for (int i = 0; i < 20; i++) c.Call("SET", "aofcow:" + i, value);
        c.Call("CONFIG", "SET", "rdb-key-save-delay", "100000");
        c.Call("BGREWRITEAOF");
        for (int i = 0; i < 20; i++) c.Call("SETRANGE", "aofcow:" + i, "0", "B");
        long cow = long.Parse(Info(c, "current_cow_size"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(cow >= 10 * 1000, $"current_cow_size {cow}");
        WaitFor(() => Info(c, "aof_rewrite_in_progress") == "0", "rewrite did not end");
        Assert.Equal(cow.ToString(System.Globalization.CultureInfo.InvariantCulture), Info(c, "aof_last_cow_size"));
        Assert.Equal("0", Info(c, "rdb_last_cow_size"));
        Assert.Equal("0", Info(c, "current_save_keys_processed"));
        WaitFor(() => s.Output.Contains("Fork CoW for AOF rewrite: current 0 MB", StringComparison.Ordinal), "no Fork CoW log line");
    }

    [Fact]
    public void Turning_the_aof_off_kills_a_running_rewrite()
    {
        using var s = ServerProcess.StartCinnabar("--appendonly", "yes", "--aof-use-rdb-preamble", "no");
        using var c = s.Connect();
        c.Call("SET", "aofkill:k", "v");
        c.Call("CONFIG", "SET", "rdb-key-save-delay", "10000000");
        c.Call("BGREWRITEAOF");
        Assert.Equal("1", Info(c, "aof_rewrite_in_progress"));
        c.Call("CONFIG", "SET", "appendonly", "no");
        Assert.Equal("0", Info(c, "aof_rewrite_in_progress"));
        WaitFor(() => s.Output.Contains("Killing running AOF rewrite child", StringComparison.Ordinal), "no log line");
        WaitFor(() => ChildOf(s.Pid) == null, "the rewrite's child outlived it");
    }

    [Theory]
    [InlineData("file appendonly.aof.1.incr.aof seq 1 type i\n\nfile appendonly.aof.3.incr.aof seq 3 type i\n", "Invalid AOF manifest file format")]
    [InlineData("file appendonly.aof.2.incr.aof seq 2 type i\nfile appendonly.aof.1.incr.aof seq 1 type i\n", "Found a non-monotonic sequence number")]
    [InlineData("", "Found an empty AOF manifest")]
    [InlineData("file appendonly.aof.1.incr.aof seq 1 type i\n", "Unable to obtain the AOF file appendonly.aof.1.incr.aof length. stat: No such file or directory")]
    public void A_manifest_redis_refuses_stops_the_server(string manifest, string reason)
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-manifest-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "appendonlydir"));
            File.WriteAllText(Path.Combine(dir, "appendonlydir", "appendonly.aof.manifest"), manifest);
            // Run to completion and read all of its output (an early exit races the async readers).
            var psi = new ProcessStartInfo(Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-server"))
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var a in new[] { "--port", ServerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string output = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000))
            {
                p.Kill();
                Assert.Fail("the server did not exit: " + output);
            }
            output += stderr.Result;
            Assert.Equal(1, p.ExitCode);
            // A missing file is a loading error, not a manifest one: no FATAL banner then.
            if (!reason.StartsWith("Unable", StringComparison.Ordinal)) Assert.Contains("FATAL AOF MANIFEST FILE ERROR", output, StringComparison.Ordinal);
            Assert.Contains(reason, output, StringComparison.Ordinal);
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
