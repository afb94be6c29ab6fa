using System.Globalization;
using Cinnabar.Persistence.Formats;
using Cinnabar.Storage;

namespace Cinnabar.Persistence;

/// <summary>What goes into the AUX fields and the header of an RDB, besides the data.</summary>
public sealed class RdbSaveOptions
{
    public bool Compress { get; init; } = true;
    public bool Checksum { get; init; } = true;
    public string RedisVersion { get; init; } = "7.0.15";
    public long UsedMemory { get; init; }
    public string? ReplId { get; init; }
    public long ReplOffset { get; init; }
    public int ReplStreamDb { get; init; }
    public bool AofBase { get; init; }
    /// <summary>"lru", "lfu" or null: whether IDLE/FREQ opcodes are written (Redis does under those policies).</summary>
    public string? EvictionInfo { get; init; }
    /// <summary>Function library sources (FUNCTION LOAD payloads), stored as RDB_OPCODE_FUNCTION2.</summary>
    public IReadOnlyList<byte[]> FunctionLibraries { get; init; } = [];
    /// <summary>Keys serialized per lock acquisition during a background save.</summary>
    public int KeysPerStep { get; init; } = 256;
    /// <summary>The "ctime" aux field, Unix seconds; null means now (tests pin it to stay date-independent).</summary>
    public long? CreationTimeSeconds { get; init; }

    /// <summary>
    /// Called between batches, outside the lock: the server uses it to let clients waiting for
    /// the lock go first (see RedisServer.YieldToClients).
    /// </summary>
    public Action? BetweenSteps { get; init; }

    /// <summary>rdb-key-save-delay in microseconds (0: none); see <see cref="KeySaveDelay"/>.</summary>
    public long KeySaveDelayMicros { get; init; }

    /// <summary>Cancels a save slowed by <see cref="KeySaveDelayMicros"/> (its waits end at once).</summary>
    public CancellationToken Cancel { get; init; }

    /// <summary>Keys saved and copy-on-write memory, for INFO and the "Fork CoW" log lines (background saves).</summary>
    public SaveProgress? Progress { get; init; }
}

/// <summary>Everything read from an RDB besides the keys.</summary>
public sealed class RdbLoadResult
{
    public Dictionary<string, string> Aux { get; } = new(StringComparer.Ordinal);
    public List<byte[]> FunctionLibraries { get; } = new();
    public long KeysLoaded { get; set; }
    public long ExpiredSkipped { get; set; }
    /// <summary>When not null, the (db, key) of every expired key skipped: a master feeds their DELs to its backlog.</summary>
    public List<(int Db, byte[] Key)>? ExpiredKeys { get; set; }
    /// <summary>Empty collections skipped (rdbLoad's RDB_LOAD_ERR_EMPTY_KEY); the first 10 names are kept for the log.</summary>
    public long EmptyKeysSkipped { get; set; }
    public List<byte[]> EmptyKeyNames { get; } = new();
    public int Version { get; set; }
    /// <summary>Bytes consumed up to the checksum: a replica loading from the socket checks what follows (the EOF mark).</summary>
    public long BytesRead { get; set; }
}

/// <summary>
/// Whole-file RDB save and load. Saving walks point-in-time snapshots of every db
/// (<see cref="DbSnapshot"/>): the walker takes the execution lock for a small batch of keys at
/// a time, so writes continue while a background save runs, and the file is still the image of
/// the moment the save started.
/// </summary>
public static class RdbFile
{
    /// <summary>Begins snapshots of all dbs; call under the execution lock.</summary>
    public static List<DbSnapshot> BeginSnapshots(Keyspace ks)
    {
        var list = new List<DbSnapshot>(ks.Count);
        for (int i = 0; i < ks.Count; i++) list.Add(ks[i].BeginSnapshot());
        return list;
    }

    /// <summary>
    /// Writes a complete RDB from snapshots begun with <see cref="BeginSnapshots"/>. Takes
    /// <paramref name="execLock"/> around each batch (the lock is reentrant, so a caller that
    /// already holds it, as SAVE does, simply runs to the end).
    /// </summary>
    public static void Write(Stream output, IReadOnlyList<DbSnapshot> snapshots, object execLock, RdbSaveOptions o)
    {
        var w = new RdbWriter(output, o.Compress, o.Checksum) { DeferFlush = true };
        try
        {
            w.WriteHeader();
            WriteAux(w, o);
            foreach (var lib in o.FunctionLibraries)
            {
                w.WriteByte(Rdb.OpFunction2);
                w.WriteString(lib);
            }
            foreach (var snap in snapshots) WriteDb(w, snap, execLock, o);
            w.WriteEof();
        }
        finally
        {
            lock (execLock)
            {
                foreach (var s in snapshots) s.Db.EndSnapshot(s);
            }
        }
    }

    private static void WriteAux(RdbWriter w, RdbSaveOptions o)
    {
        w.WriteAux("redis-ver", o.RedisVersion);
        w.WriteAux("redis-bits", "64");
        long ctime = o.CreationTimeSeconds ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        w.WriteAux("ctime", ctime.ToString(CultureInfo.InvariantCulture));
        w.WriteAux("used-mem", o.UsedMemory.ToString(CultureInfo.InvariantCulture));
        if (o.ReplId != null)
        {
            w.WriteAux("repl-stream-db", o.ReplStreamDb.ToString(CultureInfo.InvariantCulture));
            w.WriteAux("repl-id", o.ReplId);
            w.WriteAux("repl-offset", o.ReplOffset.ToString(CultureInfo.InvariantCulture));
        }
        w.WriteAux("aof-base", o.AofBase ? "1" : "0");
    }

    private static void WriteDb(RdbWriter w, DbSnapshot snap, object execLock, RdbSaveOptions o)
    {
        if (snap.KeyCount == 0)
        {
            lock (execLock) snap.Db.EndSnapshot(snap);
            return;
        }
        w.WriteByte(Rdb.OpSelectDb);
        w.WriteLength((ulong)snap.DbIndex);
        w.WriteByte(Rdb.OpResizeDb);
        w.WriteLength((ulong)snap.KeyCount);
        w.WriteLength((ulong)snap.ExpiresCount);
        void Emit(byte[] key, RedisObject value, long expireMs) => WriteEntry(w, key, value, expireMs, o);
        // A delayed save goes key by key and waits outside the lock, so clients are served.
        var delay = KeySaveDelay.Create(o.KeySaveDelayMicros, o.Cancel);
        int perStep = delay != null ? 1 : o.KeysPerStep;
        while (true)
        {
            int n;
            lock (execLock)
            {
                n = snap.Step(perStep, Emit);
                if (snap.TableDone) snap.Db.EndSnapshot(snap);
            }
            w.FlushPending();
            o.Progress?.OnKeysSaved(n);
            delay?.Pay(n);
            if (snap.TableDone) break;
            o.BetweenSteps?.Invoke();
        }
        // Preserved entries are clones owned by the snapshot: no lock needed.
        foreach (var (key, value, expire) in snap.TakePreserved())
        {
            WriteEntry(w, key, value, expire, o);
            o.Progress?.OnKeysSaved(1);
            if (delay != null)
            {
                w.FlushPending();
                delay.Pay(1);
            }
        }
    }

    public static void WriteEntry(RdbWriter w, byte[] key, RedisObject value, long expireMs, RdbSaveOptions o)
    {
        if (expireMs >= 0)
        {
            w.WriteByte(Rdb.OpExpireTimeMs);
            w.WriteMillis(expireMs);
        }
        if (o.EvictionInfo == "lru")
        {
            w.WriteByte(Rdb.OpIdle);
            w.WriteLength(0);
        }
        else if (o.EvictionInfo == "lfu")
        {
            w.WriteByte(Rdb.OpFreq);
            w.WriteByte((byte)Lfu.Counter(value.Lru));
        }
        w.WriteByte(RdbValueCodec.TypeOf(value));
        w.WriteString(key);
        RdbValueCodec.WriteBody(w, value);
    }

    /// <summary>
    /// Loads an RDB into the keyspace (which the caller has emptied). Expired keys are skipped
    /// when <paramref name="skipExpired"/> (masters), kept on replicas as Redis does.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    /// <param name="onKey">Called after each key is read (key-load-delay hooks in here).</param>
    public static RdbLoadResult Load(Stream input, Keyspace ks, bool skipExpired, long nowMs, bool deepIntegrity = false, Action? onKey = null, bool keepExpiredKeys = false)
    {
        var r = new RdbReader(input) { DeepIntegrity = deepIntegrity };
        var result = new RdbLoadResult { ExpiredKeys = keepExpiredKeys ? [] : null };
        r.ReadHeader(out int version);
        result.Version = version;
        Db db = ks[0];
        long expire = -1;
        int lfuFreq = -1;
        while (true)
        {
            byte type = r.ReadByte();
            switch (type)
            {
                case Rdb.OpExpireTimeMs:
                    expire = r.ReadMillis();
                    continue;
                case Rdb.OpExpireTime:
                    expire = (long)(uint)r.ReadInt32LE() * 1000;
                    continue;
                case Rdb.OpIdle:
                    r.ReadLength();
                    continue;
                case Rdb.OpFreq:
                    lfuFreq = r.ReadByte();
                    continue;
                case Rdb.OpSelectDb:
                {
                    int idx = r.ReadLengthInt();
                    if (idx >= ks.Count) throw new InvalidDataException($"FATAL: Data file was created with a Redis server configured to handle more than {ks.Count} databases. Exiting");
                    db = ks[idx];
                    continue;
                }
                case Rdb.OpResizeDb:
                {
                    long keys = (long)Math.Min(r.ReadLength(), long.MaxValue);
                    long expires = (long)Math.Min(r.ReadLength(), long.MaxValue);
                    // Only an empty db is pre-sized: a merge (DEBUG RELOAD NOFLUSH) adds to what is there.
                    // A key takes at least 3 bytes of the file: a corrupt size cannot reserve more.
                    long most = Math.Min(r.KnownRemaining / 3, 1L << 26);
                    if (db.Count == 0) db.Reserve(Math.Min(keys, most), Math.Min(expires, most));
                    continue;
                }
                case Rdb.OpAux:
                {
                    string k = r.ReadStringUtf8();
                    string v = r.ReadStringUtf8();
                    result.Aux[k] = v;
                    continue;
                }
                case Rdb.OpModuleAux:
                    throw new InvalidDataException("The RDB file contains AUX module data I can't load: no matching module");
                case Rdb.OpFunction2:
                    result.FunctionLibraries.Add(r.ReadString());
                    continue;
                case Rdb.OpFunctionPre:
                    throw new InvalidDataException("Pre-release function format not supported");
                case Rdb.OpEof:
                    VerifyChecksum(r, version);
                    result.BytesRead = r.Position;
                    return result;
            }
            if (!RdbValueCodec.IsValueType(type)) throw new InvalidDataException($"Unknown RDB opcode {type}");
            byte[] key = r.ReadString();
            RedisObject value;
            try
            {
                value = RdbValueCodec.Read(r, type);
            }
            catch (RdbEmptyKeyException)
            {
                if (result.EmptyKeysSkipped++ < 10) result.EmptyKeyNames.Add(key);
                expire = -1;
                lfuFreq = -1;
                continue;
            }
            if (skipExpired && expire >= 0 && expire < nowMs)
            {
                result.ExpiredSkipped++;
                result.ExpiredKeys?.Add((db.Index, key));
            }
            else
            {
                db.Add(key, value);
                if (lfuFreq >= 0) value.Lru = Lfu.Pack(nowMs / 60000, lfuFreq);
                if (expire >= 0) db.SetExpire(key, expire);
                result.KeysLoaded++;
            }
            onKey?.Invoke();
            expire = -1;
            lfuFreq = -1;
        }
    }

    private static void VerifyChecksum(RdbReader r, int version)
    {
        if (version < 5) return;
        ulong computed = r.ConsumedCrc();
        ulong expected = r.ReadUInt64LE();
        if (expected != 0 && expected != computed)
            // rdbLoad: "Wrong RDB checksum expected: ... Aborting now." then rdbReportCorruptRDB("RDB CRC error").
            throw RdbCorrupt.Error($"RDB CRC error (wrong RDB checksum expected: ({expected:x}) got ({computed:x}))");
    }
}
