using System.Net.Sockets;

namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// CONFIG SET port / bind at runtime: as Redis does, the TCP listeners are closed and opened
    /// again with the new port and addresses; connected clients stay. Returns false when
    /// listening failed (the caller restores the old value, which listens again).
    /// Does nothing before Start (config file and command line are applied before listening).
    /// </summary>
    internal bool RebindTcpListeners()
    {
        if (_cron == null) return true;
        var old = _listeners.Where(l => l.AddressFamily != AddressFamily.Unix).ToList();
        foreach (var l in old)
        {
            _listeners.Remove(l);
            try { l.Dispose(); } catch (SocketException) { }
        }
        if (Config.Port == 0) return true;
        int before = _listeners.Count;
        try
        {
            ListenTcp();
            return true;
        }
        catch (InvalidOperationException)
        {
            // ListenTcp may have opened some addresses before failing: close them again.
            foreach (var l in _listeners.Skip(before).ToList())
            {
                _listeners.Remove(l);
                try { l.Dispose(); } catch (SocketException) { }
            }
            return false;
        }
    }
}
