using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server;

public static class ReplyExtensions
{
    /// <summary>Writes a string value as a bulk reply without materialising int-encoded values.</summary>
    public static void WriteString(this RespWriter w, StringObject s)
    {
        var raw = s.RawBytes;
        if (raw != null) w.WriteBulk(raw);
        else w.WriteBulkInteger(s.IntValue);
    }

    /// <summary>A container command's HELP reply: one status line per entry (addReplyHelp).</summary>
    public static void WriteHelpLines(this RespWriter w, string[] lines)
    {
        w.WriteArrayHeader(lines.Length);
        foreach (var l in lines) w.WriteSimpleString(l);
    }
}
