namespace Cinnabar.Cluster;

/// <summary>
/// 16384-bit slot set laid out as Redis's bitmaps: slot s is bit (s &amp; 7) of byte s / 8,
/// least significant bit first (bitmapTestBit), so the 2048 bytes go on the wire unchanged.
/// </summary>
public sealed class SlotBitmap
{
    public const int ByteLength = BusMessage.SlotCount / 8;
    private readonly byte[] _bits;

    public SlotBitmap() => _bits = new byte[ByteLength];

    public SlotBitmap(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != ByteLength) throw new ArgumentException("slot bitmap must be 2048 bytes", nameof(bytes));
        _bits = bytes.ToArray();
    }

    public ReadOnlySpan<byte> Bytes => _bits;

    public bool Get(int slot) => (_bits[slot >> 3] & (1 << (slot & 7))) != 0;

    public void Set(int slot) => _bits[slot >> 3] |= (byte)(1 << (slot & 7));

    public void Clear(int slot) => _bits[slot >> 3] &= (byte)~(1 << (slot & 7));

    public bool IsEmpty
    {
        get
        {
            foreach (byte b in _bits) if (b != 0) return false;
            return true;
        }
    }

    public int Count
    {
        get
        {
            int n = 0;
            foreach (byte b in _bits) n += System.Numerics.BitOperations.PopCount(b);
            return n;
        }
    }

    /// <summary>
    /// The first slot at or after <paramref name="from"/> whose bit equals <paramref name="value"/>,
    /// or SlotCount when there is none. Skips whole 64-bit words, so walking the ranges of a
    /// sparse or empty bitmap costs 256 word reads rather than 16384 bit tests.
    /// </summary>
    public int NextWith(int from, bool value)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, ulong>(_bits);
        int w = from >> 6;
        if (w >= words.Length) return BusMessage.SlotCount;
        // Bit order matches Get on a little-endian machine: byte s/8, bit s%8 is bit s%64 of word s/64.
        ulong word = value ? words[w] : ~words[w];
        word &= ~0UL << (from & 63);
        while (word == 0)
        {
            if (++w == words.Length) return BusMessage.SlotCount;
            word = value ? words[w] : ~words[w];
        }
        return (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(word);
    }

    public SlotBitmap Clone() => new(_bits);

    public bool SameAs(SlotBitmap other) => _bits.AsSpan().SequenceEqual(other._bits);
}
