using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Outgoing source address (bind-source-addr), protected mode, DEBUG HTSTATS and the process title
/// (Redis's unit/networking and unit/other). Only loopback addresses are used: 127.0.0.2 reaches a
/// server bound to 127.0.0.1 on Linux, and is not "local" for protected mode (Redis's islocalClient
/// accepts 127.0.0.1 and ::1 only).
/// </summary>
public sealed class NetworkingTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    [Fact]
    public void Replica_with_bind_source_addr_connects_to_its_master_from_that_address()
    {
        using var master = ServerProcess.StartCinnabar("--protected-mode", "no");
        using var replica = ServerProcess.StartCinnabar();
        using var m = master.Connect();
        using var r = replica.Connect();
        Assert.Equal("OK", r.Call("CONFIG", "SET", "bind-source-addr", "127.0.0.2").ToString());
        r.Call("REPLICAOF", "127.0.0.1", master.Port);
        Tools.WaitUntil(() => r.Call("INFO", "replication").ToString().Contains("master_link_status:up"), Deadline, "replica link up");
        Assert.Contains("ip=127.0.0.2,", m.Call("INFO", "replication").ToString());
        Assert.Contains(" addr=127.0.0.2:", m.Call("CLIENT", "LIST", "TYPE", "replica").ToString());
    }

    [Fact]
    public void Protected_mode_denies_127_0_0_2_until_a_password_is_set_or_protected_mode_is_off()
    {
        using var server = ServerProcess.StartCinnabar("--protected-mode", "yes");
        using var c = server.Connect();
        Assert.StartsWith("-DENIED Redis is running in protected mode", PingFrom127002(server.Port));

        c.Call("CONFIG", "SET", "requirepass", "secret");
        Assert.StartsWith("-NOAUTH", PingFrom127002(server.Port));
        c.Call("AUTH", "secret");
        c.Call("CONFIG", "SET", "requirepass", "");
        Assert.StartsWith("-DENIED", PingFrom127002(server.Port));

        c.Call("CONFIG", "SET", "protected-mode", "no");
        Assert.Equal("+PONG\r\n", PingFrom127002(server.Port));
        Assert.Contains("rejected_connections:2", c.Call("INFO", "stats").ToString());
    }

    [Fact]
    public void Protected_mode_also_denies_a_client_that_connects_while_a_script_is_busy()
    {
        using var server = ServerProcess.StartCinnabar("--protected-mode", "yes", "--busy-reply-threshold", "100");
        using var busy = server.Connect();
        using var c = server.Connect();
        busy.Send("EVAL", "while true do end", "0");
        Tools.WaitUntil(() => c.Call("PING").ToString().StartsWith("BUSY", StringComparison.Ordinal), Deadline, "script busy");
        Assert.StartsWith("-DENIED", PingFrom127002(server.Port));
        c.Call("SCRIPT", "KILL");
        Assert.StartsWith("ERR", busy.Read().ToString());
    }

    /// <summary>Connects from 127.0.0.2, sends PING and returns the first reply line (with its CRLF).</summary>
    private static string PingFrom127002(int port)
    {
        using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = 10000 };
        s.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
        s.Connect(IPAddress.Loopback, port);
        try { s.Send("PING\r\n"u8); }
        catch (SocketException) { }   // a refused client may already be closed
        var text = new StringBuilder();
        var buf = new byte[4096];
        while (!text.ToString().Contains("\r\n", StringComparison.Ordinal))
        {
            int n = s.Receive(buf);
            if (n == 0) break;
            text.Append(Encoding.ASCII.GetString(buf, 0, n));
        }
        string all = text.ToString();
        int end = all.IndexOf("\r\n", StringComparison.Ordinal);
        return end < 0 ? all : all[..(end + 2)];
    }

    [Fact]
    public void Debug_htstats_reports_the_key_and_expires_tables_as_redis_does()
    {
        using var server = ServerProcess.StartCinnabar("--enable-debug-command", "yes");
        using var c = server.Connect();
        const string empty = "Hash table 0 stats (main hash table):\nNo stats available for empty dictionaries\n";
        c.Call("SELECT", "3");
        Assert.Equal("[Dictionary HT]\n" + empty + "[Expires HT]\n" + empty, c.Call("DEBUG", "HTSTATS", "3").ToString());

        for (int i = 0; i < 100; i++) c.Call("SET", "htstats:" + i, "v");
        c.Call("EXPIRE", "htstats:0", "1000");
        string stats = c.Call("DEBUG", "HTSTATS", "3").ToString();
        var shape = new Regex(
            @"^\[Dictionary HT\]\nHash table 0 stats \(main hash table\):\n table size: (\d+)\n number of elements: 100\n" +
            @" different slots: (\d+)\n max chain length: (\d+)\n avg chain length \(counted\): \d+\.\d\d\n" +
            @" avg chain length \(computed\): \d+\.\d\d\n Chain length distribution:\n(   \d+: \d+ \(\d+\.\d\d%\)\n)+" +
            @"\[Expires HT\]\nHash table 0 stats \(main hash table\):\n table size: \d+\n number of elements: 1\n");
        var match = shape.Match(stats);
        Assert.True(match.Success, stats);
        long size = long.Parse(match.Groups[1].Value);
        Assert.True(size >= 100 && (size & (size - 1)) == 0, "table size is a power of two holding every key: " + size);

        Assert.Equal("ERR Out of range database", c.Call("DEBUG", "HTSTATS", "16").ToString());
        Assert.Equal("ERR value is not an integer or out of range", c.Call("DEBUG", "HTSTATS", "x").ToString());
        Assert.StartsWith("ERR unknown subcommand or wrong number of arguments for 'HTSTATS'", c.Call("DEBUG", "HTSTATS", "3", "full").ToString());
    }

    [Fact]
    public void Process_title_follows_proc_title_template_even_when_longer_than_the_command_line()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var server = ServerProcess.StartCinnabar();
        using var c = server.Connect();
        string title = Path.Combine(ServerProcess.RepoRoot, "bin", "cinnabar-server");
        Assert.Equal($"{title} 127.0.0.1:{server.Port}", Cmdline(server.Pid));

        c.Call("CONFIG", "SET", "proc-title-template", "TEST {title} {listen-addr} {port} {tls-port} {config-file}");
        Assert.Equal($"TEST {title} 127.0.0.1:{server.Port} {server.Port} 0 -", Cmdline(server.Pid));

        // Longer than the original argv: written on into the (relocated) environment area.
        string longTemplate = string.Join(' ', Enumerable.Repeat("{title}", 6)) + " {port}";
        c.Call("CONFIG", "SET", "proc-title-template", longTemplate);
        Assert.Equal(string.Join(' ', Enumerable.Repeat(title, 6)) + " " + server.Port, Cmdline(server.Pid));
        Assert.Equal("PONG", c.Call("PING").ToString());
        Assert.Contains("redis_version:", c.Call("INFO", "server").ToString());

        Assert.Contains("template format is invalid", c.Call("CONFIG", "SET", "proc-title-template", "{invalid-var}").ToString());
    }

    private static string Cmdline(int pid) => File.ReadAllText($"/proc/{pid}/cmdline").TrimEnd('\0');
}
