using System.Net.Sockets;
using System.Text;
using Cinnabar.Persistence;

namespace Cinnabar.Server;

/// <summary>What an RDB transfer needs from the server: the lock, the log and its completion.</summary>
internal interface IRdbTransferHost
{
    object ExecLock { get; }
    Log Log { get; }
    /// <summary>The transfer ended (lock held): put the surviving members online, or drop them.</summary>
    void OnTransferDone(RdbTransfer transfer, bool ok);
}

/// <summary>
/// One RDB production for full syncs: Redis's BGSAVE child with target "disk" or "replicas
/// sockets" (startBgsaveForReplication). Its members are the replicas it serves; the diskless
/// kind is Redis's "rdb pipe": one snapshot streamed to every member at once, so the transfer
/// goes at the pace of the slowest member.
/// Like a BGSAVE, it is represented by a BackgroundChild: its stand-in process is the pid the
/// log names, `pgrep -P` finds it, and killing it aborts the transfer (the members are then
/// disconnected, as Redis frees replicas whose BGSAVE child failed).
/// Invariants: members only leave (Drop); a member blocked in a socket write has
/// BlockedSinceMs set, which the cron uses for repl-timeout (Redis's "full sync" timeout); a
/// diskless transfer whose last member is gone stops its child ("last replica dropped").
/// </summary>
internal sealed class RdbTransfer
{
    private readonly IRdbTransferHost _host;
    private int _lastDroppedLogged;

    public RdbTransfer(IRdbTransferHost host, List<ReplicaInfo> members, bool diskless, BackgroundChild child)
    {
        _host = host;
        Members = members;
        Diskless = diskless;
        Child = child;
        foreach (var m in members) m.Transfer = this;
        // Killing the stand-in aborts the transfer: the members' sockets close, so a write
        // blocked on a replica that reads nothing returns at once.
        child.Cancel.Token.Register(() =>
        {
            foreach (var m in Members)
                if (!m.TransferDropped) m.Client.Close();
        });
    }

    public List<ReplicaInfo> Members { get; }
    public bool Diskless { get; }

    /// <summary>
    /// The RDB is produced (Redis's child has exited): what is left is delivering it, which
    /// killRDBChild (FLUSHALL) no longer touches. A client that read its whole payload (SYNC)
    /// and sent FLUSHALL before the transfer took the lock to finish keeps its stream.
    /// </summary>
    public volatile bool Produced;
    public BackgroundChild Child { get; }

    /// <summary>Members still receiving the RDB.</summary>
    public int AliveMembers
    {
        get
        {
            int n = 0;
            foreach (var m in Members) if (!m.TransferDropped) n++;
            return n;
        }
    }

    /// <summary>
    /// A member went away (lock held). A diskless transfer without members is useless and
    /// stops; a disk one stops unless save points make its file worth finishing
    /// (freeClient's killRDBChild when no other replica waits for the RDB).
    /// </summary>
    public void Drop(ReplicaInfo member, bool savePointsConfigured)
    {
        member.TransferDropped = true;
        if (AliveMembers > 0 || Child.Aborted) return;
        if (Diskless)
        {
            LogLastDropped();
            Child.Stop();
        }
        else if (!savePointsConfigured) Child.Stop();
    }

    private void LogLastDropped()
    {
        if (Interlocked.Exchange(ref _lastDroppedLogged, 1) == 0)
            _host.Log.Warning("Diskless rdb transfer, last replica dropped, killing fork child.");
    }

    /// <summary>Produces and sends the RDB on a background thread; the host is told when it ends.</summary>
    public void Start(IReadOnlyList<string> headers, List<Cinnabar.Storage.DbSnapshot> snaps, RdbSaveOptions options, string tempDir)
    {
        BackgroundJobs.Run("rdb-transfer", () =>
        {
            bool ok;
            try
            {
                if (Diskless) RunDiskless(headers, snaps, options);
                else RunDisk(headers, snaps, options, tempDir);
                ok = !Child.Aborted && AliveMembers > 0;
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
                ok = false;
            }
            lock (_host.ExecLock)
            {
                // RdbFile.Write ends the snapshots it wrote; one never written is ended here.
                if (!ok) foreach (var s in snaps) s.Db.EndSnapshot(s);
                _host.OnTransferDone(this, ok);
            }
            Child.Dispose();
            // The transfer's buffers and snapshot copies go now, as a fork child's memory would
            // (from another thread: this one's frames still hold some of them).
            snaps.Clear();
            ThreadPool.UnsafeQueueUserWorkItem(static _ => RedisServer.ReclaimDroppedMemory(), null);
        });
    }

    private void RunDiskless(IReadOnlyList<string> headers, List<Cinnabar.Storage.DbSnapshot> snaps, RdbSaveOptions options)
    {
        var mark = Encoding.ASCII.GetBytes(ReplicationState.NewReplId());
        for (int i = 0; i < Members.Count; i++)
            Send(Members[i], Encoding.ASCII.GetBytes($"{headers[i]}$EOF:{Encoding.ASCII.GetString(mark)}\r\n"));
        RdbFile.Write(new FanOut(this), snaps, _host.ExecLock, options);
        Child.Cancel.Token.ThrowIfCancellationRequested();
        foreach (var m in Members) Send(m, mark);
        Produced = true;
        int alive = AliveMembers;
        if (alive == 0) throw new OperationCanceledException();
        _host.Log.Warning($"Diskless rdb transfer, done reading from pipe, {alive} replicas still up.");
    }

    private void RunDisk(IReadOnlyList<string> headers, List<Cinnabar.Storage.DbSnapshot> snaps, RdbSaveOptions options, string tempDir)
    {
        for (int i = 0; i < Members.Count; i++)
            if (headers[i].Length > 0) Send(Members[i], Encoding.ASCII.GetBytes(headers[i]));
        string tmp = Path.Combine(tempDir, $"temp-sync-{Child.Pid}.rdb");
        try
        {
            using var fs = new FileStream(tmp, FileMode.Create, FileAccess.ReadWrite, FileShare.None, 1 << 16);
            RdbFile.Write(fs, snaps, _host.ExecLock, options);
            Child.Cancel.Token.ThrowIfCancellationRequested();
            Produced = true;
            lock (_host.ExecLock)
                foreach (var m in Members) if (!m.TransferDropped) m.State = ReplicaState.SendingRdb;
            var buffer = new byte[1 << 16];
            foreach (var m in Members)
            {
                fs.Position = 0;
                Send(m, Encoding.ASCII.GetBytes($"${fs.Length}\r\n"));
                int n;
                while (!m.TransferDropped && (n = fs.Read(buffer, 0, buffer.Length)) > 0) Send(m, buffer.AsSpan(0, n));
            }
        }
        finally
        {
            try { File.Delete(tmp); } catch (IOException) { }
        }
    }

    /// <summary>Writes all of <paramref name="data"/> to one member; a failed member is dropped from the transfer.</summary>
    private void Send(ReplicaInfo m, ReadOnlySpan<byte> data)
    {
        if (m.TransferDropped) return;
        var socket = m.Client.Socket;
        if (socket == null)
        {
            m.TransferDropped = true;
            return;
        }
        Volatile.Write(ref m.TransferBlockedSinceMs, Environment.TickCount64);
        try
        {
            while (data.Length > 0)
            {
                int n = socket.Send(data);
                data = data[n..];
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException)
        {
            m.TransferDropped = true;
            m.Client.Close();
        }
        finally
        {
            Volatile.Write(ref m.TransferBlockedSinceMs, 0);
        }
    }

    /// <summary>The rdb pipe: every chunk the RDB writer produces goes to every live member.</summary>
    private sealed class FanOut(RdbTransfer t) : Stream
    {
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            t.Child.Cancel.Token.ThrowIfCancellationRequested();
            foreach (var m in t.Members) t.Send(m, buffer);
            if (t.AliveMembers == 0)
            {
                t.LogLastDropped();
                throw new OperationCanceledException();
            }
        }

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
