using System.Numerics;
using System.Text;

namespace Cinnabar.Storage;

/// <summary>
/// Geohash arithmetic behind the GEO commands (Redis's geohash.c / geohash_helper.c behaviour).
/// A position is stored as a sorted set score: 26 steps of latitude and 26 of longitude interleaved
/// into 52 bits (latitude on the even bits, longitude on the odd bits, so longitude's top bit is
/// bit 51), over Redis's WGS84/Mercator limits (lat +-85.05112878, lon +-180). A search covers the
/// centre cell plus its 8 neighbours at a step estimated from the radius, each cell being one
/// contiguous score range [cell << (52 - 2*step), (cell + 1) << ...). Distances are haversine on
/// a sphere of radius 6372797.560856 m. All arithmetic is plain IEEE double in the same order as
/// Redis so that cell edges, decoded coordinates and distances agree to the last bit.
/// </summary>
public static class GeoHash
{
    public const double LatMin = -85.05112878, LatMax = 85.05112878, LonMin = -180, LonMax = 180;
    public const int StepMax = 26;
    public const double EarthRadiusMeters = 6372797.560856;
    private const double MercatorMax = 20037726.37;
    private const double DegToRad = Math.PI / 180.0;

    public readonly record struct Range(double Min, double Max);
    public readonly record struct Area(Range Lon, Range Lat);
    public readonly record struct Cell(ulong Bits, int Step)
    {
        public bool IsZero => Bits == 0 && Step == 0;
    }

    public static readonly Range WgsLon = new(LonMin, LonMax), WgsLat = new(LatMin, LatMax);
    public static readonly Range StandardLat = new(-90, 90);

    public static bool IsValid(double lon, double lat) =>
        !(lon < LonMin || lon > LonMax || lat < LatMin || lat > LatMax);

    /// <summary>Encodes at the given step; false when out of the WGS84 limits (as geohashEncode).</summary>
    public static bool TryEncode(Range lonRange, Range latRange, double lon, double lat, int step, out Cell cell)
    {
        cell = default;
        if (step > 32 || step == 0 || !IsValid(lon, lat)) return false;
        if (lon > lonRange.Max || lon < lonRange.Min || lat > latRange.Max || lat < latRange.Min) return false;
        double latOffset = (lat - latRange.Min) / (latRange.Max - latRange.Min);
        double lonOffset = (lon - lonRange.Min) / (lonRange.Max - lonRange.Min);
        latOffset *= 1UL << step;
        lonOffset *= 1UL << step;
        cell = new Cell(Interleave((uint)latOffset, (uint)lonOffset), step);
        return true;
    }

    /// <summary>The 52-bit score GEOADD stores for a position (already validated).</summary>
    public static ulong EncodeScore(double lon, double lat)
    {
        TryEncode(WgsLon, WgsLat, lon, lat, StepMax, out var cell);
        return Align52(cell);
    }

    public static ulong Align52(Cell c) => c.Bits << (52 - c.Step * 2);

    public static Area Decode(Range lonRange, Range latRange, Cell cell)
    {
        ulong sep = Deinterleave(cell.Bits);
        uint ilat = (uint)sep, ilon = (uint)(sep >> 32);
        double cells = 1UL << cell.Step;
        double latScale = latRange.Max - latRange.Min, lonScale = lonRange.Max - lonRange.Min;
        return new Area(
            new Range(lonRange.Min + (ilon * 1.0 / cells) * lonScale, lonRange.Min + (unchecked(ilon + 1u) * 1.0 / cells) * lonScale),
            new Range(latRange.Min + (ilat * 1.0 / cells) * latScale, latRange.Min + (unchecked(ilat + 1u) * 1.0 / cells) * latScale));
    }

    /// <summary>Centre of a score's cell, clamped to the limits: what GEOPOS returns.</summary>
    public static (double Lon, double Lat) DecodeScore(double score)
    {
        var area = Decode(WgsLon, WgsLat, new Cell(ScoreToBits(score), StepMax));
        double lon = (area.Lon.Min + area.Lon.Max) / 2;
        if (lon > LonMax) lon = LonMax;
        if (lon < LonMin) lon = LonMin;
        double lat = (area.Lat.Min + area.Lat.Max) / 2;
        if (lat > LatMax) lat = LatMax;
        if (lat < LatMin) lat = LatMin;
        return (lon, lat);
    }

    /// <summary>
    /// A score as the uint64 Redis casts it to, reproducing x86-64's double->uint64 conversion
    /// for scores that were not written by GEOADD (negative or huge ZADD scores).
    /// </summary>
    public static ulong ScoreToBits(double score)
    {
        const double Two63 = 9223372036854775808.0;
        if (score < Two63) return score >= -Two63 ? (ulong)(long)score : 0x8000000000000000UL;
        double t = score - Two63;
        return t < Two63 ? (ulong)(long)t ^ 0x8000000000000000UL : 0;
    }

    /// <summary>GEOHASH's 11-character string: the position re-encoded over latitude -90..90.</summary>
    public static string ToBase32(double score)
    {
        const string Alphabet = "0123456789bcdefghjkmnpqrstuvwxyz";
        var (lon, lat) = DecodeScore(score);
        TryEncode(WgsLon, StandardLat, lon, lat, StepMax, out var cell);
        Span<char> buf = stackalloc char[11];
        for (int i = 0; i < 11; i++)
        {
            // 52 bits give ten full characters; Redis pads the eleventh with index 0.
            int idx = i == 10 ? 0 : (int)((cell.Bits >> (52 - (i + 1) * 5)) & 0x1f);
            buf[i] = Alphabet[idx];
        }
        return new string(buf);
    }

    private static ulong Interleave(uint x, uint y)
    {
        ulong a = Spread(x), b = Spread(y);
        return a | (b << 1);
    }

    private static ulong Spread(uint v)
    {
        ulong x = v;
        x = (x | (x << 16)) & 0x0000FFFF0000FFFFUL;
        x = (x | (x << 8)) & 0x00FF00FF00FF00FFUL;
        x = (x | (x << 4)) & 0x0F0F0F0F0F0F0F0FUL;
        x = (x | (x << 2)) & 0x3333333333333333UL;
        x = (x | (x << 1)) & 0x5555555555555555UL;
        return x;
    }

    private static ulong Compact(ulong x)
    {
        x &= 0x5555555555555555UL;
        x = (x | (x >> 1)) & 0x3333333333333333UL;
        x = (x | (x >> 2)) & 0x0F0F0F0F0F0F0F0FUL;
        x = (x | (x >> 4)) & 0x00FF00FF00FF00FFUL;
        x = (x | (x >> 8)) & 0x0000FFFF0000FFFFUL;
        x = (x | (x >> 16)) & 0x00000000FFFFFFFFUL;
        return x;
    }

    // Low 32 bits: the even (latitude) bits; high 32 bits: the odd (longitude) bits.
    private static ulong Deinterleave(ulong v) => Compact(v) | (Compact(v >> 1) << 32);

    // Longitude lives on the odd bits ("x"), latitude on the even bits ("y").
    private static Cell MoveX(Cell c, int d)
    {
        if (d == 0) return c;
        ulong x = c.Bits & 0xAAAAAAAAAAAAAAAAUL, y = c.Bits & 0x5555555555555555UL;
        ulong zz = 0x5555555555555555UL >> (64 - c.Step * 2);
        if (d > 0) x += zz + 1;
        else
        {
            x |= zz;
            x -= zz + 1;
        }
        x &= 0xAAAAAAAAAAAAAAAAUL >> (64 - c.Step * 2);
        return c with { Bits = x | y };
    }

    private static Cell MoveY(Cell c, int d)
    {
        if (d == 0) return c;
        ulong x = c.Bits & 0xAAAAAAAAAAAAAAAAUL, y = c.Bits & 0x5555555555555555UL;
        ulong zz = 0xAAAAAAAAAAAAAAAAUL >> (64 - c.Step * 2);
        if (d > 0) y += zz + 1;
        else
        {
            y |= zz;
            y -= zz + 1;
        }
        y &= 0x5555555555555555UL >> (64 - c.Step * 2);
        return c with { Bits = x | y };
    }

    public static Cell Neighbour(Cell c, int dx, int dy) => MoveY(MoveX(c, dx), dy);

    public static int EstimateSteps(double rangeMeters, double lat)
    {
        if (rangeMeters == 0) return StepMax;
        int step = 1;
        while (rangeMeters < MercatorMax)
        {
            rangeMeters *= 2;
            step++;
        }
        step -= 2; // keep the range inside most of the base cases
        if (lat > 66 || lat < -66)
        {
            step--;
            if (lat > 80 || lat < -80) step--;
        }
        return Math.Clamp(step, 1, StepMax);
    }

    public static double DegreesToRadians(double deg) => deg * DegToRad;
    public static double RadiansToDegrees(double rad) => rad / DegToRad;

    /// <summary>Haversine great-circle distance in meters.</summary>
    public static double Distance(double lon1, double lat1, double lon2, double lat2)
    {
        double lat1r = DegreesToRadians(lat1), lon1r = DegreesToRadians(lon1);
        double lat2r = DegreesToRadians(lat2), lon2r = DegreesToRadians(lon2);
        double u = Math.Sin((lat2r - lat1r) / 2);
        double v = Math.Sin((lon2r - lon1r) / 2);
        return 2.0 * EarthRadiusMeters * Math.Asin(Math.Sqrt(u * u + Math.Cos(lat1r) * Math.Cos(lat2r) * v * v));
    }

    /// <summary>
    /// The 9 cells to scan (centre, N, S, E, W, NE, NW, SE, SW; zeroed when useless) for a search
    /// around (lon, lat) whose bounding box half-sizes are given in meters.
    /// </summary>
    public static Cell[] SearchCells(double lon, double lat, double halfWidthMeters, double halfHeightMeters, double radiusMeters)
    {
        double latDelta = RadiansToDegrees(halfHeightMeters / EarthRadiusMeters);
        double lonDeltaTop = RadiansToDegrees(halfWidthMeters / EarthRadiusMeters / Math.Cos(DegreesToRadians(lat + latDelta)));
        double lonDeltaBottom = RadiansToDegrees(halfWidthMeters / EarthRadiusMeters / Math.Cos(DegreesToRadians(lat - latDelta)));
        bool south = lat < 0;
        double minLon = south ? lon - lonDeltaBottom : lon - lonDeltaTop;
        double maxLon = south ? lon + lonDeltaBottom : lon + lonDeltaTop;
        double minLat = lat - latDelta, maxLat = lat + latDelta;

        int steps = EstimateSteps(radiusMeters, lat);
        var cells = CellsAround(lon, lat, steps);
        var n = Decode(WgsLon, WgsLat, cells[1]);
        var s = Decode(WgsLon, WgsLat, cells[2]);
        var e = Decode(WgsLon, WgsLat, cells[3]);
        var w = Decode(WgsLon, WgsLat, cells[4]);
        // The estimated step can be too fine when the box reaches past a neighbour: go one coarser.
        bool decrease = n.Lat.Max < maxLat || s.Lat.Min > minLat || e.Lon.Max < maxLon || w.Lon.Min > minLon;
        if (steps > 1 && decrease)
        {
            steps--;
            cells = CellsAround(lon, lat, steps);
        }
        if (steps >= 2)
        {
            var area = Decode(WgsLon, WgsLat, cells[0]);
            if (area.Lat.Min < minLat) cells[2] = cells[8] = cells[7] = default;
            if (area.Lat.Max > maxLat) cells[1] = cells[5] = cells[6] = default;
            if (area.Lon.Min < minLon) cells[4] = cells[8] = cells[6] = default;
            if (area.Lon.Max > maxLon) cells[3] = cells[7] = cells[5] = default;
        }
        return cells;
    }

    private static Cell[] CellsAround(double lon, double lat, int steps)
    {
        TryEncode(WgsLon, WgsLat, lon, lat, steps, out var c);
        return
        [
            c,
            Neighbour(c, 0, 1), Neighbour(c, 0, -1), Neighbour(c, 1, 0), Neighbour(c, -1, 0),
            Neighbour(c, 1, 1), Neighbour(c, -1, 1), Neighbour(c, 1, -1), Neighbour(c, -1, -1),
        ];
    }

    /// <summary>
    /// C printf "%.Nf" of a double: the exact binary value rounded to N decimals (ties to even),
    /// as glibc prints it. Used for GEODIST ("%.4f"), error texts ("%f") and coordinates ("%.17Lf").
    /// </summary>
    public static string FormatFixed(double value, int decimals)
    {
        if (double.IsNaN(value)) return value < 0 || BitConverter.DoubleToInt64Bits(value) < 0 ? "-nan" : "nan";
        if (double.IsInfinity(value)) return value < 0 ? "-inf" : "inf";
        long bits = BitConverter.DoubleToInt64Bits(value);
        bool negative = bits < 0;
        int exp = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exp == 0) exp = 1;
        else mantissa |= 1L << 52;
        exp -= 1075; // value = mantissa * 2^exp
        BigInteger scaled = new BigInteger(mantissa) * BigInteger.Pow(10, decimals);
        if (exp >= 0) scaled <<= exp;
        else
        {
            int k = -exp;
            BigInteger q = scaled >> k;
            BigInteger r = scaled - (q << k);
            BigInteger half = BigInteger.One << (k - 1);
            if (r > half || (r == half && !q.IsEven)) q += 1;
            scaled = q;
        }
        string digits = scaled.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (digits.Length <= decimals) digits = new string('0', decimals - digits.Length + 1) + digits;
        var sb = new StringBuilder(digits.Length + 2);
        if (negative) sb.Append('-');
        sb.Append(digits, 0, digits.Length - decimals);
        if (decimals > 0) sb.Append('.').Append(digits, digits.Length - decimals, decimals);
        return sb.ToString();
    }

    /// <summary>Redis's "human" long double text: "%.17Lf" with trailing zeros (and a bare '.') removed.</summary>
    public static string FormatHuman(double value)
    {
        string s = FormatFixed(value, 17);
        if (double.IsFinite(value))
        {
            int end = s.Length;
            while (s[end - 1] == '0') end--;
            if (s[end - 1] == '.') end--;
            s = s[..end];
            if (s == "-0") s = "0";
        }
        return s;
    }
}
