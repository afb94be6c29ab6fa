namespace Cinnabar.Replication;

/// <summary>
/// The replication backlog (Redis's repl_backlog): a circular buffer holding the last
/// <see cref="Capacity"/> bytes of the replication stream, addressed by global stream offsets.
/// <see cref="MasterOffset"/> is the offset of the last byte appended (master_repl_offset);
/// bytes from <see cref="FirstByteOffset"/> to MasterOffset are available for partial resyncs.
/// Pure data structure: no I/O, no clock.
/// </summary>
public sealed class ReplicationBacklog
{
    private byte[] _buf;
    private int _idx;       // next write position
    private long _histLen;  // valid bytes in the buffer

    public ReplicationBacklog(int capacity, long startOffset)
    {
        _buf = new byte[Math.Max(capacity, 16 * 1024)];
        MasterOffset = startOffset;
    }

    public int Capacity => _buf.Length;
    public long MasterOffset { get; private set; }
    public long HistLen => _histLen;
    /// <summary>Offset of the first byte held (Redis reports master_repl_offset+1 when empty).</summary>
    public long FirstByteOffset => MasterOffset - _histLen + 1;

    public void Append(ReadOnlySpan<byte> data)
    {
        MasterOffset += data.Length;
        if (data.Length >= _buf.Length)
        {
            data[^_buf.Length..].CopyTo(_buf);
            _idx = 0;
            _histLen = _buf.Length;
            return;
        }
        int first = Math.Min(data.Length, _buf.Length - _idx);
        data[..first].CopyTo(_buf.AsSpan(_idx));
        data[first..].CopyTo(_buf);
        _idx = (_idx + data.Length) % _buf.Length;
        _histLen = Math.Min(_histLen + data.Length, _buf.Length);
    }

    /// <summary>True when a replica that has processed up to <paramref name="offset"/> - 1 can continue from the backlog.</summary>
    public bool CanServe(long offset) => offset >= FirstByteOffset && offset <= MasterOffset + 1;

    /// <summary>The bytes from <paramref name="offset"/> (inclusive) to the end of the stream.</summary>
    public byte[] CopyFrom(long offset)
    {
        if (!CanServe(offset)) throw new ArgumentOutOfRangeException(nameof(offset));
        long count = MasterOffset - offset + 1;
        var result = new byte[count];
        long skip = _histLen - count;
        int start = (int)((_idx - _histLen + skip) % _buf.Length + _buf.Length) % _buf.Length;
        int first = (int)Math.Min(count, _buf.Length - start);
        _buf.AsSpan(start, first).CopyTo(result);
        _buf.AsSpan(0, (int)count - first).CopyTo(result.AsSpan(first));
        return result;
    }

    /// <summary>Changes the capacity keeping as much recent history as fits.</summary>
    public void Resize(int capacity)
    {
        capacity = Math.Max(capacity, 16 * 1024);
        if (capacity == _buf.Length) return;
        long keep = Math.Min(_histLen, capacity);
        var recent = keep > 0 ? CopyFrom(MasterOffset - keep + 1) : [];
        _buf = new byte[capacity];
        recent.CopyTo(_buf, 0);
        _idx = (int)(keep % capacity);
        _histLen = keep;
    }
}
