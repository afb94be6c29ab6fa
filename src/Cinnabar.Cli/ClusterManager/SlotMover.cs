namespace Cinnabar.Cli.ClusterManager;

/// <summary>Moving slots between masters (redis-cli's clusterManagerMoveSlot and friends).</summary>
public static class SlotMover
{
    /// <summary>
    /// Moves one slot from source to target the Redis 7.0 way (SETSLOT IMPORTING/MIGRATING, MIGRATE
    /// the keys in batches of Cmd.Pipeline, SETSLOT NODE on target, source and the other masters).
    /// Options as clusterManagerMoveSlot's opts: verbose (print dots), cold (do not set slot
    /// states / notify, used by fix), update (update the local model). Returns false with err set.
    /// </summary>
    public static bool MoveSlot(CmCluster cluster, CmNode source, CmNode target, int slot, bool verbose, bool cold, bool update, out string? err)
    {
        err = "not implemented yet";
        return false;
    }

    /// <summary>clusterManagerMigrateKeysInSlot: moves every key of the slot (MIGRATE batches);
    /// with cold, the slot states are left alone. Returns false with err set.</summary>
    public static bool MigrateKeysInSlot(CmCluster cluster, CmNode source, CmNode target, int slot, int timeout, int pipeline, bool verbose, out string? err)
    {
        err = "not implemented yet";
        return false;
    }
}
