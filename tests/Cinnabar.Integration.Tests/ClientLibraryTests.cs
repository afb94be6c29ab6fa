using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Real client libraries other than StackExchange.Redis: redis-py (Debian) and ioredis (npm).</summary>
public sealed class ClientLibraryTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public ClientLibraryTests(CinnabarFixture f) => _f = f;

    [Fact]
    public void Redis_py_works_unchanged()
    {
        var script = Path.Combine(ServerProcess.RepoRoot, "tests", "python", "redispy_smoke.py");
        var (code, stdout, stderr) = Tools.Run("/usr/bin/python3", [script, _f.Server.Port.ToString()], timeoutMs: 60000);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("redis-py ok", stdout);
    }

    [Fact]
    public void Ioredis_works_unchanged()
    {
        var dir = Path.Combine(ServerProcess.RepoRoot, "tests", "js");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "ioredis")))
            throw new InvalidOperationException("ioredis is not installed: run npm install in tests/js (.ci/run does)");
        var (code, stdout, stderr) = Tools.Run("node", [Path.Combine(dir, "ioredis-smoke.mjs"), _f.Server.Port.ToString()], timeoutMs: 60000);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("ioredis ok", stdout);
    }
}
