using Cinnabar.Storage;

namespace Cinnabar.Server.Cluster;

// TEMPORARY until the storage slot index lands: full scans with the same names as Db's coming
// instance methods (which then take precedence). To be deleted at that merge.
internal static class SlotIndexShim
{
    public static void EnableSlotIndex(this Keyspace ks) { }

    public static int CountKeysInSlot(this Db db, int slot)
    {
        var keys = new List<byte[]>();
        return db.GetKeysInSlot(slot, int.MaxValue, keys);
    }

    public static int GetKeysInSlot(this Db db, int slot, int maxCount, List<byte[]> into)
    {
        int n = 0;
        for (int i = 0; i < db.Dict.Capacity && n < maxCount; i++)
        {
            if (!db.Dict.IsUsed(i)) continue;
            var k = db.Dict.KeyAt(i);
            if (HashSlot.Of(k) != slot) continue;
            into.Add(k);
            n++;
        }
        return n;
    }
}
