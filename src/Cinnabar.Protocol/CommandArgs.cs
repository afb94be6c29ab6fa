namespace Cinnabar.Protocol;

/// <summary>
/// The arguments of one parsed request, as slices of the connection's receive buffer
/// (zero-copy). Valid only until the buffer is compacted or refilled, i.e. for the duration of
/// one command's execution. Handlers that keep bytes must copy them (<see cref="ToArray"/>).
/// </summary>
public sealed class CommandArgs
{
    private byte[] _buffer = [];
    private int _base;
    private (int Offset, int Length)[] _slices = new (int, int)[16];
    private byte[][]? _owned;

    public int Count { get; private set; }

    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            if ((uint)index >= (uint)Count) throw new ArgumentOutOfRangeException(nameof(index));
            if (_owned != null) return _owned[index];
            var (off, len) = _slices[index];
            return new ReadOnlySpan<byte>(_buffer, _base + off, len);
        }
    }

    public byte[] ToArray(int index) => this[index].ToArray();

    /// <summary>Sum of the arguments' lengths (Redis's argv_len_sum).</summary>
    public long TotalLength()
    {
        long n = 0;
        for (int i = 0; i < Count; i++) n += _owned != null ? _owned[i].Length : _slices[i].Length;
        return n;
    }

    public string GetString(int index) => System.Text.Encoding.UTF8.GetString(this[index]);

    /// <summary>Arguments from owned arrays (scripts, replication, tests).</summary>
    public void SetOwned(byte[][] args)
    {
        _owned = args;
        Count = args.Length;
    }

    public byte[][] ToOwnedArray()
    {
        var result = new byte[Count][];
        for (int i = 0; i < Count; i++) result[i] = this[i].ToArray();
        return result;
    }

    internal void Reset(byte[] buffer, int commandStart)
    {
        _owned = null;
        _buffer = buffer;
        _base = commandStart;
        Count = 0;
    }

    /// <summary>
    /// After a batch: drops the reference to the query buffer, and a slice table grown by a
    /// command with very many arguments (Redis frees each command's argv once it ran).
    /// </summary>
    public void TrimAfterBatch()
    {
        if (_owned == null) _buffer = [];
        if (_slices.Length > 1024)
        {
            RespWriter.NoteReleased(_slices, _slices.Length * 8L);
            _slices = new (int, int)[16];
        }
    }

    internal void Rebase(byte[] buffer, int commandStart)
    {
        _buffer = buffer;
        _base = commandStart;
    }

    internal void Add(int relativeOffset, int length)
    {
        if (Count == _slices.Length) Array.Resize(ref _slices, _slices.Length * 2);
        _slices[Count++] = (relativeOffset, length);
    }

    internal void EnsureCapacity(int n)
    {
        if (_slices.Length < n) Array.Resize(ref _slices, Math.Max(n, _slices.Length * 2));
    }

    public static CommandArgs FromStrings(params string[] args)
    {
        var a = new CommandArgs();
        var owned = new byte[args.Length][];
        for (int i = 0; i < args.Length; i++) owned[i] = System.Text.Encoding.UTF8.GetBytes(args[i]);
        a.SetOwned(owned);
        return a;
    }
}
