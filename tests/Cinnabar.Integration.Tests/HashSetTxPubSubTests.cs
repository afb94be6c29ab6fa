using System.Collections.Concurrent;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>Multi-connection behaviour of transactions and pub/sub, plus keyspace notifications.</summary>
public sealed class HashSetTxPubSubTests : IClassFixture<HashSetTxPubSubTests.NotifyingServer>
{
    /// <summary>A Cinnabar server with every keyspace notification enabled.</summary>
    public sealed class NotifyingServer : IDisposable
    {
        public ServerProcess Server { get; } = ServerProcess.StartCinnabar("--notify-keyspace-events", "KEA");
        public void Dispose() => Server.Dispose();
    }

    private readonly NotifyingServer _f;

    public HashSetTxPubSubTests(NotifyingServer f) => _f = f;

    [Fact]
    public void Exec_returns_null_after_another_client_writes_a_watched_key()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        Assert.Equal("OK", a.Call("SET", "tx:w1", "1").ToString());
        Assert.Equal("OK", a.Call("WATCH", "tx:w1").ToString());
        Assert.Equal("OK", a.Call("MULTI").ToString());
        Assert.Equal("QUEUED", a.Call("SET", "tx:w1", "from-a").ToString());
        Assert.Equal("OK", b.Call("SET", "tx:w1", "from-b").ToString());
        var exec = a.Call("EXEC");
        Assert.True(exec.IsNull, exec.ToString());
        Assert.Equal("from-b", a.Call("GET", "tx:w1").ToString());
    }

    // Redis's SMOVE signals the destination only when the member was added to it.
    [Fact]
    public void Smove_of_a_member_already_in_the_destination_leaves_its_watch_intact()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        a.Call("DEL", "tx:smsrc", "tx:smdst");
        a.Call("SADD", "tx:smsrc", "a", "b");
        a.Call("SADD", "tx:smdst", "a");
        Assert.Equal("OK", a.Call("WATCH", "tx:smdst").ToString());
        Assert.Equal("OK", a.Call("MULTI").ToString());
        Assert.Equal("QUEUED", a.Call("SADD", "tx:smdst", "c").ToString());
        Assert.Equal(1, b.Call("SMOVE", "tx:smsrc", "tx:smdst", "a").Integer);
        var exec = a.Call("EXEC");
        Assert.False(exec.IsNull, "EXEC was aborted");
        Assert.Equal(2, a.Call("SCARD", "tx:smdst").Integer);
    }

    [Fact]
    public void Exec_runs_when_watched_key_is_untouched_and_other_keys_change()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        a.Call("WATCH", "tx:w2");
        b.Call("SET", "tx:other", "x");
        a.Call("MULTI");
        a.Call("HSET", "tx:w2", "f", "v");
        a.Call("SADD", "tx:w2s", "1");
        var exec = a.Call("EXEC");
        Assert.Equal("[1,1]", exec.ToString());
        Assert.Equal("v", b.Call("HGET", "tx:w2", "f").ToString());
    }

    [Fact]
    public void Watch_is_invalidated_by_hash_and_set_writes_of_other_clients()
    {
        using var a = _f.Server.Connect();
        using var b = _f.Server.Connect();
        a.Call("HSET", "tx:w3", "f", "1");
        a.Call("WATCH", "tx:w3");
        b.Call("HINCRBY", "tx:w3", "f", "1");
        a.Call("MULTI");
        a.Call("HGET", "tx:w3", "f");
        Assert.True(a.Call("EXEC").IsNull);
        // A watch only lasts one transaction.
        a.Call("MULTI");
        a.Call("HGET", "tx:w3", "f");
        Assert.Equal("[2]", a.Call("EXEC").ToString());
    }

    [Fact]
    public void Exec_aborts_after_a_queueing_error_and_clears_multi_state()
    {
        using var a = _f.Server.Connect();
        a.Call("MULTI");
        Assert.True(a.Call("HSET", "tx:bad").IsError);
        var exec = a.Call("EXEC");
        Assert.Equal("EXECABORT Transaction discarded because of previous errors.", exec.ToString());
        Assert.Equal("ERR EXEC without MULTI", a.Call("EXEC").ToString());
    }

    [Fact]
    public void Subscriber_receives_messages_from_another_connection_in_resp2()
    {
        using var sub = _f.Server.Connect();
        using var pub = _f.Server.Connect();
        Assert.Equal("[subscribe,ps:ch1,1]", sub.Call("SUBSCRIBE", "ps:ch1").ToString());
        Assert.Equal("[psubscribe,ps:p*,2]", sub.Call("PSUBSCRIBE", "ps:p*").ToString());
        Assert.Equal(1, pub.Call("PUBLISH", "ps:ch1", "hello").Integer);
        var msg = sub.Read();
        Assert.Equal('*', msg.Type);
        Assert.Equal("[message,ps:ch1,hello]", msg.ToString());
        Assert.Equal(1, pub.Call("PUBLISH", "ps:pattern", "hi").Integer);
        Assert.Equal("[pmessage,ps:p*,ps:pattern,hi]", sub.Read().ToString());
        Assert.Equal("[ps:ch1,1]", pub.Call("PUBSUB", "NUMSUB", "ps:ch1").ToString());
        Assert.Equal(0, pub.Call("PUBLISH", "ps:nobody", "x").Integer);
        // RESP2 subscribers may only run subscription commands.
        Assert.StartsWith("ERR Can't execute 'get'", sub.Call("GET", "x").ToString());
        Assert.Equal("[unsubscribe,ps:ch1,1]", sub.Call("UNSUBSCRIBE").ToString());
        Assert.Equal("[punsubscribe,ps:p*,0]", sub.Call("PUNSUBSCRIBE").ToString());
        Assert.Equal("PONG", sub.Call("PING").ToString());
    }

    [Fact]
    public void Resp3_subscriber_gets_push_messages_and_can_run_commands()
    {
        using var sub = _f.Server.Connect();
        using var pub = _f.Server.Connect();
        sub.Call("HELLO", "3");
        var confirm = sub.Call("SUBSCRIBE", "ps:r3");
        Assert.Equal('>', confirm.Type);
        Assert.Equal("[subscribe,ps:r3,1]", confirm.ToString());
        Assert.Equal('_', sub.Call("HGET", "ps:nokey", "f").Type);
        pub.Call("PUBLISH", "ps:r3", "payload");
        var msg = sub.Read();
        Assert.Equal('>', msg.Type);
        Assert.Equal("[message,ps:r3,payload]", msg.ToString());
    }

    [Fact]
    public void Shard_channels_are_separate_from_classic_channels()
    {
        using var sub = _f.Server.Connect();
        using var pub = _f.Server.Connect();
        Assert.Equal("[ssubscribe,ps:shard,1]", sub.Call("SSUBSCRIBE", "ps:shard").ToString());
        Assert.Equal(0, pub.Call("PUBLISH", "ps:shard", "classic").Integer);
        Assert.Equal(1, pub.Call("SPUBLISH", "ps:shard", "sharded").Integer);
        Assert.Equal("[smessage,ps:shard,sharded]", sub.Read().ToString());
        Assert.Equal("[ps:shard,1]", pub.Call("PUBSUB", "SHARDNUMSUB", "ps:shard").ToString());
        Assert.Equal("[ps:shard]", pub.Call("PUBSUB", "SHARDCHANNELS", "ps:sh*").ToString());
    }

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_redis_pub_sub_delivers_messages(RedisProtocol protocol)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var subscriber = mux.GetSubscriber();
        var received = new ConcurrentQueue<string>();
        var channel = RedisChannel.Literal("ps:se:" + protocol);
        await subscriber.SubscribeAsync(channel, (_, v) => received.Enqueue(v!));
        var patternReceived = new ConcurrentQueue<string>();
        await subscriber.SubscribeAsync(RedisChannel.Pattern("ps:sepat:*"), (ch, v) => patternReceived.Enqueue(ch + "=" + v));
        long n = await subscriber.PublishAsync(channel, "one");
        Assert.Equal(1, n);
        await subscriber.PublishAsync(RedisChannel.Literal("ps:sepat:" + protocol), "two");
        Tools.WaitUntil(() => received.Count == 1 && patternReceived.Count == 1, TimeSpan.FromSeconds(10), "pub/sub delivery");
        Assert.Equal("one", received.Single());
        Assert.Equal("ps:sepat:" + protocol + "=two", patternReceived.Single());
        // The same multiplexer still runs commands (RESP3 shares the connection with pushes).
        var db = mux.GetDatabase();
        await db.HashSetAsync("ps:se:h:" + protocol, "f", "v");
        Assert.Equal("v", (string?)await db.HashGetAsync("ps:se:h:" + protocol, "f"));
    }

    [Fact]
    public async Task StackExchange_redis_transaction_with_condition_fails_after_concurrent_change()
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.AbortOnConnectFail = true;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        await db.SetAddAsync("tx:se:set", "1");
        var tran = db.CreateTransaction();
        tran.AddCondition(Condition.SetContains("tx:se:set", "1"));
        _ = tran.SetAddAsync("tx:se:set", "2");
        Assert.True(await tran.ExecuteAsync());
        Assert.Equal(2, await db.SetLengthAsync("tx:se:set"));
        var tran2 = db.CreateTransaction();
        tran2.AddCondition(Condition.SetContains("tx:se:set", "99"));
        _ = tran2.SetAddAsync("tx:se:set", "3");
        Assert.False(await tran2.ExecuteAsync());
        Assert.Equal(2, await db.SetLengthAsync("tx:se:set"));
    }

    [Fact]
    public void Keyspace_notifications_report_hash_and_set_events()
    {
        using var sub = _f.Server.Connect();
        using var w = _f.Server.Connect();
        Assert.Equal("[psubscribe,__key*__:*,1]", sub.Call("PSUBSCRIBE", "__key*__:*").ToString());
        w.Call("HSET", "kn:h", "f", "v");
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:h,hset]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:hset,kn:h]", sub.Read().ToString());
        w.Call("SADD", "kn:s", "a");
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:s,sadd]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:sadd,kn:s]", sub.Read().ToString());
        // Removing the last field deletes the key: hdel then a generic del.
        w.Call("HDEL", "kn:h", "f");
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:h,hdel]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:hdel,kn:h]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:h,del]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:del,kn:h]", sub.Read().ToString());
        w.Call("SPOP", "kn:s");
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:s,spop]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:spop,kn:s]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyspace@0__:kn:s,del]", sub.Read().ToString());
        Assert.Equal("[pmessage,__key*__:*,__keyevent@0__:del,kn:s]", sub.Read().ToString());
    }
}
