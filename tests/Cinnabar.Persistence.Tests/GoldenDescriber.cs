using System.Globalization;
using System.Text;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Tests;

/// <summary>
/// Renders a loaded keyspace exactly as Golden/describe.py renders a redis-server's data set
/// (the *.expected files): db|key|type|encoding|expire-ms|content per key, sorted by db and key
/// bytes, then one line per function library. Strings are shown byte for byte (Latin-1).
/// </summary>
public static class GoldenDescriber
{
    private static string L1(byte[] b) => Encoding.Latin1.GetString(b);

    public static string Render(Keyspace ks, IEnumerable<byte[]> functionLibraries, bool seenTime = true)
    {
        var sb = new StringBuilder();
        for (int db = 0; db < ks.Count; db++)
        {
            var keys = new List<byte[]>();
            var dict = ks[db].Dict;
            for (int i = 0; i < dict.Capacity; i++)
                if (dict.IsUsed(i)) keys.Add(dict.KeyAt(i));
            keys.Sort((a, b) => a.AsSpan().SequenceCompareTo(b));
            foreach (var key in keys)
            {
                var v = ks[db].Lookup(key)!;
                sb.Append(db).Append('|').Append(L1(key)).Append('|').Append(TypeName(v)).Append('|').Append(v.Encoding)
                  .Append('|').Append(ks[db].GetExpire(key)).Append('|').Append(Content(v, seenTime)).Append('\n');
            }
        }
        foreach (var code in functionLibraries.Select(L1).Order(StringComparer.Ordinal))
            sb.Append("function|").Append(code.Replace("\n", "\\n", StringComparison.Ordinal)).Append('\n');
        return sb.ToString();
    }

    private static string TypeName(RedisObject v) => v.Type switch
    {
        RedisType.String => "string",
        RedisType.List => "list",
        RedisType.Set => "set",
        RedisType.ZSet => "zset",
        RedisType.Hash => "hash",
        RedisType.Stream => "stream",
        _ => "?",
    };

    private static string Content(RedisObject v, bool seenTime)
    {
        switch (v)
        {
            case StringObject s:
                return L1(s.GetBytes());
            case ListObject l:
                return string.Join(",", l.Enumerate().Select(L1));
            case SetObject set:
                return string.Join(",", set.EnumerateMembers().Select(L1).Order(StringComparer.Ordinal));
            case HashObject h:
            {
                var pairs = new List<(string F, string V)>();
                for (int i = 0; i < h.PositionLimit; i++)
                    if (h.TryGetAt(i, out var f, out var val)) pairs.Add((L1(f), L1(val)));
                return string.Join(",", pairs.OrderBy(p => p.F, StringComparer.Ordinal).Select(p => p.F + "=" + p.V));
            }
            case ZSetObject z:
            {
                var parts = new List<string>();
                var it = z.Walk(0, reverse: false);
                while (it.MoveNext()) parts.Add(L1(it.Member) + "=" + Score(it.Score));
                return string.Join(",", parts);
            }
            case StreamObject st:
                return Stream(st, seenTime);
            default:
                throw new NotSupportedException(v.GetType().Name);
        }
    }

    // Redis replies with scores formatted like %.17g; the goldens use exactly representable ones.
    private static string Score(double d) =>
        double.IsPositiveInfinity(d) ? "inf" : double.IsNegativeInfinity(d) ? "-inf" : d.ToString("R", CultureInfo.InvariantCulture);

    private static string Stream(StreamObject s, bool seenTime)
    {
        var parts = new List<string>
        {
            $"len={s.Length}", $"last={s.LastId}", $"first={s.FirstId}", $"maxdel={s.MaxDeletedId}", $"added={s.EntriesAdded}",
        };
        var entries = s.Range(StreamId.Zero, StreamId.Max, reverse: false).Select(e =>
        {
            var fv = new List<string>();
            for (int i = 0; i < e.FieldsAndValues.Length; i += 2) fv.Add(L1(e.FieldsAndValues[i]) + "=" + L1(e.FieldsAndValues[i + 1]));
            return $"{e.Id}{{{string.Join(" ", fv)}}}";
        });
        parts.Add("entries=" + string.Join(" ", entries));
        foreach (var g in s.Groups.Values)
        {
            string pel = string.Join(" ", g.Pel.Select(p => $"{p.Key}/{L1(p.Value.Consumer.Name)}/{p.Value.DeliveryTimeMs}/{p.Value.DeliveryCount}"));
            string cons = string.Join(" ", g.Consumers.Values.Select(c =>
                $"{L1(c.Name)}/{(seenTime ? c.SeenTimeMs.ToString(CultureInfo.InvariantCulture) : "-")}/[{string.Join(",", c.Pel.Keys)}]"));
            string read = g.EntriesRead == StreamObject.InvalidEntriesRead ? "nil" : g.EntriesRead.ToString(CultureInfo.InvariantCulture);
            parts.Add($"group={L1(g.Name)}{{last={g.LastId} read={read} pel={pel} consumers={cons}}}");
        }
        return string.Join(";", parts);
    }
}
