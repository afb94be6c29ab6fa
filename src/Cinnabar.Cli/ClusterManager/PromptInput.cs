namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// redis-cli's reshard prompts read answers with read(2) on fd 0 (at most N bytes at a time) and,
/// when a reply is longer than that, skip the rest of the line with getchar(). getchar() goes
/// through stdio's buffer, which takes a whole block from the descriptor and keeps what it does
/// not use to itself: later read(2) calls never see those bytes. This class reproduces that, so
/// piped answers are consumed exactly as redis-cli consumes them.
/// </summary>
internal static class PromptInput
{
    private static readonly byte[] StdioBuf = new byte[4096];
    private static int _pos;
    private static int _len;
    private static bool _eof;

    /// <summary>read(0, buf, max): what one read(2) returns (0 at end of input, -1 on error).</summary>
    public static int ReadRaw(byte[] buf, int max)
    {
        try
        {
            return StdIo.In.Read(buf, 0, max);
        }
        catch (IOException)
        {
            return -1;
        }
    }

    /// <summary>getchar(); -1 at EOF (sticky, as glibc's).</summary>
    private static int GetChar()
    {
        if (_pos < _len) return StdioBuf[_pos++];
        if (_eof) return -1;
        int n = ReadRaw(StdioBuf, StdioBuf.Length);
        if (n <= 0)
        {
            _eof = true;
            return -1;
        }
        _pos = 1;
        _len = n;
        return StdioBuf[0];
    }

    /// <summary>
    /// One answer as redis-cli takes it: a read(2) of at most max bytes; when the last byte is not
    /// a newline the rest of the line is skipped with getchar(); the last byte read is dropped
    /// (it is taken to be the newline) and the text ends at the first NUL. Null when read(2)
    /// returned nothing (redis-cli then asks again).
    /// </summary>
    public static string? ReadAnswer(int max)
    {
        var buf = new byte[max];
        int n = ReadRaw(buf, max);
        if (n <= 0) return null;
        int last = n - 1;
        if (buf[last] != (byte)'\n')
        {
            int ch;
            while ((ch = GetChar()) != '\n' && ch != -1) { }
        }
        int end = Array.IndexOf(buf, (byte)0, 0, last);
        if (end < 0) end = last;
        return System.Text.Encoding.UTF8.GetString(buf, 0, end);
    }
}
