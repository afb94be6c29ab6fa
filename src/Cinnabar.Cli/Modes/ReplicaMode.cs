using System.Net.Sockets;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>
/// --replica: registers as a replica (SYNC), skips the RDB and prints every command of the
/// replication stream in CSV form, as redis-cli's slaveMode does.
/// </summary>
internal static class ReplicaMode
{
    public static int Run(ModeContext ctx)
    {
        var conn = ctx.Connect();
        if (!RdbFetcher.SendReplconf(conn, "capa", "eof", out string? err) && err != null) return Fail(err);
        // An empty include filter: the RDB (which is thrown away) carries neither keys nor functions.
        if (!RdbFetcher.SendReplconf(conn, "rdb-filter-only", "", out err) && err != null) return Fail(err);

        ulong? header = RdbFetcher.SendSync(conn, out var eofMark, out err);
        if (header == null) return Fail(err!);
        ulong payload = header.Value;
        bool useMark = payload == 0;
        if (useMark)
        {
            payload = ulong.MaxValue;
            StdIo.Err.Write("SYNC with master, discarding bytes of bulk transfer until EOF marker...\n");
        }
        else
        {
            StdIo.Err.Write($"SYNC with master, discarding {payload} bytes of bulk transfer...\n");
        }

        var buf = new byte[1024];
        var watcher = useMark ? new RdbFetcher.EofWatcher(eofMark) : null;
        while (payload > 0)
        {
            int want = payload > (ulong)buf.Length ? buf.Length : (int)payload;
            int n;
            try
            {
                n = conn.ReadRaw(buf.AsSpan(0, want));
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                n = -1;
            }
            if (n <= 0) return Fail("Error reading RDB payload while SYNCing");
            payload -= (ulong)n;
            if (watcher != null && watcher.Seen(buf.AsSpan(0, n))) break;
        }

        if (useMark)
        {
            StdIo.Err.Write($"SYNC done after {ulong.MaxValue - payload} bytes. Logging commands from master.\n");
            // The master starts the stream on the first ACK. redis-cli sends it as a command and
            // so takes the first message of the stream as its reply: that one is never shown.
            Thread.Sleep(1000);
            if (!RdbFetcher.SendReplconf(conn, "ACK", "0", out err) && err != null) return Fail(err);
        }
        else
        {
            StdIo.Err.Write("SYNC done. Logging commands from master.\n");
        }

        while (true)
        {
            RespReply? r;
            string lost = "Server closed the connection";
            try
            {
                r = conn.Read();
            }
            catch (SocketException e)
            {
                r = null;
                if (e.SocketErrorCode == SocketError.ConnectionReset) lost = "Connection reset by peer";
            }
            catch (IOException)
            {
                r = null;
            }
            if (r == null)
            {
                StdIo.Err.Write("Error: " + lost + "\n");
                return 1;
            }
            if (ctx.O.ExitOnError && r.Type == RespType.Error)
            {
                StdIo.Err.Write(r.Text + "\n");
                return 1;
            }
            ctx.Out.Write(ReplyFormatter.Csv(r));
            ctx.Out.Flush();
        }
    }

    private static int Fail(string message)
    {
        StdIo.Err.Write(message + "\n");
        return 1;
    }
}
