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
}
