using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

public class ScriptingTests
{
    /// <summary>Records the propagated stream as "db:command args", following its SELECTs.</summary>
    private sealed class RecordingSink : ICommandStreamConsumer
    {
        public readonly List<string> Commands = new();
        private int _db;

        public void Append(ReadOnlySpan<byte> resp)
        {
            string text = Encoding.UTF8.GetString(resp);
            int p = 0;
            while (p < text.Length)
            {
                int n = int.Parse(text[(p + 1)..text.IndexOf('\r', p)]);
                p = text.IndexOf('\n', p) + 1;
                var parts = new List<string>();
                for (int i = 0; i < n; i++)
                {
                    int len = int.Parse(text[(p + 1)..text.IndexOf('\r', p)]);
                    p = text.IndexOf('\n', p) + 1;
                    parts.Add(text.Substring(p, len));
                    p += len + 2;
                }
                if (parts[0] == "SELECT") _db = int.Parse(parts[1]);
                else Commands.Add(_db + ":" + string.Join(' ', parts));
            }
        }
    }

    private static (RedisServer Server, Client Client, RecordingSink Sink) Setup()
    {
        var server = new RedisServer(new ServerConfig());
        var sink = new RecordingSink();
        server.AddStreamConsumer(sink);
        var client = server.CreateFakeClient();
        return (server, client, sink);
    }

    private static string Run(RedisServer server, Client client, params string[] argv)
    {
        lock (server.ExecLock)
        {
            client.Reply.Clear();
            server.Execute(client, CommandArgs.FromStrings(argv));
            return Encoding.UTF8.GetString(client.Reply.Written.Span);
        }
    }

    [Fact]
    public void Script_effects_are_propagated_inside_multi_exec_instead_of_the_eval()
    {
        var (server, client, sink) = Setup();
        string reply = Run(server, client, "EVAL", "redis.call('set', KEYS[1], '1') redis.call('select', 2) redis.call('set', KEYS[2], '2') return 1", "2", "a", "b");
        Assert.Equal(":1\r\n", reply);
        Assert.Equal(new[] { "0:MULTI", "0:set a 1", "2:set b 2", "2:EXEC" }, sink.Commands);
    }

    [Fact]
    public void A_single_write_is_propagated_alone_and_reads_not_at_all()
    {
        var (server, client, sink) = Setup();
        Run(server, client, "EVAL", "return redis.call('set', KEYS[1], 'v')", "1", "k");
        Run(server, client, "EVAL", "return redis.call('get', KEYS[1])", "1", "k");
        Assert.Equal(new[] { "0:set k v" }, sink.Commands);
    }

    [Fact]
    public void Select_in_a_script_does_not_leak_to_the_caller()
    {
        var (server, client, _) = Setup();
        Run(server, client, "EVAL", "redis.call('select', 3) return redis.call('set', 'x', 'y')", "0");
        Assert.Equal(0, client.DbIndex);
        Assert.Equal("$-1\r\n", Run(server, client, "GET", "x"));
    }

    [Fact]
    public void Eval_key_positions_follow_numkeys()
    {
        var (server, _, _) = Setup();
        var def = server.Commands.Lookup("eval")!;
        Assert.Equal(new[] { 3, 4 }, def.GetKeyIndexes(CommandArgs.FromStrings("EVAL", "return 1", "2", "k1", "k2", "arg")));
        Assert.Empty(def.GetKeyIndexes(CommandArgs.FromStrings("EVAL", "return 1", "0", "arg")));
        Assert.Empty(def.GetKeyIndexes(CommandArgs.FromStrings("EVAL", "return 1", "9", "arg")));
    }
}
