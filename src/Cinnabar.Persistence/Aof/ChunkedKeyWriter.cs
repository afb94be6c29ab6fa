using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Persistence.Aof;

/// <summary>
/// Writes one collection key as <see cref="AofRewriter.WriteKey"/> does (RPUSH / SADD / HMSET /
/// ZADD of <see cref="AofRewriter.ItemsPerCommand"/> items, then PEXPIREAT), but in bounded steps,
/// so a caller can release its lock between them (a slot migration moving a 3-million-field hash).
/// The value must not change between steps: the enumeration resumes where it stopped.
/// </summary>
public sealed class ChunkedKeyWriter
{
    private readonly byte[] _key;
    private readonly long _expireMs;
    private Func<RespWriter, bool> _next = null!;
    private bool _done;

    /// <summary>Items (elements, fields, members) moved so far.</summary>
    public long ItemsWritten { get; private set; }

    /// <summary>True for the values this writer takes: lists, sets, hashes and sorted sets with more than <paramref name="items"/> items.</summary>
    public static bool IsBig(RedisObject value, int items) => value switch
    {
        ListObject l => l.Count > items,
        SetObject s => s.Count > items,
        HashObject h => h.Count > items,
        ZSetObject z => z.Count > items,
        _ => false,
    };

    public ChunkedKeyWriter(byte[] key, RedisObject value, long expireMs)
    {
        _key = key;
        _expireMs = expireMs;
        switch (value)
        {
            case ListObject l:
                Start("RPUSH"u8.ToArray(), l.Count, 1, l.Enumerate(), static (w, e) => w.WriteBulk(e));
                break;
            case SetObject s:
                Start("SADD"u8.ToArray(), s.Count, 1, s.EnumerateMembers(), static (w, m) => w.WriteBulk(m));
                break;
            case HashObject h:
                Start("HMSET"u8.ToArray(), h.Count, 2, AofRewriter.HashPairs(h), static (w, p) =>
                {
                    w.WriteBulk(p.Field);
                    w.WriteBulk(p.Value);
                });
                break;
            case ZSetObject z:
                Start("ZADD"u8.ToArray(), z.Count, 2, AofRewriter.ZSetPairs(z), static (w, p) =>
                {
                    w.WriteBulk(AofRewriter.ScoreText(p.Score));
                    w.WriteBulk(p.Member);
                });
                break;
            default:
                throw new ArgumentException($"{value.GetType().Name} is not written in chunks", nameof(value));
        }
    }

    private void Start<T>(byte[] command, long count, int argsPerItem, IEnumerable<T> items, Action<RespWriter, T> writeItem)
    {
        var e = items.GetEnumerator();
        long left = count;
        int inCommand = 0;
        _next = w =>
        {
            if (left == 0) return false;
            if (!e.MoveNext())
                throw new InvalidOperationException("the value changed while it was written in chunks");
            if (inCommand == 0)
            {
                w.WriteArrayHeader(2 + Math.Min(left, AofRewriter.ItemsPerCommand) * argsPerItem);
                w.WriteBulk(command);
                w.WriteBulk(_key);
            }
            writeItem(w, e.Current);
            left--;
            if (++inCommand == AofRewriter.ItemsPerCommand) inCommand = 0;
            return true;
        };
    }

    /// <summary>
    /// Writes up to <paramref name="maxItems"/> items, stopping early once <paramref name="w"/>
    /// holds <paramref name="maxBytes"/>; returns true when the key is complete (expiry included).
    /// </summary>
    public bool WriteChunk(RespWriter w, int maxItems, int maxBytes)
    {
        if (_done) return true;
        for (int i = 0; i < maxItems && w.Length < maxBytes; i++)
        {
            if (_next(w))
            {
                ItemsWritten++;
                continue;
            }
            if (_expireMs >= 0)
            {
                w.WriteArrayHeader(3);
                w.WriteBulk("PEXPIREAT"u8);
                w.WriteBulk(_key);
                w.WriteBulkInteger(_expireMs);
            }
            _done = true;
            return true;
        }
        return false;
    }
}
