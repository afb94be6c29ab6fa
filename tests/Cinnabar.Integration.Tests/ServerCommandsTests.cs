using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

public sealed class ServerCommandsTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public ServerCommandsTests(SideBySideFixture f) => _f = f;

    /// <summary>Section headers and field names of an INFO text, in order (per-command/error lines and db lines dropped).</summary>
    private static List<string> FieldNames(string info) => info.Split("\r\n")
        .Where(l => l.Length > 0 && !l.StartsWith("cmdstat_", StringComparison.Ordinal) && !l.StartsWith("errorstat_", StringComparison.Ordinal)
            && !l.StartsWith("latency_percentiles_usec_", StringComparison.Ordinal) && !Regex.IsMatch(l, @"^db\d+:"))
        .Select(l => l.StartsWith('#') ? l : l[..l.IndexOf(':')])
        .ToList();

    [Theory]
    [InlineData("everything")]
    [InlineData("default")]
    [InlineData("all")]
    [InlineData("server")]
    [InlineData("memory")]
    [InlineData("persistence")]
    [InlineData("stats")]
    [InlineData("replication")]
    public void Info_fields_and_order_match_redis(string section)
    {
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        var a = FieldNames(ours.Call("INFO", section).ToString());
        var b = FieldNames(theirs.Call("INFO", section).ToString());
        Assert.Equal(b, a);
    }

    [Fact]
    public void Info_with_several_sections_joins_them_with_a_blank_line()
    {
        using var c = _f.Cinnabar.Connect();
        string info = c.Call("INFO", "cluster", "SERVER", "cluster").ToString();
        Assert.StartsWith("# Server\r\nredis_version:7.0.15\r\n", info);
        Assert.EndsWith("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n", info);
        Assert.Equal("", c.Call("INFO", "nosuchsection").ToString());
    }

    [Fact]
    public void Info_is_verbatim_text_in_resp3()
    {
        using var c = _f.Cinnabar.Connect();
        c.Call("HELLO", "3");
        byte[] raw = c.CallRaw("INFO", "cluster");
        Assert.Equal("=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n", Encoding.ASCII.GetString(raw));
    }

    [Fact]
    public void Info_stats_count_keyspace_hits_misses_and_errors()
    {
        using var c = _f.Cinnabar.Connect();
        string before = c.Call("INFO", "stats").ToString();
        c.Call("SET", "srvtest:hits", "1");
        c.Call("GET", "srvtest:hits");
        c.Call("GET", "srvtest:nokey");
        c.Call("NOSUCHCMD");
        string after = c.Call("INFO", "stats").ToString();
        long Field(string text, string name) => long.Parse(Regex.Match(text, "\r\n" + name + @":(\d+)\r\n").Groups[1].Value);
        Assert.True(Field(after, "keyspace_hits") >= Field(before, "keyspace_hits") + 1);
        Assert.True(Field(after, "keyspace_misses") >= Field(before, "keyspace_misses") + 1);
        Assert.True(Field(after, "total_error_replies") >= Field(before, "total_error_replies") + 1);
        Assert.True(Field(after, "total_commands_processed") > Field(before, "total_commands_processed"));
    }

    [Fact]
    public void Client_list_fields_match_redis()
    {
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        static string Names(string line) => string.Join(' ', line.Trim().Split(' ').Select(kv => kv[..kv.IndexOf('=')]));
        Assert.Equal(Names(theirs.Call("CLIENT", "INFO").ToString()), Names(ours.Call("CLIENT", "INFO").ToString()));
        string list = ours.Call("CLIENT", "LIST").ToString();
        Assert.EndsWith("\n", list);
        Assert.All(list.TrimEnd('\n').Split('\n'), l => Assert.Equal(Names(theirs.Call("CLIENT", "INFO").ToString()), Names(l)));
        Assert.Matches(@"cmd=client\|info user=default redir=-1 resp=2\n$", ours.Call("CLIENT", "INFO").ToString());
    }

    [Fact]
    public async Task StackExchange_redis_reads_info_client_list_and_command()
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Cinnabar.Port}");
        options.AllowAdmin = true;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var server = mux.GetServer(mux.GetEndPoints()[0]);
        var info = await server.InfoAsync();
        var serverSection = info.Single(g => g.Key == "Server");
        Assert.Contains(serverSection, kv => kv.Key == "redis_version" && kv.Value == "7.0.15");
        Assert.Contains(info.Single(g => g.Key == "Clients"), kv => kv.Key == "connected_clients");
        var clients = await server.ClientListAsync();
        Assert.NotEmpty(clients);
        Assert.All(clients, c => Assert.True(c.Id > 0));
        var count = await server.ExecuteAsync("COMMAND", "COUNT");
        Assert.True((long)count > 10);
        var docs = await server.ExecuteAsync("COMMAND", "DOCS", "get");
        var arr = (RedisResult[])docs!;
        Assert.Equal("get", (string?)arr[0]);
        // TIME is the server's wall clock: it agrees with ours (no dependence on which day it is).
        var skew = (await server.TimeAsync()) - DateTime.UtcNow;
        Assert.True(Math.Abs(skew.TotalSeconds) < 60, $"TIME differs from the local clock by {skew}");
    }

    [Fact]
    public void Command_docs_for_all_commands_parses_as_a_map()
    {
        using var c = _f.Cinnabar.Connect();
        var r = c.Call("COMMAND", "DOCS");
        Assert.NotNull(r.Items);
        Assert.Equal(0, r.Items!.Count % 2);
        Assert.Contains(r.Items, i => i.ToString() == "client");
    }

    [Fact]
    public void Command_getkeys_extracts_keys_like_redis()
    {
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        object[] args = ["COMMAND", "GETKEYS", "GET", "srvtest:gk"];
        Assert.Equal(theirs.CallRaw(args), ours.CallRaw(args));
    }

    [Fact]
    public void Monitor_streams_commands_in_redis_format()
    {
        using var mon = _f.Cinnabar.Connect();
        using var c = _f.Cinnabar.Connect();
        Assert.Equal("OK", mon.Call("MONITOR").ToString());
        c.Call("SET", "srvtest:mon", "a b");
        string line = mon.Read().ToString();
        Assert.Matches(new Regex(@"^\d{10}\.\d{6} \[0 127\.0\.0\.1:\d+\] ""SET"" ""srvtest:mon"" ""a b""$"), line);
        string list = c.Call("CLIENT", "LIST").ToString();
        Assert.Contains("flags=O ", list);
    }

    [Fact]
    public void Debug_sleep_stalls_the_server()
    {
        using var c = _f.Cinnabar.Connect();
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("OK", c.Call("DEBUG", "SLEEP", "0.2").ToString());
        Assert.True(sw.ElapsedMilliseconds >= 190);
    }

    [Fact]
    public void Shutdown_exits_with_code_zero_and_closes_the_port()
    {
        using var server = ServerProcess.StartCinnabar();
        using (var c = server.Connect())
        {
            c.Send("SHUTDOWN", "NOSAVE");
            Assert.Throws<IOException>(() => c.Read());
        }
        Assert.True(server.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, server.ExitCode);
        using var probe = new TcpClient();
        Assert.ThrowsAny<SocketException>(() => probe.Connect(IPAddress.Loopback, server.Port));
    }

    private static IPAddress? NonLoopbackIPv4() => NetworkInterface.GetAllNetworkInterfaces()
        .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
        .SelectMany(n => n.GetIPProperties().UnicastAddresses)
        .Select(a => a.Address)
        .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a));

    [Fact]
    public void Protected_mode_denies_remote_clients_with_redis_bytes()
    {
        var ip = NonLoopbackIPv4();
        if (ip == null) return; // no external interface: covered by the unit tests
        using var ours = ServerProcess.StartCinnabar("--bind", "* -::*");
        using var theirs = ServerProcess.StartRedis("--bind", "* -::*");
        static byte[] Greeting(IPAddress ip, int port)
        {
            using var tcp = new TcpClient();
            tcp.Connect(ip, port);
            var s = tcp.GetStream();
            s.Write("PING\r\n"u8);
            var ms = new MemoryStream();
            var buf = new byte[4096];
            int n;
            s.ReadTimeout = 10000;
            try
            {
                while ((n = s.Read(buf)) > 0) ms.Write(buf, 0, n);
            }
            catch (IOException) { }
            return ms.ToArray();
        }
        byte[] expected = Greeting(ip, theirs.Port);
        Assert.StartsWith("-DENIED", Encoding.ASCII.GetString(expected));
        Assert.Equal(Encoding.ASCII.GetString(expected), Encoding.ASCII.GetString(Greeting(ip, ours.Port)));
    }
}
