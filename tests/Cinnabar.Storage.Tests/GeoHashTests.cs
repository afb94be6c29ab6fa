namespace Cinnabar.Storage.Tests;

public sealed class GeoHashTests
{
    [Fact]
    public void Encode_gives_redis_scores()
    {
        // Scores redis-server 7.0 stores for GEOADD's documented examples.
        Assert.Equal(3479099956230698UL, GeoHash.EncodeScore(13.361389, 38.115556));
        Assert.Equal(3479447370796909UL, GeoHash.EncodeScore(15.087269, 37.502669));
    }

    [Fact]
    public void Decode_returns_the_cell_centre()
    {
        var (lon, lat) = GeoHash.DecodeScore(3479099956230698);
        Assert.Equal("13.36138933897018433", GeoHash.FormatHuman(lon));
        Assert.Equal("38.11555639549629859", GeoHash.FormatHuman(lat));
    }

    [Fact]
    public void Decode_clamps_out_of_range_scores_to_the_limits()
    {
        var (lon, lat) = GeoHash.DecodeScore(-1);
        Assert.Equal(180, lon);
        Assert.Equal(GeoHash.LatMax, lat);
    }

    [Theory]
    [InlineData(13.361389, 38.115556, 15.087269, 37.502669, "166274.1516")]
    [InlineData(2.35, 48.85, -0.12, 51.5, "343224.6455")]
    public void Distance_is_haversine_on_redis_earth_radius(double lon1, double lat1, double lon2, double lat2, string meters)
    {
        var a = GeoHash.DecodeScore(GeoHash.EncodeScore(lon1, lat1));
        var b = GeoHash.DecodeScore(GeoHash.EncodeScore(lon2, lat2));
        Assert.Equal(meters, GeoHash.FormatFixed(GeoHash.Distance(a.Lon, a.Lat, b.Lon, b.Lat), 4));
    }

    [Fact]
    public void Base32_string_is_computed_over_the_standard_latitude_range()
    {
        Assert.Equal("sqc8b49rny0", GeoHash.ToBase32(3479099956230698));
        Assert.Equal("sqdtr74hyu0", GeoHash.ToBase32(3479447370796909));
    }

    [Theory]
    [InlineData(200.0, 6, "200.000000")]
    [InlineData(-0.5, 4, "-0.5000")]
    [InlineData(0.00005, 4, "0.0001")]
    [InlineData(0.000049999, 4, "0.0000")]
    [InlineData(1e300, 0, "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160")]
    [InlineData(double.PositiveInfinity, 6, "inf")]
    public void FormatFixed_matches_printf(double value, int decimals, string expected) =>
        Assert.Equal(expected, GeoHash.FormatFixed(value, decimals));

    [Fact]
    public void FormatHuman_trims_trailing_zeros()
    {
        Assert.Equal("180", GeoHash.FormatHuman(180));
        Assert.Equal("0.5", GeoHash.FormatHuman(0.5));
        Assert.Equal("0", GeoHash.FormatHuman(-0.0));
    }

    [Fact]
    public void Neighbours_move_one_cell_and_back()
    {
        GeoHash.TryEncode(GeoHash.WgsLon, GeoHash.WgsLat, 13.36, 38.11, 10, out var c);
        var east = GeoHash.Neighbour(c, 1, 0);
        var back = GeoHash.Neighbour(east, -1, 0);
        Assert.Equal(c, back);
        var ca = GeoHash.Decode(GeoHash.WgsLon, GeoHash.WgsLat, c);
        var ea = GeoHash.Decode(GeoHash.WgsLon, GeoHash.WgsLat, east);
        Assert.Equal(ca.Lon.Max, ea.Lon.Min, 9);
        Assert.Equal(ca.Lat.Min, ea.Lat.Min);
        var north = GeoHash.Decode(GeoHash.WgsLon, GeoHash.WgsLat, GeoHash.Neighbour(c, 0, 1));
        Assert.Equal(ca.Lat.Max, north.Lat.Min, 9);
    }

    [Fact]
    public void Search_cells_cover_the_radius_and_zero_useless_neighbours()
    {
        var cells = GeoHash.SearchCells(15, 37, 200_000, 200_000, 200_000);
        Assert.Equal(9, cells.Length);
        Assert.False(cells[0].IsZero);
        Assert.InRange(cells[0].Step, 1, 26);
        Assert.Equal(26, GeoHash.EstimateSteps(0, 0));
        Assert.True(GeoHash.EstimateSteps(1000, 70) < GeoHash.EstimateSteps(1000, 0));
    }

    [Fact]
    public void Validity_uses_mercator_latitude_limits()
    {
        Assert.True(GeoHash.IsValid(180, 85.05112878));
        Assert.False(GeoHash.IsValid(0, 85.06));
        Assert.False(GeoHash.IsValid(-180.1, 0));
    }
}
