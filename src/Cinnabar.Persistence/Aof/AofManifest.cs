using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Persistence.Aof;

public enum AofFileType { Base, History, Incr }

public sealed record AofFileInfo(string Name, long Seq, AofFileType Type);

/// <summary>
/// Redis 7's multi-part AOF manifest (aof.c): one line per file, "file NAME seq N type b|h|i",
/// the base first, then history, then incr files in increasing seq order. Lines starting with
/// '#' are comments; extra key/value pairs are tolerated; names needing quotes use sds repr quoting.
/// </summary>
public sealed class AofManifest
{
    public AofFileInfo? Base { get; set; }
    public List<AofFileInfo> History { get; } = new();
    public List<AofFileInfo> Incrs { get; } = new();
    public long CurrentBaseSeq { get; set; }
    public long CurrentIncrSeq { get; set; }

    public static string BaseName(string prefix, long seq, bool rdb) => $"{prefix}.{seq}.base.{(rdb ? "rdb" : "aof")}";
    public static string IncrName(string prefix, long seq) => $"{prefix}.{seq}.incr.aof";
    public static string ManifestName(string prefix) => prefix + ".manifest";
    public static string TempManifestName(string prefix) => "temp-" + prefix + ".manifest";

    /// <summary>Longest manifest line Redis reads (MANIFEST_MAX_LINE), newline excluded.</summary>
    public const int MaxLineBytes = 1024;

    public static AofManifest Parse(string text) => Parse(Encoding.UTF8.GetBytes(text));

    /// <summary>
    /// Parses a manifest by aofLoadManifestFromFile's rules: lines are read as fgets does with a
    /// 1025-byte buffer (so a line of more than 1024 bytes, or a last line with no newline, is
    /// "too long"); '#' comment lines are skipped; a blank line, fewer than 6 words, an odd count,
    /// or a missing file/seq/type is a format error; seq must be non-zero and incr seqs increase.
    /// Throws <see cref="AofManifestException"/> carrying Redis's message, line number and line.
    /// </summary>
    public static AofManifest Parse(ReadOnlySpan<byte> data)
    {
        var m = new AofManifest();
        long maxIncrSeq = 0;
        int lineNo = 0, pos = 0;
        while (true)
        {
            if (pos >= data.Length)
            {
                if (lineNo == 0) throw new AofManifestException("Found an empty AOF manifest", 0, null);
                break;
            }
            // One fgets call: up to and including a newline, at most MaxLineBytes bytes.
            var rest = data[pos..];
            int nl = rest[..Math.Min(rest.Length, MaxLineBytes)].IndexOf((byte)'\n');
            var chunk = nl >= 0 ? rest[..(nl + 1)] : rest[..Math.Min(rest.Length, MaxLineBytes)];
            pos += chunk.Length;
            lineNo++;
            if (chunk[0] == (byte)'#') continue;
            if (nl < 0) throw new AofManifestException("The AOF manifest file contains too long line", lineNo, null);
            string line = Encoding.UTF8.GetString(chunk).Trim(' ', '\t', '\r', '\n');
            if (line.Length == 0) throw new AofManifestException(InvalidFormat, lineNo, line);
            var parts = ArgSplitter.SplitToStrings(line);
            if (parts == null || parts.Count < 6 || parts.Count % 2 != 0) throw new AofManifestException(InvalidFormat, lineNo, line);
            var info = ParseFields(parts, lineNo, line);
            switch (info.Type)
            {
                case AofFileType.Base:
                    if (m.Base != null) throw new AofManifestException("Found duplicate base file information", lineNo, line);
                    m.Base = info;
                    m.CurrentBaseSeq = info.Seq;
                    break;
                case AofFileType.History:
                    m.History.Add(info);
                    break;
                default:
                    if (info.Seq <= maxIncrSeq) throw new AofManifestException("Found a non-monotonic sequence number", lineNo, line);
                    m.Incrs.Add(info);
                    m.CurrentIncrSeq = maxIncrSeq = info.Seq;
                    break;
            }
        }
        return m;
    }

    private const string InvalidFormat = "Invalid AOF manifest file format";

    private static AofFileInfo ParseFields(List<string> parts, int lineNo, string line)
    {
        string? name = null;
        long seq = 0;
        char type = '\0';
        // Keys are case-insensitive; unknown keys are kept for forward compatibility (ignored).
        for (int i = 0; i < parts.Count; i += 2)
        {
            string key = parts[i], value = parts[i + 1];
            if (key.Equals("file", StringComparison.OrdinalIgnoreCase))
            {
                if (value.Contains('/') || value.Contains('\\'))
                    throw new AofManifestException("File can't be a path, just a filename", lineNo, line);
                name = value;
            }
            else if (key.Equals("seq", StringComparison.OrdinalIgnoreCase)) seq = LeadingInteger(value);
            else if (key.Equals("type", StringComparison.OrdinalIgnoreCase)) type = value.Length > 0 ? value[0] : '\0';
        }
        if (name == null || seq == 0 || type == '\0') throw new AofManifestException(InvalidFormat, lineNo, line);
        return type switch
        {
            'b' => new AofFileInfo(name, seq, AofFileType.Base),
            'h' => new AofFileInfo(name, seq, AofFileType.History),
            'i' => new AofFileInfo(name, seq, AofFileType.Incr),
            _ => throw new AofManifestException("Unknown AOF file type", lineNo, line),
        };
    }

    /// <summary>atoll: optional leading spaces and sign, then digits up to the first non-digit (0 when none).</summary>
    private static long LeadingInteger(string s)
    {
        int i = 0;
        while (i < s.Length && char.IsWhiteSpace(s[i])) i++;
        bool negative = false;
        if (i < s.Length && (s[i] == '-' || s[i] == '+')) negative = s[i++] == '-';
        long v = 0;
        for (; i < s.Length && s[i] >= '0' && s[i] <= '9'; i++)
        {
            if (v > (long.MaxValue - 9) / 10) break;
            v = v * 10 + (s[i] - '0');
        }
        return negative ? -v : v;
    }

    public string Format()
    {
        var sb = new StringBuilder();
        void Line(AofFileInfo f, char t) =>
            sb.Append("file ").Append(Quote(f.Name)).Append(" seq ").Append(f.Seq.ToString(CultureInfo.InvariantCulture)).Append(" type ").Append(t).Append('\n');
        if (Base != null) Line(Base, 'b');
        foreach (var h in History) Line(h, 'h');
        foreach (var i in Incrs) Line(i, 'i');
        return sb.ToString();
    }

    private static string Quote(string name)
    {
        foreach (char c in name)
            if (c <= ' ' || c == '"' || c == '\'' || c == '\\' || c > '~') return ArgSplitter.Repr(Encoding.UTF8.GetBytes(name));
        return name;
    }
}

/// <summary>A manifest Redis would refuse to load: the reason (Redis's words), and the line when known.</summary>
public sealed class AofManifestException : IOException
{
    public AofManifestException(string reason, int lineNumber, string? line) : base(reason)
    {
        LineNumber = lineNumber;
        Line = line;
    }

    public int LineNumber { get; }

    /// <summary>The trimmed line (null when the error is not about one: empty file, too long line).</summary>
    public string? Line { get; }
}
