using Cinnabar.Persistence.Aof;

namespace Cinnabar.Persistence.Tests;

/// <summary>The manifest rules of Redis 7.0's aofLoadManifestFromFile, reason strings included.</summary>
public sealed class AofManifestTests
{
    private static AofManifestException Refused(string text) =>
        Assert.Throws<AofManifestException>(() => AofManifest.Parse(text));

    [Fact]
    public void Parses_base_history_and_incr_files_with_comments_and_extra_keys()
    {
        var m = AofManifest.Parse(
            "# written by hand\n" +
            "file appendonly.aof.2.base.rdb seq 2 type b newkey newvalue\n" +
            "file appendonly.aof.1.incr.aof seq 1 type h\n" +
            "FILE appendonly.aof.2.incr.aof SEQ 2 TYPE i\n" +
            "file \"a b.aof\" seq 5 type i\n");
        Assert.Equal("appendonly.aof.2.base.rdb", m.Base!.Name);
        Assert.Equal(2, m.CurrentBaseSeq);
        Assert.Single(m.History);
        Assert.Equal(["appendonly.aof.2.incr.aof", "a b.aof"], m.Incrs.Select(i => i.Name));
        Assert.Equal(5, m.CurrentIncrSeq);
    }

    [Fact]
    public void Format_round_trips_through_parse()
    {
        var m = AofManifest.Parse("file \" x seq \\n.aof\" seq 3 type b\nfile appendonly.aof.4.incr.aof seq 4 type i\n");
        var again = AofManifest.Parse(m.Format());
        Assert.Equal(" x seq \n.aof", again.Base!.Name);
        Assert.Equal(4, again.Incrs[0].Seq);
    }

    [Fact]
    public void Empty_file_is_refused_but_comments_only_is_an_empty_manifest()
    {
        var e = Refused("");
        Assert.Equal("Found an empty AOF manifest", e.Message);
        Assert.Null(e.Line);
        var m = AofManifest.Parse("# nothing yet\n");
        Assert.Null(m.Base);
        Assert.Empty(m.Incrs);
    }

    [Fact]
    public void Blank_line_is_an_invalid_format_at_its_line()
    {
        var e = Refused("file a.1.incr.aof seq 1 type i\n\nfile a.3.incr.aof seq 3 type i\n");
        Assert.Equal("Invalid AOF manifest file format", e.Message);
        Assert.Equal(2, e.LineNumber);
        Assert.Equal("", e.Line);
    }

    [Theory]
    [InlineData("filx a.1.base.aof seq 1 type b\n")]            // missing key
    [InlineData("file a.1.incr.aof type i\n")]                  // too few words
    [InlineData("file a.1.incr.aof seq 1 type i newkey\n")]     // odd word count
    [InlineData("file a.1.incr.aof seq 0 type i\n")]            // seq must be non-zero
    [InlineData("file a.1.incr.aof seq x type i\n")]
    [InlineData("file \"a.1.incr.aof seq 1 type i\n")]          // unbalanced quotes
    public void Malformed_lines_are_an_invalid_format(string text)
    {
        var e = Refused(text);
        Assert.Equal("Invalid AOF manifest file format", e.Message);
        Assert.Equal(1, e.LineNumber);
        Assert.Equal(text.TrimEnd('\n'), e.Line);
    }

    [Fact]
    public void Line_longer_than_1024_bytes_or_without_newline_is_too_long()
    {
        string longLine = string.Concat(Enumerable.Repeat("file a.1.base.aof seq 1 type b ", 40)) + "\n";
        Assert.Equal("The AOF manifest file contains too long line", Refused(longLine).Message);
        Assert.Equal("The AOF manifest file contains too long line", Refused("file a.1.base.aof seq 1 type b").Message);
        // fgets into a 1025-byte buffer: 1024 bytes with the newline fit, one more does not.
        string fits = "file a.1.base.aof seq 1 type b " + new string('x', 990) + " y\n";
        Assert.Equal(1024, fits.Length);
        Assert.NotNull(AofManifest.Parse(fits).Base);
        Assert.Equal("The AOF manifest file contains too long line", Refused(fits.Replace(" y", " yy", StringComparison.Ordinal)).Message);
    }

    [Fact]
    public void Duplicate_base_unknown_type_and_paths_are_refused()
    {
        Assert.Equal("Found duplicate base file information",
            Refused("file a.1.base.aof seq 1 type b\nfile a.2.base.aof seq 2 type b\n").Message);
        Assert.Equal("Unknown AOF file type", Refused("file a.1.base.aof seq 1 type x\n").Message);
        Assert.Equal("File can't be a path, just a filename", Refused("file ../a.1.base.aof seq 1 type b\n").Message);
    }

    [Fact]
    public void Incr_sequence_numbers_must_increase()
    {
        var e = Refused("file a.2.incr.aof seq 2 type i\nfile a.1.incr.aof seq 1 type i\n");
        Assert.Equal("Found a non-monotonic sequence number", e.Message);
        Assert.Equal(2, e.LineNumber);
        // Gaps are fine.
        Assert.Equal(2, AofManifest.Parse("file a.1.incr.aof seq 1 type i\nfile a.3.incr.aof seq 3 type i\n").Incrs.Count);
    }
}
