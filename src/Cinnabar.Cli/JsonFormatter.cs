using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli;

/// <summary>
/// redis-cli 7.0's --json and --quoted-json renderings. Strings are JSON-escaped byte by byte:
/// quotes, backslashes and the common control characters get their short escapes, other bytes
/// below 0x20 become \u00XX, everything else (including bytes >= 0x80) is copied as is. The
/// quoted variant writes the redis-cli quoted form of the string with its backslashes doubled.
/// Errors print as error:"...", maps as objects (non-string keys are stringified).
/// </summary>
public static class JsonFormatter
{
    public static byte[] Format(RespReply r, bool quoted)
    {
        var o = new MemoryStream();
        Into(o, r, quoted);
        o.WriteByte((byte)'\n');
        return o.ToArray();
    }

    private static void Put(MemoryStream o, string s) => o.Write(Encoding.ASCII.GetBytes(s));

    private static void Str(MemoryStream o, ReadOnlySpan<byte> s, bool quoted)
    {
        if (quoted)
        {
            foreach (char c in ArgSplitter.Repr(s))
            {
                if (c == '\\') Put(o, "\\\\");
                else o.WriteByte((byte)c);
            }
            return;
        }
        o.WriteByte((byte)'"');
        foreach (byte b in s)
        {
            switch (b)
            {
                case (byte)'\\': Put(o, "\\\\"); break;
                case (byte)'"': Put(o, "\\\""); break;
                case (byte)'\n': Put(o, "\\n"); break;
                case (byte)'\f': Put(o, "\\f"); break;
                case (byte)'\r': Put(o, "\\r"); break;
                case (byte)'\t': Put(o, "\\t"); break;
                case (byte)'\b': Put(o, "\\b"); break;
                default:
                    if (b <= 0x1f) Put(o, "\\u" + b.ToString("x4", CultureInfo.InvariantCulture));
                    else o.WriteByte(b);
                    break;
            }
        }
        o.WriteByte((byte)'"');
    }

    private static void Into(MemoryStream o, RespReply r, bool quoted)
    {
        switch (r.Type)
        {
            case RespType.Error:
                {
                    Put(o, "error:");
                    // redis-cli measures the error text with strlen: it stops at a NUL byte.
                    int nul = Array.IndexOf(r.Str, (byte)0);
                    Str(o, nul < 0 ? r.Str : r.Str.AsSpan(0, nul), quoted);
                    break;
                }
            case RespType.Status:
            case RespType.Bulk:
            case RespType.Verbatim:
                Str(o, r.Str, quoted);
                break;
            case RespType.Integer:
                Put(o, r.Integer.ToString(CultureInfo.InvariantCulture));
                break;
            case RespType.Double:
                o.Write(r.Str);
                break;
            case RespType.Nil:
                Put(o, "null");
                break;
            case RespType.Bool:
                Put(o, r.Integer != 0 ? "true" : "false");
                break;
            case RespType.Array:
            case RespType.Set:
            case RespType.Push:
                o.WriteByte((byte)'[');
                for (int i = 0; i < r.Elements.Count; i++)
                {
                    if (i > 0) o.WriteByte((byte)',');
                    Into(o, r.Elements[i], quoted);
                }
                o.WriteByte((byte)']');
                break;
            case RespType.Map:
                o.WriteByte((byte)'{');
                for (int i = 0; i + 1 < r.Elements.Count; i += 2)
                {
                    if (i > 0) o.WriteByte((byte)',');
                    var key = r.Elements[i];
                    if (key.Type is RespType.Error or RespType.Status or RespType.Bulk or RespType.Verbatim)
                        Into(o, key, quoted);
                    else
                    {
                        var k = new MemoryStream();
                        Into(k, key, quoted);
                        var kb = k.ToArray();
                        if (kb.Length > 0 && kb[0] == '"') o.Write(kb);
                        else
                        {
                            o.WriteByte((byte)'"');
                            o.Write(kb);
                            o.WriteByte((byte)'"');
                        }
                    }
                    o.WriteByte((byte)':');
                    Into(o, r.Elements[i + 1], quoted);
                }
                o.WriteByte((byte)'}');
                break;
            default:
                throw new UnknownReplyTypeException(r.Type == RespType.BigNumber ? 13 : 0);
        }
    }
}
