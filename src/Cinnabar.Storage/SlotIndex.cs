namespace Cinnabar.Storage;

/// <summary>
/// The keys of one <see cref="ByteTable{TValue}"/> grouped by hash slot, for cluster mode
/// (CLUSTER COUNTKEYSINSLOT / GETKEYSINSLOT, dropping or migrating a slot's keys).
/// Design (docs/design/slot-index.md): an intrusive doubly linked list per slot threaded through
/// the table's entry indexes, which never move while an entry lives. Per entry it adds one
/// 8-byte link (next, prev) in an array parallel to the table's entry array; per slot a head
/// and a count (one 128 KB array of pairs, allocated with the first key). New keys go to the head of their
/// slot's list, as Redis 7.0's slotToKeyAddEntry does, so GETKEYSINSLOT lists newest first.
/// The table calls <see cref="Link"/> / <see cref="Unlink"/> from its own insert and remove, and
/// <see cref="Resize"/> / <see cref="Reset"/> when its entry array changes, so every path that
/// changes the table keeps the index exact by construction.
/// Invariants: for each slot s, the list from _slots[s].First holds exactly the live entries
/// whose key hashes to s, and _slots[s].Count is its length; links are 1-based entry indexes, 0 = none (so a
/// fresh array needs no fill).
/// </summary>
public sealed class SlotIndex
{
    private struct SlotLink
    {
        public int Next;  // 1-based entry index of the next key in the same slot, 0 = end
        public int Prev;  // 1-based entry index of the previous key, 0 = this is the head
    }

    // Head and count side by side: one cache line per slot touched on insert and delete.
    private struct SlotHead
    {
        public int First;  // 1-based entry index of the first key, 0 = empty
        public int Count;
    }

    private SlotLink[] _links;
    private SlotHead[]? _slots;  // per slot
    private int _total;

    internal SlotIndex(int entryCapacity) => _links = new SlotLink[entryCapacity];

    public int Total => _total;

    public int CountInSlot(int slot)
    {
        ValidateSlot(slot);
        return _slots == null ? 0 : _slots[slot].Count;
    }

    /// <summary>Entry index of the first (newest) key in <paramref name="slot"/>, or -1.</summary>
    public int First(int slot)
    {
        ValidateSlot(slot);
        return _slots == null ? -1 : _slots[slot].First - 1;
    }

    /// <summary>Entry index of the key after <paramref name="entryIndex"/> in its slot, or -1.</summary>
    public int Next(int entryIndex) => _links[entryIndex].Next - 1;

    private static void ValidateSlot(int slot)
    {
        if ((uint)slot >= HashSlot.Count) throw new ArgumentOutOfRangeException(nameof(slot), slot, "hash slot out of range");
    }

    internal void Link(int entryIndex, ReadOnlySpan<byte> key)
    {
        int slot = HashSlot.Of(key);
        ref SlotHead head = ref (_slots ??= new SlotHead[HashSlot.Count])[slot];
        int first = head.First;
        ref SlotLink l = ref _links[entryIndex];
        l.Next = first;
        l.Prev = 0;
        if (first != 0) _links[first - 1].Prev = entryIndex + 1;
        head.First = entryIndex + 1;
        head.Count++;
        _total++;
    }

    internal void Unlink(int entryIndex, ReadOnlySpan<byte> key)
    {
        int slot = HashSlot.Of(key);
        ref SlotHead head = ref _slots![slot];
        ref SlotLink l = ref _links[entryIndex];
        if (l.Prev != 0) _links[l.Prev - 1].Next = l.Next;
        else head.First = l.Next;
        if (l.Next != 0) _links[l.Next - 1].Prev = l.Prev;
        l = default;
        head.Count--;
        _total--;
    }

    /// <summary>The table's entry array grew (indexes kept).</summary>
    internal void Resize(int entryCapacity) => Array.Resize(ref _links, entryCapacity);

    /// <summary>The table was emptied and its entry array replaced.</summary>
    internal void Reset(int entryCapacity)
    {
        _links = new SlotLink[entryCapacity];
        if (_total == 0) return;
        Array.Clear(_slots!);
        _total = 0;
    }
}
