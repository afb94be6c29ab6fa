namespace Cinnabar.Protocol.Tests;

public sealed class NumberFormatTests
{
    [Theory]
    [InlineData(1.1, "1.1000000000000001")]
    [InlineData(1.5, "1.5")]
    [InlineData(100, "100")]
    [InlineData(1e20, "1e+20")]
    [InlineData(-0.0001, "-0.0001")]
    [InlineData(0.00001, "1.0000000000000001e-05")]
    [InlineData(double.PositiveInfinity, "inf")]
    [InlineData(double.NegativeInfinity, "-inf")]
    public void Doubles_format_like_printf_17g(double value, string expected) =>
        Assert.Equal(expected, NumberFormat.FormatDouble(value));

    [Fact]
    public void Doubles_parse_like_strtod_and_reject_nan()
    {
        Assert.True(NumberFormat.TryParseDouble("1.5"u8, out double a));
        Assert.Equal(1.5, a);
        Assert.True(NumberFormat.TryParseDouble("-inf"u8, out double b));
        Assert.True(double.IsNegativeInfinity(b));
        Assert.False(NumberFormat.TryParseDouble("nan"u8, out _));
        Assert.False(NumberFormat.TryParseDouble(" 1"u8, out _));
        Assert.False(NumberFormat.TryParseDouble("abc"u8, out _));
    }
}
