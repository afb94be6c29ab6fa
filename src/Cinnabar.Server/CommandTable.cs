using System.Text;

namespace Cinnabar.Server;

/// <summary>A family of commands (one file per family under Commands/). Found by reflection at startup.</summary>
public interface ICommandFamily
{
    void Register(CommandTable table);
}

/// <summary>
/// The command table: name -> definition, case-insensitive, looked up from the raw argument
/// bytes without allocating. Families register themselves; the table is immutable after startup.
/// </summary>
public sealed class CommandTable
{
    private readonly Dictionary<string, CommandDef> _byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, CommandDef>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private CommandNameIndex? _index; // rebuilt on the first lookup after the names change

    public CommandTable()
    {
        _lookup = _byName.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public IEnumerable<CommandDef> All => _byName.Values;
    public int Count => _byName.Count;

    public static CommandTable CreateDefault()
    {
        var table = new CommandTable();
        foreach (var type in typeof(CommandTable).Assembly.GetTypes())
        {
            if (type.IsClass && !type.IsAbstract && typeof(ICommandFamily).IsAssignableFrom(type))
                ((ICommandFamily)Activator.CreateInstance(type)!).Register(table);
        }
        return table;
    }

    /// <summary>
    /// Declares a command. <paramref name="flags"/> and <paramref name="acl"/> are space-separated
    /// Redis names ("write denyoom", "@string @slow"); the family's ACL category is added from group.
    /// </summary>
    public CommandDef Add(string name, int arity, string flags, int firstKey, int lastKey, int step, string acl,
        CommandHandler handler, string group, string summary = "", string since = "1.0.0", string complexity = "O(1)", KeyFinder? keys = null)
    {
        var def = new CommandDef
        {
            Name = name.ToLowerInvariant(),
            Arity = arity,
            Flags = CommandDef.ParseFlags(flags) | (keys != null ? CommandFlags.MovableKeys : 0),
            FirstKey = firstKey,
            LastKey = lastKey,
            Step = step,
            AclCategories = acl.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Handler = handler,
            Keys = keys,
            Group = group,
            Summary = summary,
            Since = since,
            Complexity = complexity,
        };
        if (!_byName.TryAdd(def.Name, def)) throw new InvalidOperationException("duplicate command " + def.Name);
        _index = null;
        return def;
    }

    /// <summary>Declares a container command (CONFIG, CLIENT ...) whose subcommands are added with <see cref="AddSub"/>.</summary>
    public CommandDef AddContainer(string name, int arity, string group, string summary = "", string since = "1.0.0", CommandHandler? handler = null)
    {
        var def = new CommandDef
        {
            Name = name.ToLowerInvariant(),
            Arity = arity,
            Group = group,
            Summary = summary,
            Since = since,
            Handler = handler,
            Subcommands = new Dictionary<string, CommandDef>(StringComparer.OrdinalIgnoreCase),
        };
        if (!_byName.TryAdd(def.Name, def)) throw new InvalidOperationException("duplicate command " + def.Name);
        _index = null;
        return def;
    }

    public CommandDef AddSub(CommandDef container, string name, int arity, string flags, int firstKey, int lastKey, int step,
        string acl, CommandHandler handler, string summary = "", string since = "1.0.0", string complexity = "O(1)", KeyFinder? keys = null)
    {
        var def = new CommandDef
        {
            Name = name.ToLowerInvariant(),
            Arity = arity,
            Flags = CommandDef.ParseFlags(flags) | (keys != null ? CommandFlags.MovableKeys : 0),
            FirstKey = firstKey,
            LastKey = lastKey,
            Step = step,
            AclCategories = acl.Split(' ', StringSplitOptions.RemoveEmptyEntries),
            Handler = handler,
            Keys = keys,
            Group = container.Group,
            Summary = summary,
            Since = since,
            Complexity = complexity,
            Parent = container,
        };
        container.Subcommands!.Add(def.Name, def);
        return def;
    }

    /// <summary>Drops every command not named (sentinel mode keeps only the sentinel's commands).</summary>
    public void RetainOnly(IReadOnlySet<string> names)
    {
        foreach (var name in _byName.Keys.ToList())
            if (!names.Contains(name)) _byName.Remove(name);
        _index = null;
    }

    public CommandDef? Lookup(ReadOnlySpan<byte> name)
    {
        if ((_index ??= new CommandNameIndex(_byName)).TryFind(name, out var found)) return found;
        if (name.Length > 64) return null;
        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++) chars[i] = (char)name[i];
        return _lookup.TryGetValue(chars, out var def) ? def : null;
    }

    public CommandDef? Lookup(string name) => _byName.TryGetValue(name, out var d) ? d : null;

    /// <summary>
    /// rename-command: the command answers to newName only, or to nothing when newName is ""
    /// (it keeps its own name in COMMAND's output, as in Redis). Returns Redis's error text or null.
    /// </summary>
    public string? Rename(string oldName, string newName)
    {
        if (!_byName.Remove(oldName, out var def)) return "No such command in rename-command";
        _index = null;
        if (newName.Length == 0) return null;
        if (_byName.TryAdd(newName, def)) return null;
        _byName[oldName] = def;
        return "Target command name already exists";
    }

    public static CommandDef? LookupSub(CommandDef container, ReadOnlySpan<byte> name)
    {
        if (container.Subcommands == null) return null;
        if (name.Length > 64) return null;
        Span<char> chars = stackalloc char[name.Length];
        for (int i = 0; i < name.Length; i++) chars[i] = (char)name[i];
        return container.Subcommands.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars, out var d) ? d : null;
    }
}
