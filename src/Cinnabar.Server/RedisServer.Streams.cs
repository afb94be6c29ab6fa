using Cinnabar.Protocol;

namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// Like <see cref="Block"/> but parks the client with <paramref name="argv"/> as the command to
    /// re-execute: XREAD with "$" blocks with the IDs "$" resolved to when it first blocked.
    /// </summary>
    public void BlockWithArgv(CommandContext ctx, byte[][] argv, byte[][] keys, long timeoutMs, Action<RespWriter> onTimeout)
    {
        var saved = ctx.Args;
        var copy = new CommandArgs();
        copy.SetOwned(argv);
        ctx.Args = copy;
        try
        {
            Block(ctx, keys, timeoutMs, onTimeout);
        }
        finally
        {
            ctx.Args = saved;
        }
    }

    /// <summary>
    /// Redis 7.0 wakes XREADGROUP clients blocked on a stream key that was deleted, so that they
    /// fail with "UNBLOCKED the stream key no longer exists" instead of waiting for the timeout
    /// (other blocked clients of a missing key just keep waiting).
    /// </summary>
    /// <summary>
    /// FLUSHDB/FLUSHALL (Redis 7.0's scanDatabaseForDeletedStreams): every key clients are blocked
    /// on in the emptied db is signalled, so XREADGROUP clients fail with UNBLOCKED; others keep waiting.
    /// </summary>
    public void SignalBlockedKeysOfFlushedDb(int dbIndex)
    {
        if (_blockedByKey.Count == 0) return;
        foreach (var id in _blockedByKey.Keys)
            if (id.Db == dbIndex) _readyKeys.Add(id);
    }

    private void RetryGroupReadersOfDeletedKey(LinkedList<Client> blocked)
    {
        foreach (var c in new List<Client>(blocked))
        {
            if (c.BlockState is { } state && System.Text.Ascii.EqualsIgnoreCase(state.Argv[0], "xreadgroup"u8))
                RetryBlocked(c);
        }
    }
}
