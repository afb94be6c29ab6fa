namespace Cinnabar.Server.Tests;

/// <summary>Propagation shapes of data-type commands that Redis 7.0's test suite reads from the replication stream.</summary>
public sealed class TypePropagationTests
{
    [Fact]
    public void Zmpop_propagates_the_number_of_elements_actually_popped()
    {
        var h = new StringsKeysHarness();
        h.Run("ZADD", "z", "1", "one", "2", "two", "3", "three");
        h.Propagated.Clear();
        h.Run("ZMPOP", "1", "z", "MIN");
        h.Run("ZMPOP", "1", "z", "MAX", "COUNT", "1");
        h.Run("ZMPOP", "2", "z", "z2", "MIN", "COUNT", "10");
        h.Run("ZMPOP", "2", "z", "z2", "MAX", "COUNT", "10");
        h.Run("ZADD", "z2", "1", "a", "2", "b");
        h.Run("BZMPOP", "0", "2", "z", "z2", "MAX", "COUNT", "10");
        Assert.Equal(["ZPOPMIN z 1", "ZPOPMAX z 1", "ZPOPMIN z 1", "ZADD z2 1 a 2 b", "ZPOPMAX z2 2"], h.Propagated);
    }

    [Fact]
    public void Xclaim_and_xautoclaim_propagate_the_removal_of_deleted_pending_entries()
    {
        var h = new StringsKeysHarness();
        for (int i = 1; i <= 4; i++) h.Run("XADD", "x", i + "-0", "f", "v");
        h.Run("XGROUP", "CREATE", "x", "grp", "0");
        h.Run("XREADGROUP", "GROUP", "grp", "Alice", "STREAMS", "x", ">");
        h.Run("XDEL", "x", "2-0");
        h.Run("XDEL", "x", "4-0");
        h.Propagated.Clear();
        h.Run("XCLAIM", "x", "grp", "Bob", "0", "2-0");
        Assert.Single(h.Propagated);
        Assert.StartsWith("XCLAIM x grp Alice 0 2-0 TIME ", h.Propagated[0]);
        Assert.EndsWith(" FORCE JUSTID LASTID 4-0", h.Propagated[0]);
        h.Propagated.Clear();
        h.Run("XAUTOCLAIM", "x", "grp", "Bob", "0", "0-0");
        Assert.Equal(3, h.Propagated.Count);
        Assert.StartsWith("XCLAIM x grp Bob 0 1-0 ", h.Propagated[0]);
        Assert.StartsWith("XCLAIM x grp Bob 0 3-0 ", h.Propagated[1]);
        Assert.StartsWith("XCLAIM x grp Alice 0 4-0 ", h.Propagated[2]);
        Assert.Equal("*0\r\n", h.Run("XPENDING", "x", "grp", "-", "+", "10", "Alice"));
    }
}
