using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>Client side caching as redis-py (Debian's python3-redis) drives it.</summary>
public sealed class ClientLibraryTrackingTests(CinnabarFixture f) : IClassFixture<CinnabarFixture>
{
    [Fact]
    public void Redis_py_tracking_with_redirect_and_bcast_works_unchanged()
    {
        var script = Path.Combine(ServerProcess.RepoRoot, "tests", "python", "redispy_tracking.py");
        var (code, stdout, stderr) = Tools.Run("/usr/bin/python3", [script, f.Server.Port.ToString()], timeoutMs: 60000);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("redis-py tracking ok", stdout, StringComparison.Ordinal);
    }
}
