namespace Cinnabar.Server.Tests;

public sealed class BitmapSortHllTests
{
    [Fact]
    public void Setbit_grows_the_string_and_returns_the_old_bit()
    {
        var h = new StringsKeysHarness();
        Assert.Equal(":0\r\n", h.Run("SETBIT", "b", "9", "1"));
        Assert.Equal(":1\r\n", h.Run("SETBIT", "b", "9", "0"));
        Assert.Equal(":2\r\n", h.Run("STRLEN", "b"));
        Assert.Equal("$3\r\nraw\r\n", h.Run("OBJECT", "ENCODING", "b"));
        Assert.Equal("-ERR bit is not an integer or out of range\r\n", h.Run("SETBIT", "b", "1", "2"));
    }

    [Fact]
    public void Setbit_offset_limit_follows_proto_max_bulk_len()
    {
        var h = new StringsKeysHarness();
        h.Run("CONFIG", "SET", "proto-max-bulk-len", "1048576");
        Assert.Equal("-ERR bit offset is not an integer or out of range\r\n", h.Run("SETBIT", "b", (1048576L * 8).ToString(System.Globalization.CultureInfo.InvariantCulture), "1"));
        Assert.Equal(":0\r\n", h.Run("SETBIT", "b", (1048576L * 8 - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "1"));
    }

    [Fact]
    public void Bitfield_overflow_modes_wrap_saturate_and_fail()
    {
        var h = new StringsKeysHarness();
        Assert.Equal("*1\r\n:-56\r\n", h.Run("BITFIELD", "f", "INCRBY", "i8", "0", "200"));
        Assert.Equal("*1\r\n:127\r\n", h.Run("BITFIELD", "f", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "1000"));
        Assert.Equal("*1\r\n$-1\r\n", h.Run("BITFIELD", "f", "OVERFLOW", "FAIL", "INCRBY", "i8", "0", "1"));
        Assert.Equal("*1\r\n:127\r\n", h.Run("BITFIELD", "f", "GET", "u8", "0"));
        Assert.Equal("-ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.\r\n", h.Run("BITFIELD", "f", "GET", "u64", "0"));
        Assert.Equal("-ERR BITFIELD_RO only supports the GET subcommand\r\n", h.Run("BITFIELD_RO", "f", "SET", "u8", "0", "1"));
    }

    [Fact]
    public void Bitpos_clear_bit_past_the_end_only_without_explicit_end()
    {
        var h = new StringsKeysHarness();
        h.Run("SETBIT", "p", "7", "1");
        h.Run("BITOP", "NOT", "p", "p");
        h.Run("SETBIT", "p", "7", "1"); // p = 0xff
        Assert.Equal(":8\r\n", h.Run("BITPOS", "p", "0"));
        Assert.Equal(":-1\r\n", h.Run("BITPOS", "p", "0", "0", "-1"));
        Assert.Equal(":-1\r\n", h.Run("BITPOS", "p", "1", "1"));
    }

    [Fact]
    public void Bitop_not_requires_one_source_and_empty_result_deletes_destination()
    {
        var h = new StringsKeysHarness();
        h.Run("SET", "d", "x");
        Assert.Equal("-ERR BITOP NOT must be called with a single source key.\r\n", h.Run("BITOP", "NOT", "d", "a", "b"));
        Assert.Equal(":0\r\n", h.Run("BITOP", "AND", "d", "missing1", "missing2"));
        Assert.Equal(":0\r\n", h.Run("EXISTS", "d"));
    }

    [Fact]
    public void Sort_store_creates_a_list_and_empty_result_deletes_it()
    {
        var h = new StringsKeysHarness();
        h.Run("RPUSH", "l", "3", "1", "2");
        Assert.Equal(":3\r\n", h.Run("SORT", "l", "DESC", "STORE", "out"));
        Assert.Equal("*3\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n", h.Run("LRANGE", "out", "0", "-1"));
        Assert.Equal(":0\r\n", h.Run("SORT", "nokey", "STORE", "out"));
        Assert.Equal(":0\r\n", h.Run("EXISTS", "out"));
    }

    [Fact]
    public void Sort_by_pattern_is_denied_in_cluster_mode()
    {
        var config = new Cinnabar.Server.Config.ServerConfig { ClusterEnabled = true };
        var server = new RedisServer(config);
        var client = server.CreateFakeClient();
        lock (server.ExecLock)
        {
            server.Execute(client, Cinnabar.Protocol.CommandArgs.FromStrings(["SORT", "l", "BY", "w_*"]));
            Assert.Equal("-ERR BY option of SORT denied in Cluster mode.\r\n", System.Text.Encoding.UTF8.GetString(client.Reply.Written.Span));
        }
    }

    [Fact]
    public void Pfcount_caches_the_cardinality_and_is_propagated()
    {
        var h = new StringsKeysHarness();
        h.Run("PFADD", "hll", "a", "b", "c");
        h.Propagated.Clear();
        Assert.Equal(":3\r\n", h.Run("PFCOUNT", "hll"));
        Assert.Single(h.Propagated);
        h.Propagated.Clear();
        Assert.Equal(":3\r\n", h.Run("PFCOUNT", "hll"));
        Assert.Empty(h.Propagated);
    }
}
