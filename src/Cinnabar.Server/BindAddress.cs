using System.Net;

namespace Cinnabar.Server;

/// <summary>One `bind` entry: an address, `*` / `::*` for any, a leading `-` making it optional
/// (skipped when the address is not available), as redis.conf's bind directive.</summary>
internal readonly record struct BindAddress(IPAddress Address, bool Optional, string Text)
{
    public static BindAddress Parse(string raw)
    {
        bool optional = raw.StartsWith('-');
        string addr = optional ? raw[1..] : raw;
        IPAddress ip = addr switch
        {
            "*" => IPAddress.Any,
            "::*" => IPAddress.IPv6Any,
            _ => IPAddress.TryParse(addr, out var a) ? a : throw new InvalidOperationException($"Invalid bind address '{addr}'"),
        };
        return new BindAddress(ip, optional, addr);
    }
}
