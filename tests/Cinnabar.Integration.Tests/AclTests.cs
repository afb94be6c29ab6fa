using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>ACL with real processes: replication through an ACL user, clients, files, side by side with redis-server.</summary>
public sealed class AclTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static readonly string[] ReplUser = ["--user", "repl", "on", ">rpass", "+psync", "+replconf", "+ping", "--requirepass", "masterpw"];

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    public void Replica_authenticates_to_its_master_as_an_acl_user(bool redisMaster, bool redisReplica)
    {
        using var master = ServerProcess.Start(redisMaster, ["--repl-diskless-sync-delay", "0", .. ReplUser]);
        using var replica = ServerProcess.Start(redisReplica, ["--masteruser", "repl", "--masterauth", "rpass"]);
        using var m = master.Connect();
        Assert.Equal("OK", m.Call("AUTH", "masterpw").ToString());
        m.Call("SET", "acl:repl:a", "1");
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("GET", "acl:repl:a").ToString() == "1", Deadline, "initial sync through the ACL user");
        m.Call("SET", "acl:repl:b", "2");
        Tools.WaitUntil(() => r.Call("GET", "acl:repl:b").ToString() == "2", Deadline, "streamed write");
        var list = m.Call("CLIENT", "LIST").ToString();
        Assert.Contains("user=repl", list);
        // The replica's user cannot do anything else.
        using var probe = master.Connect();
        probe.Call("AUTH", "repl", "rpass");
        Assert.Equal("NOPERM this user has no permissions to run the 'get' command", probe.Call("GET", "acl:repl:a").ToString());
    }

    [Fact]
    public void Replica_with_a_wrong_master_password_does_not_sync()
    {
        using var master = ServerProcess.StartCinnabar(ReplUser);
        using var replica = ServerProcess.StartCinnabar("--masteruser", "repl", "--masterauth", "wrong");
        using var m = master.Connect();
        m.Call("AUTH", "masterpw");
        using var r = replica.Connect();
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => m.Call("ACL", "LOG").Items!.Count > 0, Deadline, "failed AUTH logged on the master");
        var entry = m.Call("ACL", "LOG").Items![0].Items!;
        Assert.Equal("auth", entry[3].ToString());
        Assert.Equal("repl", entry[9].ToString());
        Assert.Equal("0", Field(m.Call("INFO", "replication").ToString(), "connected_slaves"));
    }

    private static string Field(string info, string name)
    {
        foreach (var line in info.Split("\r\n"))
            if (line.StartsWith(name + ":", StringComparison.Ordinal)) return line[(name.Length + 1)..];
        return "";
    }

    [Fact]
    public void Noperm_replies_and_acl_log_match_redis_server()
    {
        using var cin = ServerProcess.StartCinnabar();
        using var red = ServerProcess.StartRedis();
        string[][] script =
        [
            ["ACL", "SETUSER", "u", "on", ">p", "-@all", "+get", "+set", "+publish", "+lpush", "+acl|whoami", "%R~r*", "%W~w*", "&ch*", "(+ping)"],
            ["AUTH", "u", "p"],
            ["ACL", "WHOAMI"],
            ["GET", "r1"],
            ["GET", "w1"],
            ["SET", "r1", "v"],
            ["SET", "w1", "v"],
            ["SET", "w1", "v", "GET"],
            ["LPUSH", "w2", "a"],
            ["PUBLISH", "ch1", "m"],
            ["PUBLISH", "other", "m"],
            ["PING"],
            ["DEL", "w1"],
            ["AUTH", "u", "bad"],
            ["AUTH", "nouser", "p"],
        ];
        using var a = cin.Connect();
        using var b = red.Connect();
        foreach (var cmd in script)
            Assert.Equal(b.Call(cmd).ToString(), a.Call(cmd).ToString());
        using var admin1 = cin.Connect();
        using var admin2 = red.Connect();
        var l1 = admin1.Call("ACL", "LOG").Items!;
        var l2 = admin2.Call("ACL", "LOG").Items!;
        Assert.Equal(l2.Count, l1.Count);
        for (int i = 0; i < l1.Count; i++)
            for (int f = 0; f < 10; f++) // count, reason, context, object, username
                Assert.Equal(l2[i].Items![f].ToString(), l1[i].Items![f].ToString());
    }

    [Fact]
    public void Stackexchange_redis_and_redis_cli_log_in_as_an_acl_user()
    {
        using var server = ServerProcess.StartCinnabar("--user", "app", "on", ">apppw", "~app:*", "&*", "+@all", "-@dangerous", "--user", "default", "off");
        var options = ConfigurationOptions.Parse($"127.0.0.1:{server.Port}");
        options.User = "app";
        options.Password = "apppw";
        options.AbortOnConnectFail = true;
        using (var mux = ConnectionMultiplexer.Connect(options))
        {
            var db = mux.GetDatabase();
            db.StringSet("app:k", "v");
            Assert.Equal("v", (string?)db.StringGet("app:k"));
            var e = Assert.Throws<RedisServerException>(() => db.StringSet("other:k", "v"));
            Assert.Equal("NOPERM this user has no permissions to access one of the keys used as arguments", e.Message);
        }
        var (code, stdout, _) = Tools.Run("redis-cli", ["-p", server.Port.ToString(), "--user", "app", "--pass", "apppw", "--no-auth-warning", "ACL", "WHOAMI"]);
        Assert.Equal(0, code);
        Assert.Equal("app", stdout.Trim());
        (_, stdout, _) = Tools.Run("redis-cli", ["-p", server.Port.ToString(), "PING"]);
        Assert.Contains("NOAUTH Authentication required.", stdout);
    }

    [Fact]
    public void Deleting_a_user_disconnects_its_clients_and_revoked_channels_disconnect_subscribers()
    {
        using var server = ServerProcess.StartCinnabar();
        using var admin = server.Connect();
        admin.Call("ACL", "SETUSER", "gone", "on", ">pw", "+@all", "~*", "&*");
        admin.Call("ACL", "SETUSER", "sub", "on", ">pw", "+@all", "~*", "resetchannels", "&news");
        using var g = server.Connect();
        g.Call("AUTH", "gone", "pw");
        g.Call("CLIENT", "SETNAME", "doomed");
        using var s = server.Connect();
        s.Call("AUTH", "sub", "pw");
        s.Call("CLIENT", "SETNAME", "listener");
        s.Call("SUBSCRIBE", "news");
        Assert.Equal(1, admin.Call("ACL", "DELUSER", "gone").Integer);
        Assert.DoesNotContain("name=doomed", admin.Call("CLIENT", "LIST").ToString());
        Assert.Throws<IOException>(() => g.Call("PING"));
        admin.Call("ACL", "SETUSER", "sub", "&news", "&more");
        Assert.Contains("name=listener", admin.Call("CLIENT", "LIST").ToString());
        admin.Call("ACL", "SETUSER", "sub", "resetchannels");
        Assert.DoesNotContain("name=listener", admin.Call("CLIENT", "LIST").ToString());
    }

    [Fact]
    public void Users_survive_a_restart_through_config_rewrite_and_through_the_acl_file()
    {
        string dir = Directory.CreateTempSubdirectory("cinnabar-acl-").FullName;
        try
        {
            string conf = Path.Combine(dir, "redis.conf");
            File.WriteAllText(conf, "user default on nopass ~* &* +@all -flushdb\n");
            int port;
            using (var first = ServerProcess.Start(false, [], configFile: conf, dir: dir))
            {
                port = first.Port;
                using var c = first.Connect();
                c.Call("ACL", "SETUSER", "kept", "on", ">pw", "+get", "~*");
                Assert.Equal("OK", c.Call("CONFIG", "REWRITE").ToString());
            }
            string text = File.ReadAllText(conf);
            Assert.Contains("user default on nopass sanitize-payload ~* &* +@all -flushdb", text);
            Assert.Contains("user kept on #", text);
            using (var second = ServerProcess.Start(false, [], configFile: conf, port: port, dir: dir))
            {
                using var c = second.Connect();
                Assert.StartsWith("NOPERM", c.Call("FLUSHDB").ToString());
                Assert.Equal("OK", c.Call("AUTH", "kept", "pw").ToString());
            }
            File.WriteAllText(Path.Combine(dir, "users.acl"), "user alice on >a ~* &* +@all\n");
            using (var third = ServerProcess.Start(false, ["--aclfile", "users.acl"], dir: dir))
            {
                using var c = third.Connect();
                Assert.Equal("OK", c.Call("AUTH", "alice", "a").ToString());
                c.Call("ACL", "SETUSER", "eve", "on", ">e", "+get", "~*");
                Assert.Equal("OK", c.Call("ACL", "SAVE").ToString());
            }
            Assert.Contains("user eve on #", File.ReadAllText(Path.Combine(dir, "users.acl")));
        }
        finally
        {
            ServerProcess.DeleteDir(dir);
        }
    }
}
