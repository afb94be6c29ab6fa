namespace Cinnabar.Storage;

/// <summary>
/// A sorted set value. Two encodings, chosen as Redis 7.0 chooses them:
/// - "listpack": while it holds at most zset-max-listpack-entries members, none longer than
///   zset-max-listpack-value bytes. Here a compact sorted pair of arrays (members, scores) with
///   binary search; inserts shift, which is cheap at these sizes.
/// - "skiplist": a <see cref="SkipList"/> (order, O(log n) rank) plus a member->score
///   <see cref="ByteTable{TValue}"/> (O(1) ZSCORE, SCAN cursors).
/// Conversion is one-way (listpack -> skiplist) except for the store commands, which build a
/// fresh value and let <see cref="ShrinkIfSmall"/> pick listpack as zsetConvertToListpackIfNeeded does.
/// Order: score, then member bytes as memcmp. Ranks are 0-based from the lowest score.
/// Redis's listpack keeps scores as strings that become integers when they look like one, so a
/// -0 score reads back as 0 in that encoding; we mimic that by normalising -0 on listpack inserts.
/// </summary>
public sealed class ZSetObject : RedisObject
{
    private byte[][]? _members;
    private double[]? _scores;
    private int _count;

    private SkipList? _zsl;
    private ByteTable<double>? _dict;

    public ZSetObject(bool listpack = true)
    {
        if (listpack)
        {
            _members = new byte[4][];
            _scores = new double[4];
        }
        else
        {
            _zsl = new SkipList();
            _dict = new ByteTable<double>();
        }
    }

    /// <summary>The encoding Redis 7.0's ZADD picks for a new key given its first member's length.</summary>
    public static ZSetObject CreateFor(int firstMemberLength) =>
        new(EncodingLimits.ZsetMaxListpackEntries > 0 && firstMemberLength <= EncodingLimits.ZsetMaxListpackValue);

    public override RedisType Type => RedisType.ZSet;
    public override string Encoding => _zsl == null ? "listpack" : "skiplist";
    public bool IsListpack => _zsl == null;
    public long Count => _zsl == null ? _count : _zsl.Count;

    /// <summary>The member->score table of the skiplist encoding (null for listpack), for ZSCAN.</summary>
    public ByteTable<double>? Dict => _dict;

    public bool TryGetScore(ReadOnlySpan<byte> member, out double score)
    {
        if (_dict != null) return _dict.TryGetValue(member, out score);
        int i = IndexOfMember(member);
        score = i >= 0 ? _scores![i] : 0;
        return i >= 0;
    }

    private int IndexOfMember(ReadOnlySpan<byte> member)
    {
        var members = _members!;
        for (int i = 0; i < _count; i++)
            if (members[i].AsSpan().SequenceEqual(member)) return i;
        return -1;
    }

    // First index whose (score, member) is >= the given one.
    private int LowerBound(double score, ReadOnlySpan<byte> member)
    {
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (SkipList.Compare(_scores![mid], _members![mid], score, member) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Adds a member that is not present yet (caller checked with TryGetScore).</summary>
    public void Insert(ReadOnlySpan<byte> member, double score)
    {
        if (_zsl == null && (_count + 1 > EncodingLimits.ZsetMaxListpackEntries || member.Length > EncodingLimits.ZsetMaxListpackValue))
            ConvertToSkipList();
        if (_zsl != null)
        {
            var owned = member.ToArray();
            _dict!.Set(owned, score);
            _zsl.Insert(owned, score);
            return;
        }
        if (score == 0) score = 0; // -0 -> 0, as a listpack stores it
        int at = LowerBound(score, member);
        if (_count == _members!.Length)
        {
            Array.Resize(ref _members, _count * 2);
            Array.Resize(ref _scores, _count * 2);
        }
        Array.Copy(_members, at, _members, at + 1, _count - at);
        Array.Copy(_scores!, at, _scores!, at + 1, _count - at);
        _members[at] = member.ToArray();
        _scores![at] = score;
        _count++;
    }

    /// <summary>Changes the score of a present member.</summary>
    public void UpdateScore(ReadOnlySpan<byte> member, double oldScore, double newScore)
    {
        if (_zsl != null)
        {
            int idx = _dict!.FindIndex(member);
            _dict.ValueAt(idx) = newScore;
            _zsl.UpdateScore(_dict.KeyAt(idx), oldScore, newScore);
            return;
        }
        int i = LowerBound(oldScore, member);
        var owned = _members![i];
        RemoveAt(i);
        if (newScore == 0) newScore = 0;
        int at = LowerBound(newScore, owned);
        Array.Copy(_members, at, _members, at + 1, _count - at);
        Array.Copy(_scores!, at, _scores!, at + 1, _count - at);
        _members[at] = owned;
        _scores![at] = newScore;
        _count++;
    }

    public bool Remove(ReadOnlySpan<byte> member)
    {
        if (_zsl != null)
        {
            if (!_dict!.Remove(member, out _, out double score)) return false;
            _zsl.Delete(score, member);
            return true;
        }
        int i = IndexOfMember(member);
        if (i < 0) return false;
        RemoveAt(i);
        return true;
    }

    private void RemoveAt(int i)
    {
        Array.Copy(_members!, i + 1, _members!, i, _count - i - 1);
        Array.Copy(_scores!, i + 1, _scores!, i, _count - i - 1);
        _count--;
        _members![_count] = null!;
    }

    /// <summary>0-based rank from the lowest score, or -1 when absent. O(log n).</summary>
    public long Rank(ReadOnlySpan<byte> member)
    {
        if (!TryGetScore(member, out double score)) return -1;
        if (_zsl != null) return _zsl.Rank(score, member);
        return LowerBound(score, member);
    }

    public (byte[] Member, double Score) At(long rank)
    {
        if (_zsl != null)
        {
            var n = _zsl.At(rank);
            return (n.Member, n.Score);
        }
        return (_members![rank], _scores![rank]);
    }

    /// <summary>Walks from a rank towards higher (or, reversed, lower) ranks.</summary>
    public Walker Walk(long rank, bool reverse) => new(this, rank, reverse);

    public struct Walker
    {
        private readonly ZSetObject _z;
        private readonly bool _reverse;
        private SkipList.Node? _node;
        private long _index;
        private bool _started;

        internal Walker(ZSetObject z, long rank, bool reverse)
        {
            _z = z;
            _reverse = reverse;
            _index = rank;
            _node = z._zsl != null && rank >= 0 && rank < z._zsl.Count ? z._zsl.At(rank) : null;
            _started = false;
            Member = [];
            Score = 0;
        }

        public byte[] Member { get; private set; }
        public double Score { get; private set; }

        public bool MoveNext()
        {
            if (_started)
            {
                _index += _reverse ? -1 : 1;
                if (_node != null) _node = _reverse ? _node.Backward : _node.Next;
            }
            _started = true;
            if (_index < 0 || _index >= _z.Count) return false;
            if (_z._zsl != null)
            {
                if (_node == null) return false;
                Member = _node.Member;
                Score = _node.Score;
            }
            else
            {
                Member = _z._members![_index];
                Score = _z._scores![_index];
            }
            return true;
        }
    }

    /// <summary>Ranks [Start, End) of the elements whose score is inside the range.</summary>
    public (long Start, long End) RankRange(in ScoreRange range)
    {
        long lo = CountWhile(new BelowMin(range));
        long hi = CountWhile(new NotAboveMax(range));
        return (lo, Math.Max(lo, hi));
    }

    /// <summary>Ranks [Start, End) of the elements whose member is inside the lex range (members compared only).</summary>
    public (long Start, long End) RankRange(in LexRange range)
    {
        long lo = CountWhile(new LexBelowMin(range));
        long hi = CountWhile(new LexNotAboveMax(range));
        return (lo, Math.Max(lo, hi));
    }

    private long CountWhile<TPred>(in TPred pred) where TPred : struct, INodePredicate
    {
        if (_zsl != null) return _zsl.CountWhile(pred);
        int lo = 0, hi = _count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (pred.Test(_scores![mid], _members![mid])) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    private readonly struct BelowMin(ScoreRange r) : INodePredicate
    {
        public bool Test(double score, byte[] member) => r.MinExclusive ? score <= r.Min : score < r.Min;
    }

    private readonly struct NotAboveMax(ScoreRange r) : INodePredicate
    {
        public bool Test(double score, byte[] member) => r.MaxExclusive ? score < r.Max : score <= r.Max;
    }

    private readonly struct LexBelowMin(LexRange r) : INodePredicate
    {
        public bool Test(double score, byte[] member) => r.MinKind switch
        {
            LexBound.NegInf => false,
            LexBound.PosInf => true,
            _ => r.MinExclusive ? member.AsSpan().SequenceCompareTo(r.Min) <= 0 : member.AsSpan().SequenceCompareTo(r.Min) < 0,
        };
    }

    private readonly struct LexNotAboveMax(LexRange r) : INodePredicate
    {
        public bool Test(double score, byte[] member) => r.MaxKind switch
        {
            LexBound.NegInf => false,
            LexBound.PosInf => true,
            _ => r.MaxExclusive ? member.AsSpan().SequenceCompareTo(r.Max) < 0 : member.AsSpan().SequenceCompareTo(r.Max) <= 0,
        };
    }

    /// <summary>Removes ranks [start, end] (inclusive, valid); returns the removed members in order.</summary>
    public List<byte[]> RemoveRange(long start, long end)
    {
        var removed = new List<byte[]>((int)Math.Min(end - start + 1, 1024));
        if (_zsl == null)
        {
            for (long i = start; i <= end; i++) removed.Add(_members![i]);
            int n = (int)(end - start + 1);
            Array.Copy(_members!, end + 1, _members!, start, _count - end - 1);
            Array.Copy(_scores!, end + 1, _scores!, start, _count - end - 1);
            Array.Clear(_members!, _count - n, n);
            _count -= n;
            return removed;
        }
        var w = Walk(start, false);
        for (long i = start; i <= end && w.MoveNext(); i++) removed.Add(w.Member);
        foreach (var m in removed) Remove(m);
        return removed;
    }

    private void ConvertToSkipList()
    {
        var zsl = new SkipList();
        var dict = new ByteTable<double>(_count);
        for (int i = 0; i < _count; i++)
        {
            dict.Set(_members![i], _scores![i]);
            zsl.Insert(_members[i], _scores[i]);
        }
        _zsl = zsl;
        _dict = dict;
        _members = null;
        _scores = null;
        _count = 0;
    }

    /// <summary>
    /// For store commands (ZUNIONSTORE, ZRANGESTORE ...): converts a freshly built skiplist value to
    /// listpack when it fits the limits, as Redis does for their destination.
    /// </summary>
    public void ShrinkIfSmall()
    {
        if (_zsl == null || _zsl.Count > EncodingLimits.ZsetMaxListpackEntries) return;
        for (var n = _zsl.First; n != null; n = n.Next)
            if (n.Member.Length > EncodingLimits.ZsetMaxListpackValue) return;
        var members = new byte[Math.Max(4, (int)_zsl.Count)][];
        var scores = new double[members.Length];
        int i = 0;
        for (var n = _zsl.First; n != null; n = n.Next, i++)
        {
            members[i] = n.Member;
            scores[i] = n.Score == 0 ? 0 : n.Score;
        }
        _members = members;
        _scores = scores;
        _count = i;
        _zsl = null;
        _dict = null;
    }

    public override RedisObject Clone()
    {
        var c = new ZSetObject(IsListpack);
        if (IsListpack)
        {
            c._members = (byte[][])_members!.Clone();
            c._scores = (double[])_scores!.Clone();
            c._count = _count;
        }
        else
        {
            for (var n = _zsl!.First; n != null; n = n.Next)
            {
                c._dict!.Set(n.Member, n.Score);
                c._zsl!.Insert(n.Member, n.Score);
            }
        }
        return c;
    }

    public override long MemoryUsage(int samples)
    {
        long perEntry = IsListpack ? 12 : 96;
        long bytes = 48;
        var w = Walk(0, false);
        long seen = 0;
        while (w.MoveNext() && (samples <= 0 || seen < samples))
        {
            bytes += w.Member.Length + perEntry;
            seen++;
        }
        if (seen > 0 && seen < Count) bytes = 48 + (bytes - 48) * Count / seen;
        return bytes;
    }
}

public readonly record struct ScoreRange(double Min, bool MinExclusive, double Max, bool MaxExclusive);

public enum LexBound : byte
{
    Value,
    NegInf,
    PosInf,
}

public readonly record struct LexRange(byte[] Min, LexBound MinKind, bool MinExclusive, byte[] Max, LexBound MaxKind, bool MaxExclusive);
