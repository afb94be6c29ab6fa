namespace Cinnabar.Storage;

/// <summary>
/// A stream value (Redis's t_stream.c). Entries live in nodes that mirror Redis's radix tree of
/// listpacks one to one: each node has a master ID (its first entry's ID) and master fields (its
/// first entry's field names), entries flagged "same fields" when they repeat the master fields,
/// and deleted entries kept as tombstones until the whole node empties. Keeping Redis's node
/// layout (and its split rule: stream-node-max-entries counting tombstones, and
/// stream-node-max-bytes measured on the listpack size) makes approximate trimming (`~`), which
/// only drops whole nodes, answer exactly like Redis, and lets RDB/DUMP write Redis's bytes.
/// Lookups binary-search the node list by master ID, then the node's entries: O(log n).
/// Consumer groups, their PEL (pending entries) and consumers are sorted maps like Redis's raxes.
/// </summary>
public sealed class StreamObject : RedisObject
{
    public const long InvalidEntriesRead = -1;

    public readonly List<StreamNode> Nodes = new();
    public long Length;
    public StreamId LastId;
    public StreamId FirstId;
    public StreamId MaxDeletedId;
    public long EntriesAdded;
    public readonly SortedDictionary<byte[], ConsumerGroup> Groups = new(ByteOrder.Instance);

    public override RedisType Type => RedisType.Stream;
    public override string Encoding => "stream";

    public override RedisObject Clone()
    {
        var s = new StreamObject { Length = Length, LastId = LastId, FirstId = FirstId, MaxDeletedId = MaxDeletedId, EntriesAdded = EntriesAdded };
        foreach (var n in Nodes) s.Nodes.Add(n.Clone());
        foreach (var (name, g) in Groups) s.Groups[name] = g.Clone();
        return s;
    }

    public override long MemoryUsage(int samples)
    {
        long total = 64;
        foreach (var n in Nodes) total += n.ListpackBytes + 32;
        foreach (var g in Groups.Values) total += 64 + g.Pel.Count * 48L + g.Consumers.Count * 64L;
        return total;
    }

    // ------------------------------------------------------------------ appending

    /// <summary>Appends an entry with an ID greater than <see cref="LastId"/> (the caller checks).</summary>
    public void Append(StreamId id, byte[][] fieldsAndValues)
    {
        int totalElementBytes = 0;
        foreach (var f in fieldsAndValues) totalElementBytes += f.Length;
        StreamNode? node = Nodes.Count > 0 ? Nodes[^1] : null;
        if (node != null)
        {
            // Redis's streamAppendItem: start a new node when the listpack would reach
            // stream-node-max-bytes or holds stream-node-max-entries entries (tombstones included).
            long maxBytes = EncodingLimits.StreamNodeMaxBytes;
            if (maxBytes <= 0 || maxBytes > (1L << 30)) maxBytes = 1L << 30;
            if (node.ListpackBytes + totalElementBytes >= maxBytes) node = null;
            else if (EncodingLimits.StreamNodeMaxEntries > 0 && node.LiveCount + node.DeletedCount >= EncodingLimits.StreamNodeMaxEntries) node = null;
        }
        if (node == null)
        {
            node = new StreamNode(id, MasterFieldsOf(fieldsAndValues));
            Nodes.Add(node);
        }
        node.AddEntry(new StreamEntry(id, fieldsAndValues));
        Length++;
        EntriesAdded++;
        LastId = id;
        if (Length == 1) FirstId = id;
    }

    private static byte[][] MasterFieldsOf(byte[][] fv)
    {
        var m = new byte[fv.Length / 2][];
        for (int i = 0; i < m.Length; i++) m[i] = fv[i * 2];
        return m;
    }

    /// <summary>The ID XADD "*" or "ms-*" generates (streamIncrID rules); false when exhausted.</summary>
    public bool TryNextId(ulong nowMs, out StreamId id)
    {
        if (nowMs > LastId.Ms)
        {
            id = new StreamId(nowMs, 0);
            return true;
        }
        return LastId.TryIncrement(out id);
    }

    // ------------------------------------------------------------------ lookup and iteration

    /// <summary>Index of the last node whose master ID is &lt;= id, or -1.</summary>
    private int NodeFor(StreamId id)
    {
        int lo = 0, hi = Nodes.Count - 1, found = -1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >> 1;
            if (Nodes[mid].MasterId <= id)
            {
                found = mid;
                lo = mid + 1;
            }
            else hi = mid - 1;
        }
        return found;
    }

    public StreamEntry? Find(StreamId id)
    {
        int n = NodeFor(id);
        if (n < 0) return null;
        int i = Nodes[n].IndexOf(id);
        if (i < 0) return null;
        var e = Nodes[n].Entries[i];
        return e.Deleted ? null : e;
    }

    /// <summary>Live entries with start &lt;= id &lt;= end, ascending or descending.</summary>
    public IEnumerable<StreamEntry> Range(StreamId start, StreamId end, bool reverse)
    {
        if (start > end || Length == 0) yield break;
        if (!reverse)
        {
            int n = Math.Max(0, NodeFor(start));
            for (; n < Nodes.Count; n++)
            {
                var node = Nodes[n];
                if (node.MasterId > end) yield break;
                int i = node.LowerBound(start);
                for (; i < node.Entries.Count; i++)
                {
                    var e = node.Entries[i];
                    if (e.Id > end) yield break;
                    if (!e.Deleted) yield return e;
                }
            }
        }
        else
        {
            int n = NodeFor(end);
            for (; n >= 0; n--)
            {
                var node = Nodes[n];
                int i = node.LowerBound(end);
                if (i == node.Entries.Count || node.Entries[i].Id > end) i--;
                for (; i >= 0; i--)
                {
                    var e = node.Entries[i];
                    if (e.Id < start) yield break;
                    if (!e.Deleted) yield return e;
                }
            }
        }
    }

    public StreamEntry? FirstEntry()
    {
        foreach (var e in Range(StreamId.Zero, StreamId.Max, false)) return e;
        return null;
    }

    public StreamEntry? LastEntry()
    {
        foreach (var e in Range(StreamId.Zero, StreamId.Max, true)) return e;
        return null;
    }

    // ------------------------------------------------------------------ deletion and trimming

    /// <summary>XDEL of one ID (streamDeleteItem): marks a tombstone, drops the node when empty.</summary>
    public bool Delete(StreamId id)
    {
        int n = NodeFor(id);
        if (n < 0) return false;
        var node = Nodes[n];
        int i = node.IndexOf(id);
        if (i < 0 || node.Entries[i].Deleted) return false;
        node.MarkDeleted(i);
        Length--;
        if (node.LiveCount == 0) Nodes.RemoveAt(n);
        if (id > MaxDeletedId) MaxDeletedId = id;
        if (Length == 0) FirstId = StreamId.Zero;
        else if (id == FirstId) FirstId = FirstEntry()!.Id;
        return true;
    }

    /// <summary>
    /// Redis 7.0's streamTrim: whole nodes go while they lie entirely in the trimmed part; with
    /// <paramref name="approx"/> it stops at the first node it cannot drop whole, otherwise it
    /// tombstones entries inside that node. <paramref name="limit"/> (0 = none) caps the entries
    /// removed, counted per node. Returns the number of entries removed.
    /// </summary>
    public long Trim(bool byMaxLen, long maxLen, StreamId minId, bool approx, long limit)
    {
        long deleted = 0;
        while (Nodes.Count > 0)
        {
            if (byMaxLen && Length <= maxLen) break;
            var node = Nodes[0];
            long entries = node.LiveCount;
            if (limit > 0 && deleted + entries > limit) break;
            bool removeNode = byMaxLen ? Length - entries >= maxLen : node.Entries[^1].Id < minId;
            if (removeNode)
            {
                Nodes.RemoveAt(0);
                Length -= entries;
                deleted += entries;
                continue;
            }
            if (approx) break;
            for (int i = 0; i < node.Entries.Count; i++)
            {
                var e = node.Entries[i];
                bool stop = byMaxLen ? Length <= maxLen : e.Id >= minId;
                if (stop) break;
                if (!e.Deleted)
                {
                    node.MarkDeleted(i);
                    Length--;
                    deleted++;
                }
            }
            break;
        }
        FirstId = Length == 0 ? StreamId.Zero : FirstEntry()!.Id;
        return deleted;
    }

    // ------------------------------------------------------------------ consumer group counters

    /// <summary>streamEstimateDistanceFromFirstEverEntry (Redis 7.0), -1 when unknown.</summary>
    public long EstimateDistanceFromFirstEverEntry(StreamId id)
    {
        if (EntriesAdded == 0) return 0;
        if (Length == 0 && id <= LastId) return EntriesAdded;
        int cmpLast = id.CompareTo(LastId);
        if (cmpLast == 0) return EntriesAdded;
        if (cmpLast > 0) return InvalidEntriesRead;
        int cmpFirst = id.CompareTo(FirstId);
        if (MaxDeletedId.IsZero || MaxDeletedId < FirstId)
        {
            if (cmpFirst < 0) return EntriesAdded - Length;
            if (cmpFirst == 0) return EntriesAdded - Length + 1;
        }
        return InvalidEntriesRead;
    }

    /// <summary>streamRangeHasTombstones with an open end.</summary>
    public bool RangeHasTombstones(StreamId start)
    {
        if (Length == 0 || MaxDeletedId.IsZero) return false;
        if (FirstId > MaxDeletedId) return false;
        return start <= MaxDeletedId;
    }

    /// <summary>The consumer group lag XINFO reports, null when it cannot be computed.</summary>
    public long? Lag(ConsumerGroup g)
    {
        if (EntriesAdded == 0) return 0;
        if (g.EntriesRead != InvalidEntriesRead && !RangeHasTombstones(g.LastId)) return EntriesAdded - g.EntriesRead;
        long read = EstimateDistanceFromFirstEverEntry(g.LastId);
        return read != InvalidEntriesRead ? EntriesAdded - read : null;
    }

    /// <summary>Advances a group past an entry it delivers with "&gt;" (streamReplyWithRange).</summary>
    public void AdvanceGroup(ConsumerGroup g, StreamId id)
    {
        if (id <= g.LastId) return;
        if (g.EntriesRead != InvalidEntriesRead && !RangeHasTombstones(id)) g.EntriesRead++;
        else if (EntriesAdded != 0) g.EntriesRead = EstimateDistanceFromFirstEverEntry(id);
        g.LastId = id;
    }
}

public sealed class StreamEntry
{
    public StreamEntry(StreamId id, byte[][] fieldsAndValues)
    {
        Id = id;
        FieldsAndValues = fieldsAndValues;
    }

    public StreamId Id { get; }
    /// <summary>field, value, field, value ...</summary>
    public byte[][] FieldsAndValues { get; }
    public bool Deleted { get; internal set; }
    public bool SameFields { get; internal set; }
}

/// <summary>One listpack node of Redis's stream radix tree (see <see cref="StreamObject"/>).</summary>
public sealed class StreamNode
{
    public StreamNode(StreamId masterId, byte[][] masterFields)
    {
        MasterId = masterId;
        MasterFields = masterFields;
        // header (6) + terminator (1) + count, deleted, num-fields, fields, master terminator 0.
        _fixedBytes = 7 + ListpackSize.OfInt(masterFields.Length) + ListpackSize.OfInt(0);
        foreach (var f in masterFields) _fixedBytes += ListpackSize.OfString(f);
    }

    public StreamId MasterId { get; }
    public byte[][] MasterFields { get; }
    public List<StreamEntry> Entries { get; } = new();
    public int LiveCount { get; private set; }
    public int DeletedCount { get; private set; }
    private long _fixedBytes;

    /// <summary>The size of this node's listpack as Redis would hold it.</summary>
    public long ListpackBytes => _fixedBytes + ListpackSize.OfInt(LiveCount) + ListpackSize.OfInt(DeletedCount);

    internal void AddEntry(StreamEntry e)
    {
        bool same = e.FieldsAndValues.Length / 2 == MasterFields.Length;
        for (int i = 0; same && i < MasterFields.Length; i++)
            same = MasterFields[i].AsSpan().SequenceEqual(e.FieldsAndValues[i * 2]);
        e.SameFields = same;
        Entries.Add(e);
        LiveCount++;
        _fixedBytes += EntryBytes(e);
    }

    /// <summary>Adds an entry as loaded from a listpack (flags as stored).</summary>
    public void LoadEntry(StreamEntry e, bool deleted, bool sameFields)
    {
        e.Deleted = deleted;
        e.SameFields = sameFields;
        Entries.Add(e);
        if (deleted) DeletedCount++;
        else LiveCount++;
        _fixedBytes += EntryBytes(e);
    }

    private long EntryBytes(StreamEntry e)
    {
        int n = e.FieldsAndValues.Length / 2;
        long b = ListpackSize.OfInt(e.SameFields ? 2 : 0)
            + ListpackSize.OfInt((long)(e.Id.Ms - MasterId.Ms))
            + ListpackSize.OfInt((long)(e.Id.Seq - MasterId.Seq));
        if (e.SameFields)
        {
            for (int i = 0; i < n; i++) b += ListpackSize.OfString(e.FieldsAndValues[i * 2 + 1]);
            b += ListpackSize.OfInt(n + 3);
        }
        else
        {
            b += ListpackSize.OfInt(n);
            foreach (var x in e.FieldsAndValues) b += ListpackSize.OfString(x);
            b += ListpackSize.OfInt(n * 2 + 4);
        }
        return b;
    }

    internal void MarkDeleted(int index)
    {
        Entries[index].Deleted = true;
        LiveCount--;
        DeletedCount++;
    }

    public int IndexOf(StreamId id)
    {
        int i = LowerBound(id);
        return i < Entries.Count && Entries[i].Id == id ? i : -1;
    }

    /// <summary>First index with Id &gt;= id.</summary>
    public int LowerBound(StreamId id)
    {
        int lo = 0, hi = Entries.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (Entries[mid].Id < id) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    internal StreamNode Clone()
    {
        var n = new StreamNode(MasterId, MasterFields);
        foreach (var e in Entries) n.LoadEntry(new StreamEntry(e.Id, e.FieldsAndValues), e.Deleted, e.SameFields);
        return n;
    }
}

/// <summary>A pending entry (Redis's streamNACK).</summary>
public sealed class PendingEntry
{
    public long DeliveryTimeMs;
    public long DeliveryCount;
    public StreamConsumer Consumer = null!;
}

public sealed class StreamConsumer
{
    public StreamConsumer(byte[] name, long seenTimeMs)
    {
        Name = name;
        SeenTimeMs = seenTimeMs;
    }

    public byte[] Name { get; }
    public long SeenTimeMs;
    public readonly SortedDictionary<StreamId, PendingEntry> Pel = new();
}

public sealed class ConsumerGroup
{
    public ConsumerGroup(byte[] name, StreamId lastId, long entriesRead)
    {
        Name = name;
        LastId = lastId;
        EntriesRead = entriesRead;
    }

    public byte[] Name { get; }
    public StreamId LastId;
    public long EntriesRead;
    public readonly SortedDictionary<StreamId, PendingEntry> Pel = new();
    public readonly SortedDictionary<byte[], StreamConsumer> Consumers = new(ByteOrder.Instance);

    public StreamConsumer GetOrCreateConsumer(byte[] name, long nowMs, out bool created)
    {
        created = !Consumers.TryGetValue(name, out var c);
        if (c == null) Consumers[name] = c = new StreamConsumer(name, nowMs);
        return c;
    }

    /// <summary>Deletes a consumer and its pending entries; returns how many were pending.</summary>
    public int DeleteConsumer(byte[] name)
    {
        if (!Consumers.Remove(name, out var c)) return -1;
        foreach (var id in c.Pel.Keys) Pel.Remove(id);
        return c.Pel.Count;
    }

    internal ConsumerGroup Clone()
    {
        var g = new ConsumerGroup(Name, LastId, EntriesRead);
        foreach (var (cname, c) in Consumers)
        {
            var nc = new StreamConsumer(cname, c.SeenTimeMs);
            g.Consumers[cname] = nc;
            foreach (var (id, p) in c.Pel)
            {
                var np = new PendingEntry { DeliveryTimeMs = p.DeliveryTimeMs, DeliveryCount = p.DeliveryCount, Consumer = nc };
                nc.Pel[id] = np;
                g.Pel[id] = np;
            }
        }
        return g;
    }
}

/// <summary>memcmp order (Redis's rax order for group and consumer names).</summary>
public sealed class ByteOrder : IComparer<byte[]>
{
    public static readonly ByteOrder Instance = new();
    public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
}

/// <summary>Encoded sizes of listpack elements (listpack.c), to apply stream-node-max-bytes like Redis.</summary>
public static class ListpackSize
{
    public static int OfInt(long v)
    {
        int enc = v is >= 0 and <= 127 ? 1 : v is >= -4096 and <= 4095 ? 2 : v is >= short.MinValue and <= short.MaxValue ? 3
            : v is >= -8388608 and <= 8388607 ? 4 : v is >= int.MinValue and <= int.MaxValue ? 5 : 9;
        return enc + Backlen(enc);
    }

    public static int OfString(byte[] s)
    {
        if (s.Length <= 20 && Cinnabar.Protocol.RequestParser.TryParseLong(s, out long v)) return OfInt(v);
        int enc = s.Length < 64 ? 1 + s.Length : s.Length < 4096 ? 2 + s.Length : 5 + s.Length;
        return enc + Backlen(enc);
    }

    private static int Backlen(int l) => l <= 127 ? 1 : l < 16383 ? 2 : l < 2097151 ? 3 : l < 268435455 ? 4 : 5;
}
