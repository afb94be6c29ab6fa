using System.Text;
using Cinnabar.Persistence.Aof;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

public sealed class AofRewriterTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static string Rewrite(Keyspace ks, params string[] libraries)
    {
        var gate = new object();
        List<DbSnapshot> snaps;
        lock (gate) snaps = RdbFile.BeginSnapshots(ks);
        var ms = new MemoryStream();
        AofRewriter.Write(ms, snaps, gate, libraries.Select(B).ToList());
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static string Cmd(params string[] args)
    {
        var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
        return sb.ToString();
    }

    [Fact]
    public void Functions_come_first_then_select_per_non_empty_db_and_pexpireat_after_the_value()
    {
        var ks = new Keyspace(4);
        ks[0].Set("a"u8, StringObject.Create(B("1")));
        ks[0].SetExpire("a"u8, 1_900_000_000_123);
        ks[3].Set("b"u8, StringObject.Create(B("text")));
        string text = Rewrite(ks, "#!lua name=l\nredis.register_function('f', function() return 1 end)");
        string expected = Cmd("FUNCTION", "LOAD", "#!lua name=l\nredis.register_function('f', function() return 1 end)")
            + Cmd("SELECT", "0") + Cmd("SET", "a", "1") + Cmd("PEXPIREAT", "a", "1900000000123")
            + Cmd("SELECT", "3") + Cmd("SET", "b", "text");
        Assert.Equal(expected, text);
    }

    [Fact]
    public void Collections_are_written_in_commands_of_at_most_64_items()
    {
        var ks = new Keyspace(1);
        var list = new ListObject();
        for (int i = 0; i < 150; i++) list.PushTail(B("e" + i));
        ks[0].Set("l"u8, list);
        string text = Rewrite(ks);
        Assert.Equal(3, CountOccurrences(text, "$5\r\nRPUSH\r\n"));
        Assert.Contains("*66\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$2\r\ne0\r\n", text);
        Assert.Contains("*24\r\n$5\r\nRPUSH\r\n$1\r\nl\r\n$4\r\ne128\r\n", text);
        Assert.EndsWith("$4\r\ne149\r\n", text);
    }

    [Fact]
    public void Zset_scores_use_percent_17g_like_rioWriteBulkDouble()
    {
        var z = new ZSetObject();
        z.Insert("a"u8, 0.1);
        z.Insert("b"u8, double.NegativeInfinity);
        z.Insert("c"u8, 3);
        var ks = new Keyspace(1);
        ks[0].Set("z"u8, z);
        Assert.Equal(Cmd("SELECT", "0") + Cmd("ZADD", "z", "-inf", "b", "0.10000000000000001", "a", "3", "c"), Rewrite(ks));
    }

    [Fact]
    public void Hashes_use_hmset_with_64_pairs_per_command()
    {
        var h = new HashObject();
        for (int i = 0; i < 70; i++) h.Set(B("f" + i), B("v" + i));
        var ks = new Keyspace(1);
        ks[0].Set("h"u8, h);
        string text = Rewrite(ks);
        Assert.Contains("*130\r\n$5\r\nHMSET\r\n", text);
        Assert.Contains("*14\r\n$5\r\nHMSET\r\n", text);
    }

    [Fact]
    public void Rewritten_commands_parse_back_as_complete_requests()
    {
        var ks = new Keyspace(1);
        var s = SetObject.CreateIntset();
        s.Add("5"u8);
        ks[0].Set("s"u8, s);
        ks[0].Set("n"u8, StringObject.Create(B("42")));
        var bytes = B(Rewrite(ks));
        var parser = new RequestParser();
        var args = new CommandArgs();
        int pos = 0, commands = 0;
        while (pos < bytes.Length)
        {
            Assert.Equal(ParseResult.Command, parser.Parse(bytes, pos, bytes.Length, args, out int used));
            pos += used;
            commands++;
        }
        Assert.Equal(3, commands);
    }

    private static int CountOccurrences(string text, string what)
    {
        int n = 0;
        for (int i = text.IndexOf(what, StringComparison.Ordinal); i >= 0; i = text.IndexOf(what, i + 1, StringComparison.Ordinal)) n++;
        return n;
    }
}
