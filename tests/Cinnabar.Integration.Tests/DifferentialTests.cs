using System.Text;
using Cinnabar.Integration.Tests.Infrastructure;
using Cinnabar.Protocol;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Runs each script in Differential/*.redis against Debian's redis-server 7.0 and Cinnabar and
/// compares the replies byte for byte. Script lines are commands in redis-cli syntax; a line
/// starting with '?' compares only the reply's type (for times, random members...), '#' is a
/// comment. Each script starts from FLUSHALL on a fresh connection.
/// </summary>
public sealed class DifferentialTests : IClassFixture<SideBySideFixture>
{
    private readonly SideBySideFixture _f;

    public DifferentialTests(SideBySideFixture f) => _f = f;

    public static TheoryData<string> Scripts()
    {
        var data = new TheoryData<string>();
        var dir = Path.Combine(AppContext.BaseDirectory, "Differential");
        foreach (var f in Directory.GetFiles(dir, "*.redis").OrderBy(x => x)) data.Add(Path.GetFileName(f));
        return data;
    }

    [Theory]
    [MemberData(nameof(Scripts))]
    public void Script_replies_match_redis_byte_for_byte(string script)
    {
        var lines = File.ReadAllLines(Path.Combine(AppContext.BaseDirectory, "Differential", script));
        using var ours = _f.Cinnabar.Connect();
        using var theirs = _f.Redis.Connect();
        ours.Call("FLUSHALL");
        theirs.Call("FLUSHALL");
        var failures = new List<string>();
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            bool typeOnly = line.StartsWith('?');
            if (typeOnly) line = line[1..].Trim();
            var parts = ArgSplitter.Split(Encoding.UTF8.GetBytes(line)) ?? throw new InvalidDataException($"{script}:{i + 1}: bad quoting");
            var args = parts.Cast<object>().ToArray();
            byte[] expected = theirs.CallRaw(args);
            byte[] actual = ours.CallRaw(args);
            bool same = typeOnly ? expected[0] == actual[0] : expected.AsSpan().SequenceEqual(actual);
            if (!same)
                failures.Add($"{script}:{i + 1}: {line}\n  redis:    {Show(expected)}\n  cinnabar: {Show(actual)}");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static string Show(byte[] b)
    {
        string s = Encoding.UTF8.GetString(b).Replace("\r\n", "\\r\\n");
        return s.Length > 400 ? s[..400] + "..." : s;
    }
}
