using Cinnabar.SlotMigration;

namespace Cinnabar.SlotMigration.Tests;

public sealed class MigrationTaskTests
{
    private static SlotRangeSet Ranges(params string[] args)
    {
        Assert.Null(SlotRangeSet.TryParse(args, out var set));
        return set;
    }

    [Fact]
    public void Ranges_parse_format_and_refuse_bad_input()
    {
        var set = Ranges("0", "100", "200", "300");
        Assert.Equal("0-100 200-300", set.ToString());
        Assert.Equal(202, set.Count);
        Assert.True(set.Contains(250));
        Assert.False(set.Contains(150));
        Assert.Equal(["0", "100", "200", "300"], set.ToArgs());
        Assert.Equal("ERR Invalid or out of range slot", SlotRangeSet.TryParse(["0", "16384"], out _));
        Assert.Equal("ERR Invalid or out of range slot", SlotRangeSet.TryParse(["-1", "5"], out _));
        Assert.Equal("ERR start slot number 9 is greater than end slot number 3", SlotRangeSet.TryParse(["9", "3"], out _));
        Assert.Equal("ERR Slot 5 specified multiple times", SlotRangeSet.TryParse(["0", "10", "5", "6"], out _));
        Assert.NotNull(SlotRangeSet.TryParse(["1"], out _));
        Assert.Equal("3-5 9-9", SlotRangeSet.FromSlots([9, 3, 4, 5]).ToString());
    }

    private static MigrateTask Streaming(long sent, long acked)
    {
        var t = new MigrateTask("id", Ranges("0", "10"), "src", "dst", 1000);
        t.SnapshotStarted(1000);
        Assert.Equal(MigrateTask.SendBulkAndStream, t.State);
        Assert.Equal(HandoffAction.None, t.Tick(1100, 1 << 20, 10_000, outputDrained: true));
        t.SnapshotDone();
        t.SentOffset = sent;
        t.Ack(acked);
        return t;
    }

    [Fact]
    public void The_source_pauses_only_once_the_destination_is_within_the_lag_then_sends_eof_when_drained()
    {
        var t = Streaming(sent: 5_000_000, acked: 1_000);
        Assert.Equal(HandoffAction.None, t.Tick(2000, 1 << 20, 10_000, true));
        t.Ack(4_500_000);
        Assert.Equal(HandoffAction.PauseWrites, t.Tick(2100, 1 << 20, 10_000, false));
        Assert.Equal(MigrateTask.HandoffPrep, t.State);
        Assert.Equal(HandoffAction.None, t.Tick(2150, 1 << 20, 10_000, false));
        Assert.Equal(HandoffAction.SendStreamEof, t.Tick(2200, 1 << 20, 10_000, true));
        Assert.Equal(MigrateTask.Handoff, t.State);
        Assert.True(t.OwnershipTaken(2350));
        Assert.Equal(MigrationTask.Completed, t.State);
        Assert.Equal(250, t.WritePauseMs);
        Assert.False(t.IsActive);
    }

    [Fact]
    public void No_pause_before_the_destination_acknowledges_the_snapshot()
    {
        var t = new MigrateTask("id", Ranges("0", "10"), "src", "dst", 0);
        t.SnapshotStarted(0);
        t.SnapshotDone();
        // Nothing written since the snapshot, but the destination may still be applying it.
        Assert.Equal(HandoffAction.None, t.Tick(100, 1 << 20, 10_000, true));
        Assert.Equal(MigrateTask.SendStream, t.State);
        t.Ack(0);
        Assert.Equal(HandoffAction.PauseWrites, t.Tick(200, 1 << 20, 10_000, true));
    }

    [Fact]
    public void An_ack_beyond_what_was_sent_counts_as_what_was_sent()
    {
        var t = Streaming(sent: 100, acked: 10_000);
        Assert.Equal(100, t.AckedOffset);
    }

    [Fact]
    public void A_pause_that_outlives_the_timeout_fails_the_task_and_no_eof_goes_out()
    {
        var t = Streaming(sent: 100, acked: 100);
        Assert.Equal(HandoffAction.PauseWrites, t.Tick(5000, 0, 10_000, false));
        // Output never drains within the timeout: the timeout is checked before the EOF.
        Assert.Equal(HandoffAction.FailAndUnpause, t.Tick(15_000, 0, 10_000, true));
        Assert.Equal(MigrationTask.Failed, t.State);
        Assert.Equal("Write pause timeout during slot handoff: destination did not take ownership within 10000 ms.", t.LastError);
        Assert.False(t.OwnershipTaken(15_100));
    }

    [Fact]
    public void A_claim_seen_after_eof_but_past_the_timeout_is_a_failure()
    {
        var t = Streaming(sent: 0, acked: 0);
        t.Tick(0, 0, 1000, false);
        Assert.Equal(HandoffAction.SendStreamEof, t.Tick(10, 0, 1000, true));
        Assert.Equal(HandoffAction.FailAndUnpause, t.Tick(1000, 0, 1000, true));
        Assert.False(t.OwnershipTaken(1001));
    }

    [Fact]
    public void The_import_side_walks_its_states_and_counts_only_the_live_stream()
    {
        var t = new ImportTask("id", Ranges("5", "6"), "src", "dst", 0);
        t.Connected(auth: true, 10);
        Assert.Equal(ImportTask.AuthReply, t.State);
        t.AuthOk();
        Assert.Equal(ImportTask.SyncSlotsReply, t.State);
        Assert.False(t.StreamEnded());
        t.SnapshotStarts();
        Assert.False(t.CountsTowardAck);
        t.SnapshotEnded();
        Assert.True(t.CountsTowardAck);
        Assert.True(t.StreamEnded());
        Assert.Equal(ImportTask.Takeover, t.State);
        t.Claimed(50);
        Assert.Equal(MigrationTask.Completed, t.State);
        Assert.Equal(40, t.EndTimeMs - t.StartTimeMs);
    }

    [Fact]
    public void Ended_tasks_are_kept_up_to_the_archive_limit_and_block_nothing()
    {
        var reg = new MigrationRegistry(new Random(1)) { MaxArchived = 2 };
        var ids = new List<string>();
        for (int i = 0; i < 4; i++)
        {
            var t = new ImportTask(reg.NewId(), Ranges("0", "9"), "s", "d", i);
            Assert.Equal(40, t.Id.Length);
            reg.Add(t);
            ids.Add(t.Id);
            Assert.True(reg.SlotInActiveTask(3));
            Assert.Same(t, reg.Active);
            t.Cancel(i);
            reg.Trim();
        }
        Assert.Equal(ids.Skip(2), reg.All.Select(t => t.Id));
        Assert.Null(reg.Active);
        Assert.False(reg.SlotInActiveTask(3));
        Assert.Null(reg.Find(ids[0]));
    }
}
