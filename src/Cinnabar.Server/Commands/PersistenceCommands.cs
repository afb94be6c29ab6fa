using System.Buffers.Binary;
using Cinnabar.Persistence;
using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>SAVE BGSAVE LASTSAVE DUMP RESTORE.</summary>
public sealed class PersistenceCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        t.Add("save", 1, "admin noscript no_async_loading no_multi", 0, 0, 0, "@admin @slow @dangerous", Save, "server", "Synchronously saves the database(s) to disk.");
        t.Add("bgsave", -1, "admin noscript no_async_loading", 0, 0, 0, "@admin @slow @dangerous", Bgsave, "server", "Asynchronously saves the database(s) to disk.");
        t.Add("lastsave", 1, "loading stale fast", 0, 0, 0, "@admin @fast @dangerous", ctx => ctx.Reply.WriteInteger(ctx.Server.Rdb.LastSaveUnix), "server", "Returns the Unix timestamp of the last successful save to disk.").Tips = ["nondeterministic_output"];
        t.Add("bgrewriteaof", 1, "admin noscript no_async_loading", 0, 0, 0, "@admin @slow @dangerous", BgRewriteAof, "server", "Asynchronously rewrites the append-only file to disk.");
        t.Add("dump", 2, "readonly", 1, 1, 1, "@keyspace @read @slow", Dump, "generic", "Returns a serialized representation of the value stored at a key.", "2.6.0");
        t.Add("restore", -4, "write denyoom", 1, 1, 1, "@keyspace @write @slow @dangerous", Restore, "generic", "Creates a key from the serialized representation of a value.", "2.6.0");
        t.Add("restore-asking", -4, "write denyoom asking", 1, 1, 1, "@keyspace @write @slow @dangerous", Restore, "server", "An internal command for migrating keys in a cluster", "3.0.0");
    }

    private static void Save(CommandContext ctx)
    {
        var err = ctx.Server.SaveRdbSync();
        if (err != null) ctx.Error(err);
        else ctx.Reply.WriteOk();
    }

    private static void Bgsave(CommandContext ctx)
    {
        bool schedule = false;
        if (ctx.ArgCount > 1)
        {
            if (ctx.ArgCount == 2 && ctx.ArgIs(1, "SCHEDULE")) schedule = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        // Inside EXEC a background job is only scheduled (server.in_exec): it starts from the cron.
        if ((ctx.Client.Flags & ClientFlags.Multi) != 0 && !ctx.Server.Rdb.BgsaveInProgress)
        {
            ctx.Server.Rdb.BgsaveScheduled = true;
            ctx.Reply.WriteSimpleString("Background saving scheduled");
            return;
        }
        var (status, error) = ctx.Server.StartBgsave(schedule);
        if (error != null) ctx.Error(error);
        else ctx.Reply.WriteSimpleString(status!);
    }

    private static void BgRewriteAof(CommandContext ctx)
    {
        var s = ctx.Server;
        if (s.Aof.RewriteInProgress)
        {
            ctx.Error("ERR Background append only file rewriting already in progress");
            return;
        }
        if (s.Rdb.BgsaveInProgress || (ctx.Client.Flags & ClientFlags.Multi) != 0)
        {
            s.Aof.RewriteScheduled = true;
            ctx.Reply.WriteSimpleString("Background append only file rewriting scheduled");
            return;
        }
        var err = s.StartAofRewrite(enabling: false);
        if (err != null) ctx.Error(err);
        else ctx.Reply.WriteSimpleString("Background append only file rewriting started");
    }

    /// <summary>DUMP payload: RDB type + value, then RDB version (2 bytes LE) and CRC-64 (8 bytes LE).</summary>
    /// <remarks>Strings are LZF-compressed under rdbcompression, as Redis's rdbSaveRawString does for DUMP too.</remarks>
    public static byte[] CreateDumpPayload(RedisObject value, bool compress = true)
    {
        var ms = new MemoryStream();
        var w = new RdbWriter(ms, compress, checksum: false);
        RdbValueCodec.Write(w, value);
        w.WriteByte(Rdb.Version);
        w.WriteByte(0);
        w.Flush();
        ulong crc = Crc64.Compute(ms.GetBuffer().AsSpan(0, (int)ms.Length));
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, crc);
        ms.Write(b);
        return ms.ToArray();
    }

    /// <summary>Checks version and checksum; returns the value or null with the error to send.</summary>
    public static RedisObject? ParseDumpPayload(ReadOnlySpan<byte> payload, out string? error) =>
        ParseDumpPayload(payload, deepIntegrity: false, skipChecksum: false, out error, out _);

    /// <summary>
    /// verifyDumpPayload + rdbLoadObject for RESTORE: the payload's version and CRC, then the
    /// value, decoded in full. Whatever a corrupt payload does to the decoder ends here as
    /// "Bad data format" with Redis's reason in <paramref name="corruption"/> (for the log), so
    /// no payload can take the server down; the decoder also bounds every allocation by the
    /// payload's size.
    /// </summary>
    public static RedisObject? ParseDumpPayload(ReadOnlySpan<byte> payload, bool deepIntegrity, bool skipChecksum, out string? error, out string? corruption)
    {
        error = null;
        corruption = null;
        if (payload.Length < 10)
        {
            error = "ERR DUMP payload version or checksum are wrong";
            return null;
        }
        int version = payload[^10] | (payload[^9] << 8);
        ulong crc = BinaryPrimitives.ReadUInt64LittleEndian(payload[^8..]);
        if (version > Rdb.Version || (!skipChecksum && crc != Crc64.Compute(payload[..^8])))
        {
            error = "ERR DUMP payload version or checksum are wrong";
            return null;
        }
        try
        {
            var r = new RdbReader(new MemoryStream(payload[..^10].ToArray())) { DeepIntegrity = deepIntegrity };
            byte type = r.ReadByte();
            if (!RdbValueCodec.IsValueType(type)) throw RdbCorrupt.Error($"Unknown RDB encoding type {type}");
            var value = RdbValueCodec.Read(r, type);
            if (r.Position != payload.Length - 10) throw RdbCorrupt.Error("Trailing data after the value in the DUMP payload");
            return value;
        }
        catch (Exception e)
        {
            // Deliberately broad: this is the RESTORE boundary (see above).
            corruption = e is InvalidDataException or EndOfStreamException ? e.Message : $"{e.GetType().Name}: {e.Message}";
            error = "ERR Bad data format";
            return null;
        }
    }

    /// <summary>sanitize-dump-payload: "yes" always, "clients" for RESTORE from ordinary clients (not the master or the AOF).</summary>
    private static bool DeepSanitize(CommandContext ctx) => ctx.Server.Config.Get("sanitize-dump-payload") switch
    {
        "yes" => true,
        "clients" => !MustObey(ctx.Client),
        _ => false,
    };

    // mustObeyClient: the master's link, or the AOF loader (a client with no connection that is not a script's).
    private static bool MustObey(Client c) =>
        (c.Flags & ClientFlags.Master) != 0 || (c.RemoteIp == null && (c.Flags & (ClientFlags.Unix | ClientFlags.Lua)) == 0);

    /// <summary>DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE skips the payload's CRC (Redis's suite uses it for hand-made payloads).</summary>
    public static bool SkipChecksumValidation { get; set; }

    private static void Dump(CommandContext ctx)
    {
        var o = ctx.Db.LookupRead(ctx.Arg(1));
        if (o == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        ctx.Reply.WriteBulk(CreateDumpPayload(o, ctx.Server.Config.Get("rdbcompression") == "yes"));
    }

    private static void Restore(CommandContext ctx)
    {
        bool replace = false, absTtl = false;
        long idle = -1, freq = -1;
        for (int i = 4; i < ctx.ArgCount; i++)
        {
            bool more = i + 1 < ctx.ArgCount;
            if (ctx.ArgIs(i, "REPLACE")) replace = true;
            else if (ctx.ArgIs(i, "ABSTTL")) absTtl = true;
            else if (ctx.ArgIs(i, "IDLETIME") && more && freq == -1)
            {
                if (!ctx.TryGetLong(++i, out idle)) return;
                if (idle < 0)
                {
                    ctx.Error("ERR Invalid IDLETIME value, must be >= 0");
                    return;
                }
            }
            else if (ctx.ArgIs(i, "FREQ") && more && idle == -1)
            {
                if (!ctx.TryGetLong(++i, out freq)) return;
                if (freq < 0 || freq > 255)
                {
                    ctx.Error("ERR Invalid FREQ value, must be >= 0 and <= 255");
                    return;
                }
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (!ctx.TryGetLong(2, out long ttl)) return;
        if (ttl < 0)
        {
            ctx.Error("ERR Invalid TTL value, must be >= 0");
            return;
        }
        var key = ctx.Arg(1);
        var db = ctx.Db;
        if (!replace && db.LookupWrite(key) != null)
        {
            ctx.Error("BUSYKEY Target key name already exists.");
            return;
        }
        var value = ParseDumpPayload(ctx.Arg(3), DeepSanitize(ctx), SkipChecksumValidation, out var error, out var corruption);
        if (value == null)
        {
            // rdbReportError in a RESTORE context: logged at verbose level, the server goes on.
            if (corruption != null) ctx.Server.Log.Verbose("Internal error in RDB reading offset 0 -> " + corruption);
            ctx.Error(error!);
            return;
        }
        long when = ttl == 0 ? -1 : absTtl ? ttl : ctx.NowMs + ttl;
        bool deleted = replace && db.Delete(key);
        if (when != -1 && when <= ctx.NowMs)
        {
            // Already expired: Redis replies OK and (if REPLACE removed something) propagates DEL.
            if (deleted)
            {
                ctx.KeyChanged(key, 'g', "del");
                if (ctx.Server.Propagator != null)
                    ctx.PropagateAs(ctx.Server.Config.Get("lazyfree-lazy-server-del") == "yes" ? "UNLINK"u8.ToArray() : "DEL"u8.ToArray(), ctx.ArgBytes(1));
            }
            ctx.Reply.WriteOk();
            return;
        }
        db.Set(key, value);
        if (when != -1) db.SetExpire(key, when);
        if (when != -1 && !absTtl && ctx.Server.Propagator != null)
        {
            // A relative TTL reaches replicas and the AOF as an absolute one: the same argv with
            // the ttl replaced and ABSTTL appended (restoreCommand).
            var argv = new byte[ctx.ArgCount + 1][];
            for (int i = 0; i < ctx.ArgCount; i++) argv[i] = ctx.ArgBytes(i);
            argv[2] = System.Text.Encoding.ASCII.GetBytes(when.ToString(System.Globalization.CultureInfo.InvariantCulture));
            argv[^1] = "ABSTTL"u8.ToArray();
            ctx.PropagateAs(argv);
        }
        if (idle >= 0 && !ctx.Keyspace.UseLfu) value.Lru = (uint)Math.Max(0, ctx.Keyspace.LruClock - idle) & Lfu.LruClockMax;
        if (freq >= 0 && ctx.Keyspace.UseLfu) value.Lru = Lfu.Pack(ctx.NowMs / 60000, (int)freq);
        ctx.KeyChanged(key, 'g', "restore");
        ctx.Reply.WriteOk();
    }
}
