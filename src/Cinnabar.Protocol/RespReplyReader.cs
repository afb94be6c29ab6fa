using System.Text;

namespace Cinnabar.Protocol;

public enum RespType
{
    Status,
    Error,
    Integer,
    Bulk,
    Nil,
    Array,
    Map,
    Set,
    Push,
    Attribute,
    Double,
    Bool,
    BigNumber,
    Verbatim,
}

/// <summary>
/// One parsed reply. Str holds the payload of strings, errors, statuses, doubles and big numbers
/// (for verbatim strings the content without the "txt:" format prefix); Integer holds integers
/// and booleans (0/1); Elements holds aggregate members (maps and attributes flattened as
/// key, value, key, value like hiredis does).
/// </summary>
public sealed class RespReply
{
    public RespType Type { get; init; }
    public byte[] Str { get; init; } = [];
    public long Integer { get; init; }
    public List<RespReply> Elements { get; init; } = [];
    public string VerbatimFormat { get; init; } = "";

    public bool IsAggregate => Type is RespType.Array or RespType.Map or RespType.Set or RespType.Push or RespType.Attribute;

    public string Text => Encoding.UTF8.GetString(Str);

    public static RespReply Status(string s) => new() { Type = RespType.Status, Str = Encoding.UTF8.GetBytes(s) };
    public static RespReply Error(string s) => new() { Type = RespType.Error, Str = Encoding.UTF8.GetBytes(s) };
    public static RespReply Int(long v) => new() { Type = RespType.Integer, Integer = v };
    public static RespReply Bulk(string s) => new() { Type = RespType.Bulk, Str = Encoding.UTF8.GetBytes(s) };
    public static RespReply Nil() => new() { Type = RespType.Nil };
    public static RespReply Agg(RespType t, params RespReply[] e) => new() { Type = t, Elements = [.. e] };
}

/// <summary>
/// Incremental RESP2/RESP3 reply parser for clients: feed bytes as they arrive, take complete
/// replies out. A partial reply is re-parsed from its start once more data arrives (client side,
/// replies are small compared with the cost of the round trip, so simplicity wins).
/// </summary>
public sealed class RespReplyReader
{
    private byte[] _buf = new byte[16 * 1024];
    private int _start;
    private int _end;

    public void Feed(ReadOnlySpan<byte> data)
    {
        if (_end + data.Length > _buf.Length)
        {
            int live = _end - _start;
            if (live + data.Length > _buf.Length)
            {
                var nb = new byte[Math.Max(_buf.Length * 2, live + data.Length)];
                Buffer.BlockCopy(_buf, _start, nb, 0, live);
                _buf = nb;
            }
            else Buffer.BlockCopy(_buf, _start, _buf, 0, live);
            _start = 0;
            _end = live;
        }
        data.CopyTo(_buf.AsSpan(_end));
        _end += data.Length;
    }

    public int Buffered => _end - _start;

    /// <summary>Returns the next complete reply, or null when more data is needed. Throws
    /// InvalidDataException on a protocol error.</summary>
    public RespReply? TryRead()
    {
        int pos = _start;
        var r = Parse(_buf.AsSpan(0, _end), ref pos);
        if (r == null) return null;
        _start = pos;
        if (_start == _end) _start = _end = 0;
        return r;
    }

    private static RespReply? Parse(ReadOnlySpan<byte> b, ref int pos)
    {
        if (pos >= b.Length) return null;
        byte type = b[pos];
        int lineEnd = b[(pos + 1)..].IndexOf("\r\n"u8);
        if (lineEnd < 0) return null;
        var line = b.Slice(pos + 1, lineEnd);
        int after = pos + 1 + lineEnd + 2;
        switch (type)
        {
            case (byte)'+':
                pos = after;
                return new RespReply { Type = RespType.Status, Str = line.ToArray() };
            case (byte)'-':
                pos = after;
                return new RespReply { Type = RespType.Error, Str = line.ToArray() };
            case (byte)':':
                pos = after;
                return new RespReply { Type = RespType.Integer, Integer = ParseLong(line) };
            case (byte)',':
                pos = after;
                return new RespReply { Type = RespType.Double, Str = line.ToArray() };
            case (byte)'(':
                pos = after;
                return new RespReply { Type = RespType.BigNumber, Str = line.ToArray() };
            case (byte)'#':
                pos = after;
                return new RespReply { Type = RespType.Bool, Integer = line.Length > 0 && line[0] == 't' ? 1 : 0 };
            case (byte)'_':
                pos = after;
                return new RespReply { Type = RespType.Nil };
            case (byte)'$':
            case (byte)'=':
            case (byte)'!':
                {
                    long len = ParseLong(line);
                    if (len < 0)
                    {
                        pos = after;
                        return new RespReply { Type = RespType.Nil };
                    }
                    if (after + len + 2 > b.Length) return null;
                    var payload = b.Slice(after, (int)len);
                    pos = after + (int)len + 2;
                    if (type == '$') return new RespReply { Type = RespType.Bulk, Str = payload.ToArray() };
                    if (type == '!') return new RespReply { Type = RespType.Error, Str = payload.ToArray() };
                    string fmt = payload.Length >= 4 && payload[3] == ':' ? Encoding.ASCII.GetString(payload[..3]) : "";
                    return new RespReply { Type = RespType.Verbatim, Str = (fmt.Length > 0 ? payload[4..] : payload).ToArray(), VerbatimFormat = fmt };
                }
            case (byte)'*':
            case (byte)'%':
            case (byte)'~':
            case (byte)'>':
            case (byte)'|':
                {
                    long n = ParseLong(line);
                    if (n < 0)
                    {
                        pos = after;
                        return new RespReply { Type = RespType.Nil };
                    }
                    var t = type switch
                    {
                        (byte)'*' => RespType.Array,
                        (byte)'%' => RespType.Map,
                        (byte)'~' => RespType.Set,
                        (byte)'>' => RespType.Push,
                        _ => RespType.Attribute,
                    };
                    long count = t is RespType.Map or RespType.Attribute ? n * 2 : n;
                    var elems = new List<RespReply>((int)Math.Min(count, 1024));
                    int p = after;
                    for (long i = 0; i < count; i++)
                    {
                        var e = Parse(b, ref p);
                        if (e == null) return null;
                        elems.Add(e);
                    }
                    pos = p;
                    return new RespReply { Type = t, Elements = elems };
                }
            default:
                throw new InvalidDataException("Protocol error, got " + Encoding.ASCII.GetString([type]) + " as reply type byte");
        }
    }

    private static long ParseLong(ReadOnlySpan<byte> s)
    {
        if (!long.TryParse(s, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out long v))
            throw new InvalidDataException("Protocol error: bad number");
        return v;
    }
}
