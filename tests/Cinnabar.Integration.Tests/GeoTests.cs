using Cinnabar.Integration.Tests.Infrastructure;
using StackExchange.Redis;

namespace Cinnabar.Integration.Tests;

/// <summary>GEO commands through a real client (StackExchange.Redis) and raw RESP.</summary>
public sealed class GeoTests : IClassFixture<CinnabarFixture>
{
    private readonly CinnabarFixture _f;

    public GeoTests(CinnabarFixture f) => _f = f;

    [Theory]
    [InlineData(RedisProtocol.Resp2)]
    [InlineData(RedisProtocol.Resp3)]
    public async Task StackExchange_redis_geo_add_radius_and_search(RedisProtocol protocol)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{_f.Server.Port}");
        options.Protocol = protocol;
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 10000;
        await using var mux = await ConnectionMultiplexer.ConnectAsync(options);
        var db = mux.GetDatabase();
        string key = "geo:se:" + protocol + ":" + Guid.NewGuid().ToString("N");
        Assert.Equal(2, await db.GeoAddAsync(key, [new(13.361389, 38.115556, "Palermo"), new(15.087269, 37.502669, "Catania")]));

        var pos = await db.GeoPositionAsync(key, "Palermo");
        Assert.NotNull(pos);
        Assert.Equal(13.36138933897018433, pos.Value.Longitude, 12);
        Assert.Equal(38.11555639549629859, pos.Value.Latitude, 12);
        Assert.Null(await db.GeoPositionAsync(key, "Nowhere"));

        Assert.Equal(166.2742, await db.GeoDistanceAsync(key, "Palermo", "Catania", GeoUnit.Kilometers));
        Assert.Equal("sqc8b49rny0", await db.GeoHashAsync(key, "Palermo"));

        var near = await db.GeoRadiusAsync(key, 15, 37, 200, GeoUnit.Kilometers, order: Order.Ascending,
            options: GeoRadiusOptions.WithDistance | GeoRadiusOptions.WithCoordinates);
        Assert.Equal(["Catania", "Palermo"], near.Select(r => r.Member.ToString()));
        Assert.Equal(56.4413, near[0].Distance);
        Assert.Equal(190.4424, near[1].Distance);
        Assert.Equal(15.08726745843887329, near[0].Position!.Value.Longitude, 12);

        var byMember = await db.GeoRadiusAsync(key, "Palermo", 100, GeoUnit.Kilometers);
        Assert.Equal(["Palermo"], byMember.Select(r => r.Member.ToString()));

        var box = await db.GeoSearchAsync(key, 15, 37, new GeoSearchBox(400, 400, GeoUnit.Kilometers), count: 1, demandClosest: true, order: Order.Descending);
        Assert.Equal(["Palermo"], box.Select(r => r.Member.ToString()));

        Assert.True(await db.GeoRemoveAsync(key, "Palermo"));
        Assert.Equal(1, await db.SortedSetLengthAsync(key));
    }

    [Fact]
    public void Georadius_store_writes_a_sorted_set_of_hashes_or_distances()
    {
        using var c = _f.Server.Connect();
        c.Call("GEOADD", "geo:st:src", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania");
        Assert.Equal(2, c.Call("GEORADIUS", "geo:st:src", "15", "37", "200", "km", "STORE", "geo:st:h").Integer);
        Assert.Equal("3479447370796909", c.Call("ZSCORE", "geo:st:h", "Catania").ToString());
        Assert.Equal(2, c.Call("GEOSEARCHSTORE", "geo:st:d", "geo:st:src", "FROMLONLAT", "15", "37", "BYRADIUS", "200", "km", "STOREDIST").Integer);
        Assert.Equal("56.441257870158204", c.Call("ZSCORE", "geo:st:d", "Catania").ToString());
        // An empty result deletes the destination.
        Assert.Equal(0, c.Call("GEORADIUS", "geo:st:src", "0", "0", "1", "km", "STORE", "geo:st:h").Integer);
        Assert.Equal(0, c.Call("EXISTS", "geo:st:h").Integer);
    }

    [Fact]
    public void Geopos_formats_coordinates_like_redis()
    {
        using var c = _f.Server.Connect();
        c.Call("GEOADD", "geo:fmt", "13.361389", "38.115556", "Palermo");
        byte[] raw = c.CallRaw("GEOPOS", "geo:fmt", "Palermo", "x");
        Assert.Equal("*2\r\n*2\r\n$20\r\n13.36138933897018433\r\n$20\r\n38.11555639549629859\r\n*-1\r\n", System.Text.Encoding.ASCII.GetString(raw));
    }
}
