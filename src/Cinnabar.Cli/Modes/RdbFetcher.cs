using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>Fetches a server's RDB over the replication protocol (redis-cli's getRDB).</summary>
public static class RdbFetcher
{
    /// <summary>Length of the random end marker of a diskless ("$EOF:&lt;mark&gt;") transfer.</summary>
    public const int EofMarkSize = 40;

    /// <summary>
    /// On an open, authenticated connection: REPLCONF capa/rdb-only (and rdb-filter-only functions
    /// when functionsOnly), SYNC, then writes the payload to path ("-" = stdout), printing
    /// redis-cli's progress lines ("SYNC sent to master, writing N bytes to 'path'", "Transfer
    /// finished with success."). Returns false with err set.
    /// This is exactly what `redis-cli --rdb` / `--functions-rdb` does, "sending REPLCONF ..."
    /// lines on stderr included. `--cluster backup` in redis-cli sends no REPLCONF at all: use
    /// <see cref="Transfer"/> for that.
    /// </summary>
    public static bool Fetch(Connection conn, string path, bool functionsOnly, out string? err)
    {
        if (!SendReplconf(conn, "capa", "eof", out err) && err != null) return false;
        if (!SendReplconf(conn, "rdb-only", "1", out err) && err != null) return false;
        if (functionsOnly && !SendReplconf(conn, "rdb-filter-only", "functions", out err))
        {
            err ??= "Failed requesting functions only RDB from server, aborting";
            return false;
        }
        return Transfer(conn, path, out err);
    }

    /// <summary>
    /// redis-cli's sendReplconf: prints "sending REPLCONF a1 a2" on stderr and sends it. A
    /// refusal is printed ("REPLCONF a1 error: ...") and returns false with err null (not fatal);
    /// a lost connection returns false with err set to redis-cli's "\nI/O error".
    /// </summary>
    public static bool SendReplconf(Connection conn, string arg1, string arg2, out string? err)
    {
        err = null;
        StdIo.Err.Write($"sending REPLCONF {arg1} {arg2}\n");
        RespReply? r;
        try
        {
            r = conn.Call("REPLCONF", arg1, arg2);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            r = null;
        }
        if (r == null)
        {
            err = "\nI/O error";
            return false;
        }
        if (r.Type == RespType.Error)
        {
            StdIo.Err.Write($"REPLCONF {arg1} error: {r.Text}\n");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Sends SYNC and reads the "$&lt;len&gt;" line (skipping the master's keepalive newlines).
    /// Returns the payload length, or 0 with eofMark set for a diskless "$EOF:&lt;mark&gt;" transfer;
    /// null with err set on failure.
    /// </summary>
    public static ulong? SendSync(Connection conn, out byte[] eofMark, out string? err)
    {
        eofMark = new byte[EofMarkSize];
        err = null;
        try
        {
            conn.Send("SYNC\r\n"u8);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            err = "Error writing to master";
            return null;
        }
        var line = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            int n;
            try
            {
                n = conn.ReadRaw(one);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                n = -1;
            }
            if (n <= 0)
            {
                err = "Error reading bulk length while SYNCing";
                return null;
            }
            if (one[0] == '\n')
            {
                if (line.Count > 0) break;
                continue;
            }
            line.Add(one[0]);
        }
        var header = line.ToArray();
        if (header[0] == '-')
        {
            // The line is printed up to the newline, its carriage return included.
            err = "SYNC with master failed: " + Encoding.UTF8.GetString(header);
            return null;
        }
        if (header.Length >= 5 + EofMarkSize && header.AsSpan(1, 4).SequenceEqual("EOF:"u8))
        {
            header.AsSpan(5, EofMarkSize).CopyTo(eofMark);
            return 0;
        }
        return StrToULL(header.AsSpan(1));
    }

    // strtoull: leading digits only (anything else ends the number).
    private static ulong StrToULL(ReadOnlySpan<byte> s)
    {
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t')) i++;
        if (i < s.Length && s[i] == '+') i++;
        ulong v = 0;
        while (i < s.Length && s[i] >= '0' && s[i] <= '9')
        {
            ulong next = unchecked(v * 10 + (ulong)(s[i++] - '0'));
            if (next < v) return ulong.MaxValue;
            v = next;
        }
        return v;
    }

    /// <summary>
    /// Tracks the last 40 bytes received, to spot the end marker of a diskless transfer as
    /// redis-cli does (it only looks at the tail after each read).
    /// </summary>
    internal sealed class EofWatcher(byte[] mark)
    {
        private readonly byte[] _last = new byte[EofMarkSize];

        public bool Seen(ReadOnlySpan<byte> chunk)
        {
            if (chunk.Length >= EofMarkSize)
            {
                chunk[^EofMarkSize..].CopyTo(_last);
            }
            else
            {
                int keep = EofMarkSize - chunk.Length;
                Array.Copy(_last, chunk.Length, _last, 0, keep);
                chunk.CopyTo(_last.AsSpan(keep));
            }
            return _last.AsSpan().SequenceEqual(mark);
        }
    }

    /// <summary>
    /// SYNC and the payload to path ("-" = stdout) with redis-cli's getRDB messages, no REPLCONF
    /// (what `redis-cli --cluster backup` does for each master). The file is created 0644 and,
    /// like redis-cli, not truncated first except after a diskless transfer; it is fsynced after
    /// the connection is closed. Returns false with err set (the caller prints it and exits 1).
    /// Disposes conn when the transfer completed.
    /// </summary>
    public static bool Transfer(Connection conn, string path, out string? err)
    {
        ulong? header = SendSync(conn, out var eofMark, out err);
        if (header == null) return false;
        ulong payload = header.Value;
        bool useMark = payload == 0;
        if (useMark)
        {
            payload = ulong.MaxValue;
            StdIo.Err.Write($"SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{path}'\n");
        }
        else
        {
            StdIo.Err.Write($"SYNC sent to master, writing {payload} bytes to '{path}'\n");
        }

        bool toStdout = path == "-";
        FileStream? file = null;
        if (!toStdout)
        {
            try
            {
                // open(path, O_CREAT|O_WRONLY, 0644): no truncation, as redis-cli does.
                var fo = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.Write, Share = FileShare.ReadWrite, BufferSize = 0 };
                if (!OperatingSystem.IsWindows())
                    fo.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
                file = new FileStream(path, fo);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                err = $"Error opening '{path}': {Describe(e, path)}";
                return false;
            }
        }

        try
        {
            var buf = new byte[4096];
            var watcher = useMark ? new EofWatcher(eofMark) : null;
            while (payload > 0)
            {
                int want = payload > (ulong)buf.Length ? buf.Length : (int)payload;
                int n;
                try
                {
                    n = conn.ReadRaw(buf.AsSpan(0, want));
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    n = -1;
                }
                if (n <= 0)
                {
                    err = "I/O Error reading RDB payload from socket";
                    return false;
                }
                try
                {
                    (file ?? StdIo.Out).Write(buf.AsSpan(0, n));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    err = "Error writing data to file: " + Describe(e, path);
                    return false;
                }
                payload -= (ulong)n;
                if (watcher != null && watcher.Seen(buf.AsSpan(0, n))) break;
            }
            if (useMark)
            {
                // The marker went to the file too: cut it off (stdout keeps it, as with redis-cli).
                ulong size = ulong.MaxValue - payload - EofMarkSize;
                if (file != null)
                {
                    try
                    {
                        file.SetLength((long)size);
                    }
                    catch (IOException e)
                    {
                        StdIo.Err.Write($"ftruncate failed: {e.Message}.\n");
                    }
                }
                StdIo.Err.Write($"Transfer finished with success after {size} bytes\n");
            }
            else
            {
                StdIo.Err.Write("Transfer finished with success.\n");
            }
            conn.Dispose(); // closed before the fsync, which may take a while
            if (file != null)
            {
                try
                {
                    file.Flush(flushToDisk: true);
                }
                catch (IOException e)
                {
                    err = $"Fail to fsync '{path}': {e.Message}";
                    return false;
                }
            }
            return true;
        }
        finally
        {
            file?.Dispose();
        }
    }

    private static string Describe(Exception e, string path) => e switch
    {
        _ when Directory.Exists(path) => "Is a directory",
        FileNotFoundException or DirectoryNotFoundException => "No such file or directory",
        UnauthorizedAccessException => "Permission denied",
        _ when e.Message.Contains("No space left", StringComparison.Ordinal) => "No space left on device",
        _ => e.Message,
    };

    /// <summary>--rdb &lt;file&gt; / --functions-rdb &lt;file&gt;.</summary>
    internal static int RunMode(ModeContext ctx)
    {
        var conn = ctx.Connect();
        if (!Fetch(conn, ctx.O.RdbFile!, ctx.O.FunctionsRdb, out string? err))
        {
            StdIo.Err.Write(err + "\n");
            return 1;
        }
        return 0;
    }
}
