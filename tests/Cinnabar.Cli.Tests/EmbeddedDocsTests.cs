using System.Net.Sockets;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>
/// The help table cinnabar-cli embeds for when no server answers must be our server's current
/// COMMAND DOCS: a command added or re-documented without regenerating it
/// (src/Cinnabar.Cli/Resources/regen-command-docs.sh) fails here.
/// </summary>
public sealed class EmbeddedDocsTests
{
    [Fact]
    public void Embedded_help_table_is_the_servers_command_docs()
    {
        using var server = ServerProcess.StartCinnabar();
        using var client = new TcpClient("127.0.0.1", server.Port);
        var stream = client.GetStream();
        stream.Write("*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"u8);
        using var embedded = typeof(CommandHelp).Assembly.GetManifestResourceStream("command-docs.resp")!;
        var expected = new MemoryStream();
        embedded.CopyTo(expected);
        var live = new MemoryStream();
        var buf = new byte[65536];
        client.ReceiveTimeout = 10_000;
        // Read until the reply is as long as the embedded copy (or the server stops sending).
        while (live.Length < expected.Length)
        {
            int n = stream.Read(buf);
            if (n <= 0) break;
            live.Write(buf, 0, n);
        }
        Assert.True(expected.ToArray().AsSpan().SequenceEqual(live.ToArray()),
            $"src/Cinnabar.Cli/Resources/command-docs.resp ({expected.Length} bytes) differs from the server's COMMAND DOCS ({live.Length}+ bytes): run regen-command-docs.sh");
    }
}
