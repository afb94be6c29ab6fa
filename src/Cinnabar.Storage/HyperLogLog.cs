namespace Cinnabar.Storage;

/// <summary>
/// HyperLogLog on plain string bytes, laid out exactly as Redis 7.0 stores them so that GET,
/// DUMP/RESTORE and replication exchange identical values with redis-server:
/// a 16-byte header ("HYLL", encoding byte 0 = dense / 1 = sparse, 3 unused bytes, 8-byte
/// little-endian cached cardinality whose top bit marks it stale) followed by either
/// 16384 6-bit registers packed LSB-first (dense) or a run-length opcode stream (sparse):
/// ZERO 00xxxxxx (1..64 zero registers), XZERO 01xxxxxx yyyyyyyy (1..16384 zero registers),
/// VAL 1vvvvvxx (1..4 registers of value 1..32). Elements are hashed with MurmurHash64A
/// (seed 0xadc83b19); the low 14 bits pick the register, the run of zeros after them (+1) is the
/// value. Sparse values grow until a register exceeds 32 or the string would exceed
/// hll-sparse-max-bytes, then they are promoted to dense. Cardinality uses Otmar Ertl's improved
/// estimator (sigma/tau) as Redis 7.0 does, rounded half away from zero.
/// Mutating methods work on (buffer, length) pairs so sparse edits can grow in place.
/// </summary>
public static class HyperLogLog
{
    public const int P = 14;
    public const int Q = 64 - P;
    public const int Registers = 1 << P;
    public const int RegisterMax = 63;
    public const int HeaderSize = 16;
    public const int DenseSize = HeaderSize + (Registers * 6 + 7) / 8;
    public const byte EncodingDense = 0;
    public const byte EncodingSparse = 1;

    private const int ValMaxValue = 32;
    private const int ValMaxLen = 4;
    private const int ZeroMaxLen = 64;
    private const int XZeroMaxLen = 16384;
    private const double AlphaInf = 0.721347520444481703680;

    // Sparse opcode helpers (formats as documented in Redis's hyperloglog.c header comment).
    private static bool IsZero(byte b) => (b & 0xc0) == 0;
    private static bool IsXZero(byte b) => (b & 0xc0) == 0x40;
    private static bool IsVal(byte b) => (b & 0x80) != 0;
    private static int ZeroLen(byte b) => (b & 0x3f) + 1;
    private static int XZeroLen(byte b0, byte b1) => (((b0 & 0x3f) << 8) | b1) + 1;
    private static int ValValue(byte b) => ((b >> 2) & 0x1f) + 1;
    private static int ValLen(byte b) => (b & 0x3) + 1;
    private static byte Val(int value, int len) => (byte)((((value - 1) << 2) | (len - 1)) | 0x80);

    /// <summary>A new empty HLL: sparse, one XZERO covering all registers, cached cardinality 0.</summary>
    public static byte[] CreateEmpty()
    {
        var b = new byte[HeaderSize + 2];
        "HYLL"u8.CopyTo(b);
        b[4] = EncodingSparse;
        int l = Registers - 1;
        b[HeaderSize] = (byte)((l >> 8) | 0x40);
        b[HeaderSize + 1] = (byte)(l & 0xff);
        return b;
    }

    /// <summary>Redis's isHLLObjectOrReply test: header present, magic, known encoding, dense size exact.</summary>
    public static bool IsValid(ReadOnlySpan<byte> s)
    {
        if (s.Length < HeaderSize) return false;
        if (!s[..4].SequenceEqual("HYLL"u8)) return false;
        if (s[4] > EncodingSparse) return false;
        if (s[4] == EncodingDense && s.Length != DenseSize) return false;
        return true;
    }

    public static bool IsSparse(ReadOnlySpan<byte> s) => s[4] == EncodingSparse;

    public static bool CacheValid(ReadOnlySpan<byte> s) => (s[15] & 0x80) == 0;

    public static void InvalidateCache(Span<byte> s) => s[15] |= 0x80;

    public static long CachedCardinality(ReadOnlySpan<byte> s) => (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(s.Slice(8, 8));

    public static void SetCachedCardinality(Span<byte> s, long card) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(s.Slice(8, 8), (ulong)card);

    public static ulong MurmurHash64A(ReadOnlySpan<byte> key, ulong seed = 0xadc83b19UL)
    {
        const ulong m = 0xc6a4a7935bd1e995UL;
        const int r = 47;
        ulong h = seed ^ ((ulong)key.Length * m);
        int blocks = key.Length / 8;
        for (int i = 0; i < blocks; i++)
        {
            ulong k = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(key.Slice(i * 8, 8));
            k *= m;
            k ^= k >> r;
            k *= m;
            h ^= k;
            h *= m;
        }
        var tail = key[(blocks * 8)..];
        if (tail.Length > 0)
        {
            for (int i = tail.Length - 1; i >= 0; i--) h ^= (ulong)tail[i] << (8 * i);
            h *= m;
        }
        h ^= h >> r;
        h *= m;
        h ^= h >> r;
        return h;
    }

    /// <summary>The register index and the "pattern length" (position of the first 1 bit after the index bits, 1-based).</summary>
    public static int PatLen(ReadOnlySpan<byte> element, out int index)
    {
        ulong hash = MurmurHash64A(element);
        index = (int)(hash & (Registers - 1));
        hash >>= P;
        hash |= 1UL << Q; // guarantees termination
        int count = 1;
        ulong bit = 1;
        while ((hash & bit) == 0)
        {
            count++;
            bit <<= 1;
        }
        return count;
    }

    public static int GetDenseRegister(ReadOnlySpan<byte> regs, int index)
    {
        int bitPos = index * 6;
        int b = bitPos >> 3, fb = bitPos & 7;
        int b0 = regs[b];
        int b1 = b + 1 < regs.Length ? regs[b + 1] : 0;
        return ((b0 >> fb) | (b1 << (8 - fb))) & RegisterMax;
    }

    public static void SetDenseRegister(Span<byte> regs, int index, int value)
    {
        int bitPos = index * 6;
        int b = bitPos >> 3, fb = bitPos & 7, fb8 = 8 - fb;
        regs[b] = (byte)((regs[b] & ~(RegisterMax << fb)) | (value << fb));
        if (b + 1 < regs.Length)
            regs[b + 1] = (byte)((regs[b + 1] & ~(RegisterMax >> fb8)) | (value >> fb8));
    }

    private static bool DenseSet(Span<byte> regs, int index, int count)
    {
        if (count > GetDenseRegister(regs, index))
        {
            SetDenseRegister(regs, index, count);
            return true;
        }
        return false;
    }

    /// <summary>
    /// Adds an element. Returns 1 if a register changed, 0 if not, -1 for a corrupt sparse value.
    /// <paramref name="hll"/> may be replaced (growth or promotion); <paramref name="len"/> is its used length.
    /// Does not invalidate the cache for dense values (the caller does, like pfaddCommand).
    /// </summary>
    public static int Add(ref byte[] hll, ref int len, ReadOnlySpan<byte> element, long sparseMaxBytes)
    {
        int count = PatLen(element, out int index);
        if (hll[4] == EncodingDense) return DenseSet(hll.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count) ? 1 : 0;
        return SparseSet(ref hll, ref len, index, count, sparseMaxBytes);
    }

    /// <summary>Converts a sparse value to dense (header copied, encoding changed). False if the sparse stream is corrupt.</summary>
    public static bool SparseToDense(ref byte[] hll, ref int len)
    {
        if (hll[4] == EncodingDense) return true;
        var dense = new byte[DenseSize];
        hll.AsSpan(0, HeaderSize).CopyTo(dense);
        dense[4] = EncodingDense;
        var regs = dense.AsSpan(HeaderSize);
        int idx = 0, p = HeaderSize;
        while (p < len)
        {
            byte op = hll[p];
            if (IsZero(op))
            {
                idx += ZeroLen(op);
                p++;
            }
            else if (IsXZero(op))
            {
                idx += XZeroLen(op, p + 1 < len ? hll[p + 1] : (byte)0);
                p += 2;
            }
            else
            {
                int runlen = ValLen(op), value = ValValue(op);
                if (runlen + idx > Registers) break;
                while (runlen-- > 0) SetDenseRegister(regs, idx++, value);
                p++;
            }
        }
        if (idx != Registers) return false;
        hll = dense;
        len = DenseSize;
        return true;
    }

    private static void EnsureCapacity(ref byte[] hll, int needed)
    {
        if (hll.Length >= needed) return;
        Array.Resize(ref hll, Math.Max(needed, hll.Length * 2));
    }

    /// <summary>Redis's hllSparseSet: splits the covering opcode, then merges adjacent equal VALs.</summary>
    public static int SparseSet(ref byte[] hll, ref int len, int index, int count, long sparseMaxBytes)
    {
        if (count > ValMaxValue) return Promote(ref hll, ref len, index, count);

        int p = HeaderSize, end = len, first = 0, prev = -1, span = 0;
        while (p < end)
        {
            int oplen = 1;
            byte op = hll[p];
            if (IsZero(op)) span = ZeroLen(op);
            else if (IsVal(op)) span = ValLen(op);
            else
            {
                span = XZeroLen(op, p + 1 < end ? hll[p + 1] : (byte)0);
                oplen = 2;
            }
            if (index <= first + span - 1) break;
            prev = p;
            p += oplen;
            first += span;
        }
        if (span == 0 || p >= end) return -1;

        int next = IsXZero(hll[p]) ? p + 2 : p + 1;
        if (next >= end) next = -1;

        byte cur = hll[p];
        bool isZero = IsZero(cur), isXZero = IsXZero(cur), isVal = IsVal(cur);
        int runlen = span;

        if (isVal)
        {
            if (ValValue(cur) >= count) return 0;
            if (runlen == 1)
            {
                hll[p] = Val(count, 1);
                return Updated(hll, ref len, prev);
            }
        }
        if (isZero && runlen == 1)
        {
            hll[p] = Val(count, 1);
            return Updated(hll, ref len, prev);
        }

        // General case: replace the opcode with up to three (at most 5 bytes).
        Span<byte> seq = stackalloc byte[5];
        int n = 0;
        int last = first + span - 1;
        if (isZero || isXZero)
        {
            if (index != first) n += WriteZeros(seq[n..], index - first);
            seq[n++] = Val(count, 1);
            if (index != last) n += WriteZeros(seq[n..], last - index);
        }
        else
        {
            int curval = ValValue(cur);
            if (index != first) seq[n++] = Val(curval, index - first);
            seq[n++] = Val(count, 1);
            if (index != last) seq[n++] = Val(curval, last - index);
        }
        int oldlen = isXZero ? 2 : 1;
        int delta = n - oldlen;
        if (delta > 0 && (long)len + delta > sparseMaxBytes) return Promote(ref hll, ref len, index, count);
        if (delta != 0)
        {
            EnsureCapacity(ref hll, len + delta);
            if (next >= 0) Array.Copy(hll, next, hll, next + delta, end - next);
            len += delta;
        }
        seq[..n].CopyTo(hll.AsSpan(p));
        return Updated(hll, ref len, prev);
    }

    private static int WriteZeros(Span<byte> dst, int n)
    {
        if (n > ZeroMaxLen)
        {
            dst[0] = (byte)(((n - 1) >> 8) | 0x40);
            dst[1] = (byte)((n - 1) & 0xff);
            return 2;
        }
        dst[0] = (byte)(n - 1);
        return 1;
    }

    private static int Promote(ref byte[] hll, ref int len, int index, int count)
    {
        if (!SparseToDense(ref hll, ref len)) return -1;
        DenseSet(hll.AsSpan(HeaderSize, DenseSize - HeaderSize), index, count);
        return 1;
    }

    // Merges runs of adjacent VAL opcodes with the same value, scanning at most 5 opcodes from
    // the one before the edit, then marks the cached cardinality stale.
    private static int Updated(byte[] hll, ref int len, int prev)
    {
        int p = prev >= 0 ? prev : HeaderSize;
        int end = len;
        int scanlen = 5;
        while (p < end && scanlen-- > 0)
        {
            byte op = hll[p];
            if (IsXZero(op))
            {
                p += 2;
                continue;
            }
            if (IsZero(op))
            {
                p++;
                continue;
            }
            if (p + 1 < end && IsVal(hll[p + 1]))
            {
                int v1 = ValValue(op), v2 = ValValue(hll[p + 1]);
                if (v1 == v2)
                {
                    int l = ValLen(op) + ValLen(hll[p + 1]);
                    if (l <= ValMaxLen)
                    {
                        hll[p + 1] = Val(v1, l);
                        Array.Copy(hll, p + 1, hll, p, end - p - 1);
                        end--;
                        len--;
                        continue;
                    }
                }
            }
            p++;
        }
        InvalidateCache(hll);
        return 1;
    }

    /// <summary>Folds a dense or sparse HLL into per-register maxima (hllMerge). False if corrupt.</summary>
    public static bool MergeInto(Span<byte> max, ReadOnlySpan<byte> hll)
    {
        if (hll[4] == EncodingDense)
        {
            var regs = hll[HeaderSize..];
            for (int i = 0; i < Registers; i++)
            {
                int v = GetDenseRegister(regs, i);
                if (v > max[i]) max[i] = (byte)v;
            }
            return true;
        }
        int idx = 0, p = HeaderSize;
        while (p < hll.Length)
        {
            byte op = hll[p];
            if (IsZero(op))
            {
                idx += ZeroLen(op);
                p++;
            }
            else if (IsXZero(op))
            {
                idx += XZeroLen(op, p + 1 < hll.Length ? hll[p + 1] : (byte)0);
                p += 2;
            }
            else
            {
                int runlen = ValLen(op), value = ValValue(op);
                if (runlen + idx > Registers) break;
                while (runlen-- > 0)
                {
                    if (value > max[idx]) max[idx] = (byte)value;
                    idx++;
                }
                p++;
            }
        }
        return idx == Registers;
    }

    /// <summary>Cardinality of a dense or sparse HLL; false if the sparse stream is corrupt.</summary>
    public static bool TryCount(ReadOnlySpan<byte> hll, out long card)
    {
        Span<int> histo = stackalloc int[64];
        histo.Clear();
        card = 0;
        if (hll[4] == EncodingDense)
        {
            var regs = hll[HeaderSize..];
            for (int i = 0; i < Registers; i++) histo[GetDenseRegister(regs, i)]++;
        }
        else
        {
            int idx = 0, p = HeaderSize;
            while (p < hll.Length)
            {
                byte op = hll[p];
                if (IsZero(op))
                {
                    int r = ZeroLen(op);
                    idx += r;
                    histo[0] += r;
                    p++;
                }
                else if (IsXZero(op))
                {
                    int r = XZeroLen(op, p + 1 < hll.Length ? hll[p + 1] : (byte)0);
                    idx += r;
                    histo[0] += r;
                    p += 2;
                }
                else
                {
                    int r = ValLen(op);
                    idx += r;
                    histo[ValValue(op)] += r;
                    p++;
                }
            }
            if (idx != Registers) return false;
        }
        card = Estimate(histo);
        return true;
    }

    /// <summary>Cardinality of per-register values (one byte each), as PFCOUNT of several keys uses.</summary>
    public static long CountRaw(ReadOnlySpan<byte> registers)
    {
        Span<int> histo = stackalloc int[256];
        histo.Clear();
        for (int i = 0; i < Registers; i++) histo[registers[i]]++;
        return Estimate(histo);
    }

    private static long Estimate(ReadOnlySpan<int> histo)
    {
        double m = Registers;
        double z = m * Tau((m - histo[Q + 1]) / m);
        for (int j = Q; j >= 1; --j)
        {
            z += histo[j];
            z *= 0.5;
        }
        z += m * Sigma(histo[0] / m);
        return (long)Math.Round(AlphaInf * m * m / z, MidpointRounding.AwayFromZero);
    }

    private static double Sigma(double x)
    {
        if (x == 1.0) return double.PositiveInfinity;
        double zPrime;
        double y = 1;
        double z = x;
        do
        {
            x *= x;
            zPrime = z;
            z += x * y;
            y += y;
        } while (zPrime != z);
        return z;
    }

    private static double Tau(double x)
    {
        if (x == 0.0 || x == 1.0) return 0.0;
        double zPrime;
        double y = 1.0;
        double z = 1 - x;
        do
        {
            x = Math.Sqrt(x);
            zPrime = z;
            y *= 0.5;
            z -= Math.Pow(1 - x, 2) * y;
        } while (zPrime != z);
        return z / 3;
    }

    /// <summary>PFDEBUG DECODE's text: "z:N", "Z:N", "v:value,len" separated by spaces.</summary>
    public static string DecodeSparse(ReadOnlySpan<byte> hll)
    {
        var sb = new System.Text.StringBuilder();
        int p = HeaderSize;
        while (p < hll.Length)
        {
            byte op = hll[p];
            if (sb.Length > 0) sb.Append(' ');
            if (IsZero(op))
            {
                sb.Append("z:").Append(ZeroLen(op));
                p++;
            }
            else if (IsXZero(op))
            {
                sb.Append("Z:").Append(XZeroLen(op, p + 1 < hll.Length ? hll[p + 1] : (byte)0));
                p += 2;
            }
            else
            {
                sb.Append("v:").Append(ValValue(op)).Append(',').Append(ValLen(op));
                p++;
            }
        }
        return sb.ToString();
    }
}
