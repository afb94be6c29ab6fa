using System.Text;
using Cinnabar.Cli;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Tests;

public sealed class FormatterTests
{
    private static string H(RespReply r) => Encoding.UTF8.GetString(ReplyFormatter.Human(r));
    private static string R(RespReply r) => Encoding.UTF8.GetString(ReplyFormatter.Raw(r));
    private static RespReply Parse(string resp)
    {
        var reader = new RespReplyReader();
        reader.Feed(Encoding.UTF8.GetBytes(resp));
        return reader.TryRead() ?? throw new InvalidOperationException("incomplete");
    }

    [Theory]
    [InlineData("+OK\r\n", "OK\n", "OK\n")]
    [InlineData(":42\r\n", "(integer) 42\n", "42\n")]
    [InlineData("$3\r\nbar\r\n", "\"bar\"\n", "bar\n")]
    [InlineData("$-1\r\n", "(nil)\n", "\n")]
    [InlineData("_\r\n", "(nil)\n", "\n")]
    [InlineData("-ERR boom\r\n", "(error) ERR boom\n", "ERR boom\n\n")]
    [InlineData("*0\r\n", "(empty array)\n", "\n")]
    [InlineData("%0\r\n", "(empty hash)\n", "\n")]
    [InlineData("~0\r\n", "(empty set)\n", "\n")]
    [InlineData(",1.5\r\n", "(double) 1.5\n", "1.5\n")]
    [InlineData("#t\r\n", "(true)\n", "(true)\n")]
    [InlineData("#f\r\n", "(false)\n", "(false)\n")]
    [InlineData("=6\r\ntxt:hi\r\n", "hi\n", "hi\n")]
    public void Scalars_format_like_redis_cli(string resp, string human, string raw)
    {
        Assert.Equal(human, H(Parse(resp)));
        Assert.Equal(raw, R(Parse(resp)));
    }

    [Fact]
    public void Human_quotes_binary_and_control_bytes()
    {
        var r = new RespReply { Type = RespType.Bulk, Str = [(byte)'a', (byte)'\n', (byte)'"', 0xff] };
        Assert.Equal("\"a\\n\\\"\\xff\"\n", H(r));
    }

    [Fact]
    public void Nested_arrays_indent_under_their_index()
    {
        var r = Parse("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$1\r\nb\r\n*0\r\n");
        Assert.Equal("1) (integer) 1\n2) 1) \"a\"\n   2) 1) \"b\"\n3) (empty array)\n", H(r));
        Assert.Equal("1\na\nb\n\n", R(r));
    }

    [Fact]
    public void Index_width_grows_with_element_count()
    {
        var items = Enumerable.Range(1, 10).Select(i => RespReply.Int(i)).ToArray();
        var text = H(RespReply.Agg(RespType.Array, items));
        Assert.StartsWith(" 1) (integer) 1\n", text);
        Assert.EndsWith("10) (integer) 10\n", text);
        var nested = H(RespReply.Agg(RespType.Array, [.. items, RespReply.Agg(RespType.Array, RespReply.Int(1), RespReply.Int(2))]));
        Assert.EndsWith("11) 1) (integer) 1\n    2) (integer) 2\n", nested);
    }

    [Fact]
    public void Maps_use_hash_numbering_and_arrows()
    {
        var r = Parse("%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n:2\r\n");
        Assert.Equal("1# \"a\" => \"1\"\n2# \"b\" => (integer) 2\n", H(r));
        Assert.Equal("a 1\nb 2\n", R(r));
    }

    [Fact]
    public void Multi_line_map_values_start_on_their_own_line()
    {
        var r = Parse("%2\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$1\r\nb\r\n*1\r\n:3\r\n");
        Assert.Equal("1# \"a\" => \n   1) (integer) 1\n   2) (integer) 2\n2# \"b\" => 1) (integer) 3\n", H(r));
    }

    [Fact]
    public void Sets_and_pushes_use_their_own_separators()
    {
        Assert.Equal("1~ \"x\"\n2~ \"y\"\n", H(Parse("~2\r\n$1\r\nx\r\n$1\r\ny\r\n")));
        Assert.Equal("1) \"message\"\n2) \"ch\"\n", H(Parse(">2\r\n$7\r\nmessage\r\n$2\r\nch\r\n")));
    }

    [Fact]
    public void Raw_delimiters_are_configurable()
    {
        var r = Parse("*2\r\n$1\r\na\r\n$1\r\nb\r\n");
        Assert.Equal("a,b;", Encoding.UTF8.GetString(ReplyFormatter.Raw(r, ",", ";")));
    }

    [Fact]
    public void Big_numbers_are_rejected_like_redis_cli_7_0()
    {
        var e = Assert.Throws<UnknownReplyTypeException>(() => H(Parse("(123\r\n")));
        Assert.Equal("Unknown reply type: 13", e.Message);
    }
}
