using Cinnabar.Storage;

namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// Redis 7.0's touchAllWatchedKeysInDb(emptied, replacedWith) for FLUSHDB/FLUSHALL/SWAPDB:
    /// call BEFORE the db is emptied/swapped. Only WATCHes on keys that exist in the emptied db
    /// (or in the db replacing it) are invalidated, so watching a missing key survives a flush;
    /// keys that were already expired when watched count as missing.
    /// </summary>
    public void TouchWatchedKeysOnFlush(int dbIndex, Db? replacedWith)
    {
        if (_watchedCount == 0) return;
        var emptied = Keyspace[dbIndex];
        foreach (var entry in _watched[dbIndex])
        {
            byte[] key = entry.Key;
            bool inEmptied = emptied.Dict.ContainsKey(key);
            bool inReplacement = replacedWith != null && replacedWith.Dict.ContainsKey(key);
            if (!inEmptied && !inReplacement) continue;
            foreach (var c in entry.Value)
            {
                var w = FindWatched(c, dbIndex, key);
                if (w is { Expired: true })
                {
                    if (!inReplacement)
                    {
                        w.Expired = false; // the stale key is simply gone
                        continue;
                    }
                    if (IsLogicallyExpired(replacedWith!, key)) continue; // still stale
                }
                else if (w != null && !inEmptied && IsLogicallyExpired(replacedWith!, key))
                {
                    w.Expired = true; // a missing key replaced by a stale one
                    continue;
                }
                c.Flags |= ClientFlags.DirtyCas;
            }
        }
    }

    /// <summary>
    /// After SWAPDB, clients blocked on a key that now exists in either db must be served, as
    /// Redis's scanDatabaseForReadyKeys does for both swapped databases.
    /// </summary>
    public void SignalReadyKeysAfterSwap(int a, int b)
    {
        if (_blockedByKey.Count == 0) return;
        foreach (var id in _blockedByKey.Keys)
        {
            if ((id.Db == a || id.Db == b) && Keyspace[id.Db].Dict.ContainsKey(PubSub.Bytes(id.Key))) _readyKeys.Add(id);
        }
    }
}
