namespace Cinnabar.Server;

// DEBUG LOADAOF (debug.c): flush the AOF buffer, empty every db and replay the AOF files named by
// the manifest. Kept apart from RedisServer.Aof.cs; it only calls that file's loading path.
public sealed partial class RedisServer
{
    /// <summary>Returns an error reply, or null when the dataset was reloaded from the AOF (lock held).</summary>
    public string? DebugLoadAof()
    {
        if (Aof.Enabled) FlushAofBuffer();
        long dirty = Dirty;
        var propagator = Propagator;
        Keyspace.FlushAll();
        var m = ReadManifest();
        try
        {
            // The replayed commands must reach neither the AOF nor the replicas.
            Propagator = null;
            if (m != null) LoadAof(m);
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or InvalidDataException)
        {
            Log.Warning("Error loading the AOF by DEBUG LOADAOF: " + e.Message);
            return "ERR Error loading the append only file";
        }
        finally
        {
            Propagator = propagator;
            Dirty = dirty;
        }
        // debug.c sets server.dirty = 0 after the load: no changes since the last save are left.
        Rdb.DirtyAtLastSave = Dirty;
        Log.Warning("Append Only File loaded by DEBUG LOADAOF");
        return null;
    }
}
