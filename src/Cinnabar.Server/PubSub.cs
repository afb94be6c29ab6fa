using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Channel and pattern subscriptions and message delivery. Delivery writes the message into
/// each subscriber's output buffer (under its output lock) and schedules a flush; runs under
/// the execution lock like every command.
/// </summary>
public sealed class PubSub
{
    private readonly Dictionary<string, List<Client>> _channels = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Client>> _patterns = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<Client>> _shardChannels = new(StringComparer.Ordinal);

    public int ChannelCount => _channels.Count;
    public int PatternCount => _patterns.Count;
    public IReadOnlyDictionary<string, List<Client>> Channels => _channels;
    public IReadOnlyDictionary<string, List<Client>> ShardChannels => _shardChannels;

    // Channel names are binary; we key them by a lossless Latin-1 mapping of their bytes.
    public static string Key(ReadOnlySpan<byte> b) => Encoding.Latin1.GetString(b);
    public static byte[] Bytes(string key) => Encoding.Latin1.GetBytes(key);

    public bool Subscribe(Client c, string channel, bool shard = false)
    {
        var set = shard ? (c.ShardChannels ??= new HashSet<string>(StringComparer.Ordinal)) : (c.Channels ??= new HashSet<string>(StringComparer.Ordinal));
        if (!set.Add(channel)) return false;
        var map = shard ? _shardChannels : _channels;
        if (!map.TryGetValue(channel, out var list)) map[channel] = list = new List<Client>();
        list.Add(c);
        return true;
    }

    public bool Unsubscribe(Client c, string channel, bool shard = false)
    {
        var set = shard ? c.ShardChannels : c.Channels;
        if (set == null || !set.Remove(channel)) return false;
        var map = shard ? _shardChannels : _channels;
        if (map.TryGetValue(channel, out var list))
        {
            list.Remove(c);
            if (list.Count == 0) map.Remove(channel);
        }
        return true;
    }

    public bool PSubscribe(Client c, string pattern)
    {
        c.Patterns ??= new HashSet<string>(StringComparer.Ordinal);
        if (!c.Patterns.Add(pattern)) return false;
        if (!_patterns.TryGetValue(pattern, out var list)) _patterns[pattern] = list = new List<Client>();
        list.Add(c);
        return true;
    }

    public bool PUnsubscribe(Client c, string pattern)
    {
        if (c.Patterns == null || !c.Patterns.Remove(pattern)) return false;
        if (_patterns.TryGetValue(pattern, out var list))
        {
            list.Remove(c);
            if (list.Count == 0) _patterns.Remove(pattern);
        }
        return true;
    }

    public void RemoveClient(Client c)
    {
        if (c.Channels != null) foreach (var ch in c.Channels.ToArray()) Unsubscribe(c, ch);
        if (c.ShardChannels != null) foreach (var ch in c.ShardChannels.ToArray()) Unsubscribe(c, ch, shard: true);
        if (c.Patterns != null) foreach (var p in c.Patterns.ToArray()) PUnsubscribe(c, p);
    }

    /// <summary>
    /// removeChannelsInSlot: the slot left this node's shard, so its shard channels go, and each
    /// subscriber is told with a sunsubscribe push (and leaves pub/sub mode when it was the last).
    /// </summary>
    public void RemoveShardChannelsInSlot(int slot)
    {
        if (_shardChannels.Count == 0) return;
        foreach (var channel in _shardChannels.Keys.Where(ch => HashSlot.Of(Bytes(ch)) == slot).ToList())
        {
            var name = Bytes(channel);
            foreach (var c in _shardChannels[channel].ToArray())
            {
                Unsubscribe(c, channel, shard: true);
                if (c.SubscriptionCount == 0) c.Flags &= ~ClientFlags.PubSub;
                lock (c.OutputLock)
                {
                    var w = c.Reply;
                    w.WritePushHeader(3);
                    w.WriteBulk("sunsubscribe"u8);
                    w.WriteBulk(name);
                    w.WriteInteger(c.ShardChannels?.Count ?? 0);
                }
                c.ScheduleFlush();
            }
        }
    }

    public int NumSub(string channel) => _channels.TryGetValue(channel, out var l) ? l.Count : 0;
    public int ShardNumSub(string channel) => _shardChannels.TryGetValue(channel, out var l) ? l.Count : 0;
    public IEnumerable<string> PatternNames => _patterns.Keys;

    /// <summary>Delivers a message; returns the number of receivers (as PUBLISH replies).</summary>
    public int Publish(ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool shard = false)
    {
        int receivers = 0;
        string key = Key(channel);
        var map = shard ? _shardChannels : _channels;
        if (map.TryGetValue(key, out var subs))
        {
            foreach (var c in subs)
            {
                Deliver(c, shard ? "smessage"u8 : "message"u8, default, channel, message, hasPattern: false);
                receivers++;
            }
        }
        if (!shard && _patterns.Count > 0)
        {
            foreach (var (pattern, clients) in _patterns)
            {
                var pb = Bytes(pattern);
                if (!GlobMatcher.Match(pb, channel)) continue;
                foreach (var c in clients)
                {
                    Deliver(c, "pmessage"u8, pb, channel, message, hasPattern: true);
                    receivers++;
                }
            }
        }
        return receivers;
    }

    private static void Deliver(Client c, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> pattern, ReadOnlySpan<byte> channel, ReadOnlySpan<byte> message, bool hasPattern)
    {
        lock (c.OutputLock)
        {
            var w = c.Reply;
            w.WritePushHeader(hasPattern ? 4 : 3);
            w.WriteBulk(kind);
            if (hasPattern) w.WriteBulk(pattern);
            w.WriteBulk(channel);
            w.WriteBulk(message);
        }
        c.ScheduleFlush();
    }
}
