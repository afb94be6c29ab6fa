using System.Text;

namespace Cinnabar.Cli;

/// <summary>
/// The command line as bytes. .NET hands Main UTF-16 strings, which loses bytes that are not valid
/// UTF-8 (redis-cli passes argv bytes through unchanged), so on Linux the trailing arguments are
/// recovered from /proc/self/cmdline when they agree with what Main received.
/// </summary>
internal static class RawArgs
{
    public static List<byte[]> Tail(IReadOnlyList<string> tail)
    {
        var fallback = tail.Select(Encoding.UTF8.GetBytes).ToList();
        byte[] cmdline;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return fallback;
        }
        var parts = new List<byte[]>();
        int start = 0;
        for (int i = 0; i < cmdline.Length; i++)
        {
            if (cmdline[i] != 0) continue;
            parts.Add(cmdline[start..i]);
            start = i + 1;
        }
        if (parts.Count < tail.Count) return fallback;
        var raw = parts.GetRange(parts.Count - tail.Count, tail.Count);
        for (int i = 0; i < raw.Count; i++)
            if (Encoding.UTF8.GetString(raw[i]) != tail[i]) return fallback;
        return raw;
    }
}
