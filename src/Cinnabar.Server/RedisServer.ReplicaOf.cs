using System.Globalization;
using System.Net.Sockets;
using Cinnabar.Persistence;
using Cinnabar.Replication;
using Cinnabar.Storage;

namespace Cinnabar.Server;

// Role changes (Redis's replicationSetMaster / replicationUnsetMaster) and loading a full sync.
// Promotion follows PSYNC2: the old replication ID is kept as replid2 so former siblings can
// PSYNC. A full sync is loaded from a temporary file (repl-diskless-load disabled) or parsed from
// the socket (on-empty-db into the flushed keyspace, swapdb into a separate keyspace swapped in on
// success so a broken transfer keeps the old data; see docs/design/replication.md).
public sealed partial class RedisServer
{
    /// <summary>A client that applies the master's stream: bypasses auth, read-only and OOM checks.</summary>
    public Client CreateMasterClient()
    {
        var c = CreateFakeClient();
        c.Flags |= ClientFlags.Master;
        return c;
    }

    /// <summary>
    /// Redis's replicationSetMaster. Our own replicas stay connected: they may continue partially
    /// with us, and are disconnected only when our history changes (a new replication ID from the
    /// new master, or a full sync). Clients blocked on keys or WAIT are released with -UNBLOCKED.
    /// </summary>
    public void ReplicaOf(string host, int port)
    {
        bool wasMaster = !IsReplica;
        // Redis clears masterhost before freeing the old master client: those lines carry 'M'.
        Log.Role = 'M';
        if (Repl.Link?.Connected == true) Repl.CachedMaster = true;
        int streamDb = Repl.Link?.StreamDb ?? 0;
        Repl.Link?.Stop(logLostMaster: true);
        DisconnectAllBlockedClients();
        Repl.MasterHost = host;
        Repl.MasterPort = port;
        // CONFIG REWRITE writes the current master (Redis's rewriteConfigReplicaOfOption).
        Config.Set("replicaof", $"{host} {port}", startup: true);
        RoleName = "slave";
        Log.Role = 'S';
        if (wasMaster)
        {
            Log.Notice("Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.");
            Repl.CachedMaster = true;
        }
        UpdateExpireOnAccess();
        Log.Notice($"Connecting to MASTER {host}:{port}");
        Repl.Link = new MasterLink(this, host, port) { StreamDb = wasMaster ? 0 : streamDb };
        Repl.Link.Start();
        OomScoreAdjuster.Apply(Config, Log);
    }

    /// <summary>
    /// Redis's replicationUnsetMaster (REPLICAOF NO ONE, PSYNC FAILOVER, an aborted failover).
    /// PSYNC2: the old history becomes replid2 so former siblings can continue from it; our own
    /// replicas are disconnected to learn the new ID, and our stream restarts with a SELECT.
    /// </summary>
    public void ReplicaOfNoOne()
    {
        if (!IsReplica) return;
        bool hadCachedMaster = Repl.Link?.Connected == true || Repl.CachedMaster;
        Repl.CachedMaster = false;
        Log.Role = 'M';
        Repl.Link?.Stop(logLostMaster: true);
        Repl.Link = null;
        if (hadCachedMaster) Log.Notice("Discarding previously cached master state.");
        Repl.MasterHost = null;
        Repl.MasterPort = 0;
        Config.Set("replicaof", "", startup: true);
        RoleName = "master";
        UpdateExpireOnAccess();
        Repl.ReplId2 = Repl.ReplId;
        Repl.SecondReplOffset = Repl.MasterReplOffset + 1;
        Repl.ReplId = ReplicationState.NewReplId();
        Log.Warning($"Setting secondary replication ID to {Repl.ReplId2}, valid up to offset: {Repl.SecondReplOffset}. New replication ID is {Repl.ReplId}");
        DisconnectSubReplicas();
        if (_replFeed != null) ResetSelectedDb(_replFeed);
        OomScoreAdjuster.Apply(Config, Log);
    }

    /// <summary>Redis's disconnectAllBlockedClients (becoming a replica): -UNBLOCKED, then close after the reply.</summary>
    private void DisconnectAllBlockedClients()
    {
        foreach (var c in _clients.Values)
        {
            if (c.BlockState == null) continue;
            c.Flags |= ClientFlags.CloseAfterReply;
            Unblock(c, timedOut: false, write: true, error: Errors.UnblockedRoleChange);
        }
    }

    /// <summary>Redis's disconnectSlaves: each replica is dropped now (no more stream) and will reconnect.</summary>
    public void DisconnectSubReplicas()
    {
        foreach (var r in Repl.Replicas.ToArray())
        {
            DropReplica(r);
            r.Client.Close();
        }
    }

    // ---------------------------------------------------------------- loading a full sync

    /// <summary>INFO's async_loading: a swapdb load of our own history, reads served from the old data meanwhile.</summary>
    public bool AsyncLoading { get; private set; }

    /// <summary>Redis's useDisklessLoad: swapdb always, on-empty-db only when no key exists.</summary>
    internal bool UseDisklessLoad()
    {
        lock (ExecLock)
            return Config.ReplDisklessLoad == "swapdb" || (Config.ReplDisklessLoad == "on-empty-db" && Keyspace.TotalKeys() == 0);
    }

    /// <summary>
    /// Redis's replicationAttachToNewMaster, before the dataset is replaced: the cached master is
    /// discarded, our replicas must resync with us, and our backlog no longer describes our data.
    /// </summary>
    private void AttachToNewMaster()
    {
        if (Repl.CachedMaster) Log.Notice("Discarding previously cached master state.");
        Repl.CachedMaster = false;
        DisconnectSubReplicas();
        Repl.Backlog = null;
    }

    /// <summary>Redis's emptyData before a load: every db flushed, WATCHes on existing keys invalidated.</summary>
    internal void FlushForSync()
    {
        for (int i = 0; i < Keyspace.Count; i++) TouchWatchedKeysOnFlush(i, null);
        Keyspace.FlushAll();
        Tracking.InvalidateAllOnFlush();
    }

    /// <summary>Replaces the dataset with a full sync's RDB saved to disk (called from the master link task).</summary>
    internal void LoadFullSyncRdb(string path, string replId, long offset)
    {
        string rdbPath = RdbPath;
        lock (ExecLock)
        {
            AttachToNewMaster();
            Log.Notice("MASTER <-> REPLICA sync: Flushing old data");
            FlushForSync();
            Log.Notice("MASTER <-> REPLICA sync: Loading DB in memory");
            UpdateCachedTime();
            // As Redis, the received file becomes our dbfilename (a restart resumes from it).
            try
            {
                File.Move(path, rdbPath, overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"Failed trying to rename the temp DB into {Path.GetFileName(rdbPath)} in MASTER <-> REPLICA synchronization: {e.Message}");
                throw new HandshakeEndedException(reconnectNow: true);
            }
            Rdb.Loading = true;
            Rdb.LoadingStartUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            // Redis's rdbLoad serves events only every loading-process-events-interval-bytes: a
            // small file loads with everyone waiting (no -LOADING at all), as here under the lock.
            long interval = long.TryParse(ConfigOr("loading-process-events-interval-bytes", "2097152"), NumberStyles.Integer, CultureInfo.InvariantCulture, out long iv) ? iv : 2097152;
            if (new FileInfo(rdbPath).Length < interval)
            {
                var (r, f) = ParseSyncRdb(rdbPath);
                FinishSyncRdbLoad(r, f, rdbPath, replId, offset);
                return;
            }
        }
        // A big one is parsed outside the execution lock: clients get -LOADING meanwhile (INFO
        // answers loading:1) and the cluster bus keeps talking.
        var (result, failure) = ParseSyncRdb(rdbPath);
        lock (ExecLock) FinishSyncRdbLoad(result, failure, rdbPath, replId, offset);
    }

    private (RdbLoadResult? Result, string? Failure) ParseSyncRdb(string rdbPath)
    {
        try
        {
            using var fs = new FileStream(rdbPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            return (RdbFile.Load(fs, Keyspace, skipExpired: false, Keyspace.NowMs, DeepSanitizeLoads, KeyLoadDelay()), null);
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException)
        {
            return (null, $"Failed trying to load the MASTER synchronization DB from disk: {e.Message}");
        }
    }

    /// <summary>The end of a disk-based full sync load (lock held).</summary>
    private void FinishSyncRdbLoad(RdbLoadResult? result, string? failure, string rdbPath, string replId, long offset)
    {
        Rdb.Loading = false;
        if (failure != null || result == null)
        {
            Log.Warning(failure ?? "Failed trying to load the MASTER synchronization DB from disk");
            FlushForSync();
            throw new HandshakeEndedException(reconnectNow: true);
        }
        LogSyncRdbLoaded(result);
        if (result.FunctionLibraries.Count > 0) FunctionLibrariesLoaded?.Invoke(result.FunctionLibraries);
        RemoveSyncRdbIfUnwanted(rdbPath);
        FinishFullSync(replId, offset);
    }

    /// <summary>key-load-delay (a test knob): a pause after every key loaded, in microseconds. The
    /// pauses add up to the exact total (10000 keys at 1500 us take 15 s, as in Redis): time owed is
    /// slept in whole milliseconds once it reaches one, and values under 1 ms spin.</summary>
    internal Action? KeyLoadDelay()
    {
        if (Config.KeyLoadDelayMicros <= 0) return null;
        long freq = System.Diagnostics.Stopwatch.Frequency;
        long due = System.Diagnostics.Stopwatch.GetTimestamp();
        return () =>
        {
            long us = Config.KeyLoadDelayMicros; // CONFIG SET during the load takes effect at once
            if (us <= 0) return;
            long now = System.Diagnostics.Stopwatch.GetTimestamp();
            due = Math.Max(due, now - freq / 100) + us * freq / 1_000_000;
            if (us < 1000)
            {
                while (System.Diagnostics.Stopwatch.GetTimestamp() < due) Thread.SpinWait(20);
                return;
            }
            long owedMs = (due - now) * 1000 / freq;
            if (owedMs >= 1) Thread.Sleep((int)Math.Min(owedMs, int.MaxValue));
        };
    }

    /// <summary>rdb-del-sync-files: a replica without any persistence does not keep the master's RDB.</summary>
    private void RemoveSyncRdbIfUnwanted(string rdbPath)
    {
        if (!Config.RdbDelSyncFiles || Aof.Enabled || SavePoints().Count > 0) return;
        Log.Notice("Removing the RDB file obtained from the master. This replica has persistence disabled");
        try { File.Delete(rdbPath); } catch (IOException) { }
    }

    /// <summary>
    /// Diskless load (repl-diskless-load swapdb / on-empty-db), called from the master link task
    /// with the payload stream. The parser runs outside the execution lock: with on-empty-db it
    /// fills the flushed keyspace while clients get -LOADING; with swapdb it fills a separate
    /// keyspace swapped in only on success, so a failed transfer leaves the old dataset in place.
    /// A swapdb load of our own history (same replication ID) is Redis's async loading: reads are
    /// served from the old dataset meanwhile. <paramref name="endOk"/> checks what follows the RDB.
    /// </summary>
    internal void LoadFullSyncFromSocket(Stream payload, Func<long, bool> endOk, string replId, long offset)
    {
        Keyspace? temp = null;
        long nowMs;
        lock (ExecLock)
        {
            if (Config.ReplDisklessLoad == "swapdb")
            {
                temp = new Keyspace(Keyspace.Count)
                {
                    ExpireOnAccess = false,
                    UseLfu = Keyspace.UseLfu,
                    LfuLogFactor = Keyspace.LfuLogFactor,
                    LfuDecayTime = Keyspace.LfuDecayTime,
                };
                AsyncLoading = string.Equals(replId, Repl.ReplId, StringComparison.OrdinalIgnoreCase);
            }
            else
            {
                AttachToNewMaster();
                Log.Notice("MASTER <-> REPLICA sync: Flushing old data");
                FlushForSync();
            }
            Log.Notice("MASTER <-> REPLICA sync: Loading DB in memory");
            UpdateCachedTime();
            nowMs = Keyspace.NowMs;
            if (temp != null) temp.NowMs = nowMs;
            if (!AsyncLoading)
            {
                Rdb.Loading = true;
                Rdb.LoadingStartUnix = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            }
        }
        RdbLoadResult? result = null;
        string? failure = null;
        try
        {
            result = RdbFile.Load(payload, temp ?? Keyspace, skipExpired: false, nowMs, DeepSanitizeLoads, KeyLoadDelay());
            if (!endOk(result.BytesRead)) failure = "Replication stream EOF marker is broken";
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException or SocketException or ObjectDisposedException)
        {
            // A short read (the master went away mid-transfer) is not a corrupt payload: Redis's
            // rdbReportError logs it this way and resumes (tools and tests wait for these words).
            if (e is not InvalidDataException)
            {
                long at = 0;
                try { at = payload.Position; } catch (NotSupportedException) { }
                Log.Warning($"Internal error in RDB reading offset {at}, function at rdb.c:0 -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.");
            }
            failure = $"Failed trying to load the MASTER synchronization DB from socket: {e.Message}";
        }
        lock (ExecLock)
        {
            Rdb.Loading = false;
            AsyncLoading = false;
            if (failure != null || result == null)
            {
                Log.Warning(failure ?? "Failed trying to load the MASTER synchronization DB from socket");
                if (temp != null) Log.Notice("MASTER <-> REPLICA sync: Discarding temporary DB in background");
                else FlushForSync(); // the half-loaded data of an empty replica
                throw new HandshakeEndedException(reconnectNow: true);
            }
            LogSyncRdbLoaded(result);
            if (temp != null) SwapInLoadedDataset(temp);
            if (result.FunctionLibraries.Count > 0) FunctionLibrariesLoaded?.Invoke(result.FunctionLibraries);
            // Nothing was saved on disk: the dataset differs from any dump.rdb (Redis's dirty++).
            Dirty++;
            FinishFullSync(replId, offset);
        }
    }

    /// <summary>During async loading commands flagged no_async_loading get -LOADING (EXEC: any queued one).</summary>
    private string? AsyncLoadingCheck(Client c, CommandDef cmd)
    {
        if (!AsyncLoading || (c.Flags & ClientFlags.Master) != 0) return null;
        if (cmd.Is(CommandFlags.NoAsyncLoading)) return Errors.Loading;
        if (cmd.Name == "exec" && c.MultiQueue != null)
        {
            foreach (var queued in c.MultiQueue)
            {
                var q = Commands.Lookup(queued[0]);
                if (q?.Subcommands != null && queued.Length > 1) q = CommandTable.LookupSub(q, queued[1]);
                if (q != null && q.Is(CommandFlags.NoAsyncLoading)) return Errors.Loading;
            }
        }
        return null;
    }

    /// <summary>Redis's swapMainDbWithTempDb: WATCHes and blocked clients see the new dataset.</summary>
    private void SwapInLoadedDataset(Keyspace loaded)
    {
        AttachToNewMaster();
        Log.Notice("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
        var dbs = new Db[loaded.Count];
        for (int i = 0; i < dbs.Length; i++)
        {
            dbs[i] = loaded[i];
            TouchWatchedKeysOnFlush(i, dbs[i]);
        }
        Keyspace.ReplaceAll(dbs);
        for (int i = 0; i < dbs.Length; i++) SignalReadyKeysAfterSwap(i, i);
        ServeReadyKeys();
        Log.Notice("MASTER <-> REPLICA sync: Discarding old DB in background");
    }

    /// <summary>rdbLoad's lines as a replica prints them while loading a full sync.</summary>
    private void LogSyncRdbLoaded(RdbLoadResult result)
    {
        if (result.Aux.TryGetValue("redis-ver", out var ver)) Log.Notice($"Loading RDB produced by version {ver}");
        if (result.Aux.TryGetValue("ctime", out var ctime) && long.TryParse(ctime, NumberStyles.Integer, CultureInfo.InvariantCulture, out long ct))
            Log.Notice($"RDB age {Math.Max(0, DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ct)} seconds");
        if (result.Aux.TryGetValue("used-mem", out var mem) && long.TryParse(mem, NumberStyles.Integer, CultureInfo.InvariantCulture, out long m))
            Log.Notice(string.Create(CultureInfo.InvariantCulture, $"RDB memory usage when created {m / 1024.0 / 1024.0:F2} Mb"));
        Log.Notice($"Done loading RDB, keys loaded: {result.KeysLoaded}, keys expired: {result.ExpiredSkipped}.");
    }

    /// <summary>After a full sync: the master's history becomes ours (no replid2), a fresh backlog at its offset.</summary>
    private void FinishFullSync(string replId, long offset)
    {
        Repl.ReplId = replId;
        Repl.ReplId2 = new string('0', 40);
        Repl.SecondReplOffset = -1;
        Repl.Offset = offset;
        Repl.Backlog = new ReplicationBacklog(BacklogSize, offset);
        if (_replFeed == null)
        {
            _replFeed = new ReplicationFeed(this);
            AddStreamConsumer(_replFeed, isReplication: true);
        }
        Log.Notice("MASTER <-> REPLICA sync: Finished with success");
        // Rewrite the AOF after a full sync, as Redis restarts it.
        if (Aof.Enabled && !Aof.RewriteInProgress) StartAofRewrite();
    }
}
