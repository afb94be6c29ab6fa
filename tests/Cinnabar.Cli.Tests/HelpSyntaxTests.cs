using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Cinnabar.Integration.Tests.Infrastructure;

namespace Cinnabar.Cli.Tests;

/// <summary>A Cinnabar server for the help-syntax comparison, plus a one-time build of bin/cinnabar-cli.</summary>
public sealed class HelpSyntaxFixture : IDisposable
{
    public HelpSyntaxFixture()
    {
        var v = Tools.Run(CliComparisonTests.CinnabarCli, ["--version"], stdin: "", timeoutMs: 300_000);
        if (v.ExitCode != 0) throw new InvalidOperationException("cinnabar-cli build failed: " + v.Stderr);
        Cinnabar = ServerProcess.StartCinnabar();
    }

    public ServerProcess Cinnabar { get; }

    public void Dispose() => Cinnabar.Dispose();
}

/// <summary>
/// `help &lt;command&gt;` syntax lines: cinnabar-cli renders them from our server's COMMAND DOCS
/// argument trees, redis-cli 7.0 (with no server, port 1) from its compiled-in table. The syntax
/// line (command name and arguments) must be identical for every command our server registers;
/// summaries are our own wording and are not compared.
/// </summary>
public sealed partial class HelpSyntaxTests : IClassFixture<HelpSyntaxFixture>
{
    /// <summary>Commands whose syntax line cannot match, and why.</summary>
    private static readonly Dictionary<string, string> Exceptions = new()
    {
        // Not in Redis 7.0, so redis-cli 7.0's table has no entry to compare with.
        ["client|setinfo"] = "Redis 7.2 command",
        ["cluster|slot-stats"] = "Redis 8.2 command",
        ["cluster|migration"] = "Redis 8.4 command",
        ["cluster|syncslots"] = "Redis 8.4 command",
        // Redis's argument tree has a pure-token whose token is the empty string. redis-cli's
        // compiled table prints it as nothing ("key|"), while redis-cli rendering the same tree
        // from a live server's COMMAND DOCS prints "key|\"\"", as cinnabar-cli does; our tree
        // equals Redis's (CommandDocsTests.ArgumentTreeMatchesRedis("migrate")).
        // Redis 7.0.15's COMMAND DOCS marks BITFIELD's operation optional (so redis-cli rendering a
        // live server's docs brackets it, and so do we: our tree equals the server's), but the
        // compiled table was generated without that flag and prints it unbracketed.
        ["bitfield"] = "compiled table lacks the optional flag the server's COMMAND DOCS has",
        ["migrate"] = "empty-string token: compiled table prints key|, the live rendering key|\"\"",
    };

    private readonly HelpSyntaxFixture _f;

    public HelpSyntaxTests(HelpSyntaxFixture f) => _f = f;

    [GeneratedRegex("\u001b\\[[0-9;]*m")]
    private static partial Regex Ansi();

    /// <summary>The first non-empty line of `help` output, colours stripped, trailing blanks trimmed.</summary>
    private static string SyntaxLine(string output)
    {
        foreach (var raw in Ansi().Replace(output, "").Split('\n'))
        {
            string line = raw.TrimEnd('\r', ' ');
            if (line.Length > 0) return line;
        }
        return "";
    }

    [Fact]
    public void EveryCommandSyntaxMatchesRedisCli()
    {
        using var c = _f.Cinnabar.Connect();
        var names = c.Call("COMMAND", "LIST").Items!.Select(i => i.ToString()).Order(StringComparer.Ordinal).ToList();
        Assert.True(names.Count > 300, "COMMAND LIST returned only " + names.Count);
        var mismatches = new ConcurrentBag<string>();
        var unexpectedMatches = new ConcurrentBag<string>();
        string port = _f.Cinnabar.Port.ToString();
        Parallel.ForEach(names, new ParallelOptions { MaxDegreeOfParallelism = 2 }, name =>
        {
            var words = name.Split('|');
            string ours = SyntaxLine(Tools.Run(CliComparisonTests.CinnabarCli, ["-p", port, "help", .. words], stdin: "", timeoutMs: 60_000).Stdout);
            string redis = SyntaxLine(Tools.Run("redis-cli", ["-p", "1", "help", .. words], stdin: "", timeoutMs: 60_000).Stdout);
            bool same = ours == redis;
            if (Exceptions.ContainsKey(name))
            {
                if (same) unexpectedMatches.Add(name);
                return;
            }
            if (!same) mismatches.Add($"{name}\n  cinnabar-cli: {ours}\n  redis-cli:    {redis}");
        });
        Assert.True(mismatches.IsEmpty, mismatches.Count + " syntax mismatches:\n" + string.Join("\n", mismatches.Order(StringComparer.Ordinal)));
        Assert.True(unexpectedMatches.IsEmpty, "listed as exceptions but matching: " + string.Join(", ", unexpectedMatches));
    }
}
