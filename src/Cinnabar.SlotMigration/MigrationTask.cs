namespace Cinnabar.SlotMigration;

/// <summary>
/// Atomic slot migration (Redis 8.4's CLUSTER MIGRATION surface), as state machines with no I/O.
///
/// The destination master runs an import task: it connects to the source's client port, asks
/// for the slots (CLUSTER SYNCSLOTS SYNC), applies the snapshot and then the live stream of
/// writes to those slots, acknowledging what it applied. The source runs the matching migrate
/// task: once the snapshot is out and the destination is within handoff-max-lag bytes, it pauses
/// writes, drains the stream and sends STREAM-EOF; the destination then claims the slots with a
/// configEpoch bumped without consensus (plain gossip, which Redis 7.0 nodes understand). The
/// source completes when its cluster view shows the new owner, unpauses (clients now get MOVED)
/// and deletes the moved keys. A failure or cancel on either side before the claim leaves the
/// slots with the source; the destination deletes what it had imported.
///
/// Invariants: the destination claims only after applying everything up to STREAM-EOF, and the
/// source accepts no write to any slot between that point and the end of the task (writes are
/// paused; a pause that outlives write-pause-timeout fails the task and unpauses).
/// </summary>
public enum MigrationOperation { Import, Migrate }

public abstract class MigrationTask
{
    public const string Completed = "completed", Failed = "failed", Canceled = "canceled";

    protected MigrationTask(string id, SlotRangeSet ranges, string sourceId, string destId, long nowMs)
    {
        Id = id;
        Ranges = ranges;
        SourceId = sourceId;
        DestId = destId;
        CreateTimeMs = nowMs;
    }

    public string Id { get; }
    public SlotRangeSet Ranges { get; }
    public string SourceId { get; }
    public string DestId { get; }
    public abstract MigrationOperation Operation { get; }
    public string State { get; protected set; } = "";
    public string LastError { get; private set; } = "";
    public int Retries { get; set; }
    public long CreateTimeMs { get; }
    public long StartTimeMs { get; protected set; } = -1;
    public long EndTimeMs { get; private set; } = -1;
    /// <summary>How long writes were paused for the handoff (completed migrate tasks only).</summary>
    public long WritePauseMs { get; protected set; } = -1;
    public long KeysMoved { get; set; }
    public long BytesMoved { get; set; }

    public bool IsActive => State is not (Completed or Failed or Canceled);

    public void Fail(string error, long nowMs) => End(Failed, nowMs, error);
    public void Cancel(long nowMs) => End(Canceled, nowMs, "");

    protected void End(string state, long nowMs, string error)
    {
        if (!IsActive) return;
        State = state;
        if (error.Length > 0) LastError = error;
        EndTimeMs = nowMs;
    }

    /// <summary>Keys per second since the task started (STATUS's rate).</summary>
    public long KeysPerSecond(long nowMs)
    {
        if (StartTimeMs < 0) return 0;
        long elapsed = (EndTimeMs >= 0 ? EndTimeMs : nowMs) - StartTimeMs;
        return elapsed <= 0 ? KeysMoved : KeysMoved * 1000 / elapsed;
    }
}

/// <summary>What the server must do after a migrate task's step.</summary>
public enum HandoffAction { None, PauseWrites, SendStreamEof, FailAndUnpause }

/// <summary>The source's side.</summary>
public sealed class MigrateTask : MigrationTask
{
    public const string WaitBgsaveStart = "wait-bgsave-start", SendBulkAndStream = "send-bulk-and-stream",
        SendStream = "send-stream", HandoffPrep = "handoff-prep", Handoff = "handoff";

    public MigrateTask(string id, SlotRangeSet ranges, string sourceId, string destId, long nowMs)
        : base(id, ranges, sourceId, destId, nowMs)
    {
        State = WaitBgsaveStart;
    }

    public override MigrationOperation Operation => MigrationOperation.Migrate;

    /// <summary>Bytes of the live stream queued for the destination after the snapshot's end.</summary>
    public long SentOffset { get; set; }
    /// <summary>The destination's last CLUSTER SYNCSLOTS ACK.</summary>
    public long AckedOffset { get; private set; }
    public long PauseStartMs { get; private set; } = -1;

    public void SnapshotStarted(long nowMs)
    {
        if (State != WaitBgsaveStart) return;
        State = SendBulkAndStream;
        StartTimeMs = nowMs;
    }

    public void SnapshotDone()
    {
        if (State == SendBulkAndStream) State = SendStream;
    }

    /// <summary>The destination acknowledged at least once: it has applied the whole snapshot.</summary>
    public bool Acked { get; private set; }

    public void Ack(long offset)
    {
        Acked = true;
        if (offset > AckedOffset) AckedOffset = Math.Min(offset, SentOffset);
    }

    /// <summary>The source's cron step.</summary>
    public HandoffAction Tick(long nowMs, long maxLagBytes, long writePauseTimeoutMs, bool outputDrained)
    {
        switch (State)
        {
            // Only once the destination has applied the snapshot (its ACKs start after
            // SNAPSHOT-EOF): the snapshot is not counted in the lag, and pausing while the
            // destination still loads it would stall writes for as long.
            case SendStream when Acked && SentOffset - AckedOffset <= maxLagBytes:
                State = HandoffPrep;
                PauseStartMs = nowMs;
                return HandoffAction.PauseWrites;
            case HandoffPrep or Handoff when nowMs - PauseStartMs >= writePauseTimeoutMs:
                // Checked before STREAM-EOF goes out (redis#15629): once expired, never send it.
                Fail($"Write pause timeout during slot handoff: destination did not take ownership within {writePauseTimeoutMs} ms.", nowMs);
                return HandoffAction.FailAndUnpause;
            case HandoffPrep when outputDrained:
                State = Handoff;
                return HandoffAction.SendStreamEof;
            default:
                return HandoffAction.None;
        }
    }

    /// <summary>The cluster view shows the destination owning every slot: done (unpause, delete the keys).</summary>
    public bool OwnershipTaken(long nowMs)
    {
        if (State is not (HandoffPrep or Handoff)) return false;
        WritePauseMs = nowMs - PauseStartMs;
        End(Completed, nowMs, "");
        return true;
    }
}

/// <summary>The destination's side.</summary>
public sealed class ImportTask : MigrationTask
{
    public const string Connecting = "connecting", AuthReply = "auth-reply", SyncSlotsReply = "syncslots-reply",
        ReadyToStream = "ready-to-stream", WaitStreamEof = "wait-stream-eof", Takeover = "takeover";

    public ImportTask(string id, SlotRangeSet ranges, string sourceId, string destId, long nowMs)
        : base(id, ranges, sourceId, destId, nowMs)
    {
        State = Connecting;
    }

    public override MigrationOperation Operation => MigrationOperation.Import;

    /// <summary>Bytes of the live stream applied (what CLUSTER SYNCSLOTS ACK reports).</summary>
    public long AppliedOffset { get; set; }

    public void Connected(bool auth, long nowMs)
    {
        if (State != Connecting) return;
        State = auth ? AuthReply : SyncSlotsReply;
        StartTimeMs = nowMs;
    }

    public void AuthOk()
    {
        if (State == AuthReply) State = SyncSlotsReply;
    }

    /// <summary>+SLOTSSNAPSHOT: the snapshot follows.</summary>
    public void SnapshotStarts()
    {
        if (State == SyncSlotsReply) State = ReadyToStream;
    }

    /// <summary>SNAPSHOT-EOF: what follows is the live stream (counted for ACKs).</summary>
    public void SnapshotEnded()
    {
        if (State == ReadyToStream) State = WaitStreamEof;
    }

    /// <summary>STREAM-EOF: everything is applied; the caller claims the slots and then calls Claimed.</summary>
    public bool StreamEnded()
    {
        if (State != WaitStreamEof) return false;
        State = Takeover;
        return true;
    }

    public void Claimed(long nowMs) => End(Completed, nowMs, "");

    /// <summary>Applying a command of the stream: the live part counts toward the ACK offset.</summary>
    public bool CountsTowardAck => State == WaitStreamEof;
}
