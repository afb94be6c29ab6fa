namespace Cinnabar.Scripting;

/// <summary>
/// What the Lua engine needs from the server. The engine knows no clients or command tables:
/// redis.call hands the argv to <see cref="Call"/>, which runs the command (after its own
/// lookup/arity/flag checks) and returns the reply as RESP bytes in the protocol the script
/// asked for with redis.setresp. The engine converts those bytes into Lua values.
/// </summary>
public interface IScriptHost
{
    /// <summary>
    /// Runs argv for the script. Returns the raw RESP reply, or null with <paramref name="scriptError"/>
    /// set when the call is refused before running (unknown command, arity, noscript ...): that
    /// error is raised in Lua by redis.call and returned as {err=...} by redis.pcall.
    /// </summary>
    ReadOnlyMemory<byte> Call(byte[][] argv, int resp, bool readOnlyScript, out string? scriptError);

    /// <summary>redis.log: level 0..3 = debug, verbose, notice, warning.</summary>
    void Log(int level, string message);

    /// <summary>redis.acl_check_cmd: may the script's user run argv? null when argv names no command.</summary>
    bool? AclCheckCommand(byte[][] argv) => true;

    /// <summary>
    /// Polled every few thousand Lua instructions while a script runs; returns true when the
    /// script must stop (SCRIPT KILL / FUNCTION KILL).
    /// </summary>
    bool ShouldKill(long elapsedMs);
}
