using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Server.Config;

namespace Cinnabar.Server.Tests;

/// <summary>
/// The GET/SET hot path allocates nothing in steady state (issue 14): a command parsed from the
/// wire, dispatched, executed and answered into the client's reply buffer, measured with the
/// thread's allocation counter after a warm-up (the first calls allocate the latency histogram
/// blocks and the reply buffer).
/// </summary>
public sealed class HotPathAllocationTests
{
    private static long AllocatedPerCommand(RedisServer s, Client c, string[] command)
    {
        var wire = Encoding.ASCII.GetBytes("*" + command.Length + "\r\n" + string.Concat(command.Select(a => "$" + a.Length + "\r\n" + a + "\r\n")));
        var parser = new RequestParser();
        var args = new CommandArgs();
        void RunOnce()
        {
            if (parser.Parse(wire, 0, wire.Length, args, out _) != ParseResult.Command) throw new InvalidOperationException("not parsed");
            lock (s.ExecLock) s.Execute(c, args);
            c.Reply.Clear();
        }
        for (int i = 0; i < 2000; i++) RunOnce();
        const int N = 10_000;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < N; i++) RunOnce();
        return (GC.GetAllocatedBytesForCurrentThread() - before) / N;
    }

    [Theory]
    [InlineData("GET", "key:000000000001")]
    [InlineData("SET", "key:000000000001", "xxx")]
    [InlineData("INCR", "counter")]
    [InlineData("EXISTS", "key:000000000001")]
    public void Command_on_an_existing_key_allocates_nothing(params string[] command)
    {
        var s = new RedisServer(new ServerConfig());
        var c = s.CreateFakeClient();
        lock (s.ExecLock)
        {
            s.Execute(c, CommandArgs.FromStrings("SET", "key:000000000001", "xxx"));
            s.Execute(c, CommandArgs.FromStrings("SET", "counter", "1"));
        }
        c.Reply.Clear();
        Assert.Equal(0, AllocatedPerCommand(s, c, command));
    }
}
