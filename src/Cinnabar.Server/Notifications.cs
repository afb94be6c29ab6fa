using System.Text;

namespace Cinnabar.Server;

/// <summary>Keyspace notifications (notify-keyspace-events), as Redis's notify.c.</summary>
public sealed class Notifications
{
    [Flags]
    private enum F
    {
        Keyspace = 1, Keyevent = 2, Generic = 4, String = 8, List = 16, Set = 32, Hash = 64, ZSet = 128,
        Expired = 256, Evicted = 512, Stream = 1024, KeyMiss = 2048, Module = 4096, New = 8192,
        All = Generic | String | List | Set | Hash | ZSet | Expired | Evicted | Stream | Module,
    }

    private readonly RedisServer _server;
    private F _flags;

    public Notifications(RedisServer server) => _server = server;

    public bool Enabled => _flags != 0 && !Muted;

    /// <summary>Set while a Lua debugger session runs in YES mode (its changes are rolled back, Redis makes them in a forked child).</summary>
    public bool Muted;

    public void Configure(string canonical)
    {
        _flags = (F)ParseMask(canonical);
        // Key creation is reported by the keyspace only while someone asked for 'n' events.
        _server.Keyspace.ReportNewKeys = (_flags & F.New) != 0;
    }

    private static int ParseMask(string s)
    {
        F f = 0;
        foreach (char c in s)
        {
            f |= c switch
            {
                'A' => F.All,
                'g' => F.Generic,
                '$' => F.String,
                'l' => F.List,
                's' => F.Set,
                'h' => F.Hash,
                'z' => F.ZSet,
                'x' => F.Expired,
                'e' => F.Evicted,
                'K' => F.Keyspace,
                'E' => F.Keyevent,
                't' => F.Stream,
                'm' => F.KeyMiss,
                'd' => F.Module,
                'n' => F.New,
                _ => (F)(-1),
            };
            if ((int)f == -1) return -1;
        }
        return (int)f;
    }

    /// <summary>Validates a notify-keyspace-events value and returns its canonical form.</summary>
    public static (string?, string?) ParseFlags(string value)
    {
        int mask = ParseMask(value);
        if (mask == -1) return (null, "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
        var f = (F)mask;
        var sb = new StringBuilder();
        if ((f & F.All) == F.All) sb.Append('A');
        else
        {
            if ((f & F.Generic) != 0) sb.Append('g');
            if ((f & F.String) != 0) sb.Append('$');
            if ((f & F.List) != 0) sb.Append('l');
            if ((f & F.Set) != 0) sb.Append('s');
            if ((f & F.Hash) != 0) sb.Append('h');
            if ((f & F.ZSet) != 0) sb.Append('z');
            if ((f & F.Expired) != 0) sb.Append('x');
            if ((f & F.Evicted) != 0) sb.Append('e');
            if ((f & F.Stream) != 0) sb.Append('t');
            if ((f & F.Module) != 0) sb.Append('d');
            if ((f & F.New) != 0) sb.Append('n');
        }
        if ((f & F.Keyspace) != 0) sb.Append('K');
        if ((f & F.Keyevent) != 0) sb.Append('E');
        if ((f & F.KeyMiss) != 0) sb.Append('m');
        return (sb.ToString(), null);
    }

    /// <summary>
    /// Fires a notification. <paramref name="type"/> is the class letter: g $ l s h z x e t m d n.
    /// </summary>
    public void Notify(char type, string @event, ReadOnlySpan<byte> key, int db)
    {
        int cls = ParseMask(type.ToString());
        if (cls <= 0 || ((int)_flags & cls) == 0) return;
        var evt = Encoding.ASCII.GetBytes(@event);
        if ((_flags & F.Keyspace) != 0)
        {
            var ch = Concat(Encoding.ASCII.GetBytes($"__keyspace@{db}__:"), key);
            _server.PubSub.Publish(ch, evt);
        }
        if ((_flags & F.Keyevent) != 0)
        {
            var ch = Encoding.ASCII.GetBytes($"__keyevent@{db}__:{@event}");
            _server.PubSub.Publish(ch, key);
        }
    }

    private static byte[] Concat(byte[] a, ReadOnlySpan<byte> b)
    {
        var r = new byte[a.Length + b.Length];
        a.CopyTo(r, 0);
        b.CopyTo(r.AsSpan(a.Length));
        return r;
    }
}
