using System.Globalization;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// GEO commands (geo.c). A geo set is a plain sorted set whose scores are 52-bit geohashes
/// (<see cref="GeoHash"/>); GEOADD is ZADD with encoded scores (and is propagated as ZADD, as
/// Redis rewrites its argv). Searches scan the 9 geohash cells around the centre in Redis's order
/// (centre, N, S, E, W, NE, NW, SE, SW; each cell one score range in ascending order), keep the
/// points really inside the circle/box, then sort by distance if asked (or when COUNT is given
/// without ANY), so unsorted replies come out in the same order as Redis's.
/// </summary>
public sealed class GeoCommands : ICommandFamily
{
    private const string G = "geo";

    [Flags]
    private enum SearchFlags
    {
        None = 0,
        RadiusCoords = 1,
        RadiusMember = 2,
        NoStore = 4,
        Search = 8,
        SearchStore = 16,
    }

    public void Register(CommandTable t)
    {
        const string Acl = "@write @geo @slow", RoAcl = "@read @geo @slow", SearchCx = "O(N+log(M))";
        t.Add("geoadd", -5, "write denyoom", 1, 1, 1, Acl, GeoAdd, G, "Adds one or more members to a geospatial index. The key is created if it doesn't exist.", "3.2.0", "O(log(N))");
        t.Add("geopos", -2, "readonly", 1, 1, 1, RoAcl, GeoPos, G, "Returns the longitude and latitude of members from a geospatial index.", "3.2.0", "O(N)");
        t.Add("geodist", -4, "readonly", 1, 1, 1, RoAcl, GeoDist, G, "Returns the distance between two members of a geospatial index.", "3.2.0", "O(log(N))");
        t.Add("geohash", -2, "readonly", 1, 1, 1, RoAcl, GeoHashCommand, G, "Returns members from a geospatial index as geohash strings.", "3.2.0", "O(log(N))");
        t.Add("geosearch", -7, "readonly", 1, 1, 1, RoAcl, ctx => Search(ctx, 1, SearchFlags.Search), G, "Queries a geospatial index for members inside an area of a box or a circle.", "6.2.0", SearchCx);
        t.Add("geosearchstore", -8, "write denyoom", 1, 2, 1, Acl, ctx => Search(ctx, 2, SearchFlags.Search | SearchFlags.SearchStore), G, "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.", "6.2.0", SearchCx);
        t.Add("georadius", -6, "write denyoom", 1, 1, 1, Acl, ctx => Search(ctx, 1, SearchFlags.RadiusCoords), G, "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.", "3.2.0", SearchCx, StoreKeyFinder(6));
        t.Add("georadiusbymember", -5, "write denyoom", 1, 1, 1, Acl, ctx => Search(ctx, 1, SearchFlags.RadiusMember), G, "Queries a geospatial index for members within a distance from a member, optionally stores the result.", "3.2.0", SearchCx, StoreKeyFinder(5));
        t.Add("georadius_ro", -6, "readonly", 1, 1, 1, RoAcl, ctx => Search(ctx, 1, SearchFlags.RadiusCoords | SearchFlags.NoStore), G, "Returns members from a geospatial index that are within a distance from a coordinate.", "3.2.10", SearchCx);
        t.Add("georadiusbymember_ro", -5, "readonly", 1, 1, 1, RoAcl, ctx => Search(ctx, 1, SearchFlags.RadiusMember | SearchFlags.NoStore), G, "Returns members from a geospatial index that are within a distance from a member.", "3.2.10", SearchCx);
    }

    // GEORADIUS's keys, as its key specs find them: the source, then the argument after the first
    // STORE and the one after the first STOREDIST among the options.
    private static KeyFinder StoreKeyFinder(int firstOption) => args =>
    {
        int store = FindKeyword(args, firstOption, "STORE"), storeDist = FindKeyword(args, firstOption, "STOREDIST");
        var keys = new List<int>(3) { 1 };
        if (store > 0) keys.Add(store);
        if (storeDist > 0) keys.Add(storeDist);
        return keys.ToArray();
    };

    private static int FindKeyword(CommandArgs args, int from, string keyword)
    {
        for (int i = from; i < args.Count - 1; i++)
            if (AsciiEq(args[i], keyword)) return i + 1;
        return -1;
    }

    private static bool AsciiEq(ReadOnlySpan<byte> a, string upper)
    {
        if (a.Length != upper.Length) return false;
        for (int i = 0; i < a.Length; i++)
            if ((a[i] & ~0x20) != upper[i]) return false;
        return true;
    }

    // ---- GEOADD ----

    private static void GeoAdd(CommandContext ctx)
    {
        bool nx = false, xx = false, ch = false;
        int first = 2;
        for (; first < ctx.ArgCount; first++)
        {
            if (ctx.ArgIs(first, "NX")) nx = true;
            else if (ctx.ArgIs(first, "XX")) xx = true;
            else if (ctx.ArgIs(first, "CH")) ch = true;
            else break;
        }
        int elements = (ctx.ArgCount - first) / 3;
        // No triple left is ZADD's own syntax error once Redis has rewritten the argv.
        if ((ctx.ArgCount - first) % 3 != 0 || (nx && xx) || elements == 0)
        {
            ctx.SyntaxError();
            return;
        }
        var scores = new double[elements];
        for (int i = 0; i < elements; i++)
        {
            if (!TryLonLat(ctx, first + i * 3, out double lon, out double lat)) return;
            scores[i] = GeoHash.EncodeScore(lon, lat);
        }
        var key = ctx.Arg(1);
        if (!SortedSetCommands.TryGetZSet(ctx, key, write: true, out var z)) return;
        if (z == null)
        {
            if (xx)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            z = ZSetObject.CreateFor(ctx.Arg(first + 2).Length);
            ctx.Db.Add(ctx.ArgBytes(1), z);
        }
        long added = 0, updated = 0;
        for (int i = 0; i < elements; i++)
        {
            var member = ctx.Arg(first + i * 3 + 2);
            if (z.TryGetScore(member, out double current))
            {
                if (nx || current == scores[i]) continue;
                z.UpdateScore(member, current, scores[i]);
                updated++;
            }
            else if (!xx)
            {
                z.Insert(member, scores[i]);
                added++;
            }
        }
        if (added + updated > 0)
        {
            ctx.Server.Dirty += added + updated - 1;
            ctx.KeyChanged(key, 'z', "zadd");
            if (ctx.Server.Propagator != null) PropagateAsZAdd(ctx, first, scores);
        }
        ctx.Reply.WriteInteger(ch ? added + updated : added);
    }

    // Redis replaces GEOADD's argv by "ZADD key [options] score member ..." before running it.
    private static void PropagateAsZAdd(CommandContext ctx, int first, double[] scores)
    {
        var argv = new byte[first + scores.Length * 2][];
        argv[0] = "zadd"u8.ToArray();
        for (int i = 1; i < first; i++) argv[i] = ctx.ArgBytes(i);
        for (int i = 0; i < scores.Length; i++)
        {
            argv[first + i * 2] = CommandContext.Bytes(((long)scores[i]).ToString(CultureInfo.InvariantCulture));
            argv[first + i * 2 + 1] = ctx.ArgBytes(first + i * 3 + 2);
        }
        ctx.PropagateAs(argv);
    }

    private static bool TryLonLat(CommandContext ctx, int index, out double lon, out double lat)
    {
        lat = 0;
        if (!ctx.TryGetDouble(index, out lon) || !ctx.TryGetDouble(index + 1, out lat)) return false;
        if (GeoHash.IsValid(lon, lat)) return true;
        ctx.Error(string.Format(CultureInfo.InvariantCulture, Errors.GeoInvalidPair, GeoHash.FormatFixed(lon, 6), GeoHash.FormatFixed(lat, 6)));
        return false;
    }

    // ---- GEOPOS / GEODIST / GEOHASH ----

    private static void GeoPos(CommandContext ctx)
    {
        if (!SortedSetCommands.TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        var w = ctx.Reply;
        w.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (z == null || !z.TryGetScore(ctx.Arg(i), out double score))
            {
                w.WriteNullArray();
                continue;
            }
            var (lon, lat) = GeoHash.DecodeScore(score);
            w.WriteArrayHeader(2);
            WriteHumanDouble(w, lon);
            WriteHumanDouble(w, lat);
        }
    }

    private static void GeoDist(CommandContext ctx)
    {
        double toMeters = 1;
        if (ctx.ArgCount == 5)
        {
            if (!TryUnit(ctx, 4, out toMeters)) return;
        }
        else if (ctx.ArgCount > 5)
        {
            ctx.SyntaxError();
            return;
        }
        if (!SortedSetCommands.TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        if (z == null || !z.TryGetScore(ctx.Arg(2), out double s1) || !z.TryGetScore(ctx.Arg(3), out double s2))
        {
            ctx.Reply.WriteNull();
            return;
        }
        var (lon1, lat1) = GeoHash.DecodeScore(s1);
        var (lon2, lat2) = GeoHash.DecodeScore(s2);
        WriteDistance(ctx.Reply, GeoHash.Distance(lon1, lat1, lon2, lat2) / toMeters);
    }

    private static void GeoHashCommand(CommandContext ctx)
    {
        if (!SortedSetCommands.TryGetZSet(ctx, ctx.Arg(1), write: false, out var z)) return;
        var w = ctx.Reply;
        w.WriteArrayHeader(ctx.ArgCount - 2);
        for (int i = 2; i < ctx.ArgCount; i++)
        {
            if (z == null || !z.TryGetScore(ctx.Arg(i), out double score)) w.WriteNull();
            else w.WriteBulk(GeoHash.ToBase32(score));
        }
    }

    private static bool TryUnit(CommandContext ctx, int index, out double toMeters)
    {
        if (ctx.ArgIs(index, "M")) toMeters = 1;
        else if (ctx.ArgIs(index, "KM")) toMeters = 1000;
        else if (ctx.ArgIs(index, "FT")) toMeters = 0.3048;
        else if (ctx.ArgIs(index, "MI")) toMeters = 1609.34;
        else
        {
            toMeters = -1;
            ctx.Error(Errors.GeoUnsupportedUnit);
            return false;
        }
        return true;
    }

    // Distances are always bulk strings "%.4f", in RESP3 too (addReplyDoubleDistance).
    private static void WriteDistance(RespWriter w, double meters) => w.WriteBulk(GeoHash.FormatFixed(meters, 4));

    // Coordinates: RESP2 bulk / RESP3 double, both in the "%.17Lf" trimmed form (addReplyHumanLongDouble).
    private static void WriteHumanDouble(RespWriter w, double v)
    {
        string text = GeoHash.FormatHuman(v);
        if (w.Protocol >= 3)
        {
            w.WriteRaw(",");
            w.WriteRaw(text);
            w.WriteRaw("\r\n");
        }
        else w.WriteBulk(text);
    }

    // ---- GEOSEARCH / GEORADIUS family ----

    private struct Shape
    {
        public double Lon, Lat, Radius, Width, Height, ToMeters;
        public bool IsBox;
    }

    private struct Point
    {
        public byte[] Member;
        public double Score, Lon, Lat, Dist;
    }

    private enum Sort { None, Asc, Desc }

    private sealed class Options
    {
        public bool WithDist, WithHash, WithCoord, Any, StoreDist, FromMember, FromLonLat, ByRadius, ByBox;
        public Sort Sort;
        public long Count;
        public int StoreKeyIndex = -1;
    }

    private static bool TryDistance(CommandContext ctx, int index, ref Shape shape)
    {
        if (!NumberFormat.TryParseDouble(ctx.Arg(index), out double radius))
        {
            ctx.Error(Errors.GeoNeedRadius);
            return false;
        }
        if (radius < 0)
        {
            ctx.Error(Errors.GeoRadiusNegative);
            return false;
        }
        shape.Radius = radius;
        shape.IsBox = false;
        return TryUnit(ctx, index + 1, out shape.ToMeters);
    }

    private static bool TryBox(CommandContext ctx, int index, ref Shape shape)
    {
        if (!NumberFormat.TryParseDouble(ctx.Arg(index), out double width))
        {
            ctx.Error(Errors.GeoNeedWidth);
            return false;
        }
        if (!NumberFormat.TryParseDouble(ctx.Arg(index + 1), out double height))
        {
            ctx.Error(Errors.GeoNeedHeight);
            return false;
        }
        if (height < 0 || width < 0)
        {
            ctx.Error(Errors.GeoBoxNegative);
            return false;
        }
        shape.Width = width;
        shape.Height = height;
        shape.IsBox = true;
        return TryUnit(ctx, index + 2, out shape.ToMeters);
    }

    private static bool TryMemberPosition(CommandContext ctx, ZSetObject z, int index, ref Shape shape)
    {
        if (!z.TryGetScore(ctx.Arg(index), out double score))
        {
            ctx.Error(Errors.GeoBadMember);
            return false;
        }
        (shape.Lon, shape.Lat) = GeoHash.DecodeScore(score);
        return true;
    }

    private static void Search(CommandContext ctx, int srcIndex, SearchFlags flags)
    {
        if (!SortedSetCommands.TryGetZSet(ctx, ctx.Arg(srcIndex), write: false, out var z)) return;
        var shape = new Shape { ToMeters = 1 };
        var opt = new Options();
        int baseArgs;
        if ((flags & SearchFlags.RadiusCoords) != 0)
        {
            baseArgs = 6;
            if (!TryLonLat(ctx, 2, out shape.Lon, out shape.Lat) || !TryDistance(ctx, 4, ref shape)) return;
        }
        else if ((flags & SearchFlags.RadiusMember) != 0)
        {
            baseArgs = 5;
            // Without a source key Redis still parses the options, to pick the reply (STORE or not).
            if (z != null && (!TryMemberPosition(ctx, z, 2, ref shape) || !TryDistance(ctx, 3, ref shape))) return;
        }
        else
        {
            baseArgs = 2;
            if ((flags & SearchFlags.SearchStore) != 0)
            {
                baseArgs = 3;
                opt.StoreKeyIndex = 1;
            }
        }
        if (!TryParseOptions(ctx, z, flags, baseArgs, opt, ref shape)) return;
        if (!ValidateOptions(ctx, flags, opt)) return;

        if (z == null)
        {
            if (opt.StoreKeyIndex >= 0)
            {
                var dst = ctx.Arg(opt.StoreKeyIndex);
                if (ctx.Db.Delete(dst)) ctx.KeyChanged(dst, 'g', "del");
                ctx.Reply.WriteInteger(0);
            }
            else ctx.Reply.WriteEmptyArray();
            return;
        }
        // COUNT without ANY means "the N closest": sort ascending unless told otherwise.
        if (opt.Count != 0 && opt.Sort == Sort.None && !opt.Any) opt.Sort = Sort.Asc;

        var points = Collect(z, shape, opt.Any ? opt.Count : 0);
        if (points.Count == 0 && opt.StoreKeyIndex < 0)
        {
            ctx.Reply.WriteEmptyArray();
            return;
        }
        int returned = opt.Count == 0 || points.Count < opt.Count ? points.Count : (int)opt.Count;
        if (opt.Sort != Sort.None) SortByDistance(points, returned, opt.Sort == Sort.Desc);
        if (opt.StoreKeyIndex < 0) WriteResults(ctx, points, returned, shape.ToMeters, opt);
        else StoreResults(ctx, points, returned, shape.ToMeters, opt, (flags & SearchFlags.Search) != 0);
    }

    private static bool TryParseOptions(CommandContext ctx, ZSetObject? z, SearchFlags flags, int baseArgs, Options opt, ref Shape shape)
    {
        bool search = (flags & SearchFlags.Search) != 0;
        bool canStore = (flags & (SearchFlags.NoStore | SearchFlags.Search)) == 0;
        int remaining = ctx.ArgCount - baseArgs;
        for (int i = 0; i < remaining; i++)
        {
            int at = baseArgs + i;
            if (ctx.ArgIs(at, "WITHDIST")) opt.WithDist = true;
            else if (ctx.ArgIs(at, "WITHHASH")) opt.WithHash = true;
            else if (ctx.ArgIs(at, "WITHCOORD")) opt.WithCoord = true;
            else if (ctx.ArgIs(at, "ANY")) opt.Any = true;
            else if (ctx.ArgIs(at, "ASC")) opt.Sort = Sort.Asc;
            else if (ctx.ArgIs(at, "DESC")) opt.Sort = Sort.Desc;
            else if (ctx.ArgIs(at, "COUNT") && i + 1 < remaining)
            {
                if (!ctx.TryGetLong(at + 1, out opt.Count)) return false;
                if (opt.Count <= 0)
                {
                    ctx.Error(Errors.GeoCountPositive);
                    return false;
                }
                i++;
            }
            else if ((ctx.ArgIs(at, "STORE") || ctx.ArgIs(at, "STOREDIST")) && i + 1 < remaining && canStore)
            {
                opt.StoreDist = ctx.ArgIs(at, "STOREDIST");
                opt.StoreKeyIndex = at + 1;
                i++;
            }
            else if (ctx.ArgIs(at, "STOREDIST") && (flags & SearchFlags.SearchStore) != 0) opt.StoreDist = true;
            else if (ctx.ArgIs(at, "FROMMEMBER") && i + 1 < remaining && search && !opt.FromLonLat)
            {
                if (z != null && !TryMemberPosition(ctx, z, at + 1, ref shape)) return false;
                opt.FromMember = true;
                i++;
            }
            else if (ctx.ArgIs(at, "FROMLONLAT") && i + 2 < remaining && search && !opt.FromMember)
            {
                if (!TryLonLat(ctx, at + 1, out shape.Lon, out shape.Lat)) return false;
                opt.FromLonLat = true;
                i += 2;
            }
            else if (ctx.ArgIs(at, "BYRADIUS") && i + 2 < remaining && search && !opt.ByBox)
            {
                if (!TryDistance(ctx, at + 1, ref shape)) return false;
                opt.ByRadius = true;
                i += 2;
            }
            else if (ctx.ArgIs(at, "BYBOX") && i + 3 < remaining && search && !opt.ByRadius)
            {
                if (!TryBox(ctx, at + 1, ref shape)) return false;
                opt.ByBox = true;
                i += 3;
            }
            else
            {
                ctx.SyntaxError();
                return false;
            }
        }
        return true;
    }

    private static bool ValidateOptions(CommandContext ctx, SearchFlags flags, Options opt)
    {
        if (opt.StoreKeyIndex >= 0 && (opt.WithDist || opt.WithHash || opt.WithCoord))
        {
            string what = (flags & SearchFlags.SearchStore) != 0 ? "GEOSEARCHSTORE" : "STORE option in GEORADIUS";
            ctx.Error(string.Format(CultureInfo.InvariantCulture, Errors.GeoStoreIncompatible, what));
            return false;
        }
        if ((flags & SearchFlags.Search) != 0 && !(opt.FromMember || opt.FromLonLat))
        {
            ctx.Error(string.Format(CultureInfo.InvariantCulture, Errors.GeoNeedFrom, ctx.ArgString(0)));
            return false;
        }
        if ((flags & SearchFlags.Search) != 0 && !(opt.ByRadius || opt.ByBox))
        {
            ctx.Error(string.Format(CultureInfo.InvariantCulture, Errors.GeoNeedBy, ctx.ArgString(0)));
            return false;
        }
        if (opt.Any && opt.Count == 0)
        {
            ctx.Error(Errors.GeoAnyNeedsCount);
            return false;
        }
        return true;
    }

    private static List<Point> Collect(ZSetObject z, in Shape shape, long limit)
    {
        double halfW, halfH, radiusMeters;
        if (shape.IsBox)
        {
            halfW = shape.ToMeters * (shape.Width / 2);
            halfH = shape.ToMeters * (shape.Height / 2);
            radiusMeters = Math.Sqrt((shape.Width / 2) * (shape.Width / 2) + (shape.Height / 2) * (shape.Height / 2)) * shape.ToMeters;
        }
        else
        {
            halfW = halfH = shape.ToMeters * shape.Radius;
            radiusMeters = shape.Radius * shape.ToMeters;
        }
        var cells = GeoHash.SearchCells(shape.Lon, shape.Lat, halfW, halfH, radiusMeters);
        var points = new List<Point>();
        int last = -1;
        for (int i = 0; i < cells.Length; i++)
        {
            if (cells[i].IsZero) continue;
            // Huge radii can make neighbours coincide: skip a cell equal to the one just scanned.
            if (last >= 0 && cells[i] == cells[last]) continue;
            if (points.Count > 0 && limit > 0 && points.Count >= limit) break;
            ScanCell(z, cells[i], shape, points, limit);
            last = i;
        }
        return points;
    }

    private static void ScanCell(ZSetObject z, GeoHash.Cell cell, in Shape shape, List<Point> points, long limit)
    {
        double min = GeoHash.Align52(cell);
        double max = GeoHash.Align52(cell with { Bits = cell.Bits + 1 });
        var (start, end) = z.RankRange(new ScoreRange(min, false, max, true));
        var walk = z.Walk(start, reverse: false);
        for (long r = start; r < end && walk.MoveNext(); r++)
        {
            TryAppend(points, shape, walk.Score, walk.Member);
            if (points.Count > 0 && limit > 0 && points.Count >= limit) break;
        }
    }

    private static void TryAppend(List<Point> points, in Shape shape, double score, byte[] member)
    {
        var (lon, lat) = GeoHash.DecodeScore(score);
        double dist;
        if (shape.IsBox)
        {
            double widthM = shape.Width * shape.ToMeters, heightM = shape.Height * shape.ToMeters;
            double lonDist = GeoHash.Distance(lon, lat, shape.Lon, lat);
            double latDist = GeoHash.Distance(lon, lat, lon, shape.Lat);
            if (lonDist > widthM / 2 || latDist > heightM / 2) return;
            dist = GeoHash.Distance(shape.Lon, shape.Lat, lon, lat);
        }
        else
        {
            dist = GeoHash.Distance(shape.Lon, shape.Lat, lon, lat);
            if (dist > shape.Radius * shape.ToMeters) return;
        }
        points.Add(new Point { Member = member, Score = score, Lon = lon, Lat = lat, Dist = dist });
    }

    // A full sort is stable, like glibc's merge-sort qsort that Redis calls; when COUNT cuts the
    // result Redis uses its partial quicksort (pqsort), which orders equal distances differently,
    // so that case runs the same Bentley-McIlroy partial quicksort.
    private static void SortByDistance(List<Point> points, int returned, bool descending)
    {
        if (returned == points.Count)
        {
            var indexed = new (Point P, int I)[points.Count];
            for (int i = 0; i < indexed.Length; i++) indexed[i] = (points[i], i);
            Array.Sort(indexed, (a, b) =>
            {
                int c = a.P.Dist.CompareTo(b.P.Dist);
                if (descending) c = -c;
                return c != 0 ? c : a.I.CompareTo(b.I);
            });
            for (int i = 0; i < indexed.Length; i++) points[i] = indexed[i].P;
            return;
        }
        var arr = points.ToArray();
        new PartialQuickSort(arr, descending).Sort(0, arr.Length, 0, returned - 1);
        for (int i = 0; i < arr.Length; i++) points[i] = arr[i];
    }

    /// <summary>
    /// Bentley-McIlroy quicksort (3-way partition, median of 3 / ninther pivot, insertion sort
    /// below 7 elements, no switch to insertion sort after a swap-free pass, as Redis's pqsort) that only recurses into partitions overlapping ranks [lrange, rrange].
    /// </summary>
    private readonly struct PartialQuickSort(Point[] a, bool descending)
    {
        private int Cmp(int i, int j)
        {
            double x = a[i].Dist, y = a[j].Dist;
            int c = x > y ? 1 : x == y ? 0 : -1;
            return descending ? -c : c;
        }

        private void Swap(int i, int j) => (a[i], a[j]) = (a[j], a[i]);

        private void VecSwap(int i, int j, int n)
        {
            for (int k = 0; k < n; k++) Swap(i + k, j + k);
        }

        private int Med3(int x, int y, int z) =>
            Cmp(x, y) < 0
                ? (Cmp(y, z) < 0 ? y : (Cmp(x, z) < 0 ? z : x))
                : (Cmp(y, z) > 0 ? y : (Cmp(x, z) < 0 ? x : z));

        private void InsertionSort(int lo, int n)
        {
            for (int m = lo + 1; m < lo + n; m++)
                for (int l = m; l > lo && Cmp(l - 1, l) > 0; l--) Swap(l, l - 1);
        }

        public void Sort(int lo, int n, int lrange, int rrange)
        {
            while (true)
            {
                if (n < 7)
                {
                    InsertionSort(lo, n);
                    return;
                }
                int pm = lo + n / 2;
                if (n > 7)
                {
                    int pl = lo, pn = lo + n - 1;
                    if (n > 40)
                    {
                        int d = n / 8;
                        pl = Med3(pl, pl + d, pl + 2 * d);
                        pm = Med3(pm - d, pm, pm + d);
                        pn = Med3(pn - 2 * d, pn - d, pn);
                    }
                    pm = Med3(pl, pm, pn);
                }
                Swap(lo, pm);
                int pa = lo + 1, pb = pa, pc = lo + n - 1, pd = pc;
                while (true)
                {
                    int r;
                    while (pb <= pc && (r = Cmp(pb, lo)) <= 0)
                    {
                        if (r == 0) Swap(pa++, pb);
                        pb++;
                    }
                    while (pb <= pc && (r = Cmp(pc, lo)) >= 0)
                    {
                        if (r == 0) Swap(pc, pd--);
                        pc--;
                    }
                    if (pb > pc) break;
                    Swap(pb++, pc--);
                }
                int end = lo + n;
                int s = Math.Min(pa - lo, pb - pa);
                VecSwap(lo, pb - s, s);
                s = Math.Min(pd - pc, end - pd - 1);
                VecSwap(pb, end - s, s);
                if ((s = pb - pa) > 1 && Overlaps(lo, lo + s - 1, lrange, rrange)) Sort(lo, s, lrange, rrange);
                if ((s = pd - pc) > 1)
                {
                    lo = end - s;
                    n = s;
                    if (Overlaps(lo, lo + s - 1, lrange, rrange)) continue;
                }
                return;
            }
        }

        private static bool Overlaps(int lo, int hi, int lrange, int rrange) =>
            !((lrange < lo && rrange < lo) || (lrange > hi && rrange > hi));
    }

    private static void WriteResults(CommandContext ctx, List<Point> points, int returned, double toMeters, Options opt)
    {
        var w = ctx.Reply;
        int extra = (opt.WithDist ? 1 : 0) + (opt.WithCoord ? 1 : 0) + (opt.WithHash ? 1 : 0);
        w.WriteArrayHeader(returned);
        for (int i = 0; i < returned; i++)
        {
            var p = points[i];
            if (extra > 0) w.WriteArrayHeader(extra + 1);
            w.WriteBulk(p.Member);
            if (opt.WithDist) WriteDistance(w, p.Dist / toMeters);
            if (opt.WithHash) w.WriteInteger((long)p.Score);
            if (opt.WithCoord)
            {
                w.WriteArrayHeader(2);
                WriteHumanDouble(w, p.Lon);
                WriteHumanDouble(w, p.Lat);
            }
        }
    }

    private static void StoreResults(CommandContext ctx, List<Point> points, int returned, double toMeters, Options opt, bool search)
    {
        var dst = ctx.Arg(opt.StoreKeyIndex);
        if (returned == 0)
        {
            if (ctx.Db.Delete(dst)) ctx.KeyChanged(dst, 'g', "del");
            ctx.Reply.WriteInteger(0);
            return;
        }
        var result = new ZSetObject(listpack: false);
        for (int i = 0; i < returned; i++)
            result.Insert(points[i].Member, opt.StoreDist ? points[i].Dist / toMeters : points[i].Score);
        result.ShrinkIfSmall();
        ctx.Db.Set(dst, result);
        ctx.Server.Dirty += returned - 1;
        ctx.KeyChanged(dst, 'z', search ? "geosearchstore" : "georadiusstore");
        ctx.Reply.WriteInteger(returned);
    }
}
