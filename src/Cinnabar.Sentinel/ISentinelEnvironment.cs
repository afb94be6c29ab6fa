using Cinnabar.Protocol;

namespace Cinnabar.Sentinel;

public enum SentinelLogLevel { Debug, Verbose, Notice, Warning }

/// <summary>Called with a reply and the time it was received.</summary>
public delegate void ReplyCallback(RespReply reply, long nowMs);

/// <summary>
/// Everything <see cref="SentinelNode"/> needs from the outside world. The server implements it
/// with sockets, files and processes; tests with a simulated network and clock.
/// </summary>
public interface ISentinelEnvironment
{
    /// <summary>Starts connecting to ip:port and returns a connection id at once. Commands sent before
    /// the connection is up are queued. A failure or a close is reported through
    /// <see cref="SentinelNode.ConnectionClosed"/> (never from inside this call).</summary>
    int Connect(string ip, int port);

    /// <summary>Queues a command. Its reply goes to <paramref name="onReply"/> (if any); with
    /// <paramref name="persistent"/> the callback also takes every later reply and pushed message of
    /// the connection (SUBSCRIBE). Replies of a closed connection are dropped.</summary>
    void Send(int conn, IReadOnlyList<string> argv, ReplyCallback? onReply, bool persistent = false);

    /// <summary>Closes a connection; must not call back into the state machine.</summary>
    void Close(int conn);

    /// <summary>The local IP of a connected connection (the address a hello announces), or null.</summary>
    string? LocalIp(int conn);

    /// <summary>Resolves a hostname (or validates an IP literal when <paramref name="allowDns"/> is
    /// false). Returns the IP, or null.</summary>
    string? Resolve(string host, bool allowDns);

    /// <summary>Publishes an event to this server's own pub/sub subscribers.</summary>
    void Publish(string channel, string message);

    void Log(SentinelLogLevel level, string message);

    /// <summary>Rewrites the config file with the current state (sentinelFlushConfig). False on failure.</summary>
    bool SaveConfig();

    /// <summary>Queues a notification or client-reconfig script run.</summary>
    void ScheduleScript(string path, IReadOnlyList<string> args);

    /// <summary>A random number in [0, max).</summary>
    int Random(int max);

    /// <summary>SENTINEL SIMULATE-FAILURE: the process exits with this code.</summary>
    void Crash(int exitCode);
}
