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

    public static AofManifest Parse(string text)
    {
        var m = new AofManifest();
        int lineNo = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNo++;
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = ArgSplitter.SplitToStrings(line);
            if (parts == null || parts.Count < 6 || parts.Count % 2 != 0)
                throw new InvalidDataException($"Invalid AOF manifest file format at line {lineNo}");
            string? name = null, type = null;
            long seq = -1;
            for (int i = 0; i < parts.Count; i += 2)
            {
                switch (parts[i])
                {
                    case "file": name = parts[i + 1]; break;
                    case "seq": seq = long.Parse(parts[i + 1], CultureInfo.InvariantCulture); break;
                    case "type": type = parts[i + 1]; break;
                }
            }
            if (name == null || seq < 0 || type == null) throw new InvalidDataException($"Invalid AOF manifest file format at line {lineNo}");
            switch (type)
            {
                case "b":
                    if (m.Base != null) throw new InvalidDataException("Found duplicate base file information");
                    m.Base = new AofFileInfo(name, seq, AofFileType.Base);
                    m.CurrentBaseSeq = seq;
                    break;
                case "h":
                    m.History.Add(new AofFileInfo(name, seq, AofFileType.History));
                    break;
                case "i":
                    if (seq <= m.CurrentIncrSeq) throw new InvalidDataException("Found a non-monotonic sequence number");
                    m.Incrs.Add(new AofFileInfo(name, seq, AofFileType.Incr));
                    m.CurrentIncrSeq = seq;
                    break;
                default:
                    throw new InvalidDataException($"Unknown AOF file type '{type}'");
            }
        }
        if (m.Base == null && m.Incrs.Count == 0 && m.History.Count == 0) throw new InvalidDataException("Found an empty AOF manifest");
        return m;
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
