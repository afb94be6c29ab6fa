namespace Cinnabar.SlotMigration;

/// <summary>
/// The node's migration tasks: the active ones, and the last cluster-slot-migration-max-archived-tasks
/// ended ones (STATUS still lists them). One active task per node at a time, as Redis 8.4.
/// </summary>
public sealed class MigrationRegistry
{
    private readonly List<MigrationTask> _tasks = new();
    private readonly Random _rng;

    public MigrationRegistry(Random rng) => _rng = rng;

    public int MaxArchived { get; set; } = 32;

    public IReadOnlyList<MigrationTask> All => _tasks;

    public MigrationTask? Active => _tasks.FirstOrDefault(t => t.IsActive);

    public int ActiveCount => _tasks.Count(t => t.IsActive);

    public MigrationTask? Find(string id) => _tasks.FirstOrDefault(t => t.Id == id);

    /// <summary>A 40-hex task id.</summary>
    public string NewId()
    {
        Span<byte> b = stackalloc byte[20];
        _rng.NextBytes(b);
        return Convert.ToHexStringLower(b);
    }

    public void Add(MigrationTask task)
    {
        _tasks.Add(task);
        Trim();
    }

    /// <summary>Drops the oldest ended tasks beyond the archive limit.</summary>
    public void Trim()
    {
        int ended = _tasks.Count(t => !t.IsActive);
        for (int i = 0; i < _tasks.Count && ended > MaxArchived;)
        {
            if (!_tasks[i].IsActive)
            {
                _tasks.RemoveAt(i);
                ended--;
            }
            else i++;
        }
    }

    /// <summary>True when an active task moves this slot (SETSLOT and a second task must refuse it).</summary>
    public bool SlotInActiveTask(int slot)
    {
        foreach (var t in _tasks)
            if (t.IsActive && t.Ranges.Contains(slot)) return true;
        return false;
    }
}
