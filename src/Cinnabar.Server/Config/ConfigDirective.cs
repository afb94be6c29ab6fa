namespace Cinnabar.Server.Config;

public enum ConfigKind { Bool, Int, Memory, Enum, String, Special }

/// <summary>
/// One config directive: its Redis name and aliases, type, default, whether CONFIG SET may
/// change it, and how to apply a value. Serves the config file, command line, CONFIG GET/SET/
/// REWRITE and INFO from one declaration.
/// </summary>
public sealed class ConfigDirective
{
    public required string Name { get; init; }
    public string[] Aliases { get; init; } = [];
    public required ConfigKind Kind { get; init; }
    public required string Default { get; init; }
    public bool Mutable { get; init; } = true;
    public long Min { get; init; } = long.MinValue;
    public long Max { get; init; } = long.MaxValue;
    public string[] EnumValues { get; init; } = [];
    /// <summary>Enum kinds whose values combine ("appendfsync" no, "enable-debug-command" ...).</summary>
    public bool MultiArg { get; init; }
    /// <summary>Applies a validated canonical value to the typed config; returns an error text or null.</summary>
    public Func<ServerConfig, string, string?>? Apply { get; init; }
    /// <summary>Validates and canonicalises a raw value for Special kinds; returns (canonical, error).</summary>
    public Func<string, (string? Value, string? Error)>? Parse { get; init; }
    /// <summary>Directives such as "save" or "client-output-buffer-limit" accumulate several lines in a file.</summary>
    public bool Accumulates { get; init; }
    /// <summary>Hidden (Redis's HIDDEN_CONFIG): left out of CONFIG GET glob matches, reachable by exact name (CONFIG REWRITE still writes it when set, as Redis 7.0 does).</summary>
    public bool Hidden { get; init; }
    /// <summary>Sensitive: shown by CONFIG GET but redacted in logs.</summary>
    public bool Sensitive { get; init; }
    /// <summary>Protected (dir, dbfilename): CONFIG SET refuses unless enable-protected-configs allows it.</summary>
    public bool Protected { get; init; }
    /// <summary>Renders the value CONFIG GET shows from the typed fields (merged or clamped values such as hz, dir).</summary>
    public Func<ServerConfig, string>? Show { get; init; }
}
