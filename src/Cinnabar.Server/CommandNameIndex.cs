using System.Buffers.Binary;

namespace Cinnabar.Server;

/// <summary>
/// The command table's hot-path index: an ASCII-case-insensitive map from a command name's raw
/// bytes (up to 16) to its definition, looked up without widening the bytes to chars or hashing
/// a string. The name is loaded into two 64-bit words, lowercased eight bytes at a time, and
/// found by open addressing. Names longer than 16 bytes or with non-ASCII bytes are not indexed;
/// the caller falls back to the string dictionary for them. Immutable once built.
/// </summary>
internal sealed class CommandNameIndex
{
    public const int MaxLength = 16;

    private readonly ulong[] _lo;
    private readonly ulong[] _hi;
    private readonly int[] _len;
    private readonly CommandDef?[] _defs;
    private readonly int _mask;

    public CommandNameIndex(IEnumerable<KeyValuePair<string, CommandDef>> names)
    {
        var list = names.Where(kv => kv.Key.Length is > 0 and <= MaxLength && kv.Key.All(c => c < 0x80)).ToList();
        int size = 64;
        while (size < list.Count * 4) size <<= 1; // at most a quarter full: probes stay short
        _lo = new ulong[size];
        _hi = new ulong[size];
        _len = new int[size];
        _defs = new CommandDef?[size];
        _mask = size - 1;
        Span<byte> bytes = stackalloc byte[MaxLength];
        foreach (var (name, def) in list)
        {
            bytes.Clear();
            for (int i = 0; i < name.Length; i++) bytes[i] = (byte)name[i];
            ulong lo = Lower(BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            ulong hi = Lower(BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]));
            int slot = Slot(lo, hi, name.Length);
            while (_defs[slot] != null) slot = (slot + 1) & _mask;
            _lo[slot] = lo;
            _hi[slot] = hi;
            _len[slot] = name.Length;
            _defs[slot] = def;
        }
    }

    /// <summary>True when the name can be indexed; then <paramref name="def"/> is the command or null (no such command).</summary>
    public bool TryFind(ReadOnlySpan<byte> name, out CommandDef? def)
    {
        def = null;
        if (name.Length is 0 or > MaxLength) return false;
        ulong lo, hi = 0;
        if (name.Length >= 8)
        {
            lo = BinaryPrimitives.ReadUInt64LittleEndian(name);
            for (int i = name.Length - 1; i >= 8; i--) hi = (hi << 8) | name[i];
        }
        else
        {
            lo = 0;
            for (int i = name.Length - 1; i >= 0; i--) lo = (lo << 8) | name[i];
        }
        if (((lo | hi) & 0x8080808080808080UL) != 0) return false;
        lo = Lower(lo);
        hi = Lower(hi);
        for (int slot = Slot(lo, hi, name.Length); ; slot = (slot + 1) & _mask)
        {
            var d = _defs[slot];
            if (d == null) return true;
            if (_lo[slot] == lo && _hi[slot] == hi && _len[slot] == name.Length)
            {
                def = d;
                return true;
            }
        }
    }

    private int Slot(ulong lo, ulong hi, int length)
    {
        ulong h = (lo * 0x9E3779B97F4A7C15UL) ^ (hi * 0xC2B2AE3D27D4EB4FUL) ^ (ulong)length;
        return (int)((h ^ (h >> 29)) & (ulong)_mask);
    }

    /// <summary>ASCII lowercase of eight bytes at once (bytes below 0x80 only): 'A'..'Z' gain 0x20.</summary>
    internal static ulong Lower(ulong x)
    {
        const ulong High = 0x8080808080808080UL;
        ulong seven = x & ~High;
        ulong atLeastA = seven + 0x3F3F3F3F3F3F3F3FUL; // high bit set where byte >= 0x41
        ulong pastZ = seven + 0x2525252525252525UL;    // high bit set where byte >= 0x5B
        ulong upper = atLeastA & ~pastZ & ~x & High;
        return x | (upper >> 2);
    }
}
