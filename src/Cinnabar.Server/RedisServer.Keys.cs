using Cinnabar.Storage;

namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// Redis 7.0's touchAllWatchedKeysInDb(emptied, replacedWith) for FLUSHDB/FLUSHALL/SWAPDB:
    /// call BEFORE the db is emptied/swapped. Only WATCHes on keys that exist in the emptied db
    /// (or in the db replacing it) are invalidated, so watching a missing key survives a flush.
    /// </summary>
    public void TouchWatchedKeysOnFlush(int dbIndex, Db? replacedWith)
    {
        if (_watchedCount == 0) return;
        var emptied = Keyspace[dbIndex];
        foreach (var entry in _watched[dbIndex])
        {
            if (!emptied.Dict.ContainsKey(entry.Key) && (replacedWith == null || !replacedWith.Dict.ContainsKey(entry.Key))) continue;
            foreach (var c in entry.Value) c.Flags |= ClientFlags.DirtyCas;
        }
    }

    /// <summary>
    /// After SWAPDB, clients blocked on a key that now exists in either db must be served, as
    /// Redis's scanDatabaseForReadyKeys does for both swapped databases; a key that is now missing
    /// is signalled too (scanDatabaseForDeletedStreams), which fails its XREADGROUP clients with
    /// UNBLOCKED and leaves the other clients waiting.
    /// </summary>
    public void SignalReadyKeysAfterSwap(int a, int b)
    {
        if (_blockedByKey.Count == 0) return;
        foreach (var id in _blockedByKey.Keys)
        {
            if (id.Db == a || id.Db == b) _readyKeys.Add(id);
        }
    }
}
