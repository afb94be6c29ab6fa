using System.Diagnostics;
using Cinnabar.Persistence;
using Cinnabar.Persistence.Aof;
using Cinnabar.Protocol;
using Cinnabar.Storage;
using Microsoft.Win32.SafeHandles;

namespace Cinnabar.Server;

/// <summary>State behind INFO persistence's aof_* fields.</summary>
public sealed class AofState
{
    public bool Enabled;
    public bool RewriteInProgress;
    public bool RewriteScheduled;
    public long LastRewriteTimeSec = -1;
    public long CurrentRewriteStartMs;
    public bool LastBgrewriteOk = true;
    public long Rewrites;
    public bool LastWriteOk = true;
    public string? LastWriteError;
    public long CurrentSize;
    public long BaseSize;
    public long DelayedFsync;
}

// Redis 7 multi-part AOF: appenddirname/ holds a base (an RDB named .base.rdb by default, or
// commands named .base.aof with aof-use-rdb-preamble no), incr files of RESP commands, and a
// manifest. Loading tells a base's kind by its content ("REDIS" magic), as Redis does. Propagated writes are buffered during a batch and written
// before replies are sent (AfterBatch); appendfsync always fsyncs there too, everysec on a
// timer, no leaves it to the OS. BGREWRITEAOF opens a new incr file at once (so nothing written
// meanwhile is lost), writes a new base from a point-in-time snapshot in the background, then
// swaps the manifest atomically and deletes the old files.
public sealed partial class RedisServer : ICommandStreamConsumer
{
    public AofState Aof { get; } = new();
    private AofManifest? _aofManifest;
    private SafeFileHandle? _aofHandle;
    private long _aofOffset;
    private readonly RespWriter _aofBuffer = new(64 * 1024);
    /// <summary>Bytes waiting in the AOF buffer for the next write (INFO mem_aof_buffer).</summary>
    public long AofBufferBytes => _aofBuffer.Length;
    private readonly object _aofFileLock = new();
    private Timer? _aofFsyncTimer;
    private bool _aofFsyncNeeded;

    private string AofDir => Path.Combine(Config.Dir, ConfigOr("appenddirname", "appendonlydir"));
    private string AofPrefix => ConfigOr("appendfilename", "appendonly.aof");
    private string AppendFsync => Config.AppendFsync;
    public bool AofConfigured => ConfigOr("appendonly", "no") == "yes";

    void ICommandStreamConsumer.Append(ReadOnlySpan<byte> resp)
    {
        // aof-timestamp-enabled: a "#TS:<unix time>" annotation whenever the second changed.
        if (Config.AofTimestampEnabled)
        {
            long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            if (now > _aofCurrentTimestamp)
            {
                _aofCurrentTimestamp = now;
                _aofBuffer.WriteRaw(TimestampAnnotation(now));
            }
        }
        _aofBuffer.WriteRaw(resp);
    }

    private long _aofCurrentTimestamp;

    private static byte[] TimestampAnnotation(long unixSeconds) =>
        System.Text.Encoding.ASCII.GetBytes($"#TS:{unixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}\r\n");

    /// <summary>DEBUG AOF-FLUSH-SLEEP (microseconds; 0: off).</summary>
    internal long AofFlushSleepMicros;

    /// <summary>Writes buffered commands to the current incr file (lock held, before replies go out).</summary>
    private void FlushAofBuffer()
    {
        if (_aofBuffer.Length == 0 || _aofHandle == null) return;
        // DEBUG AOF-FLUSH-SLEEP: a pause before each write, for tests of write/reply ordering.
        if (AofFlushSleepMicros > 0) Thread.Sleep(TimeSpan.FromMicroseconds(AofFlushSleepMicros));
        try
        {
            lock (_aofFileLock)
            {
                RandomAccess.Write(_aofHandle, _aofBuffer.Written.Span, _aofOffset);
                _aofOffset += _aofBuffer.Length;
                Aof.CurrentSize += _aofBuffer.Length;
                if (AppendFsync == "always") RandomAccess.FlushToDisk(_aofHandle);
                else _aofFsyncNeeded = true;
            }
            if (!Aof.LastWriteOk) Log.Warning("AOF write error looks solved, Redis can write again.");
            Aof.LastWriteOk = true;
            _aofBuffer.Clear();
            _aofBuffer.TrimIfIdle(1 << 20);
        }
        catch (IOException e)
        {
            // Like flushAppendOnlyFile: with appendfsync always an acknowledged write could be
            // lost, so Redis exits; otherwise the buffer is kept and retried (next batch, or the
            // cron every second) while write commands get -MISCONF. Positional writes at the
            // last good offset overwrite any partial write, as Redis's ftruncate does.
            string error = IoErrorText(e);
            if (Aof.LastWriteOk || error != Aof.LastWriteError) Log.Warning($"Error writing to the AOF file: {error}");
            Aof.LastWriteOk = false;
            Aof.LastWriteError = error;
            if (AppendFsync == "always")
            {
                Log.Warning("Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting...");
                Environment.Exit(1);
            }
        }
    }

    private void AofFsyncTick()
    {
        var h = _aofHandle;
        if (h == null || !_aofFsyncNeeded || AppendFsync != "everysec") return;
        long start = Stopwatch.GetTimestamp();
        lock (_aofFileLock)
        {
            _aofFsyncNeeded = false;
            try { RandomAccess.FlushToDisk(h); }
            catch (IOException e) { Log.Warning("Can't fsync the AOF: " + e.Message); }
            catch (ObjectDisposedException) { }
        }
        LatencyMeasure("aof-fsync-always", start);
    }

    private string? AofWriteCheck(Client c, CommandDef cmd)
    {
        if (Aof.LastWriteOk || !Aof.Enabled || !DeniedOnDiskError(c, cmd)) return null;
        return "MISCONF Errors writing to the AOF file: " + Aof.LastWriteError;
    }

    private AofManifest? ReadManifest()
    {
        string path = Path.Combine(AofDir, AofManifest.ManifestName(AofPrefix));
        if (!File.Exists(path)) return null;
        return AofManifest.Parse(File.ReadAllBytes(path));
    }

    /// <summary>aofLoadManifestFromFile's fatal report, before the server exits.</summary>
    private void LogManifestError(AofManifestException e)
    {
        Log.Warning("\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
        if (e.Line != null)
        {
            Log.Warning($"Reading the manifest file, at line {e.LineNumber}\n");
            Log.Warning($">>> '{e.Line}'\n");
        }
        Log.Warning(e.Message + "\n");
    }

    private void PersistManifest(AofManifest m)
    {
        Directory.CreateDirectory(AofDir);
        string tmp = Path.Combine(AofDir, AofManifest.TempManifestName(AofPrefix));
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            var bytes = System.Text.Encoding.UTF8.GetBytes(m.Format());
            fs.Write(bytes);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, Path.Combine(AofDir, AofManifest.ManifestName(AofPrefix)), overwrite: true);
        _aofManifest = m;
    }

    /// <summary>Opens a new incr file and makes it the write target (lock held).</summary>
    private void OpenNewIncr(AofManifest m)
    {
        FlushAofBuffer();
        long seq = m.CurrentIncrSeq + 1;
        string name = AofManifest.IncrName(AofPrefix, seq);
        Directory.CreateDirectory(AofDir);
        var handle = File.OpenHandle(Path.Combine(AofDir, name), FileMode.Create, FileAccess.Write, FileShare.Read);
        var info = new AofFileInfo(name, seq, AofFileType.Incr);
        m.Incrs.Add(info);
        m.CurrentIncrSeq = seq;
        try
        {
            PersistManifest(m);
        }
        catch
        {
            // The manifest on disk still names the previous files: forget this one.
            m.Incrs.Remove(info);
            m.CurrentIncrSeq = seq - 1;
            handle.Dispose();
            DeleteQuietly(Path.Combine(AofDir, name));
            throw;
        }
        lock (_aofFileLock)
        {
            var old = _aofHandle;
            if (old != null)
            {
                RandomAccess.FlushToDisk(old);
                old.Dispose();
            }
            _aofHandle = handle;
            _aofOffset = 0;
        }
        ResetSelectedDb(this);
        Log.Notice($"Creating AOF incr file {name} on {(Aof.RewriteInProgress ? "background rewrite" : "server start")}");
    }

    /// <summary>Startup with appendonly yes: load the AOF (which wins over the RDB), then open it for writing.</summary>
    public void StartAofAtStartup()
    {
        AofManifest? m;
        try
        {
            m = ReadManifest();
        }
        catch (AofManifestException e)
        {
            LogManifestError(e);
            throw new InvalidOperationException(e.Message, e);
        }
        try
        {
            m = UpgradeOldStyleAof(m);
            if (m != null && (m.Base != null || m.Incrs.Count > 0)) LoadAof(m);
        }
        catch (InvalidOperationException e)
        {
            // The reason is the last line of the log, as Redis exits right after it.
            Log.Warning(e.Message);
            throw;
        }
        m ??= new AofManifest();
        lock (ExecLock)
        {
            if (m.Base == null && m.Incrs.Count == 0)
            {
                // Like Redis 7.0: an empty start creates the base synchronously so the directory
                // is complete at once (incr files without a base are kept as they are).
                WriteAofBaseSync(m);
            }
            OpenNewIncrIfNeeded(m);
            EnableAofWriting();
        }
    }

    /// <summary>
    /// loadAppendOnlyFiles's upgrade from a pre-7.0 single AOF: when dir/appendfilename exists and
    /// the AOF directory is missing, or its manifest names no files, or names only that file as
    /// the base without it being there (an interrupted upgrade), the file becomes the base (seq 1)
    /// of a new manifest and moves into the directory.
    /// </summary>
    private AofManifest? UpgradeOldStyleAof(AofManifest? m)
    {
        string oldPath = Path.Combine(Config.Dir, AofPrefix);
        if (!File.Exists(oldPath)) return m;
        bool upgrade = !Directory.Exists(AofDir)
            || m == null || (m.Base == null && m.Incrs.Count == 0)
            || (m.Base != null && m.Incrs.Count == 0 && m.Base.Name == AofPrefix && !File.Exists(Path.Combine(AofDir, AofPrefix)));
        if (!upgrade) return m;
        m ??= new AofManifest();
        m.Base = new AofFileInfo(AofPrefix, 1, AofFileType.Base);
        m.CurrentBaseSeq = 1;
        try
        {
            PersistManifest(m);
            File.Move(oldPath, Path.Combine(AofDir, AofPrefix));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Error trying to move the old AOF file {AofPrefix} into dir {ConfigOr("appenddirname", "appendonlydir")}: {IoErrorText(e)}");
        }
        Log.Notice($"Successfully migrated an old-style AOF file ({AofPrefix}) into the AOF directory ({ConfigOr("appenddirname", "appendonlydir")}).");
        return m;
    }

    private void OpenNewIncrIfNeeded(AofManifest m)
    {
        if (m.Incrs.Count > 0)
        {
            var last = m.Incrs[^1];
            string path = Path.Combine(AofDir, last.Name);
            var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.Read);
            _aofHandle = handle;
            _aofOffset = RandomAccess.GetLength(handle);
            _aofManifest = m;
            Log.Notice($"Opening AOF incr file {last.Name} on server start");
            return;
        }
        OpenNewIncr(m);
    }

    private void EnableAofWriting()
    {
        Aof.Enabled = true;
        AddStreamConsumer(this);
        ResetSelectedDb(this);
        _aofFsyncTimer ??= new Timer(_ => AofFsyncTick(), null, 1000, 1000);
        Aof.CurrentSize = AofTotalSize();
    }

    private long AofTotalSize()
    {
        long total = 0;
        if (_aofManifest == null) return 0;
        foreach (var f in _aofManifest.Incrs.Append(_aofManifest.Base!))
        {
            if (f == null) continue;
            var fi = new FileInfo(Path.Combine(AofDir, f.Name));
            if (fi.Exists) total += fi.Length;
        }
        return total;
    }

    private void WriteAofBaseSync(AofManifest m)
    {
        long seq = m.CurrentBaseSeq + 1;
        bool rdb = Config.AofUseRdbPreamble;
        string name = AofManifest.BaseName(AofPrefix, seq, rdb);
        Directory.CreateDirectory(AofDir);
        Log.Notice($"Creating AOF base file {name} on server start");
        string path = Path.Combine(AofDir, name);
        using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
        {
            WriteAofBase(fs, RdbFile.BeginSnapshots(Keyspace), rdb ? RdbOptions(aofBase: true) : null);
            fs.Flush(flushToDisk: true);
        }
        m.Base = new AofFileInfo(name, seq, AofFileType.Base);
        m.CurrentBaseSeq = seq;
        Aof.BaseSize = new FileInfo(path).Length;
        PersistManifest(m);
    }

    /// <summary>
    /// The base file's body (lock held): an RDB (aof-use-rdb-preamble yes, options given) or
    /// commands (aof-use-rdb-preamble no, Redis's rewriteAppendOnlyFileRio).
    /// </summary>
    private void WriteAofBase(Stream output, List<DbSnapshot> snaps, RdbSaveOptions? rdbOptions)
    {
        if (rdbOptions != null) RdbFile.Write(output, snaps, ExecLock, rdbOptions);
        else
        {
            // A rewritten AOF starts with a timestamp annotation when they are enabled.
            if (Config.AofTimestampEnabled) output.Write(TimestampAnnotation(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
            AofRewriter.Write(output, snaps, ExecLock, CurrentFunctionLibraries(), YieldToClients);
        }
    }

    /// <summary>CONFIG SET appendonly yes|no at runtime (lock held).</summary>
    public string? SetAppendOnly(bool on)
    {
        if (on == Aof.Enabled && !Aof.RewriteInProgress) return null;
        if (!on)
        {
            if (!Aof.Enabled && !_aofEnablePending) return null;
            _aofEnablePending = false;
            Aof.RewriteScheduled = false;
            FlushAofBuffer();
            RemoveStreamConsumer(this);
            lock (_aofFileLock)
            {
                if (_aofHandle != null)
                {
                    RandomAccess.FlushToDisk(_aofHandle);
                    _aofHandle.Dispose();
                    _aofHandle = null;
                }
            }
            Aof.Enabled = false;
            KillAofRewriteChild();
            if (_aofWaitRewrite)
            {
                _aofWaitRewrite = false;
                DeleteQuietly(Path.Combine(AofDir, TempIncrName));
            }
            return null;
        }
        if (_atomicDepth > 0)
        {
            // Redis's startAppendOnly inside EXEC (server.in_exec): the rewrite that turns the AOF
            // on is only scheduled; the cron starts it after the transaction.
            _aofEnablePending = true;
            Aof.RewriteScheduled = true;
            Log.Warning("AOF was enabled during a transaction. An AOF background was scheduled to start when possible.");
            return null;
        }
        return StartAofRewrite(enabling: true);
    }

    /// <summary>CONFIG SET appendonly yes ran inside EXEC: the scheduled rewrite also turns the AOF on.</summary>
    private bool _aofEnablePending;

    /// <summary>BGREWRITEAOF (lock held). Returns an error, or null when started/scheduled.</summary>
    public string? StartAofRewrite(bool enabling = false, bool schedule = false)
    {
        if (Aof.RewriteInProgress) return "ERR Background append only file rewriting already in progress";
        if (Rdb.BgsaveInProgress)
        {
            // startAppendOnly with a child active: AOF_WAIT_REWRITE, the rewrite runs later.
            if (enabling) _aofEnablePending = true;
            Aof.RewriteScheduled = true;
            return null;
        }
        AofManifest m;
        try
        {
            m = _aofManifest ?? ReadManifest() ?? new AofManifest();
        }
        catch (IOException e)
        {
            Log.Warning($"Can't read the AOF manifest for the background rewrite: {e.Message}");
            Aof.LastBgrewriteOk = false;
            return Errors.AofRewriteFailed;
        }
        // rewriteAppendOnlyFileBackground creates the AOF directory first: a BGREWRITEAOF while
        // the AOF is off still produces a base file and a manifest (DEBUG LOADAOF loads them).
        try
        {
            Directory.CreateDirectory(AofDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open or create append-only dir {Config.AppendDirName}: {IoErrorText(e)}");
            Aof.LastBgrewriteOk = false;
            return Errors.AofRewriteFailed;
        }
        // Buffered commands predate the snapshot: they must reach the old incr file, not the new one.
        FlushAofBuffer();
        if (!Aof.LastWriteOk)
        {
            Aof.LastBgrewriteOk = false;
            return Errors.AofRewriteFailed;
        }
        Aof.RewriteInProgress = true;
        Stats.TotalForks++;
        Aof.CurrentRewriteStartMs = Environment.TickCount64;
        _aofManifest = m;
        if (enabling) _aofWaitRewrite = true;
        try
        {
            // openNewIncrAofForAppend: nothing while the AOF is off; while it is being turned on
            // (AOF_WAIT_REWRITE) a temp incr file outside the manifest collects the writes until
            // the rewrite succeeds; otherwise a new incr file is added to the manifest.
            if (_aofWaitRewrite) OpenTempIncr();
            else if (Aof.Enabled) OpenNewIncr(m);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Can't open new incr AOF file for the background rewrite: {IoErrorText(e)}");
            Aof.RewriteInProgress = false;
            Aof.LastBgrewriteOk = false;
            return Errors.AofRewriteFailed;
        }
        if (enabling) EnableAofWriting();
        var snaps = RdbFile.BeginSnapshots(Keyspace);
        var child = BackgroundChild.Start();
        _aofRewriteChild = child;
        bool rdb = Config.AofUseRdbPreamble;
        var progress = new SaveProgress("AOF rewrite", LogCowSample);
        progress.Attach(snaps);
        Rdb.Child.Begin(progress);
        var options = rdb ? RdbOptions(aofBase: true, child, progress) : null;
        var delay = KeySaveDelay.Create(Config.RdbKeySaveDelayMicros, child.Cancel.Token);
        var libraries = CurrentFunctionLibraries();
        long baseSeq = m.CurrentBaseSeq + 1;
        Log.Notice($"Background append only file rewriting started by pid {child.Pid}");
        // Like Redis's child, the base is written in the working directory, then moved into the AOF dir.
        string tmp = Path.Combine(Config.Dir, $"temp-rewriteaof-bg-{child.Pid}.aof");
        bool timestamps = Config.AofTimestampEnabled;
        BackgroundJobs.Run("aofrewrite", () =>
        {
            bool ok = true;
            long? cowBytes = null;
            try
            {
                using var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
                if (options != null) RdbFile.Write(fs, snaps, ExecLock, options);
                else
                {
                    if (timestamps) fs.Write(TimestampAnnotation(DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
                    AofRewriter.Write(fs, snaps, ExecLock, libraries, YieldToClients, delay, progress);
                }
                fs.Flush(flushToDisk: true);
                Log.Notice($"Successfully created the temporary AOF base file {Path.GetFileName(tmp)}");
                cowBytes = progress.Finish();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                ok = false;
                Log.Warning($"Write error writing append only file on disk: {e.Message}");
            }
            catch (OperationCanceledException)
            {
                ok = false;   // stopped by the server, or its stand-in child killed: reported below
            }
            if (!ok) DeleteQuietly(tmp);
            lock (ExecLock)
            {
                Rdb.Child.End(progress, aof: true, ok ? cowBytes : null);
                // A rewrite the server already stopped (appendonly no) was cleaned up then.
                if (_aofRewriteChild == child)
                {
                    _aofRewriteChild = null;
                    FinishAofRewrite(ok, tmp, baseSeq, rdb, child);
                }
            }
            child.Dispose();
        });
        return null;
    }

    /// <summary>Redis's AOF_WAIT_REWRITE: the AOF is being turned on; writes go to the temp incr file.</summary>
    private bool _aofWaitRewrite;

    /// <summary>stat_aofrw_consecutive_failures.</summary>
    private int _aofRewriteFailures;
    private int _aofLimitDelayMinutes;
    private long _aofLimitNextUnix;

    private string TempIncrName => "temp-" + AofPrefix + ".incr";

    /// <summary>The temp incr file of AOF_WAIT_REWRITE becomes the write target (truncated, outside the manifest).</summary>
    private void OpenTempIncr()
    {
        FlushAofBuffer();
        Directory.CreateDirectory(AofDir);
        var handle = File.OpenHandle(Path.Combine(AofDir, TempIncrName), FileMode.Create, FileAccess.Write, FileShare.Read);
        lock (_aofFileLock)
        {
            _aofHandle?.Dispose();
            _aofHandle = handle;
            _aofOffset = 0;
        }
        ResetSelectedDb(this);
    }

    /// <summary>A rewrite that was to turn the AOF on failed: drop the temp incr and try again (cron).</summary>
    private void RetryAfterFailedEnable()
    {
        if (!_aofWaitRewrite) return;
        _aofBuffer.Clear();
        Log.Notice($"Removing the temp incr aof file {TempIncrName} in the background");
        DeleteQuietly(Path.Combine(AofDir, TempIncrName));
        Aof.RewriteScheduled = true;
    }

    /// <summary>aofDelHistoryFiles: unless aof-disable-auto-gc, history files are deleted and dropped from the manifest (lock held).</summary>
    internal void DeleteAofHistory()
    {
        var m = _aofManifest;
        if (m == null || m.History.Count == 0 || Config.AofDisableAutoGc) return;
        foreach (var h in m.History)
        {
            Log.Notice($"Removing the history file {h.Name} in the background");
            DeleteQuietly(Path.Combine(AofDir, h.Name));
        }
        m.History.Clear();
        try { PersistManifest(m); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { Log.Warning($"Can't persist the AOF manifest: {IoErrorText(e)}"); }
    }

    /// <summary>aofRewriteLimited: after 3 failures in a row, automatic rewrites wait 1, 2, 4 ... 60 minutes.</summary>
    private bool AofRewriteLimited()
    {
        if (_aofRewriteFailures < 3)
        {
            _aofLimitDelayMinutes = 0;
            _aofLimitNextUnix = 0;
            return false;
        }
        long now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (_aofLimitNextUnix != 0)
        {
            if (now < _aofLimitNextUnix) return true;
            _aofLimitNextUnix = 0;
            return false;
        }
        _aofLimitDelayMinutes = Math.Min(_aofLimitDelayMinutes == 0 ? 1 : _aofLimitDelayMinutes * 2, 60);
        _aofLimitNextUnix = now + _aofLimitDelayMinutes * 60L;
        Log.Warning($"Background AOF rewrite has repeatedly failed and triggered the limit, will retry in {_aofLimitDelayMinutes} minutes");
        return true;
    }

    /// <summary>The running rewrite's handle (null when none runs).</summary>
    private BackgroundChild? _aofRewriteChild;

    /// <summary>killAppendOnlyChild: appendonly turned off ends a running rewrite (lock held).</summary>
    private void KillAofRewriteChild()
    {
        var child = _aofRewriteChild;
        if (child == null) return;
        Log.Notice($"Killing running AOF rewrite child: {child.Pid}");
        _aofRewriteChild = null;
        child.Stop();
        DeleteQuietly(Path.Combine(Config.Dir, $"temp-rewriteaof-bg-{child.Pid}.aof"));
        Aof.RewriteInProgress = false;
    }

    private void FinishAofRewrite(bool ok, string tmp, long baseSeq, bool rdb, BackgroundChild child)
    {
        Aof.RewriteInProgress = false;
        Aof.LastRewriteTimeSec = (Environment.TickCount64 - Aof.CurrentRewriteStartMs) / 1000;
        Aof.LastBgrewriteOk = ok || child.StoppedByServer;
        if (!ok)
        {
            if (!child.StoppedByServer) _aofRewriteFailures++;
            if (child.KilledBySignal != 0) Log.Warning($"Background AOF rewrite terminated by signal {child.KilledBySignal}");
            else Log.Warning("Background AOF rewrite terminated with error");
            RetryAfterFailedEnable();
            return;
        }
        Log.Notice("Background AOF rewrite terminated with success");
        var m = _aofManifest!;
        string baseName = AofManifest.BaseName(AofPrefix, baseSeq, rdb);
        try
        {
            File.Move(tmp, Path.Combine(AofDir, baseName), overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.Warning($"Error trying to rename the temporary AOF base file {Path.GetFileName(tmp)} into {baseName}: {e.Message}");
            Aof.LastBgrewriteOk = false;
            try { File.Delete(tmp); } catch (IOException) { }
            return;
        }
        Log.Notice($"Successfully renamed the temporary AOF base file {Path.GetFileName(tmp)} into {baseName}");
        // backgroundRewriteDoneHandler on a copy of the manifest: the old base goes to the head of
        // the history; a temp incr (AOF being turned on) becomes the next incr file; every incr
        // but the one being written is history too (all of them when the AOF is off).
        var newManifest = new AofManifest { CurrentBaseSeq = baseSeq, CurrentIncrSeq = m.CurrentIncrSeq };
        newManifest.Base = new AofFileInfo(baseName, baseSeq, AofFileType.Base);
        var history = new List<AofFileInfo>(m.History);
        if (m.Base != null && m.Base.Name != baseName) history.Insert(0, m.Base with { Type = AofFileType.History });
        var incrs = new List<AofFileInfo>(m.Incrs);
        if (_aofWaitRewrite)
        {
            long seq = newManifest.CurrentIncrSeq + 1;
            string incrName = AofManifest.IncrName(AofPrefix, seq);
            try
            {
                File.Move(Path.Combine(AofDir, TempIncrName), Path.Combine(AofDir, incrName), overwrite: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Log.Warning($"Error trying to rename the temporary AOF incr file {TempIncrName} into {incrName}: {e.Message}");
                DeleteQuietly(Path.Combine(AofDir, baseName));
                Aof.LastBgrewriteOk = false;
                _aofRewriteFailures++;
                RetryAfterFailedEnable();
                return;
            }
            Log.Notice($"Successfully renamed the temporary AOF incr file {TempIncrName} into {incrName}");
            newManifest.CurrentIncrSeq = seq;
            incrs.Add(new AofFileInfo(incrName, seq, AofFileType.Incr));
        }
        int keep = _aofHandle != null && Aof.Enabled ? 1 : 0;
        for (int i = incrs.Count - 1 - keep; i >= 0; i--) history.Insert(0, incrs[i] with { Type = AofFileType.History });
        for (int i = Math.Max(0, incrs.Count - keep); i < incrs.Count; i++) newManifest.Incrs.Add(incrs[i]);
        // With auto gc the manifest is written once, without the history (Redis writes it with
        // the history, then again without it once aofDelHistoryFiles ran: same end state).
        bool gc = !Config.AofDisableAutoGc;
        if (!gc) newManifest.History.AddRange(history);
        PersistManifest(newManifest);
        _aofWaitRewrite = false;
        _aofRewriteFailures = 0;
        if (gc)
        {
            foreach (var h in history)
            {
                Log.Notice($"Removing the history file {h.Name} in the background");
                DeleteQuietly(Path.Combine(AofDir, h.Name));
            }
        }
        Aof.Rewrites++;
        Aof.BaseSize = new FileInfo(Path.Combine(AofDir, baseName)).Length;
        Aof.CurrentSize = AofTotalSize();
        Log.Notice("Background AOF rewrite finished successfully");
    }

    /// <summary>Cron part: scheduled and automatic rewrites (auto-aof-rewrite-percentage / -min-size).</summary>
    private void AofCron()
    {
        // Redis re-flushes the AOF buffer every second after a write error until it succeeds.
        if (Aof.Enabled && !Aof.LastWriteOk) FlushAofBuffer();
        if (Aof.RewriteInProgress || Rdb.BgsaveInProgress) return;
        // A scheduled BGREWRITEAOF runs whether or not appendonly is on, as in Redis.
        if (Aof.RewriteScheduled)
        {
            Aof.RewriteScheduled = false;
            bool enabling = _aofEnablePending && !_aofWaitRewrite;
            _aofEnablePending = false;
            StartAofRewrite(enabling);
            return;
        }
        if (!Aof.Enabled) return;
        long pct = long.TryParse(ConfigOr("auto-aof-rewrite-percentage", "100"), out var p) ? p : 100;
        long minSize = long.TryParse(ConfigOr("auto-aof-rewrite-min-size", "67108864"), out var s) ? s : 64L << 20;
        if (pct <= 0 || Aof.CurrentSize < minSize) return;
        long baseSize = Math.Max(Aof.BaseSize, 1);
        long growth = (Aof.CurrentSize - baseSize) * 100 / baseSize;
        if (growth >= pct && !AofRewriteLimited())
        {
            Log.Notice($"Starting automatic rewriting of AOF on {growth}% growth");
            StartAofRewrite();
        }
    }

    // ---------------------------------------------------------------- loading

    private void LoadAof(AofManifest m)
    {
        long start = Stopwatch.GetTimestamp();
        Rdb.Loading = true;
        // While loading nothing expires: an EXPIRE in the past sets the TTL and later commands
        // see the key (expireIfNeeded/checkAlreadyExpired during loading); it expires after.
        Keyspace.ExpireOnAccess = false;
        using var gcMode = LoadingGcMode();
        try
        {
            var files = new List<AofFileInfo>();
            if (m.Base != null) files.Add(m.Base);
            files.AddRange(m.Incrs);
            // Like getBaseAndIncrAppendOnlyFilesSize: every file is stat'ed before any is loaded,
            // and one the manifest names but the disk lacks is fatal.
            var lengths = new long[files.Count];
            for (int i = 0; i < files.Count; i++) lengths[i] = AofFileLength(files[i].Name);
            long total = 0;
            for (int i = 0; i < files.Count; i++)
            {
                var f = files[i];
                string path = Path.Combine(AofDir, f.Name);
                if (lengths[i] == 0) continue;
                total += LoadAofFile(path, isLast: i == files.Count - 1);
                Log.Notice($"DB loaded from {(f.Type == AofFileType.Base ? "base" : "incr")} file {f.Name}: {Stopwatch.GetElapsedTime(start).TotalSeconds:F3} seconds");
            }
            Log.Notice($"DB loaded from append only file: {Stopwatch.GetElapsedTime(start).TotalSeconds:F3} seconds");
            _aofManifest = m;
        }
        finally
        {
            Rdb.Loading = false;
            UpdateExpireOnAccess();
        }
    }

    /// <summary>The size of what the name leads to (stat follows symlinks, as Redis's does).</summary>
    private long AofFileLength(string name)
    {
        try
        {
            using var probe = File.OpenHandle(Path.Combine(AofDir, name));
            return RandomAccess.GetLength(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e is FileNotFoundException or DirectoryNotFoundException ? "No such file or directory" : IoErrorText(e);
            throw new InvalidOperationException($"Unable to obtain the AOF file {name} length. stat: {reason}");
        }
    }

    private long LoadAofFile(string path, bool isLast)
    {
        long rdbLength = 0;
        using (var probe = File.OpenRead(path))
        {
            Span<byte> magic = stackalloc byte[5];
            if (probe.Read(magic) == 5 && magic.SequenceEqual("REDIS"u8))
            {
                probe.Position = 0;
                UpdateCachedTime();
                var r = RdbFile.Load(probe, Keyspace, skipExpired: true, Keyspace.NowMs);
                if (r.FunctionLibraries.Count > 0) FunctionLibrariesLoaded?.Invoke(r.FunctionLibraries);
                Log.Notice($"Loading RDB preamble from AOF file... Done loading RDB, keys loaded: {r.KeysLoaded}, keys expired: {r.ExpiredSkipped}.");
                // A pre-7.0 AOF (or a base a user appended to) continues with commands after the RDB.
                if (r.BytesRead >= probe.Length) return r.KeysLoaded;
                rdbLength = r.BytesRead;
            }
        }
        byte[] data;
        using (var fs = File.OpenRead(path))
        {
            fs.Position = rdbLength;
            data = new byte[fs.Length - rdbLength];
            fs.ReadExactly(data);
        }
        var parser = new RequestParser { IsMasterLink = true };
        var args = new CommandArgs();
        var fake = CreateFakeClient();
        fake.Flags |= ClientFlags.Master;
        int pos = 0, lastGood = 0;
        long commands = 0;
        bool inMulti = false;
        while (pos < data.Length)
        {
            // Each entry is a multibulk; a line starting with '#' is an annotation, skipped.
            if (data[pos] == (byte)'#')
            {
                int nl = Array.IndexOf(data, (byte)'\n', pos);
                if (nl < 0) break;
                pos = nl + 1;
                if (!inMulti) lastGood = pos;
                continue;
            }
            if (data[pos] != (byte)'*') throw new InvalidOperationException(BadAofFormat(path));
            var res = parser.Parse(data, pos, data.Length, args, out int consumed);
            if (res is ParseResult.Incomplete or ParseResult.Error)
            {
                if (res == ParseResult.Error) throw new InvalidOperationException(BadAofFormat(path));
                break;
            }
            pos += consumed;
            if (res == ParseResult.Empty) continue;
            if (args.Count > 0 && Commands.Lookup(args[0]) == null)
                throw new InvalidOperationException($"Unknown command '{args.GetString(0)}' reading the append only file {Path.GetFileName(path)}");
            lock (ExecLock)
            {
                UpdateCachedTime();
                Execute(fake, args);
                fake.Reply.Clear();
            }
            commands++;
            if (args.Count > 0)
            {
                if (EqualsIgnoreCase(args[0], "MULTI")) inMulti = true;
                else if (EqualsIgnoreCase(args[0], "EXEC") || EqualsIgnoreCase(args[0], "DISCARD")) inMulti = false;
            }
            if (!inMulti) lastGood = pos;
        }
        if (lastGood < data.Length)
        {
            bool allowed = ConfigOr("aof-load-truncated", "yes") == "yes";
            if (!isLast || !allowed)
                throw new InvalidOperationException($"Unexpected end of file reading the append only file {Path.GetFileName(path)}. You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.");
            Log.Warning($"!!! Warning: short read while loading the AOF file {Path.GetFileName(path)}!!!");
            Log.Warning($"!!! Truncating the AOF {Path.GetFileName(path)} at offset {rdbLength + lastGood} !!!");
            using (var fs = new FileStream(path, FileMode.Open, FileAccess.Write)) fs.SetLength(rdbLength + lastGood);
            Log.Warning($"AOF {Path.GetFileName(path)} loaded anyway because aof-load-truncated is enabled");
        }
        return commands;
    }

    private static string BadAofFormat(string path) =>
        $"Bad file format reading the append only file {Path.GetFileName(path)}: make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>";

    private static bool EqualsIgnoreCase(ReadOnlySpan<byte> a, string b)
    {
        if (a.Length != b.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
        return true;
    }

    /// <summary>finishShutdown: an initial AOF rewrite still running holds the only copy to come.</summary>
    private string? AofShutdownCheck(bool force)
    {
        if (!_aofWaitRewrite) return null;
        if (force)
        {
            Log.Warning("Writing initial AOF. Exit anyway.");
            return null;
        }
        Log.Warning("Writing initial AOF, can't exit.");
        return "ERR Errors trying to SHUTDOWN. Check logs.";
    }

    /// <summary>Flush + fsync at shutdown.</summary>
    private void CloseAofOnShutdown()
    {
        if (!Aof.Enabled) return;
        FlushAofBuffer();
        lock (_aofFileLock)
        {
            if (_aofHandle != null)
            {
                RandomAccess.FlushToDisk(_aofHandle);
                _aofHandle.Dispose();
                _aofHandle = null;
            }
        }
    }
}
