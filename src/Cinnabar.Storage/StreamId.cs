using System.Buffers.Binary;
using System.Buffers.Text;

namespace Cinnabar.Storage;

/// <summary>A stream entry ID "ms-seq" (two unsigned 64-bit numbers), ordered as Redis's streamCompareID.</summary>
public readonly record struct StreamId(ulong Ms, ulong Seq) : IComparable<StreamId>
{
    public static readonly StreamId Zero = new(0, 0);
    public static readonly StreamId Max = new(ulong.MaxValue, ulong.MaxValue);

    public bool IsZero => Ms == 0 && Seq == 0;

    public int CompareTo(StreamId other)
    {
        int c = Ms.CompareTo(other.Ms);
        return c != 0 ? c : Seq.CompareTo(other.Seq);
    }

    public static bool operator <(StreamId a, StreamId b) => a.CompareTo(b) < 0;
    public static bool operator >(StreamId a, StreamId b) => a.CompareTo(b) > 0;
    public static bool operator <=(StreamId a, StreamId b) => a.CompareTo(b) <= 0;
    public static bool operator >=(StreamId a, StreamId b) => a.CompareTo(b) >= 0;

    /// <summary>The next ID (streamIncrID); false when already the maximum.</summary>
    public bool TryIncrement(out StreamId next)
    {
        if (Seq == ulong.MaxValue)
        {
            if (Ms == ulong.MaxValue)
            {
                next = this;
                return false;
            }
            next = new StreamId(Ms + 1, 0);
            return true;
        }
        next = new StreamId(Ms, Seq + 1);
        return true;
    }

    public bool TryDecrement(out StreamId prev)
    {
        if (Seq == 0)
        {
            if (Ms == 0)
            {
                prev = this;
                return false;
            }
            prev = new StreamId(Ms - 1, ulong.MaxValue);
            return true;
        }
        prev = new StreamId(Ms, Seq - 1);
        return true;
    }

    public int Format(Span<byte> dest)
    {
        Utf8Formatter.TryFormat(Ms, dest, out int n);
        dest[n++] = (byte)'-';
        Utf8Formatter.TryFormat(Seq, dest[n..], out int m);
        return n + m;
    }

    public byte[] ToBytes()
    {
        Span<byte> tmp = stackalloc byte[48];
        return tmp[..Format(tmp)].ToArray();
    }

    public override string ToString() => System.Text.Encoding.ASCII.GetString(ToBytes());

    /// <summary>The 16-byte big-endian key Redis uses in its radix trees and in RDB PELs.</summary>
    public void WriteBigEndian(Span<byte> dest)
    {
        BinaryPrimitives.WriteUInt64BigEndian(dest, Ms);
        BinaryPrimitives.WriteUInt64BigEndian(dest[8..], Seq);
    }

    public static StreamId ReadBigEndian(ReadOnlySpan<byte> src) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(src), BinaryPrimitives.ReadUInt64BigEndian(src[8..]));

    /// <summary>
    /// Redis's streamGenericParseIDOrReply: "ms" or "ms-seq" (strict unsigned decimals); a missing
    /// seq takes <paramref name="missingSeq"/>. With <paramref name="allowSeqStar"/>, "ms-*" parses
    /// with <paramref name="seqGiven"/> false. "-" and "+" are the minimum and maximum.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> s, ulong missingSeq, out StreamId id, bool allowSeqStar, out bool seqGiven)
    {
        id = default;
        seqGiven = true;
        if (s.Length > 127) return false;
        if (s.Length == 1 && s[0] == '-')
        {
            id = Zero;
            return true;
        }
        if (s.Length == 1 && s[0] == '+')
        {
            id = Max;
            return true;
        }
        int dash = s.IndexOf((byte)'-');
        if (dash < 0)
        {
            if (!TryParseU64(s, out ulong ms)) return false;
            id = new StreamId(ms, missingSeq);
            return true;
        }
        if (!TryParseU64(s[..dash], out ulong m)) return false;
        var rest = s[(dash + 1)..];
        if (allowSeqStar && rest.Length == 1 && rest[0] == '*')
        {
            seqGiven = false;
            id = new StreamId(m, 0);
            return true;
        }
        if (!TryParseU64(rest, out ulong seq)) return false;
        id = new StreamId(m, seq);
        return true;
    }

    public static bool TryParse(ReadOnlySpan<byte> s, ulong missingSeq, out StreamId id) => TryParse(s, missingSeq, out id, false, out _);

    // Redis's string2ull: a canonical decimal (string2ll, negative rejected), else strtoull's
    // looser form: leading whitespace, an optional '+', leading zeros, up to 2^64-1.
    private static bool TryParseU64(ReadOnlySpan<byte> s, out ulong v)
    {
        v = 0;
        int i = 0;
        while (i < s.Length && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
        if (i < s.Length && s[i] == '+') i++;
        if (i == s.Length) return false;
        for (; i < s.Length; i++)
        {
            byte b = s[i];
            if (b < '0' || b > '9') return false;
            ulong d = (ulong)(b - '0');
            if (v > (ulong.MaxValue - d) / 10) return false;
            v = v * 10 + d;
        }
        return true;
    }
}
