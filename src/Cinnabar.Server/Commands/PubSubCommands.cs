using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Pub/Sub commands (Redis's pubsub.c) over <see cref="PubSub"/>. Subscription confirmations are
/// push messages in RESP3 and arrays in RESP2 (<see cref="RespWriter.WritePushHeader"/>); their
/// count is the client's channel+pattern subscriptions, or its shard channels for S* commands.
/// </summary>
public sealed class PubSubCommands : ICommandFamily
{
    private const string G = "pubsub";

    public void Register(CommandTable t)
    {
        t.Add("subscribe", -2, "pubsub noscript loading stale", 0, 0, 0, "@pubsub @slow", Subscribe, G, "Listens for messages published to channels.", "2.0.0", "O(N) where N is the number of channels to subscribe to.");
        t.Add("unsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0, "@pubsub @slow", Unsubscribe, G, "Stops listening to messages posted to channels.", "2.0.0", "O(N) where N is the number of clients already subscribed to a channel.");
        t.Add("psubscribe", -2, "pubsub noscript loading stale", 0, 0, 0, "@pubsub @slow", PSubscribe, G, "Listens for messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to subscribe to.");
        t.Add("punsubscribe", -1, "pubsub noscript loading stale", 0, 0, 0, "@pubsub @slow", PUnsubscribe, G, "Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "O(N+M)");
        t.Add("publish", 3, "pubsub loading stale fast may_replicate", 0, 0, 0, "@pubsub @fast", Publish, G, "Posts a message to a channel.", "2.0.0", "O(N+M)");
        t.Add("ssubscribe", -2, "pubsub noscript loading stale", 1, -1, 1, "@pubsub @slow", SSubscribe, G, "Listens for messages published to shard channels.", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.");
        t.Add("sunsubscribe", -1, "pubsub noscript loading stale", 1, -1, 1, "@pubsub @slow", SUnsubscribe, G, "Stops listening to messages posted to shard channels.", "7.0.0", "O(N) where N is the number of clients already subscribed to a shard channel.");
        t.Add("spublish", 3, "pubsub loading stale fast may_replicate", 1, 1, 1, "@pubsub @fast", SPublish, G, "Post a message to a shard channel", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.");
        var c = t.AddContainer("pubsub", -2, G, "A container for Pub/Sub commands.", "2.8.0");
        t.AddSub(c, "channels", -2, "pubsub loading stale", 0, 0, 0, "@pubsub @slow", Channels, "Returns the active channels.", "2.8.0", "O(N)");
        t.AddSub(c, "numsub", -2, "pubsub loading stale", 0, 0, 0, "@pubsub @slow", NumSub, "Returns a count of subscribers to channels.", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels");
        t.AddSub(c, "numpat", 2, "pubsub loading stale", 0, 0, 0, "@pubsub @slow", NumPat, "Returns a count of unique pattern subscriptions.", "2.8.0");
        t.AddSub(c, "shardchannels", -2, "pubsub loading stale", 0, 0, 0, "@pubsub @slow", ShardChannels, "Returns the active shard channels.", "7.0.0", "O(N)");
        t.AddSub(c, "shardnumsub", -2, "pubsub loading stale", 0, 0, 0, "@pubsub @slow", ShardNumSub, "Returns the count of subscribers of shard channels.", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels");
        t.AddSub(c, "help", 2, "loading stale", 0, 0, 0, "@slow", Help, "Returns helpful text about the different subcommands.", "6.2.0");
    }

    private static int ClassicCount(Client c) => (c.Channels?.Count ?? 0) + (c.Patterns?.Count ?? 0);
    private static int ShardCount(Client c) => c.ShardChannels?.Count ?? 0;

    private static void UpdateFlag(Client c)
    {
        if (c.SubscriptionCount > 0) c.Flags |= ClientFlags.PubSub;
        else c.Flags &= ~ClientFlags.PubSub;
    }

    private static void Confirm(RespWriter w, ReadOnlySpan<byte> kind, ReadOnlySpan<byte> name, bool nullName, int count)
    {
        w.WritePushHeader(3);
        w.WriteBulk(kind);
        if (nullName) w.WriteNull();
        else w.WriteBulk(name);
        w.WriteInteger(count);
    }

    private static void Subscribe(CommandContext ctx)
    {
        var c = ctx.Client;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            ctx.Server.PubSub.Subscribe(c, PubSub.Key(ctx.Arg(i)));
            Confirm(ctx.Reply, "subscribe"u8, ctx.Arg(i), false, ClassicCount(c));
        }
        UpdateFlag(c);
    }

    private static void SSubscribe(CommandContext ctx)
    {
        var c = ctx.Client;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            ctx.Server.PubSub.Subscribe(c, PubSub.Key(ctx.Arg(i)), shard: true);
            Confirm(ctx.Reply, "ssubscribe"u8, ctx.Arg(i), false, ShardCount(c));
        }
        UpdateFlag(c);
    }

    private static void PSubscribe(CommandContext ctx)
    {
        var c = ctx.Client;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            ctx.Server.PubSub.PSubscribe(c, PubSub.Key(ctx.Arg(i)));
            Confirm(ctx.Reply, "psubscribe"u8, ctx.Arg(i), false, ClassicCount(c));
        }
        UpdateFlag(c);
    }

    private static void Unsubscribe(CommandContext ctx) => UnsubscribeGeneric(ctx, "unsubscribe"u8, Kind.Channel);
    private static void SUnsubscribe(CommandContext ctx) => UnsubscribeGeneric(ctx, "sunsubscribe"u8, Kind.Shard);
    private static void PUnsubscribe(CommandContext ctx) => UnsubscribeGeneric(ctx, "punsubscribe"u8, Kind.Pattern);

    private enum Kind { Channel, Shard, Pattern }

    private static void UnsubscribeGeneric(CommandContext ctx, ReadOnlySpan<byte> reply, Kind kind)
    {
        var c = ctx.Client;
        var ps = ctx.Server.PubSub;
        if (ctx.ArgCount > 1)
        {
            for (int i = 1; i < ctx.ArgCount; i++)
            {
                Remove(ps, c, PubSub.Key(ctx.Arg(i)), kind);
                Confirm(ctx.Reply, reply, ctx.Arg(i), false, kind == Kind.Shard ? ShardCount(c) : ClassicCount(c));
            }
        }
        else
        {
            var current = kind switch { Kind.Channel => c.Channels, Kind.Shard => c.ShardChannels, _ => c.Patterns };
            if (current == null || current.Count == 0)
            {
                // Nothing to leave: Redis still answers once, with a null name.
                Confirm(ctx.Reply, reply, default, true, kind == Kind.Shard ? ShardCount(c) : ClassicCount(c));
            }
            else
            {
                foreach (var name in current.ToArray())
                {
                    Remove(ps, c, name, kind);
                    Confirm(ctx.Reply, reply, PubSub.Bytes(name), false, kind == Kind.Shard ? ShardCount(c) : ClassicCount(c));
                }
            }
        }
        UpdateFlag(c);
    }

    private static void Remove(PubSub ps, Client c, string name, Kind kind)
    {
        if (kind == Kind.Pattern) ps.PUnsubscribe(c, name);
        else ps.Unsubscribe(c, name, shard: kind == Kind.Shard);
    }

    private static void Publish(CommandContext ctx)
    {
        int receivers = ctx.Server.PubSub.Publish(ctx.Arg(1), ctx.Arg(2));
        ctx.Reply.WriteInteger(receivers);
        // In cluster mode the bus carries it to every node; otherwise replicas' subscribers get
        // it through replication (publishCommand forces propagation).
        if (ctx.Server.Cluster != null) ctx.Server.Cluster.Node.PropagatePublish(ctx.ArgBytes(1), ctx.ArgBytes(2), shard: false);
        else if ((ctx.Client.Flags & ClientFlags.Master) == 0) ctx.Server.PropagateToReplicasOnly(ctx.Client.DbIndex, [ctx.ArgBytes(0), ctx.ArgBytes(1), ctx.ArgBytes(2)]);
    }

    private static void SPublish(CommandContext ctx)
    {
        int receivers = ctx.Server.PubSub.Publish(ctx.Arg(1), ctx.Arg(2), shard: true);
        ctx.Reply.WriteInteger(receivers);
        if (ctx.Server.Cluster != null) ctx.Server.Cluster.Node.PropagatePublish(ctx.ArgBytes(1), ctx.ArgBytes(2), shard: true);
        else if ((ctx.Client.Flags & ClientFlags.Master) == 0) ctx.Server.PropagateToReplicasOnly(ctx.Client.DbIndex, [ctx.ArgBytes(0), ctx.ArgBytes(1), ctx.ArgBytes(2)]);
    }

    private static void Channels(CommandContext ctx) => ListChannels(ctx, ctx.Server.PubSub.Channels);
    private static void ShardChannels(CommandContext ctx) => ListChannels(ctx, ctx.Server.PubSub.ShardChannels);

    private static void ListChannels(CommandContext ctx, IReadOnlyDictionary<string, List<Client>> map)
    {
        byte[]? pattern = ctx.ArgCount > 2 ? ctx.ArgBytes(2) : null;
        if (ctx.ArgCount > 3)
        {
            ctx.Error($"ERR unknown subcommand or wrong number of arguments for '{Errors.Truncate(ctx.ArgString(1))}'. Try PUBSUB HELP.");
            return;
        }
        var names = new List<byte[]>();
        foreach (var name in map.Keys)
        {
            var b = PubSub.Bytes(name);
            if (pattern == null || GlobMatcher.Match(pattern, b)) names.Add(b);
        }
        ctx.Reply.WriteBulkArray(names);
    }

    private static void NumSub(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader((ctx.ArgCount - 2) * 2L);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            ctx.Reply.WriteBulk(ctx.Arg(i));
            ctx.Reply.WriteInteger(ctx.Server.PubSub.NumSub(PubSub.Key(ctx.Arg(i))));
        }
    }

    private static void ShardNumSub(CommandContext ctx)
    {
        ctx.Reply.WriteArrayHeader((ctx.ArgCount - 2) * 2L);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            ctx.Reply.WriteBulk(ctx.Arg(i));
            ctx.Reply.WriteInteger(ctx.Server.PubSub.ShardNumSub(PubSub.Key(ctx.Arg(i))));
        }
    }

    private static void NumPat(CommandContext ctx) => ctx.Reply.WriteInteger(ctx.Server.PubSub.PatternCount);

    private static readonly string[] HelpLines =
    [
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: '*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    ];

    private static void Help(CommandContext ctx) => ctx.Reply.WriteHelpLines(HelpLines);
}
