using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli;

/// <summary>
/// Renders replies the way redis-cli 7.0 does. "Human" is the TTY format (quoted strings,
/// "(integer) 1", numbered and indented aggregates); "raw" is the pipe format (bare values,
/// aggregates one element per line, map pairs as "key value"). Output is bytes because values
/// are binary-safe and redis-cli writes them unchanged in raw mode.
/// </summary>
public static class ReplyFormatter
{
    public static byte[] Human(RespReply r)
    {
        var o = new MemoryStream();
        HumanInto(o, r, "");
        return o.ToArray();
    }

    /// <summary>The raw rendering of a top-level reply including redis-cli's trailing newline.</summary>
    public static byte[] Raw(RespReply r, string mbDelim = "\n", string cmdDelim = "\n")
    {
        var o = new MemoryStream();
        RawInto(o, r, Encoding.UTF8.GetBytes(mbDelim));
        o.Write(Encoding.UTF8.GetBytes(cmdDelim));
        return o.ToArray();
    }

    /// <summary>redis-cli --csv: scalars comma-joined (aggregates flattened), strings quoted, nil as NULL.</summary>
    public static byte[] Csv(RespReply r)
    {
        var o = new MemoryStream();
        CsvInto(o, r);
        o.WriteByte((byte)'\n');
        return o.ToArray();
    }

    private static void CsvInto(MemoryStream o, RespReply r)
    {
        switch (r.Type)
        {
            case RespType.Error:
                Put(o, "ERROR,");
                Put(o, ArgSplitter.Repr(r.Str));
                break;
            case RespType.Status:
            case RespType.Bulk:
            case RespType.Verbatim:
                Put(o, ArgSplitter.Repr(r.Str));
                break;
            case RespType.Integer:
                Put(o, r.Integer.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case RespType.Double:
                o.Write(r.Str);
                break;
            case RespType.Nil:
                Put(o, "NULL");
                break;
            case RespType.Bool:
                Put(o, r.Integer != 0 ? "true" : "false");
                break;
            case RespType.BigNumber:
                throw new UnknownReplyTypeException(13);
            default:
                for (int i = 0; i < r.Elements.Count; i++)
                {
                    if (i > 0) o.WriteByte((byte)',');
                    CsvInto(o, r.Elements[i]);
                }
                break;
        }
    }

    private static void Put(MemoryStream o, string s) => o.Write(Encoding.UTF8.GetBytes(s));

    private static void HumanInto(MemoryStream o, RespReply r, string prefix)
    {
        switch (r.Type)
        {
            case RespType.Error:
                Put(o, "(error) ");
                o.Write(r.Str);
                o.WriteByte((byte)'\n');
                break;
            case RespType.Status:
            case RespType.Verbatim:
                o.Write(r.Str);
                o.WriteByte((byte)'\n');
                break;
            case RespType.Integer:
                Put(o, "(integer) " + r.Integer.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\n");
                break;
            case RespType.Double:
                Put(o, "(double) ");
                o.Write(r.Str);
                o.WriteByte((byte)'\n');
                break;
            case RespType.Bulk:
                Put(o, ArgSplitter.Repr(r.Str) + "\n");
                break;
            case RespType.Nil:
                Put(o, "(nil)\n");
                break;
            case RespType.Bool:
                Put(o, r.Integer != 0 ? "(true)\n" : "(false)\n");
                break;
            case RespType.BigNumber:
                throw new UnknownReplyTypeException(13);
            default:
                HumanAggregate(o, r, prefix);
                break;
        }
    }

    private static void HumanAggregate(MemoryStream o, RespReply r, string prefix)
    {
        int n = r.Elements.Count;
        if (n == 0)
        {
            Put(o, r.Type switch
            {
                RespType.Array => "(empty array)\n",
                RespType.Map => "(empty hash)\n",
                RespType.Set => "(empty set)\n",
                RespType.Push => "(empty push)\n",
                _ => "(empty aggregate type)\n",
            });
            return;
        }
        bool isMap = r.Type is RespType.Map or RespType.Attribute;
        int entries = isMap ? n / 2 : n;
        int width = entries.ToString(System.Globalization.CultureInfo.InvariantCulture).Length;
        // Nested entries line up under the parent's first character after "N) ".
        string childPrefix = prefix + new string(' ', width + 2);
        char sep = r.Type switch { RespType.Set => '~', RespType.Map or RespType.Attribute => '#', _ => ')' };
        for (int i = 0; i < n; i++)
        {
            int idx = (isMap ? i / 2 : i) + 1;
            Put(o, (i == 0 ? "" : prefix) + idx.ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(width) + sep + " ");
            HumanInto(o, r.Elements[i], childPrefix);
            if (isMap && i + 1 < n)
            {
                i++;
                o.SetLength(o.Length - 1); // drop the key's newline
                o.Position = o.Length;
                Put(o, " => ");
                // redis-cli moves a value that spans several lines onto its own line, indented
                // like the entries around it; one-line values stay after the arrow.
                var v = new MemoryStream();
                HumanInto(v, r.Elements[i], childPrefix);
                var text = v.ToArray();
                if (text.AsSpan().Count((byte)'\n') > 1)
                {
                    o.WriteByte((byte)'\n');
                    Put(o, childPrefix);
                }
                o.Write(text);
            }
        }
    }

    private static void RawInto(MemoryStream o, RespReply r, byte[] delim)
    {
        switch (r.Type)
        {
            case RespType.Error:
                o.Write(r.Str);
                o.WriteByte((byte)'\n');
                break;
            case RespType.Status:
            case RespType.Bulk:
            case RespType.Verbatim:
            case RespType.Double:
                o.Write(r.Str);
                break;
            case RespType.Integer:
                Put(o, r.Integer.ToString(System.Globalization.CultureInfo.InvariantCulture));
                break;
            case RespType.Nil:
                break;
            case RespType.Bool:
                Put(o, r.Integer != 0 ? "(true)" : "(false)");
                break;
            case RespType.BigNumber:
                throw new UnknownReplyTypeException(13);
            default:
                {
                    bool isMap = r.Type is RespType.Map or RespType.Attribute;
                    for (int i = 0; i < r.Elements.Count; i++)
                    {
                        if (i > 0) o.Write(delim);
                        RawInto(o, r.Elements[i], delim);
                        if (isMap && i + 1 < r.Elements.Count)
                        {
                            i++;
                            o.WriteByte((byte)' ');
                            RawInto(o, r.Elements[i], delim);
                        }
                    }
                    break;
                }
        }
    }
}

/// <summary>redis-cli aborts with "Unknown reply type: N" for RESP3 types it cannot print (big numbers in 7.0).</summary>
public sealed class UnknownReplyTypeException(int code) : Exception("Unknown reply type: " + code)
{
    public int Code { get; } = code;
}
