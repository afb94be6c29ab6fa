using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Files made by redis-server 7.0 (tests/Cinnabar.Persistence.Tests/Golden, see make-golden.sh)
/// loaded by the Cinnabar server: what describe.py reads back through commands (OBJECT ENCODING,
/// XINFO STREAM FULL, PEXPIRETIME, FUNCTION LIST WITHCODE...) equals what it read from redis-server.
/// </summary>
public sealed class GoldenServerTests
{
    private static string GoldenDir => Path.Combine(ServerProcess.RepoRoot, "tests", "Cinnabar.Persistence.Tests", "Golden");

    private static string Describe(ServerProcess s, bool seenTime)
    {
        var args = new List<string> { Path.Combine(GoldenDir, "describe.py"), s.Port.ToString() };
        if (!seenTime) args.Add("--no-seen-time");
        var r = Tools.Run("python3", args);
        Assert.True(r.ExitCode == 0, r.Stderr);
        return r.Stdout;
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyTree(d, Path.Combine(to, Path.GetFileName(d)));
    }

    [Theory]
    [InlineData("aof-preamble")]
    [InlineData("aof-commands")]
    public void Golden_aof_directory_loads_with_redis_contents(string name)
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-goldenaof-").FullName;
        try
        {
            CopyTree(Path.Combine(GoldenDir, name), dir);
            using var s = ServerProcess.Start(false, ["--appendonly", "yes"], dir: dir);
            Assert.Equal(File.ReadAllText(Path.Combine(GoldenDir, name + ".expected")), Describe(s, seenTime: false));
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }

    [Theory]
    [InlineData("stream")]
    [InlineData("function")]
    [InlineData("expiry")]
    [InlineData("multi-db")]
    public void Golden_rdb_loads_in_the_server_with_redis_contents(string name)
    {
        var dir = Directory.CreateTempSubdirectory("cinnabar-goldenrdb-").FullName;
        try
        {
            File.Copy(Path.Combine(GoldenDir, name + ".rdb"), Path.Combine(dir, "dump.rdb"));
            using var s = ServerProcess.Start(false, [], dir: dir);
            Assert.Equal(File.ReadAllText(Path.Combine(GoldenDir, name + ".expected")), Describe(s, seenTime: true));
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
