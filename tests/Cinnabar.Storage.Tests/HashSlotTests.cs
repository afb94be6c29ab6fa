using System.Text;

namespace Cinnabar.Storage.Tests;

public sealed class HashSlotTests
{
    [Fact]
    public void Crc16_is_xmodem_with_check_value_0x31C3()
    {
        Assert.Equal(0x31C3, HashSlot.Crc16("123456789"u8));
        Assert.Equal(0, HashSlot.Crc16(ReadOnlySpan<byte>.Empty));
    }

    /// <summary>The textbook bit-at-a-time CRC-16/XMODEM, as the reference for the sliced tables.</summary>
    private static ushort BitwiseCrc16(ReadOnlySpan<byte> data)
    {
        int crc = 0;
        foreach (byte b in data)
        {
            crc ^= b << 8;
            for (int bit = 0; bit < 8; bit++) crc = (crc & 0x8000) != 0 ? (crc << 1) ^ 0x1021 : crc << 1;
        }
        return (ushort)crc;
    }

    [Fact]
    public void Crc16_agrees_with_the_bitwise_definition_at_every_length()
    {
        var rnd = new Random(16);
        for (int len = 0; len <= 70; len++)
        {
            for (int n = 0; n < 20; n++)
            {
                var data = new byte[len];
                rnd.NextBytes(data);
                Assert.Equal(BitwiseCrc16(data), HashSlot.Crc16(data));
            }
        }
    }

    // Expected slots from `redis-cli cluster keyslot` against redis-server 7.0.15 with cluster-enabled yes.
    [Theory]
    [InlineData("foo", 12182)]
    [InlineData("bar", 5061)]
    [InlineData("123456789", 12739)]
    [InlineData("{user1000}.following", 3443)]
    [InlineData("{user1000}.followers", 3443)]
    [InlineData("user:{42}:profile", 8000)]
    [InlineData("{42}", 8000)]
    [InlineData("{}", 15257)]
    [InlineData("{}abc", 5980)]
    [InlineData("foo{}{bar}", 8363)]
    [InlineData("foo{{bar}}zap", 4015)]
    [InlineData("foo{bar}{zap}", 5061)]
    [InlineData("{bar", 4015)]
    [InlineData("bar}", 6624)]
    [InlineData("a{b}c", 3300)]
    [InlineData("", 0)]
    [InlineData("{", 4092)]
    [InlineData("}", 12090)]
    [InlineData("{a}", 15495)]
    [InlineData("x{}y", 16116)]
    [InlineData("{{}}", 4092)]
    [InlineData("hello world", 15332)]
    [InlineData("somekey", 11058)]
    [InlineData("Hello", 3030)]
    public void Slot_matches_redis_cluster_keyslot(string key, int slot)
    {
        Assert.Equal(slot, HashSlot.Of(Encoding.UTF8.GetBytes(key)));
    }

    [Fact]
    public void Slot_of_binary_and_long_keys_matches_redis()
    {
        Assert.Equal(3374, HashSlot.Of([0xFF, 0xFE]));
        Assert.Equal(425, HashSlot.Of([0x80, (byte)'{', 0x81, (byte)'}', 0x82]));
        Assert.Equal(16002, HashSlot.Of(Encoding.ASCII.GetBytes(new string('k', 300))));
    }

    [Fact]
    public void Keys_sharing_a_hash_tag_share_a_slot()
    {
        int slot = HashSlot.Of("{user1000}"u8);
        Assert.Equal(HashSlot.Of("user1000"u8), slot);
        Assert.Equal(slot, HashSlot.Of("{user1000}.following"u8));
        Assert.Equal(slot, HashSlot.Of("x{user1000}y{other}"u8));
    }

    [Fact]
    public void Hashed_part_is_the_first_non_empty_tag_else_the_whole_key()
    {
        Assert.Equal("b", Encoding.ASCII.GetString(HashSlot.HashedPart("a{b}c"u8)));
        Assert.Equal("{b", Encoding.ASCII.GetString(HashSlot.HashedPart("a{{b}}"u8)));
        Assert.Equal("a{}{b}", Encoding.ASCII.GetString(HashSlot.HashedPart("a{}{b}"u8)));
        Assert.Equal("a{b", Encoding.ASCII.GetString(HashSlot.HashedPart("a{b"u8)));
        Assert.Equal("a}b{", Encoding.ASCII.GetString(HashSlot.HashedPart("a}b{"u8)));
    }

    [Fact]
    public void Slot_is_always_in_range()
    {
        var rnd = new Random(9);
        var buf = new byte[40];
        for (int i = 0; i < 2000; i++)
        {
            var key = buf.AsSpan(0, rnd.Next(buf.Length));
            rnd.NextBytes(key);
            Assert.InRange(HashSlot.Of(key), 0, HashSlot.Count - 1);
        }
    }
}
