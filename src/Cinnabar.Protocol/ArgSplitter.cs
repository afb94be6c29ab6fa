using System.Text;

namespace Cinnabar.Protocol;

/// <summary>
/// Splits a line into arguments the way Redis's sdssplitargs does: whitespace separates,
/// "double quotes" understand \n \r \t \b \a \\ \" and \xHH, 'single quotes' understand \' only,
/// and a closing quote must be followed by whitespace or the end of the line. Used for inline
/// commands, config files and the CLI prompt.
/// </summary>
public static class ArgSplitter
{
    public static List<byte[]>? Split(ReadOnlySpan<byte> line)
    {
        var result = new List<byte[]>();
        int i = 0;
        var current = new List<byte>();
        while (true)
        {
            while (i < line.Length && IsSpace(line[i])) i++;
            if (i >= line.Length) return result;
            bool inDouble = false, inSingle = false, done = false;
            current.Clear();
            while (!done)
            {
                if (inDouble)
                {
                    if (i >= line.Length) return null;
                    byte c = line[i];
                    if (c == '\\' && i + 3 < line.Length && line[i + 1] == 'x' && IsHex(line[i + 2]) && IsHex(line[i + 3]))
                    {
                        current.Add((byte)(HexVal(line[i + 2]) * 16 + HexVal(line[i + 3])));
                        i += 3;
                    }
                    else if (c == '\\' && i + 1 < line.Length)
                    {
                        i++;
                        current.Add(line[i] switch
                        {
                            (byte)'n' => (byte)'\n',
                            (byte)'r' => (byte)'\r',
                            (byte)'t' => (byte)'\t',
                            (byte)'b' => (byte)'\b',
                            (byte)'a' => (byte)'\a',
                            var other => other,
                        });
                    }
                    else if (c == '"')
                    {
                        if (i + 1 < line.Length && !IsSpace(line[i + 1])) return null;
                        done = true;
                    }
                    else current.Add(c);
                }
                else if (inSingle)
                {
                    if (i >= line.Length) return null;
                    byte c = line[i];
                    if (c == '\\' && i + 1 < line.Length && line[i + 1] == '\'')
                    {
                        i++;
                        current.Add((byte)'\'');
                    }
                    else if (c == '\'')
                    {
                        if (i + 1 < line.Length && !IsSpace(line[i + 1])) return null;
                        done = true;
                    }
                    else current.Add(c);
                }
                else
                {
                    if (i >= line.Length) { done = true; break; }
                    byte c = line[i];
                    switch (c)
                    {
                        case (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or 0: done = true; break;
                        case (byte)'"': inDouble = true; break;
                        case (byte)'\'': inSingle = true; break;
                        default: current.Add(c); break;
                    }
                }
                if (i < line.Length) i++;
            }
            result.Add(current.ToArray());
        }
    }

    public static List<string>? SplitToStrings(string line)
    {
        var parts = Split(Encoding.UTF8.GetBytes(line));
        if (parts == null) return null;
        var list = new List<string>(parts.Count);
        foreach (var p in parts) list.Add(Encoding.UTF8.GetString(p));
        return list;
    }

    private static bool IsSpace(byte c) => c is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t' or (byte)'\v' or (byte)'\f' or 0;
    private static bool IsHex(byte c) => c is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
    private static int HexVal(byte c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;

    /// <summary>Quotes a value as Redis's sdscatrepr does (used by MONITOR, CONFIG REWRITE, CLI).</summary>
    public static string Repr(ReadOnlySpan<byte> s)
    {
        var sb = new StringBuilder(s.Length + 2);
        sb.Append('"');
        foreach (byte c in s)
        {
            switch (c)
            {
                case (byte)'\\': sb.Append("\\\\"); break;
                case (byte)'"': sb.Append("\\\""); break;
                case (byte)'\n': sb.Append("\\n"); break;
                case (byte)'\r': sb.Append("\\r"); break;
                case (byte)'\t': sb.Append("\\t"); break;
                case (byte)'\a': sb.Append("\\a"); break;
                case (byte)'\b': sb.Append("\\b"); break;
                default:
                    if (c >= 32 && c < 127) sb.Append((char)c);
                    else sb.Append("\\x").Append(c.ToString("x2"));
                    break;
            }
        }
        sb.Append('"');
        return sb.ToString();
    }
}
