using System.Net;
using System.Net.Sockets;

namespace Cinnabar.Server;

/// <summary>Options for the connections this server opens (cluster bus, master link, MIGRATE, sentinel links).</summary>
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

    /// <summary>
    /// `bind-source-addr`: binds an outgoing socket to that local address before it connects, as
    /// Redis does for the master link, cluster bus links and sentinel links (anet.c's best-effort
    /// binding: when the address cannot be bound, the connection is made unbound instead).
    /// MIGRATE does not honour it in Redis 7.0 (connBlockingConnect binds nothing). An empty value
    /// (the default) binds nothing. A dual-mode IPv6 socket takes an IPv4 address as IPv4-mapped.
    /// </summary>
    public static Socket BindSource(this Socket s, string sourceAddr)
    {
        if (sourceAddr.Length == 0 || !IPAddress.TryParse(sourceAddr, out var ip)) return s;
        bool fits = ip.AddressFamily == s.AddressFamily
            || (s.AddressFamily == AddressFamily.InterNetworkV6 && s.DualMode && ip.AddressFamily == AddressFamily.InterNetwork);
        if (!fits) return s;
        try { s.Bind(new IPEndPoint(ip, 0)); }
        catch (SocketException) { }
        return s;
    }
}
