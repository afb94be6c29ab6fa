using System.Text;
using Cinnabar.Protocol;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace Cinnabar.Protocol.Tests;

public sealed class RequestParserTests
{
    private static (ParseResult Result, List<string> Args, int Consumed, string? Error) ParseOnce(string input, RequestParser? parser = null)
    {
        parser ??= new RequestParser();
        var bytes = Encoding.UTF8.GetBytes(input);
        var args = new CommandArgs();
        var r = parser.Parse(bytes, 0, bytes.Length, args, out int consumed);
        var list = new List<string>();
        if (r == ParseResult.Command)
            for (int i = 0; i < args.Count; i++) list.Add(Encoding.UTF8.GetString(args[i]));
        return (r, list, consumed, parser.Error);
    }

    [Fact]
    public void Parses_a_multibulk_command()
    {
        var (r, args, consumed, _) = ParseOnce("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
        Assert.Equal(ParseResult.Command, r);
        Assert.Equal(new[] { "GET", "key" }, args);
        Assert.Equal(22, consumed);
    }

    [Fact]
    public void Pending_bulk_length_is_known_once_its_length_line_is_read()
    {
        var parser = new RequestParser();
        Assert.Equal(ParseResult.Incomplete, ParseOnce("*2\r\n$3\r\nSET\r\n$1000", parser).Result);
        Assert.Equal(-1, parser.PendingBulkLength);
        parser.Reset();
        Assert.Equal(ParseResult.Incomplete, ParseOnce("*2\r\n$3\r\nSET\r\n$1000\r\nabc", parser).Result);
        Assert.Equal(1000, parser.PendingBulkLength);
        Assert.Equal(13 + 7 + 1000 + 2, parser.BytesNeeded);
        parser.Reset();
        Assert.Equal(ParseResult.Command, ParseOnce("*1\r\n$4\r\nPING\r\n", parser).Result);
        Assert.Equal(-1, parser.PendingBulkLength);
    }

    [Fact]
    public void Parses_inline_commands_with_quotes()
    {
        var (r, args, _, _) = ParseOnce("SET k \"a\\x41b\" 'c d'\r\n");
        Assert.Equal(ParseResult.Command, r);
        Assert.Equal(new[] { "SET", "k", "aAb", "c d" }, args);
    }

    [Theory]
    [InlineData("*abc\r\n", "Protocol error: invalid multibulk length")]
    [InlineData("*1\r\n+foo\r\n", "Protocol error: expected '$', got '+'")]
    [InlineData("*1\r\n$-5\r\n", "Protocol error: invalid bulk length")]
    [InlineData("SET \"a\r\n", "Protocol error: unbalanced quotes in request")]
    public void Malformed_frames_give_redis_errors(string input, string error)
    {
        var (r, _, _, e) = ParseOnce(input);
        Assert.Equal(ParseResult.Error, r);
        Assert.Equal(error, e);
    }

    [Fact]
    public void Bulk_length_above_proto_max_bulk_len_is_refused()
    {
        var p = new RequestParser { ProtoMaxBulkLen = 10 };
        var (r, _, _, e) = ParseOnce("*1\r\n$11\r\n", p);
        Assert.Equal(ParseResult.Error, r);
        Assert.Equal("Protocol error: invalid bulk length", e);
    }

    [Fact]
    public void Unauthenticated_clients_get_tighter_limits()
    {
        var p = new RequestParser { Unauthenticated = true };
        Assert.Equal("Protocol error: unauthenticated multibulk length", ParseOnce("*11\r\n", p).Error);
        Assert.Equal("Protocol error: unauthenticated bulk length", ParseOnce("*1\r\n$16385\r\n", p).Error);
    }

    [Fact]
    public void Too_big_inline_request_is_refused()
    {
        var (r, _, _, e) = ParseOnce(new string('a', RequestParser.InlineMaxSize + 1));
        Assert.Equal(ParseResult.Error, r);
        Assert.Equal("Protocol error: too big inline request", e);
    }

    [Fact]
    public void Empty_multibulk_is_consumed_silently()
    {
        var (r, _, consumed, _) = ParseOnce("*0\r\n");
        Assert.Equal(ParseResult.Empty, r);
        Assert.Equal(4, consumed);
    }

    private static byte[] Encode(string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args)
        {
            var b = Encoding.UTF8.GetByteCount(a);
            sb.Append('$').Append(b).Append("\r\n").Append(a).Append("\r\n");
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Property(MaxTest = 300)]
    public bool Any_command_split_at_any_point_parses_to_the_same_args(NonEmptyArray<NonNull<string>> raw, PositiveInt cut)
    {
        var args = raw.Get.Select(s => s.Get).ToArray();
        var bytes = Encode(args);
        int split = cut.Get % bytes.Length;
        var parser = new RequestParser();
        var cargs = new CommandArgs();
        // First only a prefix is available: must be Incomplete (or Command if the split is at the end).
        var r1 = parser.Parse(bytes, 0, split, cargs, out _);
        if (r1 != ParseResult.Incomplete) return false;
        var r2 = parser.Parse(bytes, 0, bytes.Length, cargs, out int consumed);
        if (r2 != ParseResult.Command || consumed != bytes.Length || cargs.Count != args.Length) return false;
        for (int i = 0; i < args.Length; i++)
            if (Encoding.UTF8.GetString(cargs[i]) != args[i]) return false;
        return true;
    }

    [Property(MaxTest = 1000)]
    public bool Random_bytes_never_throw(byte[] data)
    {
        var parser = new RequestParser { ProtoMaxBulkLen = 1 << 20 };
        var args = new CommandArgs();
        int pos = 0;
        while (pos < data.Length)
        {
            var r = parser.Parse(data, pos, data.Length, args, out int consumed);
            if (r is ParseResult.Incomplete or ParseResult.Error) break;
            if (consumed <= 0) return false;
            pos += consumed;
        }
        return true;
    }

    [Fact]
    public void Strict_integer_parsing_matches_string2ll()
    {
        Assert.True(RequestParser.TryParseLong("-9223372036854775808"u8, out long min));
        Assert.Equal(long.MinValue, min);
        Assert.False(RequestParser.TryParseLong("9223372036854775808"u8, out _));
        Assert.False(RequestParser.TryParseLong("01"u8, out _));
        Assert.False(RequestParser.TryParseLong("+1"u8, out _));
        Assert.False(RequestParser.TryParseLong(" 1"u8, out _));
        Assert.False(RequestParser.TryParseLong("-0"u8, out _));
    }
}
