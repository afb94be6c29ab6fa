using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Keys whose writers wait: a slot migration pins a big collection while it streams it in
/// steps, and a client whose write command names a pinned key is held back (as a paused client
/// is) until the key is released. Reads go on. Everything but <see cref="WaitAsync"/> runs under
/// the exec lock.
/// </summary>
public sealed class PinnedKeys
{
    private readonly ByteTable<int> _keys = new();
    private TaskCompletionSource _released = NewSignal();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Count => _keys.Count;

    public void Pin(byte[] key)
    {
        ref int n = ref _keys.GetOrAddRef(key, key, out _);
        n++;
    }

    public void Release(ReadOnlySpan<byte> key)
    {
        int i = _keys.FindIndex(key);
        if (i < 0) return;
        if (--_keys.ValueAt(i) > 0) return;
        _keys.Remove(key);
        var old = Volatile.Read(ref _released);
        Volatile.Write(ref _released, NewSignal());
        old.TrySetResult();
    }

    /// <summary>True when one of the command's keys is pinned.</summary>
    public bool NamesPinnedKey(CommandDef cmd, CommandArgs args)
    {
        if (_keys.Count == 0) return false;
        foreach (int i in cmd.GetKeyIndexes(args))
            if (_keys.ContainsKey(args[i])) return true;
        return false;
    }

    /// <summary>Completes when a key is released (or soon, for a waiter that raced a release); callers re-check.</summary>
    public Task WaitAsync()
    {
        if (_keys.Count == 0) return Task.CompletedTask;
        return Task.WhenAny(Volatile.Read(ref _released).Task, Task.Delay(50));
    }
}
