namespace Cinnabar.Protocol;

public enum ParseResult
{
    /// <summary>A whole command was parsed into the args.</summary>
    Command,
    /// <summary>More bytes are needed; call again with the same start once they arrive.</summary>
    Incomplete,
    /// <summary>An empty command (e.g. "*0" or a blank inline line) was consumed.</summary>
    Empty,
    /// <summary>Protocol error: reply with <see cref="RequestParser.Error"/> and close.</summary>
    Error,
}

/// <summary>
/// Incremental parser for client requests: RESP multibulk and inline commands, with Redis's
/// limits and error texts (networking.c processMultibulkBuffer / processInlineBuffer).
/// Resumable: when a frame is incomplete it remembers how far it got (relative to the command
/// start), so a large pipeline or a huge argument is parsed in linear time even though it
/// arrives in many reads. Pure code: no sockets, no clock.
/// </summary>
public sealed class RequestParser
{
    public const int InlineMaxSize = 64 * 1024;

    // Per-command progress, relative to the command's first byte.
    private int _pos;
    private long _remaining = -1; // args still to read in the current multibulk; -1 = header not read
    private long _bulkLen = -1;   // length of the pending bulk, -1 = "$" line not read

    public long ProtoMaxBulkLen { get; set; } = 512L * 1024 * 1024;

    /// <summary>Set while the client must still authenticate (tightens limits as Redis does).</summary>
    public bool Unauthenticated { get; set; }

    /// <summary>Replication master links are exempt from proto-max-bulk-len.</summary>
    public bool IsMasterLink { get; set; }

    public string? Error { get; private set; }

    /// <summary>Total bytes this command needs from its start, when known (for buffer growth).</summary>
    public long BytesNeeded { get; private set; }

    /// <summary>Bytes at the start of a partly received command already parsed (headers and complete
    /// arguments): Redis has moved those out of its query buffer into argv, so CLIENT LIST qbuf leaves them out.</summary>
    public int ParsedPrefix => _pos;

    /// <summary>Length of the argument whose bytes are awaited (its "$len" line was read), -1 otherwise.</summary>
    public long PendingBulkLength => _remaining > 0 ? _bulkLen : -1;

    public void Reset()
    {
        _pos = 0;
        _remaining = -1;
        _bulkLen = -1;
        BytesNeeded = 0;
    }

    /// <summary>Parses one command from buffer[start..end).</summary>
    public ParseResult Parse(byte[] buffer, int start, int end, CommandArgs args, out int consumed)
    {
        consumed = 0;
        Error = null;
        var data = new ReadOnlySpan<byte>(buffer, start, end - start);
        if (_remaining < 0 && _pos == 0)
        {
            if (data.Length == 0) return ParseResult.Incomplete;
            if (data[0] != (byte)'*') return ParseInline(data, args, out consumed);
            args.Reset(buffer, start);
        }
        else
        {
            args.Rebase(buffer, start);
        }
        return ParseMultibulk(data, args, out consumed);
    }

    private ParseResult ParseMultibulk(ReadOnlySpan<byte> data, CommandArgs args, out int consumed)
    {
        consumed = 0;
        if (_remaining < 0)
        {
            int nl = data.IndexOf((byte)'\r');
            if (nl < 0 || nl + 1 >= data.Length)
            {
                if (data.Length > InlineMaxSize) return Fail("Protocol error: too big mbulk count string");
                return ParseResult.Incomplete;
            }
            if (!TryParseLong(data[1..nl], out long count) || count > int.MaxValue)
                return Fail("Protocol error: invalid multibulk length");
            if (count > 10 && Unauthenticated) return Fail("Protocol error: unauthenticated multibulk length");
            _pos = nl + 2;
            if (count <= 0)
            {
                consumed = _pos;
                Reset();
                return ParseResult.Empty;
            }
            _remaining = count;
            args.EnsureCapacity((int)Math.Min(count, 1024));
        }
        while (_remaining > 0)
        {
            if (_bulkLen < 0)
            {
                var rest = data[_pos..];
                int nl = rest.IndexOf((byte)'\r');
                if (nl < 0 || nl + 1 >= rest.Length)
                {
                    if (rest.Length > InlineMaxSize) return Fail("Protocol error: too big bulk count string");
                    BytesNeeded = 0;
                    return ParseResult.Incomplete;
                }
                if (rest[0] != (byte)'$')
                    return Fail($"Protocol error: expected '$', got '{(char)rest[0]}'");
                if (!TryParseLong(rest[1..nl], out long len) || len < 0 || (!IsMasterLink && len > ProtoMaxBulkLen))
                    return Fail("Protocol error: invalid bulk length");
                if (len > 16384 && Unauthenticated) return Fail("Protocol error: unauthenticated bulk length");
                _bulkLen = len;
                _pos += nl + 2;
            }
            long need = _pos + _bulkLen + 2;
            if (data.Length < need)
            {
                BytesNeeded = need;
                return ParseResult.Incomplete;
            }
            args.Add(_pos, (int)_bulkLen);
            _pos = (int)need;
            _bulkLen = -1;
            _remaining--;
        }
        consumed = _pos;
        Reset();
        return ParseResult.Command;
    }

    private ParseResult ParseInline(ReadOnlySpan<byte> data, CommandArgs args, out int consumed)
    {
        consumed = 0;
        int nl = data.IndexOf((byte)'\n');
        if (nl < 0)
        {
            if (data.Length > InlineMaxSize) return Fail("Protocol error: too big inline request");
            return ParseResult.Incomplete;
        }
        var line = data[..nl];
        if (line.Length > 0 && line[^1] == (byte)'\r') line = line[..^1];
        var parts = ArgSplitter.Split(line);
        if (parts == null) return Fail("Protocol error: unbalanced quotes in request");
        consumed = nl + 1;
        if (parts.Count == 0) return ParseResult.Empty;
        args.SetOwned(parts.ToArray());
        return ParseResult.Command;
    }

    private ParseResult Fail(string message)
    {
        Error = message;
        Reset();
        return ParseResult.Error;
    }

    /// <summary>Strict decimal parse as Redis's string2ll: optional '-', no spaces, no '+', no leading zeros.</summary>
    public static bool TryParseLong(ReadOnlySpan<byte> s, out long value)
    {
        value = 0;
        if (s.Length == 0 || s.Length > 20) return false;
        if (s.Length == 1 && s[0] == (byte)'0') return true;
        int i = 0;
        bool neg = false;
        if (s[0] == (byte)'-')
        {
            neg = true;
            i = 1;
            if (s.Length == 1) return false;
        }
        if (s[i] < (byte)'1' || s[i] > (byte)'9') return false;
        ulong v = 0;
        for (; i < s.Length; i++)
        {
            uint d = (uint)(s[i] - '0');
            if (d > 9) return false;
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        if (neg)
        {
            if (v > (ulong)long.MaxValue + 1) return false;
            value = (long)(0 - v);
        }
        else
        {
            if (v > long.MaxValue) return false;
            value = (long)v;
        }
        return true;
    }
}
