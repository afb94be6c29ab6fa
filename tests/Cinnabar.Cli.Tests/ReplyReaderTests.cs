using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Tests;

public sealed class ReplyReaderTests
{
    [Fact]
    public void Partial_input_yields_nothing_until_complete()
    {
        var reader = new RespReplyReader();
        var bytes = Encoding.UTF8.GetBytes("*2\r\n$3\r\nfoo\r\n:7\r\n+OK\r\n");
        for (int i = 0; i < 16; i++)
        {
            reader.Feed(bytes.AsSpan(i, 1));
            Assert.Null(reader.TryRead());
        }
        reader.Feed(bytes.AsSpan(16, 1));
        var r = reader.TryRead();
        Assert.NotNull(r);
        Assert.Equal(RespType.Array, r.Type);
        Assert.Equal("foo", r.Elements[0].Text);
        Assert.Equal(7, r.Elements[1].Integer);
        reader.Feed(bytes.AsSpan(17));
        Assert.Equal(RespType.Status, reader.TryRead()!.Type);
        Assert.Null(reader.TryRead());
    }

    [Fact]
    public void Resp3_types_are_recognised()
    {
        var reader = new RespReplyReader();
        reader.Feed(Encoding.UTF8.GetBytes("%1\r\n+k\r\n,3.5\r\n#t\r\n_\r\n(12345678901234567890\r\n=8\r\ntxt:abcd\r\n!3\r\nERR\r\n|1\r\n+a\r\n+b\r\n:1\r\n"));
        var map = reader.TryRead()!;
        Assert.Equal(RespType.Map, map.Type);
        Assert.Equal(2, map.Elements.Count);
        Assert.Equal("3.5", map.Elements[1].Text);
        Assert.Equal(1, reader.TryRead()!.Integer);
        Assert.Equal(RespType.Nil, reader.TryRead()!.Type);
        Assert.Equal("12345678901234567890", reader.TryRead()!.Text);
        var verb = reader.TryRead()!;
        Assert.Equal(("txt", "abcd"), (verb.VerbatimFormat, verb.Text));
        Assert.Equal(RespType.Error, reader.TryRead()!.Type);
        Assert.Equal(RespType.Attribute, reader.TryRead()!.Type);
        Assert.Equal(1, reader.TryRead()!.Integer);
    }

    [Fact]
    public void Large_payloads_grow_the_buffer()
    {
        var reader = new RespReplyReader();
        var big = new string('x', 100_000);
        var wire = Encoding.UTF8.GetBytes($"${big.Length}\r\n{big}\r\n");
        for (int i = 0; i < wire.Length; i += 4096) reader.Feed(wire.AsSpan(i, Math.Min(4096, wire.Length - i)));
        Assert.Equal(big, reader.TryRead()!.Text);
    }

    [Fact]
    public void Unknown_type_byte_is_a_protocol_error()
    {
        var reader = new RespReplyReader();
        reader.Feed("?x\r\n"u8);
        Assert.Throws<InvalidDataException>(() => reader.TryRead());
    }
}
