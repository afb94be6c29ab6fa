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

    public SlotBitmap Clone() => new(_bits);

    public bool SameAs(SlotBitmap other) => _bits.AsSpan().SequenceEqual(other._bits);
}
