using System.Text;

namespace Cinnabar.Server.Tests;

/// <summary>The byte-keyed command name index against the string dictionary it stands in front of.</summary>
public sealed class CommandNameIndexTests
{
    [Fact]
    public void Lowercasing_eight_bytes_at_once_matches_ascii_lowercasing_for_every_byte()
    {
        for (int b = 0; b < 0x80; b++)
        {
            for (int pos = 0; pos < 8; pos++)
            {
                ulong x = 0x6161616161616161UL; // "aaaaaaaa" around the byte under test
                x = (x & ~(0xFFUL << (pos * 8))) | ((ulong)b << (pos * 8));
                ulong lowered = CommandNameIndex.Lower(x);
                byte expect = b is >= 'A' and <= 'Z' ? (byte)(b | 0x20) : (byte)b;
                Assert.Equal(expect, (byte)(lowered >> (pos * 8)));
                Assert.Equal(x & ~(0xFFUL << (pos * 8)), lowered & ~(0xFFUL << (pos * 8)));
            }
        }
    }

    [Fact]
    public void Every_command_is_found_in_any_case_and_unknown_names_are_not()
    {
        var table = CommandTable.CreateDefault();
        var rng = new Random(7);
        var names = table.All.Select(d => d.Name).ToHashSet();
        foreach (var def in table.All)
        {
            var chars = def.Name.Select(c => rng.Next(2) == 0 ? char.ToUpperInvariant(c) : c).ToArray();
            Assert.Same(def, table.Lookup(Encoding.ASCII.GetBytes(chars)));
            foreach (var other in new[] { def.Name + "x", def.Name[..^1], "_" + def.Name })
                Assert.Equal(names.Contains(other), table.Lookup(Encoding.ASCII.GetBytes(other)) != null);
        }
        Assert.Null(table.Lookup("s\u00e9t"u8));
        Assert.Null(table.Lookup(Encoding.ASCII.GetBytes(new string('a', 40))));
    }

    [Fact]
    public void Renamed_commands_answer_to_their_new_name_only_even_past_sixteen_bytes()
    {
        var table = CommandTable.CreateDefault();
        var get = table.Lookup("GET"u8);
        Assert.NotNull(get);
        Assert.Null(table.Rename("get", "a-very-long-secret-get-name"));
        Assert.Null(table.Lookup("get"u8));
        Assert.Same(get, table.Lookup("A-VERY-LONG-SECRET-GET-NAME"u8));
        Assert.Null(table.Rename("set", "x"));
        Assert.NotNull(table.Lookup("X"u8));
        Assert.Null(table.Lookup("set"u8));
    }
}
