using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw] [AUTH2 user pw] [KEYS k...],
/// as Redis 7.0's migrateCommand: DUMP each key, send AUTH / SELECT / RESTORE in one write over a
/// cached connection to the target, read one reply per command, then (without COPY) delete the
/// keys the target accepted and propagate that as DEL. Like Redis it blocks the server while it
/// talks to the target, bounded by the timeout. A socket error is retried once on a fresh
/// connection unless it was a timeout. Connections are cached per host:port (at most 64) and
/// closed after 10 s unused (MIGRATE_SOCKET_CACHE_*).
/// </summary>
public sealed class MigrateCommands : ICommandFamily
{
    private const int CacheItems = 64;
    private const long CacheTtlMs = 10_000;
    private const int WriteChunkBytes = 64 * 1024;

    public void Register(CommandTable t)
    {
        t.Add("migrate", -6, "write", 3, 3, 1, "@keyspace @write @slow @dangerous", Migrate, "generic",
            "Atomically transfer a key from a Redis instance to another one.", "2.6.0",
            "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
            MigrateKeys).Tips = ["nondeterministic_output"];
    }

    // migrateGetKeys: the keys after KEYS when the key argument is empty, else the key argument.
    private static int[] MigrateKeys(CommandArgs args)
    {
        for (int i = 6; i < args.Count; i++)
        {
            if (args[i].Length == 4 && Encoding.ASCII.GetString(args[i]).Equals("keys", StringComparison.OrdinalIgnoreCase) && args[3].Length == 0)
            {
                var keys = new int[args.Count - i - 1];
                for (int k = 0; k < keys.Length; k++) keys[k] = i + 1 + k;
                return keys;
            }
        }
        return [3];
    }

    private sealed class CachedSocket(Socket socket)
    {
        public readonly Socket Socket = socket;
        public long LastDb = -1;
        public long LastUseMs;
        private readonly byte[] _buf = new byte[4096];
        private int _pos, _len;

        /// <summary>connSyncReadLine: one reply line (without CRLF); replies longer than 1 KiB are cut as Redis's buffer does.</summary>
        public string ReadLine()
        {
            var line = new StringBuilder();
            while (true)
            {
                if (_pos == _len)
                {
                    _len = Socket.Receive(_buf);
                    _pos = 0;
                    if (_len <= 0) throw new IOException("connection closed by the target");
                }
                byte b = _buf[_pos++];
                if (b == '\n') break;
                if (line.Length < 1023) line.Append((char)b);
            }
            if (line.Length > 0 && line[^1] == '\r') line.Length--;
            return line.ToString();
        }
    }

    private sealed class Cache
    {
        public readonly Dictionary<string, CachedSocket> Sockets = new(StringComparer.Ordinal);
    }

    private static readonly ConditionalWeakTable<RedisServer, Cache> Caches = new();

    /// <summary>INFO's migrate_cached_sockets.</summary>
    public static int CachedSockets(RedisServer server) => Caches.TryGetValue(server, out var c) ? c.Sockets.Count : 0;

    private static Cache CacheOf(RedisServer server)
    {
        if (Caches.TryGetValue(server, out var cache)) return cache;
        cache = new Cache();
        Caches.Add(server, cache);
        // migrateCloseTimedoutSockets, from the server's cron (which holds the execution lock).
        server.CronTick += nowMs => CloseIdle(cache, Environment.TickCount64);
        return cache;
    }

    private static void CloseIdle(Cache cache, long nowMs)
    {
        if (cache.Sockets.Count == 0) return;
        foreach (var (name, cs) in cache.Sockets.ToArray())
        {
            if (nowMs - cs.LastUseMs <= CacheTtlMs) continue;
            cs.Socket.Dispose();
            cache.Sockets.Remove(name);
        }
    }

    private static void Close(Cache cache, string name)
    {
        if (!cache.Sockets.Remove(name, out var cs)) return;
        cs.Socket.Dispose();
    }

    private static CachedSocket? GetSocket(CommandContext ctx, Cache cache, string host, string port, int timeoutMs)
    {
        string name = host + ":" + port;
        if (cache.Sockets.TryGetValue(name, out var cs))
        {
            cs.LastUseMs = Environment.TickCount64;
            return cs;
        }
        if (cache.Sockets.Count >= CacheItems)
        {
            var victim = cache.Sockets.Keys.ElementAt(Random.Shared.Next(cache.Sockets.Count));
            Close(cache, victim);
        }
        Socket? socket = null;
        try
        {
            int.TryParse(port, NumberStyles.Integer, CultureInfo.InvariantCulture, out int portNumber);
            var address = System.Net.IPAddress.TryParse(host, out var ip) ? ip : System.Net.Dns.GetHostAddresses(host)[0];
            socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true }.AllowLocalPortReuse();
            BlockingConnect(socket, new System.Net.IPEndPoint(address, portNumber), timeoutMs);
        }
        catch (Exception e) when (e is SocketException or TimeoutException or AggregateException or ArgumentException or IOException or IndexOutOfRangeException)
        {
            socket?.Dispose();
            ctx.Server.Log.Verbose($"MIGRATE: cannot connect to {host}:{port}: {e.Message}");
            ctx.Error("IOERR error or timeout connecting to the client");
            return null;
        }
        socket.SendTimeout = timeoutMs;
        socket.ReceiveTimeout = timeoutMs;
        cs = new CachedSocket(socket) { LastUseMs = Environment.TickCount64 };
        cache.Sockets[name] = cs;
        return cs;
    }

    /// <summary>
    /// connBlockingConnect: a blocking connect bounded by the timeout. It runs on a pool thread
    /// with the synchronous API, never the async one: MIGRATE may itself run on a socket engine
    /// thread (inline completions), and an async connect completing there would wait on itself.
    /// </summary>
    private static void BlockingConnect(Socket socket, System.Net.IPEndPoint endPoint, int timeoutMs)
    {
        var connecting = Task.Run(() => socket.Connect(endPoint));
        if (!connecting.Wait(timeoutMs)) throw new TimeoutException("connect timeout");
    }

    private sealed class Options
    {
        public bool Copy, Replace;
        public byte[]? User, Password;
        public int FirstKey = 3, KeyCount = 1;
    }

    private static Options? ParseOptions(CommandContext ctx)
    {
        var o = new Options();
        for (int j = 6; j < ctx.ArgCount; j++)
        {
            int more = ctx.ArgCount - 1 - j;
            if (ctx.ArgIs(j, "COPY")) o.Copy = true;
            else if (ctx.ArgIs(j, "REPLACE")) o.Replace = true;
            else if (ctx.ArgIs(j, "AUTH") && more >= 1) o.Password = ctx.ArgBytes(++j);
            else if (ctx.ArgIs(j, "AUTH2") && more >= 2)
            {
                o.User = ctx.ArgBytes(++j);
                o.Password = ctx.ArgBytes(++j);
            }
            else if (ctx.ArgIs(j, "KEYS"))
            {
                if (ctx.Arg(3).Length != 0)
                {
                    ctx.Error("ERR When using MIGRATE KEYS option, the key argument must be set to the empty string");
                    return null;
                }
                o.FirstKey = j + 1;
                o.KeyCount = ctx.ArgCount - j - 1;
                break;
            }
            else
            {
                ctx.SyntaxError();
                return null;
            }
        }
        return o;
    }

    private static void Migrate(CommandContext ctx)
    {
        var o = ParseOptions(ctx);
        if (o == null) return;
        if (!ctx.TryGetLong(5, out long timeout) || !ctx.TryGetLong(4, out long dbid)) return;
        if (timeout <= 0) timeout = 1000;
        int timeoutMs = (int)Math.Min(timeout, int.MaxValue);
        var keys = new List<byte[]>();
        var values = new List<RedisObject>();
        for (int j = 0; j < o.KeyCount; j++)
        {
            var v = ctx.Db.LookupRead(ctx.Arg(o.FirstKey + j));
            if (v == null) continue;
            keys.Add(ctx.ArgBytes(o.FirstKey + j));
            values.Add(v);
        }
        if (keys.Count == 0)
        {
            ctx.Reply.WriteSimpleString("NOKEY");
            return;
        }
        var cache = CacheOf(ctx.Server);
        string host = ctx.ArgString(1), port = ctx.ArgString(2);
        bool mayRetry = true;
        while (true)
        {
            var cs = GetSocket(ctx, cache, host, port, timeoutMs);
            if (cs == null) return;
            var outcome = Exchange(ctx, cs, o, dbid, keys, values, ref mayRetry, out bool writeError, out bool timedOut);
            if (outcome) return;
            // socket_err: drop the connection; retry once unless it was a timeout.
            Close(cache, host + ":" + port);
            if (!timedOut && mayRetry)
            {
                mayRetry = false;
                continue;
            }
            ctx.Error($"IOERR error or timeout {(writeError ? "writing" : "reading")} to target instance");
            return;
        }
    }

    /// <summary>One attempt. True when a reply was sent (OK or the target's error); false on a socket error to handle as socket_err.</summary>
    private static bool Exchange(CommandContext ctx, CachedSocket cs, Options o, long dbid, List<byte[]> keys, List<RedisObject> values,
        ref bool mayRetry, out bool writeError, out bool timedOut)
    {
        writeError = false;
        timedOut = false;
        var cmd = new MemoryStream();
        if (o.Password != null)
        {
            if (o.User != null) WriteCommand(cmd, "AUTH"u8.ToArray(), o.User, o.Password);
            else WriteCommand(cmd, "AUTH"u8.ToArray(), o.Password);
        }
        bool select = cs.LastDb != dbid;
        if (select) WriteCommand(cmd, "SELECT"u8.ToArray(), Num(dbid));
        bool compress = ctx.Server.Config.Get("rdbcompression") == "yes";
        var sent = new List<byte[]>();
        for (int j = 0; j < keys.Count; j++)
        {
            long ttl = 0;
            if (ctx.Db.Expires.TryGetValue(keys[j], out long expireAt))
            {
                ttl = expireAt - ctx.NowMs;
                if (ttl < 0) continue;
                if (ttl < 1) ttl = 1;
            }
            sent.Add(keys[j]);
            var payload = PersistenceCommands.CreateDumpPayload(values[j], compress);
            // In cluster mode the target is importing the slot: RESTORE-ASKING is served there without ASKING.
            byte[] restore = ctx.Server.Cluster != null ? "RESTORE-ASKING"u8.ToArray() : "RESTORE"u8.ToArray();
            if (o.Replace) WriteCommand(cmd, restore, keys[j], Num(ttl), payload, "REPLACE"u8.ToArray());
            else WriteCommand(cmd, restore, keys[j], Num(ttl), payload);
        }
        try
        {
            var buf = cmd.GetBuffer();
            for (int pos = 0; pos < cmd.Length;)
            {
                int n = cs.Socket.Send(buf, pos, (int)Math.Min(WriteChunkBytes, cmd.Length - pos), SocketFlags.None);
                if (n <= 0) throw new IOException("short write");
                pos += n;
            }
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            writeError = true;
            timedOut = IsTimeout(e);
            return false;
        }
        string authReply = "", selectReply = "";
        try
        {
            if (o.Password != null) authReply = cs.ReadLine();
            if (select) selectReply = cs.ReadLine();
        }
        catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
        {
            timedOut = IsTimeout(e);
            return false;
        }
        return ReadRestoreReplies(ctx, cs, o, dbid, sent, authReply, selectReply, select, ref mayRetry, out timedOut);
    }

    private static bool ReadRestoreReplies(CommandContext ctx, CachedSocket cs, Options o, long dbid, List<byte[]> sent,
        string authReply, string selectReply, bool select, ref bool mayRetry, out bool timedOut)
    {
        timedOut = false;
        bool errorFromTarget = false, socketError = false;
        var deleted = new List<byte[]> { "DEL"u8.ToArray() };
        int j = 0;
        for (; j < sent.Count; j++)
        {
            string reply;
            try
            {
                reply = cs.ReadLine();
            }
            catch (Exception e) when (e is SocketException or IOException or ObjectDisposedException)
            {
                timedOut = IsTimeout(e);
                socketError = true;
                break;
            }
            bool failed = (o.Password != null && authReply.StartsWith('-')) || (select && selectReply.StartsWith('-')) || reply.StartsWith('-');
            if (failed)
            {
                if (errorFromTarget) continue;
                cs.LastDb = -1;
                string err = o.Password != null && authReply.StartsWith('-') ? authReply : select && selectReply.StartsWith('-') ? selectReply : reply;
                errorFromTarget = true;
                ctx.Error("ERR Target instance replied with error: " + err[1..]);
            }
            else if (!o.Copy)
            {
                ctx.Db.Delete(sent[j]);
                ctx.KeyChanged(sent[j], 'g', "del");
                deleted.Add(sent[j]);
            }
        }
        // Nothing was read at all: a stale cached connection, worth one retry (socket_err).
        if (!errorFromTarget && socketError && j == 0 && mayRetry && !timedOut) return false;
        if (deleted.Count > 1) ctx.PropagateAs(deleted.ToArray());
        if (!errorFromTarget && socketError)
        {
            mayRetry = false;
            return false;
        }
        if (!errorFromTarget)
        {
            cs.LastDb = dbid;
            ctx.Reply.WriteOk();
        }
        return true;
    }

    private static bool IsTimeout(Exception e) =>
        (e as SocketException ?? e.InnerException as SocketException)?.SocketErrorCode == SocketError.TimedOut;

    private static byte[] Num(long v) => Encoding.ASCII.GetBytes(v.ToString(CultureInfo.InvariantCulture));

    private static void WriteCommand(MemoryStream o, params byte[][] argv)
    {
        void Ascii(string s) => o.Write(Encoding.ASCII.GetBytes(s));
        Ascii("*" + argv.Length.ToString(CultureInfo.InvariantCulture) + "\r\n");
        foreach (var a in argv)
        {
            Ascii("$" + a.Length.ToString(CultureInfo.InvariantCulture) + "\r\n");
            o.Write(a);
            Ascii("\r\n");
        }
    }
}
