using System.Text;
using BenchmarkDotNet.Attributes;
using Cinnabar.Protocol;
using Cinnabar.Server;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Bench;

/// <summary>
/// One command from its wire bytes to its reply, without the socket: parse, look up, check,
/// execute, reply (what a pipelined batch costs per command). The Allocated column must read 0
/// for commands on existing keys (issue 14; also asserted by HotPathAllocationTests in CI).
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks
{
    private RedisServer _server = null!;
    private Client _client = null!;
    private readonly RequestParser _parser = new();
    private readonly CommandArgs _args = new();
    private byte[] _get = null!, _set = null!, _incr = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = new RedisServer(new ServerConfig());
        _client = _server.CreateFakeClient();
        Run(Wire("SET", "key:000000000001", "xxx"));
        Run(Wire("SET", "counter", "1"));
        _get = Wire("GET", "key:000000000001");
        _set = Wire("SET", "key:000000000001", "xxx");
        _incr = Wire("INCR", "counter");
    }

    private static byte[] Wire(params string[] a) =>
        Encoding.ASCII.GetBytes("*" + a.Length + "\r\n" + string.Concat(a.Select(x => "$" + x.Length + "\r\n" + x + "\r\n")));

    private void Run(byte[] wire)
    {
        _parser.Parse(wire, 0, wire.Length, _args, out _);
        lock (_server.ExecLock) _server.Execute(_client, _args);
        _client.Reply.Clear();
    }

    [Benchmark] public void Get() => Run(_get);
    [Benchmark] public void Set() => Run(_set);
    [Benchmark] public void Incr() => Run(_incr);
}
