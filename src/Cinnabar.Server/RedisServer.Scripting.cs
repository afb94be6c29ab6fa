namespace Cinnabar.Server;

/// <summary>
/// Server-side state of the scripting subsystem. Scripts run under the exec lock; while one runs
/// longer than busy-reply-threshold, <see cref="ScriptBusy"/> is set so connections waiting for
/// the lock can answer -BUSY and accept SCRIPT KILL / FUNCTION KILL without the lock.
/// </summary>
public sealed partial class RedisServer
{
    private Commands.ScriptHost? _scripting;

    /// <summary>The scripting engines and caches, created on first use (Lua states are not free).</summary>
    internal Commands.ScriptHost Scripting => _scripting ??= new Commands.ScriptHost(this);

    /// <summary>True while a script has been running for longer than busy-reply-threshold.</summary>
    public volatile bool ScriptBusy;

    /// <summary>Set by SCRIPT KILL / FUNCTION KILL from another connection while a script is busy.</summary>
    public volatile bool ScriptKillRequested;

    /// <summary>True once the running script modified data: SCRIPT KILL then answers UNKILLABLE.</summary>
    public volatile bool ScriptWrote;
}
