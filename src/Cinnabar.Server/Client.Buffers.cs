using System.Net.Sockets;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// Query and reply buffer sizing, as Redis 7.0's clientsCron does it (clientsCronResizeQueryBuffer,
/// clientsCronResizeOutputBuffer): buffers follow each client's recent peak, so idle clients and
/// clients whose big request or reply is over give the memory back.
/// Query buffer: a client waiting for input with nothing buffered waits with a zero-byte receive
/// (no buffer lent to the socket); then the cron may release its buffer after 2 s idle, or shrink
/// it to the recent peak when it is more than twice as big. Reply buffer: its target size halves
/// (down to 1 KiB) while the peak stays under half of it, and doubles (up to 16 KiB) when a batch
/// of replies filled it; the peak is reset every reply-buffer peak-reset-time.
/// </summary>
public sealed partial class Client
{
    private const int ReplyMinBytes = 1024;          // PROTO_REPLY_MIN_BYTES
    private const int ReplyChunkBytes = 16 * 1024;   // PROTO_REPLY_CHUNK_BYTES
    private const int ResizeThreshold = 32 * 1024;   // PROTO_RESIZE_THRESHOLD

    /// <summary>DEBUG REPLYBUFFER peak-reset-time (ms, -1 = never).</summary>
    internal static long ReplyBufferPeakResetTimeMs = DefaultReplyPeakResetTimeMs;
    internal const long DefaultReplyPeakResetTimeMs = 5000;
    /// <summary>DEBUG REPLYBUFFER resizing.</summary>
    internal static bool ReplyBufferResizing = true;
    /// <summary>INFO reply_buffer_shrinks / reply_buffer_expands.</summary>
    internal static long ReplyBufferShrinks, ReplyBufferExpands;

    private readonly object _inGate = new();
    private bool _idleWait;
    // An active client waits for its next batch with the query buffer lent to the socket: one
    // receive per batch, where the zero-byte wait costs a second system call. The cron cancels
    // such a wait once the client is idle, and the client then waits without a buffer.
    private bool _directWait;
    private bool _directCancelled;
    private bool _preferIdleWait;
    private CancellationTokenSource? _directCts;
    private int _queryPeak;
    private int _replyBufferSize = ReplyChunkBytes;
    private int _replyPeak;
    private long _replyPeakResetMs = Environment.TickCount64;

    /// <summary>CLIENT LIST rbs: the reply buffer's size.</summary>
    public int ReplyBufferSize => _replyBufferSize;
    /// <summary>CLIENT LIST rbp: the most reply bytes buffered at once since the last peak reset.</summary>
    public int ReplyBufferPeak => _replyPeak;

    private void EnterIdleWait()
    {
        lock (_inGate) _idleWait = true;
    }

    /// <summary>Waits for input straight into the (empty, default-sized) query buffer; -1 when the cron took the wait back.</summary>
    private async ValueTask<int> ReceiveDirectAsync()
    {
        _inStart = _inEnd = 0;
        var cts = _directCts ??= new CancellationTokenSource();
        lock (_inGate) _directWait = true;
        try
        {
            return await _socket!.ReceiveAsync(_in.AsMemory(), SocketFlags.None, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _preferIdleWait = true;
            return -1;
        }
        finally
        {
            lock (_inGate)
            {
                _directWait = false;
                if (_directCancelled)
                {
                    _directCancelled = false;
                    _directCts = null; // cancelled (or about to be): the next direct wait gets a new one
                }
            }
        }
    }

    private bool CanReceiveDirect => !_preferIdleWait && _inStart == _inEnd && _in.Length == InitialInputBytes;

    private void LeaveIdleWait()
    {
        lock (_inGate)
        {
            _idleWait = false;
            if (_in.Length == 0) _in = new byte[InitialInputBytes];
        }
    }

    private const int BigArgBytes = 32 * 1024;       // PROTO_MBULK_BIG_ARG

    /// <summary>
    /// Once the "$len" line of an argument of 32 KiB or more has been read, makes the query buffer
    /// hold the whole argument right away, as Redis's readQueryFromClient does
    /// (sdsMakeRoomForNonGreedy for bulklen+2 before reading it): the client's memory (CLIENT LIST
    /// tot-mem, maxmemory-clients) counts the argument from then on, not only as its bytes arrive,
    /// which depends on how the kernel happens to deliver them. Called after a batch, lock held.
    /// </summary>
    private void ReserveForBigArgument()
    {
        if (_receiveInFlight || _pendingReceive != null || _parser.IsMasterLink) return; // a receive owns the buffer
        if (_parser.PendingBulkLength < BigArgBytes) return;
        long needed = _parser.BytesNeeded;
        if (needed <= _in.Length - _inStart) return;
        // An argument past client-query-buffer-limit gets no room: the client is closed when its
        // buffer reaches the limit, as before (EnsureInputSpace).
        if (needed > _server.Config.ClientQueryBufferLimit) return;
        MoveInputTo(needed);
    }

    private void NoteQueryPeak(int received)
    {
        int before = _inEnd - _inStart;
        int peak = before + Math.Max(received, InitialInputBytes);
        if (peak > _queryPeak) _queryPeak = peak;
    }

    private void NoteReplyPeak()
    {
        int used = Math.Min(Reply.Length, _replyBufferSize);
        if (used > _replyPeak) _replyPeak = used;
    }

    /// <summary>Called by the server cron under the execution lock.</summary>
    internal void CronResizeBuffers(long nowMs)
    {
        ResizeQueryBuffer(nowMs);
        ResizeReplyBuffer(nowMs);
    }

    private void ResizeQueryBuffer(long nowMs)
    {
        lock (_inGate)
        {
            // Only while the run loop waits with an empty buffer: otherwise the socket or the
            // parser owns it.
            if (_directWait && !_directCancelled && nowMs - LastInteractionMs > 2000 && _directCts is { } cts)
            {
                // Idle for 2 s with the buffer lent: take the wait back (on the pool: a cancelled
                // receive may resume the client's loop on the cancelling thread), so the next cron
                // can release the buffer.
                _directCancelled = true;
                ThreadPool.UnsafeQueueUserWorkItem(static c => c.Cancel(), cts, preferLocal: false);
            }
            if (_idleWait && _inStart == _inEnd && _in.Length > 4 * 1024)
            {
                if (nowMs - LastInteractionMs > 2000)
                {
                    RespWriter.NoteReleased(_in);
                    _in = [];
                }
                else if (_in.Length > ResizeThreshold && _in.Length / 2 > _queryPeak)
                {
                    RespWriter.NoteReleased(_in);
                    _in = new byte[Math.Max(_queryPeak, InitialInputBytes)];
                }
                _inStart = _inEnd = 0;
            }
            _queryPeak = _inEnd - _inStart;
        }
    }

    private void ResizeReplyBuffer(long nowMs)
    {
        if (ReplyBufferResizing)
        {
            int size = _replyBufferSize, next = 0;
            if (size / 2 >= ReplyMinBytes && _replyPeak < size / 2)
            {
                next = Math.Max(ReplyMinBytes, _replyPeak + 1);
                ReplyBufferShrinks++;
            }
            else if (size * 2 < ReplyChunkBytes * 2 && _replyPeak == size)
            {
                next = Math.Min(ReplyChunkBytes, size * 2);
                ReplyBufferExpands++;
            }
            if (next != 0)
            {
                _replyBufferSize = next;
                lock (OutputLock)
                {
                    // The buffers themselves follow when nothing is pending in them.
                    if (!_sending && Reply.Length == 0)
                    {
                        Reply.Reallocate(next);
                        _sendBuffer.Reallocate(next);
                    }
                }
            }
        }
        if (ReplyBufferPeakResetTimeMs >= 0 && nowMs - _replyPeakResetMs >= ReplyBufferPeakResetTimeMs)
        {
            _replyPeak = Math.Min(Reply.Length, _replyBufferSize);
            _replyPeakResetMs = nowMs;
        }
    }
}

// Client memory as Redis's getClientMemoryUsage counts it (see ClientEviction.cs).
public sealed partial class Client
{
    /// <summary>Fixed cost of a connection beyond its buffers (the client's own objects).</summary>
    internal const int ClientOverheadBytes = 1024;
    private const int PerEntryOverheadBytes = 64;

    /// <summary>What <see cref="ClientEviction"/> last counted for this client.</summary>
    internal long TrackedMemory;

    private List<byte[][]>? _multiMeasured;
    private int _multiMeasuredCount;
    private long _multiMeasuredBytes;

    /// <summary>
    /// Bytes this connection holds: query buffer (which also holds the current command's
    /// arguments), reply buffers with all pending output, MULTI queue, watched keys,
    /// subscriptions and tracking prefixes, plus a fixed overhead. Allocation free.
    /// </summary>
    public long MemoryUsage()
    {
        long mem = ClientOverheadBytes + _in.Length + Reply.Buffer.Length + _sendBuffer.Buffer.Length;
        mem += MultiQueueBytes();
        // The running command's arguments (Redis: argv_len_sum + argc pointers); between
        // commands there are none.
        if (_batchStart >= 0) mem += ArgvBytes + 8L * _args.Count;
        mem += (long)(Watched?.Count ?? 0) * PerEntryOverheadBytes;
        mem += (long)SubscriptionCount * PerEntryOverheadBytes;
        mem += (long)(Tracking?.Prefixes?.Count ?? 0) * PerEntryOverheadBytes;
        return mem;
    }

    /// <summary>CLIENT LIST argv-mem: the running command's argument bytes, 0 between commands.</summary>
    public long ArgvBytes => _batchStart >= 0 ? _args.TotalLength() : 0;

    /// <summary>CLIENT LIST multi-mem: queued commands' argument bytes plus per-command/argument overhead (incremental).</summary>
    public long MultiQueueBytes()
    {
        var q = MultiQueue;
        if (q == null || q.Count == 0) return 0;
        if (!ReferenceEquals(q, _multiMeasured) || q.Count < _multiMeasuredCount)
        {
            _multiMeasured = q;
            _multiMeasuredCount = 0;
            _multiMeasuredBytes = 0;
        }
        for (int i = _multiMeasuredCount; i < q.Count; i++)
        {
            var argv = q[i];
            long b = 32 + 8L * argv.Length;
            foreach (var a in argv) b += a.Length;
            _multiMeasuredBytes += b;
        }
        _multiMeasuredCount = q.Count;
        return _multiMeasuredBytes;
    }
}
