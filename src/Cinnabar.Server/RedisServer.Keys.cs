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

    // ---------------------------------------------------------------- writable replicas

    // Keys with a TTL written by a writable replica's own clients (not by its master), with a
    // bitmask of the dbs they were written in. Replicas otherwise never expire keys (the
    // master's DELs do), so these would live forever (Redis's slaveKeysWithExpire).
    private readonly ByteTable<ulong> _replicaKeysWithExpire = new();

    /// <summary>After a write by a non-master client on a replica: remember its keys that now have a TTL.</summary>
    private void RememberReplicaKeysWithExpire(Client client, CommandDef cmd, Protocol.CommandArgs args)
    {
        var db = Keyspace[client.DbIndex];
        if (db.Expires.Count == 0 || client.DbIndex >= 64) return;
        foreach (int i in cmd.GetKeyIndexes(args))
        {
            var key = args[i];
            if (db.GetExpire(key) == -1) continue;
            ref ulong mask = ref _replicaKeysWithExpire.GetOrAddRef(key, null, out _);
            mask |= 1UL << client.DbIndex;
        }
    }

    /// <summary>Cron on replicas: expires the remembered keys whose TTL passed (expireSlaveKeys).</summary>
    private void ExpireReplicaKeys()
    {
        if (_replicaKeysWithExpire.Count == 0) return;
        if (!IsReplica)
        {
            _replicaKeysWithExpire.Clear();
            return;
        }
        var done = new List<byte[]>();
        for (int i = _replicaKeysWithExpire.NextUsed(0); i >= 0; i = _replicaKeysWithExpire.NextUsed(i + 1))
        {
            byte[] key = _replicaKeysWithExpire.KeyAt(i);
            ref ulong mask = ref _replicaKeysWithExpire.ValueAt(i);
            for (int d = 0; d < Math.Min(64, Keyspace.Count); d++)
            {
                if ((mask & (1UL << d)) == 0) continue;
                var db = Keyspace[d];
                // Still volatile and not yet due: keep watching it in this db.
                if (!db.DeleteIfExpired(key) && db.GetExpire(key) != -1) continue;
                mask &= ~(1UL << d);
            }
            if (mask == 0) done.Add(key);
        }
        foreach (var k in done) _replicaKeysWithExpire.Remove(k);
    }
}
