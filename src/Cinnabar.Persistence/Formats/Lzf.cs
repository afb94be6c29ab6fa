namespace Cinnabar.Persistence.Formats;

/// <summary>
/// LZF (liblzf's format, used by RDB for strings when rdbcompression is on). A control byte
/// below 32 starts a run of ctrl+1 literals; otherwise its top 3 bits are the match length - 2
/// (7 = more in the next byte) and the low 5 bits plus the next byte are the back offset - 1.
/// Our compressor is a simple hash-chain-free LZ77 over 3-byte hashes; its output is valid LZF
/// that any liblzf decoder (and Redis) reads, though not byte-identical to liblzf's.
/// </summary>
public static class Lzf
{
    private const int HashLog = 14;
    private const int MaxOff = 1 << 13;
    private const int MaxRef = (1 << 8) + (1 << 3);
    private const int MaxLit = 1 << 5;

    /// <summary>Compresses into output; returns the compressed length, or 0 if it does not fit.</summary>
    public static int Compress(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (input.Length < 4) return 0;
        Span<int> table = stackalloc int[1 << HashLog];
        table.Fill(-1);
        int ip = 0, op = 0;
        int litStart = op++;
        int lit = 0;
        if (output.Length < 1) return 0;
        while (ip < input.Length - 2)
        {
            uint x = (uint)((input[ip] << 16) | (input[ip + 1] << 8) | input[ip + 2]) * 2654435761u;
            int h = (int)(x >> (32 - HashLog));
            int refPos = table[h];
            table[h] = ip;
            int off = ip - refPos - 1;
            if (refPos >= 0 && off < MaxOff && input[refPos] == input[ip] && input[refPos + 1] == input[ip + 1] && input[refPos + 2] == input[ip + 2])
            {
                int len = 2;
                int maxLen = Math.Min(MaxRef, input.Length - ip);
                while (len < maxLen && input[refPos + len] == input[ip + len]) len++;
                // close the literal run
                if (lit > 0) output[litStart] = (byte)(lit - 1);
                else op--; // no literals: drop the reserved control byte
                len -= 2; // encoded length
                if (op + 3 + 1 > output.Length) return 0;
                if (len < 7) output[op++] = (byte)((len << 5) + (off >> 8));
                else
                {
                    output[op++] = (byte)((7 << 5) + (off >> 8));
                    output[op++] = (byte)(len - 7);
                }
                output[op++] = (byte)off;
                ip += len + 2;
                litStart = op++;
                lit = 0;
                if (op > output.Length) return 0;
                continue;
            }
            if (op >= output.Length) return 0;
            output[op++] = input[ip++];
            lit++;
            if (lit == MaxLit)
            {
                output[litStart] = (byte)(MaxLit - 1);
                lit = 0;
                litStart = op++;
            }
        }
        while (ip < input.Length)
        {
            if (op >= output.Length) return 0;
            output[op++] = input[ip++];
            lit++;
            if (lit == MaxLit)
            {
                output[litStart] = (byte)(MaxLit - 1);
                lit = 0;
                litStart = op++;
            }
        }
        if (lit > 0) output[litStart] = (byte)(lit - 1);
        else op--;
        return op > output.Length ? 0 : op;
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
