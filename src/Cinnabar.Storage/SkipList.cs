namespace Cinnabar.Storage;

/// <summary>
/// The ordered half of a skiplist-encoded sorted set (the other half is the member->score
/// dictionary in <see cref="ZSetObject"/>). A classic skip list (Pugh) with Redis's additions:
/// every forward link carries a span (how many elements it skips) so rank lookups and "element at
/// rank" are O(log n), and level 0 has backward links for reverse walks.
/// Order: score ascending, then member bytes compared as memcmp (shorter prefix first).
/// Node levels are drawn with p = 1/4 up to 32, as Redis does.
/// </summary>
public sealed class SkipList
{
    public const int MaxLevel = 32;

    public sealed class Node
    {
        public readonly byte[] Member;
        public double Score;
        public Node? Backward;
        // One array of (forward, span) per level: one allocation per node besides the node itself.
        public readonly Level[] Levels;

        public Node(int level, byte[] member, double score)
        {
            Member = member;
            Score = score;
            Levels = new Level[level];
        }

        public Node? Next => Levels[0].Forward;
    }

    public struct Level
    {
        public Node? Forward;
        public long Span;
    }

    private readonly Node _header = new(MaxLevel, [], 0);
    private Node? _tail;
    private int _level = 1;
    private readonly Random _random;
    [ThreadStatic] private static Node?[]? s_update;
    [ThreadStatic] private static long[]? s_rank;

    public SkipList(Random? random = null) => _random = random ?? Random.Shared;

    public long Count { get; private set; }
    public Node? First => _header.Levels[0].Forward;
    public Node? Last => _tail;

    public static int Compare(double s1, ReadOnlySpan<byte> m1, double s2, ReadOnlySpan<byte> m2)
    {
        if (s1 < s2) return -1;
        if (s1 > s2) return 1;
        return m1.SequenceCompareTo(m2);
    }

    private int RandomLevel()
    {
        int level = 1;
        while (level < MaxLevel && (_random.Next() & 0xFFFF) < 0xFFFF / 4) level++;
        return level;
    }

    /// <summary>Inserts a member known not to be present.</summary>
    public Node Insert(byte[] member, double score)
    {
        var update = s_update ??= new Node?[MaxLevel];
        var rank = s_rank ??= new long[MaxLevel];
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            rank[i] = i == _level - 1 ? 0 : rank[i + 1];
            while (x.Levels[i].Forward is { } next && Compare(next.Score, next.Member, score, member) < 0)
            {
                rank[i] += x.Levels[i].Span;
                x = next;
            }
            update[i] = x;
        }
        int level = RandomLevel();
        if (level > _level)
        {
            for (int i = _level; i < level; i++)
            {
                rank[i] = 0;
                update[i] = _header;
                _header.Levels[i].Span = Count;
            }
            _level = level;
        }
        var n = new Node(level, member, score);
        for (int i = 0; i < level; i++)
        {
            var u = update[i]!;
            n.Levels[i].Forward = u.Levels[i].Forward;
            u.Levels[i].Forward = n;
            n.Levels[i].Span = u.Levels[i].Span - (rank[0] - rank[i]);
            u.Levels[i].Span = rank[0] - rank[i] + 1;
        }
        for (int i = level; i < _level; i++) update[i]!.Levels[i].Span++;
        n.Backward = update[0] == _header ? null : update[0];
        if (n.Levels[0].Forward != null) n.Levels[0].Forward!.Backward = n;
        else _tail = n;
        Count++;
        return n;
    }

    /// <summary>Removes the element with exactly this score and member; returns false when absent.</summary>
    public bool Delete(double score, ReadOnlySpan<byte> member)
    {
        var update = s_update ??= new Node?[MaxLevel];
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x.Levels[i].Forward is { } next && Compare(next.Score, next.Member, score, member) < 0) x = next;
            update[i] = x;
        }
        var target = x.Levels[0].Forward;
        if (target == null || target.Score != score || !target.Member.AsSpan().SequenceEqual(member)) return false;
        Unlink(target, update);
        return true;
    }

    private void Unlink(Node x, Node?[] update)
    {
        for (int i = 0; i < _level; i++)
        {
            var u = update[i]!;
            if (u.Levels[i].Forward == x)
            {
                u.Levels[i].Span += x.Levels[i].Span - 1;
                u.Levels[i].Forward = x.Levels[i].Forward;
            }
            else u.Levels[i].Span--;
        }
        if (x.Levels[0].Forward != null) x.Levels[0].Forward!.Backward = x.Backward;
        else _tail = x.Backward;
        while (_level > 1 && _header.Levels[_level - 1].Forward == null) _level--;
        Count--;
    }

    /// <summary>
    /// Changes a member's score. When the node stays in order it is updated in place (Redis's
    /// zslUpdateScore shortcut); otherwise it is removed and re-inserted.
    /// </summary>
    public void UpdateScore(byte[] member, double oldScore, double newScore)
    {
        var update = s_update ??= new Node?[MaxLevel];
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x.Levels[i].Forward is { } next && Compare(next.Score, next.Member, oldScore, member) < 0) x = next;
            update[i] = x;
        }
        var node = x.Levels[0].Forward!;
        if ((node.Backward == null || node.Backward.Score < newScore) &&
            (node.Levels[0].Forward == null || node.Levels[0].Forward!.Score > newScore))
        {
            node.Score = newScore;
            return;
        }
        Unlink(node, update);
        Insert(node.Member, newScore);
    }

    /// <summary>0-based rank of the element, or -1 when absent.</summary>
    public long Rank(double score, ReadOnlySpan<byte> member)
    {
        long rank = 0;
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x.Levels[i].Forward is { } next && Compare(next.Score, next.Member, score, member) <= 0)
            {
                rank += x.Levels[i].Span;
                x = next;
            }
            if (x != _header && x.Score == score && x.Member.AsSpan().SequenceEqual(member)) return rank - 1;
        }
        return -1;
    }

    /// <summary>The element at a 0-based rank (caller checks the range).</summary>
    public Node At(long rank)
    {
        long traversed = 0;
        long target = rank + 1;
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x.Levels[i].Forward != null && traversed + x.Levels[i].Span <= target)
            {
                traversed += x.Levels[i].Span;
                x = x.Levels[i].Forward!;
            }
            if (traversed == target) return x;
        }
        throw new ArgumentOutOfRangeException(nameof(rank));
    }

    /// <summary>
    /// Number of leading elements for which <paramref name="before"/> is true (the predicate must
    /// be monotone: true for a prefix of the order). Used for score and lex range bounds.
    /// </summary>
    public long CountWhile<TPred>(in TPred before) where TPred : struct, INodePredicate
    {
        long rank = 0;
        Node x = _header;
        for (int i = _level - 1; i >= 0; i--)
        {
            while (x.Levels[i].Forward is { } next && before.Test(next.Score, next.Member))
            {
                rank += x.Levels[i].Span;
                x = next;
            }
        }
        return rank;
    }

    public void Clear()
    {
        Array.Clear(_header.Levels);
        _tail = null;
        _level = 1;
        Count = 0;
    }
}

public interface INodePredicate
{
    bool Test(double score, byte[] member);
}
