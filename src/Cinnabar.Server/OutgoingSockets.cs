using System.Net.Sockets;

namespace Cinnabar.Server;

/// <summary>Options for the connections this server opens (cluster bus, master link, MIGRATE).</summary>
internal static class OutgoingSockets
{
    private const int SolSocket = 1, SoReuseAddr = 2;   // Linux values

    /// <summary>
    /// SO_REUSEADDR on an outgoing socket. Its ephemeral local port can be another node's
    /// listening port while that node is down (cluster bus ports such as 40000+ sit inside
    /// Linux's ephemeral range); with the flag on both sides the restarted node can still bind
    /// (the listener already has it), where otherwise it would exit with "Address already in use".
    /// Only SO_REUSEADDR: .NET's ReuseAddress option would also set SO_REUSEPORT.
    /// </summary>
    public static Socket AllowLocalPortReuse(this Socket s)
    {
        if (OperatingSystem.IsLinux())
        {
            try { s.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1)); }
            catch (SocketException) { }
        }
        return s;
    }
}
