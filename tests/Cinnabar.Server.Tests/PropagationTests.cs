using System.Text;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public sealed class PropagationTests
{
    private sealed class Capture : ICommandStreamConsumer
    {
        public readonly StringBuilder Text = new();
        public void Append(ReadOnlySpan<byte> resp) => Text.Append(Encoding.UTF8.GetString(resp));
    }

    private static byte[][] Argv(params string[] a) => a.Select(Encoding.UTF8.GetBytes).ToArray();

    [Fact]
    public void Commands_are_preceded_by_select_when_the_db_changes()
    {
        var server = new RedisServer(new ServerConfig());
        var cap = new Capture();
        server.AddStreamConsumer(cap);
        var sink = (IPropagationSink)server;
        sink.Propagate(0, Argv("SET", "a", "1"));
        sink.Propagate(0, Argv("SET", "b", "2"));
        sink.Propagate(3, Argv("DEL", "c"));
        Assert.Equal(
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n" +
            "*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n*2\r\n$3\r\nDEL\r\n$1\r\nc\r\n",
            cap.Text.ToString());
    }

    [Fact]
    public void Atomic_units_with_several_writes_are_wrapped_in_multi_exec()
    {
        var server = new RedisServer(new ServerConfig());
        var cap = new Capture();
        server.AddStreamConsumer(cap);
        var sink = (IPropagationSink)server;
        server.BeginAtomicPropagation();
        sink.Propagate(0, Argv("INCR", "x"));
        sink.Propagate(0, Argv("INCR", "y"));
        server.EndAtomicPropagation();
        string s = cap.Text.ToString();
        Assert.StartsWith("*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*1\r\n$5\r\nMULTI\r\n", s);
        Assert.EndsWith("*1\r\n$4\r\nEXEC\r\n", s);
    }

    [Fact]
    public void A_single_write_in_an_atomic_unit_is_not_wrapped()
    {
        var server = new RedisServer(new ServerConfig());
        var cap = new Capture();
        server.AddStreamConsumer(cap);
        server.BeginAtomicPropagation();
        ((IPropagationSink)server).Propagate(0, Argv("INCR", "x"));
        server.EndAtomicPropagation();
        Assert.DoesNotContain("MULTI", cap.Text.ToString());
    }
}
