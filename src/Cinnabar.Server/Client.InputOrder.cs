using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>
/// CLIENT LIST sees what other clients had already sent. Redis serves every connection from one
/// event loop: bytes another client sent before CLIENT LIST arrived are, in practice, read and
/// processed first (its socket was reported readable earlier), so CLIENT LIST shows them in that
/// client's query buffer and tot-mem, and a client they pushed over maxmemory-clients is already
/// gone (unit/client-eviction relies on both). Cinnabar's connections are read independently, and
/// under CPU load the socket engine may report the later CLIENT LIST first. So before running
/// CLIENT LIST, its client notes, for every other client that reads input now, the bytes waiting
/// in that client's socket (FIONREAD); the batch stops there, and the run loop waits, without the
/// execution lock, until each of those clients has processed at least those bytes (or is closed,
/// blocked, paused, or itself waiting so), for at most <see cref="InputWaitLimitMs"/>.
/// Costs on the hot path: one check of the command name per command and one store per batch.
/// </summary>
public sealed partial class Client
{
    private const long InputWaitLimitMs = 1000;

    // NetInputBytes as of the end of the last batch that left no received input unprocessed.
    private long _inputProcessedBytes;
    // Clients, and the input total each must reach, that the next command waits for.
    private List<(Client Client, long Bytes)>? _inputWaits;
    private volatile bool _waitingForInput;
    // The command that stopped the batch has waited: it runs when parsed again.
    private bool _inputWaitDone;

    /// <summary>Under the exec lock, after a batch.</summary>
    private void NoteInputProcessed()
    {
        if (!_inputPending) Volatile.Write(ref _inputProcessedBytes, NetInputBytes);
    }

    private static bool WaitsForOthersInput(CommandArgs args) =>
        args.Count >= 2 && args[0].Length == 6 && args[1].Length == 4
        && Ascii.EqualsIgnoreCase(args[0], "client"u8) && Ascii.EqualsIgnoreCase(args[1], "list"u8);

    /// <summary>
    /// Under the exec lock, before a command from this client's socket runs: true when it must
    /// first wait for input other clients already sent (see above).
    /// </summary>
    private bool MustWaitForOthersInput(CommandArgs args)
    {
        if (_inputWaitDone)
        {
            _inputWaitDone = false;
            return false;
        }
        if (!WaitsForOthersInput(args) || (Flags & ClientFlags.Multi) != 0) return false;
        List<(Client, long)>? waits = null;
        foreach (var c in _server.Clients)
        {
            if (ReferenceEquals(c, this) || c._socket == null || c.InputStalled) continue;
            if (RedisServer.TypeOf(c) is not (ClientType.Normal or ClientType.PubSub)) continue;
            int pending = c.SocketPendingBytes();
            if (pending > 0) (waits ??= []).Add((c, c.NetInputBytes + pending));
        }
        _inputWaits = waits;
        return waits != null;
    }

    // A client that will not process its input soon: waiting for it would only cost time.
    private bool InputStalled => _closed != 0 || BlockState != null || _pausedWaiting || _waitingForInput;

    private int SocketPendingBytes()
    {
        try { return _socket!.Available; }
        catch (SocketException) { return 0; }
        catch (ObjectDisposedException) { return 0; }
    }

    private bool ProcessedInput(long bytes) => InputStalled || Volatile.Read(ref _inputProcessedBytes) >= bytes;

    /// <summary>Run loop, no lock held: waits for the clients noted by <see cref="MustWaitForOthersInput"/>.</summary>
    private async Task WaitForOthersInputAsync()
    {
        var waits = _inputWaits!;
        _inputWaits = null;
        _waitingForInput = true;
        try
        {
            long deadline = Environment.TickCount64 + InputWaitLimitMs;
            while (Environment.TickCount64 < deadline && _closed == 0 && !AllProcessed(waits))
                await Task.Delay(1).ConfigureAwait(false);
        }
        finally
        {
            _waitingForInput = false;
        }
        _inputWaitDone = true;
    }

    private static bool AllProcessed(List<(Client Client, long Bytes)> waits)
    {
        foreach (var (c, bytes) in waits)
        {
            if (!c.ProcessedInput(bytes)) return false;
        }
        return true;
    }
}
