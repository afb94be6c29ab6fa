namespace Cinnabar.Persistence.Formats;

/// <summary>
/// LZF (liblzf's format, used by RDB for strings when rdbcompression is on). A control byte
/// below 32 starts a run of ctrl+1 literals; otherwise its top 3 bits are the match length - 2
/// (7 = more in the next byte) and the low 5 bits plus the next byte are the back offset - 1.
/// The compressor makes the same choices as liblzf 3.6 as Redis builds it (HLOG 16, VERY_FAST,
/// one candidate per 3-byte hash, no match at offset 0 of the input, the two positions before
/// the end of a match re-hashed), so RDB files and DUMP payloads are byte-identical with Redis's.
/// </summary>
public static class Lzf
{
    private const int HashLog = 16;
    private const int HashSize = 1 << HashLog;
    private const int MaxOff = 1 << 13;
    private const int MaxRef = (1 << 8) + (1 << 3);
    private const int MaxLit = 1 << 5;

    // The hash table holds positions as (base + position). Bumping the base per call instead of
    // clearing 256 KB makes every older slot read as "no candidate" (liblzf starts from a zeroed
    // table and never matches position 0, so a stale slot and an empty one behave the same).
    [ThreadStatic] private static int[]? t_table;
    [ThreadStatic] private static int t_base;

    private static int Index(uint h) => (int)(((h >> (24 - HashLog)) - h * 5) & (HashSize - 1));

    /// <summary>Compresses into output; returns the compressed length, or 0 if it does not fit.</summary>
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int inLen = input.Length, outEnd = output.Length;
        if (inLen == 0 || outEnd == 0) return 0;
        var table = t_table ??= new int[HashSize];
        if (t_base > int.MaxValue - inLen - 2)
        {
            Array.Clear(table);
            t_base = 0;
        }
        int bas = t_base;
        t_base = bas + inLen + 1;

        int ip = 0, op = 1, lit = 0; // op 0 is the first literal run's control byte
        uint h = (uint)((input[0] << 8) | (inLen > 1 ? input[1] : 0));
        while (ip < inLen - 2)
        {
            h = (h << 8) | input[ip + 2];
            int slot = Index(h);
            int refPos = table[slot] - bas;
            table[slot] = bas + ip;
            int off = ip - refPos - 1;
            if (refPos > 0 && off >= 0 && off < MaxOff
                && input[refPos + 2] == input[ip + 2] && input[refPos] == input[ip] && input[refPos + 1] == input[ip + 1])
            {
                int maxLen = Math.Min(inLen - ip - 2, MaxRef);
                if (op + 4 >= outEnd && op - (lit == 0 ? 1 : 0) + 4 >= outEnd) return 0;
                output[op - lit - 1] = (byte)(lit - 1); // close the literal run
                if (lit == 0) op--; // no literals: reuse the reserved control byte
                int len = MatchLength(input, refPos, ip, maxLen);
                len -= 2;
                ip++;
                if (len < 7) output[op++] = (byte)((off >> 8) + (len << 5));
                else
                {
                    output[op++] = (byte)((off >> 8) + (7 << 5));
                    output[op++] = (byte)(len - 7);
                }
                output[op++] = (byte)off;
                lit = 0;
                op++;
                ip += len + 1;
                if (ip >= inLen - 2) break;
                // re-hash the last two positions covered by the match (VERY_FAST)
                ip -= 2;
                h = (uint)((input[ip] << 8) | input[ip + 1]);
                h = (h << 8) | input[ip + 2];
                table[Index(h)] = bas + ip;
                ip++;
                h = (h << 8) | input[ip + 2];
                table[Index(h)] = bas + ip;
                ip++;
            }
            else
            {
                if (op >= outEnd) return 0;
                lit++;
                output[op++] = input[ip++];
                if (lit == MaxLit)
                {
                    output[op - lit - 1] = (byte)(lit - 1);
                    lit = 0;
                    op++;
                }
            }
        }
        if (op + 3 > outEnd) return 0;
        while (ip < inLen)
        {
            lit++;
            output[op++] = input[ip++];
            if (lit == MaxLit)
            {
                output[op - lit - 1] = (byte)(lit - 1);
                lit = 0;
                op++;
            }
        }
        output[op - lit - 1] = (byte)(lit - 1);
        if (lit == 0) op--;
        return op;
    }

    // liblzf's match extension: when more than 16 bytes may match it first checks 16 bytes
    // unconditionally, so a match near the end can run past maxLen by up to 2 bytes (still
    // within the input); Redis's output depends on this, so it is reproduced exactly.
    private static int MatchLength(ReadOnlySpan<byte> input, int refPos, int ip, int maxLen)
    {
        int len = 2;
        if (maxLen > 16)
        {
            for (int k = 0; k < 16; k++)
            {
                len++;
                if (input[refPos + len] != input[ip + len]) return len;
            }
        }
        do len++;
        while (len < maxLen && input[refPos + len] == input[ip + len]);
        return len;
    }

    /// <summary>Decompresses; returns false on corrupt input or size mismatch.</summary>
    public static bool Decompress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        int ip = 0, op = 0;
        while (ip < input.Length)
        {
            int ctrl = input[ip++];
            if (ctrl < 32)
            {
                int run = ctrl + 1;
                if (ip + run > input.Length || op + run > output.Length) return false;
                input.Slice(ip, run).CopyTo(output[op..]);
                ip += run;
                op += run;
            }
            else
            {
                int len = ctrl >> 5;
                if (len == 7)
                {
                    if (ip >= input.Length) return false;
                    len += input[ip++];
                }
                if (ip >= input.Length) return false;
                int refPos = op - ((ctrl & 0x1f) << 8) - 1 - input[ip++];
                len += 2;
                if (refPos < 0 || op + len > output.Length) return false;
                for (int k = 0; k < len; k++) output[op++] = output[refPos++];
            }
        }
        return op == output.Length;
    }
}
