namespace Cinnabar.Integration.Tests.Infrastructure;

/// <summary>One shared Cinnabar process per test class (tests use their own keys).</summary>
public sealed class CinnabarFixture : IDisposable
{
    public CinnabarFixture() => Server = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
    public ServerProcess Server { get; }
    public void Dispose() => Server.Dispose();
}

/// <summary>A Cinnabar and a redis-server side by side, for differential tests.</summary>
public sealed class SideBySideFixture : IDisposable
{
    public SideBySideFixture()
    {
        Cinnabar = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        Redis = ServerProcess.StartRedis("--enable-debug-command", "yes");
    }

    public ServerProcess Cinnabar { get; }
    public ServerProcess Redis { get; }

    public void Dispose()
    {
        Cinnabar.Dispose();
        Redis.Dispose();
    }
}
