using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// A tiny tmpfs mounted for one test, to run out of disk space as root (chmod does not stop
/// root). <see cref="Available"/> is false where mounting is not allowed; tests then use
/// another way to make the write fail. Unmounted (lazily, so it never stays busy) on Dispose.
/// </summary>
internal sealed class TinyDisk : IDisposable
{
    public string Dir { get; }
    public bool Available { get; }

    public TinyDisk(string size)
    {
        Dir = Directory.CreateTempSubdirectory("cinnabar-tinydisk-").FullName;
        try
        {
            Available = Tools.Run("mount", ["-t", "tmpfs", "-o", "size=" + size, "tmpfs", Dir], timeoutMs: 10000).ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Available = false;
        }
    }

    /// <summary>Gives the space back (mount -o remount,size=...).</summary>
    public void Resize(string size)
    {
        var r = Tools.Run("mount", ["-o", "remount,size=" + size, Dir], timeoutMs: 10000);
        Assert.True(r.ExitCode == 0, r.Stderr);
    }

    public void Dispose()
    {
        if (Available) Tools.Run("umount", ["-l", Dir], timeoutMs: 10000);
        ServerProcess.DeleteDir(Dir);
    }
}

/// <summary>Failed RDB and AOF writes are logged in Redis's words, shown in INFO, refuse writes with -MISCONF, and clear when the disk recovers.</summary>
public sealed class PersistenceWriteFailureTests
{
    private const string RdbMisconf = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

    private static byte[] Incompressible(int bytes, int seed)
    {
        var data = new byte[bytes];
        new Random(seed).NextBytes(data);
        return data;
    }

    // Server output arrives asynchronously: wait for a line rather than assert on a snapshot.
    private static void WaitForLog(ServerProcess s, string line) =>
        Tools.WaitUntil(() => s.Output.Contains(line, StringComparison.Ordinal), TimeSpan.FromSeconds(10), "log line: " + line);

    private static string Info(RespConnection c) => c.Call("INFO", "persistence").ToString();

    private static void WaitBgsaveEnd(RespConnection c) =>
        Tools.WaitUntil(() => Info(c).Contains("rdb_bgsave_in_progress:0", StringComparison.Ordinal), TimeSpan.FromSeconds(60), "bgsave end");

    private static void AssertMisconfUntilBgsaveSucceeds(ServerProcess s, RespConnection c, string logLine, Action fixDisk)
    {
        Assert.Equal("Background saving started", c.Call("BGSAVE").ToString());
        WaitBgsaveEnd(c);
        Assert.Contains("rdb_last_bgsave_status:err", Info(c));
        WaitForLog(s, logLine);
        WaitForLog(s, "# Background saving error");
        Assert.Equal(RdbMisconf, c.Call("SET", "wf:k", "v").ToString());
        Assert.Equal(RdbMisconf, c.Call("PING").ToString());
        Assert.False(c.Call("GET", "wf:big").IsNull);
        Assert.Empty(Directory.GetFiles(s.Dir, "temp-*.rdb"));

        fixDisk();
        Assert.Equal("Background saving started", c.Call("BGSAVE").ToString());
        WaitBgsaveEnd(c);
        Assert.Contains("rdb_last_bgsave_status:ok", Info(c));
        Assert.Equal("OK", c.Call("SET", "wf:k", "v").ToString());
        Assert.Equal("PONG", c.Call("PING").ToString());
        Assert.True(File.Exists(Path.Combine(s.Dir, "dump.rdb")));
    }

    [Fact]
    public void Bgsave_on_a_full_disk_refuses_writes_with_misconf_until_a_save_succeeds()
    {
        using var disk = new TinyDisk("1m");
        if (!disk.Available)
        {
            // No mount allowed here: the rename variant below still covers the error path.
            Bgsave_that_cannot_rename_refuses_writes_with_misconf_until_a_save_succeeds();
            return;
        }
        using var s = ServerProcess.Start(false, ["--save", "3600 1", "--stop-writes-on-bgsave-error", "yes"], dir: disk.Dir);
        using var c = s.Connect();
        Assert.Equal("OK", c.Call("SET", "wf:big", Incompressible(1_500_000, 1)).ToString());
        AssertMisconfUntilBgsaveSucceeds(s, c, "# Write error saving DB on disk(rdbSaveRio): No space left on device", () => disk.Resize("64m"));
        Assert.Equal("ERR", SaveAfterShrinking(c, disk));
    }

    private static string SaveAfterShrinking(RespConnection c, TinyDisk disk)
    {
        // SAVE fails the same way, answering a bare -ERR as Redis does; dump.rdb must be removed
        // first, or the shrink is refused (tmpfs cannot shrink below what it holds).
        File.Delete(Path.Combine(disk.Dir, "dump.rdb"));
        disk.Resize("1m");
        return c.Call("SAVE").ToString();
    }

    [Fact]
    public void Bgsave_that_cannot_rename_refuses_writes_with_misconf_until_a_save_succeeds()
    {
        // A directory where dump.rdb should be: the rename fails even for root.
        var dir = Directory.CreateTempSubdirectory("cinnabar-wfrename-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "dump.rdb"));
            using var s = ServerProcess.Start(false, ["--save", "3600 1"], dir: dir);
            using var c = s.Connect();
            c.Call("SET", "wf:big", "x");
            AssertMisconfUntilBgsaveSucceeds(s, c, "# Error moving temp DB file temp-", () => Directory.Delete(Path.Combine(dir, "dump.rdb")));
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Fact]
    public void Bgsave_error_without_save_points_does_not_refuse_writes()
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-wfnosave-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dir, "dump.rdb"));
            using var s = ServerProcess.Start(false, [], dir: dir);
            using var c = s.Connect();
            c.Call("BGSAVE");
            WaitBgsaveEnd(c);
            Assert.Contains("rdb_last_bgsave_status:err", Info(c));
            Assert.Equal("OK", c.Call("SET", "wf:k", "v").ToString());
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Fact]
    public void Aof_write_error_refuses_writes_with_misconf_and_recovers_when_space_returns()
    {
        using var disk = new TinyDisk("1m");
        if (!disk.Available)
        {
            Aof_writes_to_a_full_device_are_refused_with_misconf();
            return;
        }
        string dir = disk.Dir;
        using (var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir))
        {
            using var c = s.Connect();
            // Like Redis, the command whose AOF write fails is acknowledged (it is in memory and
            // its write is retried); the ones after it are refused.
            Assert.Equal("OK", c.Call("SET", "wf:big1", Incompressible(600_000, 2)).ToString());
            Assert.Equal("OK", c.Call("SET", "wf:big2", Incompressible(600_000, 3)).ToString());
            const string misconf = "MISCONF Errors writing to the AOF file: No space left on device";
            Assert.Equal(misconf, c.Call("SET", "wf:k", "v").ToString());
            Assert.Equal(misconf, c.Call("PING").ToString());
            Assert.Contains("aof_last_write_status:err", Info(c));
            WaitForLog(s, "# Error writing to the AOF file: No space left on device");

            disk.Resize("64m");
            Tools.WaitUntil(() => Info(c).Contains("aof_last_write_status:ok", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "AOF retry");
            WaitForLog(s, "# AOF write error looks solved, Redis can write again.");
            Assert.Equal("OK", c.Call("SET", "wf:k", "v").ToString());
            s.Kill();
        }
        using var again = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
        using var c2 = again.Connect();
        Assert.Equal(600_000, c2.Call("STRLEN", "wf:big2").Integer);
        Assert.Equal("v", c2.Call("GET", "wf:k").ToString());
    }

    [Fact]
    public void Aof_writes_to_a_full_device_are_refused_with_misconf()
    {
        // The incr file is a symlink to /dev/full, where every write fails with ENOSPC, even for root.
        var dir = Directory.CreateTempSubdirectory("cinnabar-wffull-").FullName;
        try
        {
            var aofDir = Path.Combine(dir, "appendonlydir");
            Directory.CreateDirectory(aofDir);
            File.WriteAllText(Path.Combine(aofDir, "appendonly.aof.manifest"), "file appendonly.aof.1.incr.aof seq 1 type i\n");
            File.CreateSymbolicLink(Path.Combine(aofDir, "appendonly.aof.1.incr.aof"), "/dev/full");
            using var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
            using var c = s.Connect();
            Assert.Equal("OK", c.Call("SET", "wf:a", "1").ToString());
            Assert.Equal("MISCONF Errors writing to the AOF file: No space left on device", c.Call("SET", "wf:b", "2").ToString());
            Assert.Contains("aof_last_write_status:err", Info(c));
            Assert.Equal("1", c.Call("GET", "wf:a").ToString());
            WaitForLog(s, "# Error writing to the AOF file: No space left on device");
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
