namespace Cinnabar.Cli;

/// <summary>Reads '\n'-terminated lines as raw bytes (commands may carry any byte, as in redis-cli).</summary>
internal sealed class LineReader(Stream input)
{
    private readonly byte[] _buf = new byte[16 * 1024];
    private int _pos;
    private int _len;

    /// <summary>The next line without its '\n' (a trailing '\r' is left for the splitter, which
    /// treats it as whitespace); null at end of input.</summary>
    public byte[]? ReadLine()
    {
        var line = new MemoryStream();
        while (true)
        {
            if (_pos == _len)
            {
                _len = input.Read(_buf);
                _pos = 0;
                if (_len <= 0)
                {
                    _len = 0;
                    return line.Length > 0 ? line.ToArray() : null;
                }
            }
            int nl = Array.IndexOf(_buf, (byte)'\n', _pos, _len - _pos);
            if (nl < 0)
            {
                line.Write(_buf, _pos, _len - _pos);
                _pos = _len;
                continue;
            }
            line.Write(_buf, _pos, nl - _pos);
            _pos = nl + 1;
            return line.ToArray();
        }
    }
}
