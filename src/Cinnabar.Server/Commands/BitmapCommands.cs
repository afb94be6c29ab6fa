using System.Numerics;
using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

/// <summary>
/// Bitmap commands on string values (bitops.c). Bit 0 is the most significant bit of byte 0.
/// Writes grow the string with zero bytes and leave it raw-encoded: a raw value is edited in
/// place (the lookup for write has already preserved it for a running snapshot), any other
/// encoding is copied into a new raw string (Redis's dbUnshareStringValue).
/// </summary>
public sealed class BitmapCommands : ICommandFamily
{
    private const string G = "bitmap";

    public void Register(CommandTable t)
    {
        t.Add("setbit", 4, "write denyoom", 1, 1, 1, "@write @bitmap @slow", SetBit, G, "Sets or clears the bit at offset of the string value. Creates the key if it doesn't exist.", "2.2.0", "O(1)");
        t.Add("getbit", 3, "readonly fast", 1, 1, 1, "@read @bitmap @fast", GetBit, G, "Returns a bit value by offset.", "2.2.0", "O(1)");
        t.Add("bitcount", -2, "readonly", 1, 1, 1, "@read @bitmap @slow", BitCount, G, "Counts the number of set bits (population counting) in a string.", "2.6.0", "O(N)");
        t.Add("bitpos", -3, "readonly", 1, 1, 1, "@read @bitmap @slow", BitPos, G, "Finds the first set (1) or clear (0) bit in a string.", "2.8.7", "O(N)");
        t.Add("bitop", -4, "write denyoom", 2, -1, 1, "@write @bitmap @slow", BitOp, G, "Performs bitwise operations on multiple strings, and stores the result.", "2.6.0", "O(N)");
        t.Add("bitfield", -2, "write denyoom", 1, 1, 1, "@write @bitmap @slow", BitField, G, "Performs arbitrary bitfield integer operations on strings.", "3.2.0", "O(1) for each subcommand specified");
        t.Add("bitfield_ro", -2, "readonly fast", 1, 1, 1, "@read @bitmap @fast", BitFieldRo, G, "Performs arbitrary read-only bitfield integer operations on strings.", "6.0.0", "O(1) for each subcommand specified");
    }

    /// <summary>getBitOffsetFromArgument: "#n" (BITFIELD only) multiplies by the type width; the byte must fit proto-max-bulk-len.</summary>
    private static bool TryGetBitOffset(CommandContext ctx, int i, bool allowHash, int bits, out long offset)
    {
        offset = 0;
        var a = ctx.Arg(i);
        bool hash = allowHash && a.Length > 0 && a[0] == (byte)'#';
        if (!Cinnabar.Protocol.RequestParser.TryParseLong(hash ? a[1..] : a, out long v))
        {
            ctx.Error(Errors.BitOffsetInvalid);
            return false;
        }
        if (hash) v = unchecked(v * bits);
        if (v < 0 || (v >> 3) >= ctx.Server.Config.ProtoMaxBulkLen)
        {
            ctx.Error(Errors.BitOffsetInvalid);
            return false;
        }
        offset = v;
        return true;
    }

    /// <summary>
    /// lookupStringForBitCommand: the string at key made writable and at least (maxBit/8)+1 bytes
    /// long, created when missing. dirty reports creation or growth. Null after a WRONGTYPE reply.
    /// </summary>
    private static byte[]? LookupForBitWrite(CommandContext ctx, ReadOnlySpan<byte> key, long maxBit, out bool dirty)
    {
        long need = (maxBit >> 3) + 1;
        dirty = false;
        var o = ctx.Db.LookupWrite(key);
        if (o == null)
        {
            var bytes = new byte[need];
            ctx.Db.Set(key, StringObject.CreateRaw(bytes));
            dirty = true;
            return bytes;
        }
        if (o is not StringObject s)
        {
            ctx.WrongType();
            return null;
        }
        if (s.Encoding == "raw" && s.RawBytes is { } raw && raw.Length >= need) return raw;
        var old = s.RawBytes ?? s.GetBytes();
        var grown = new byte[Math.Max(old.Length, need)];
        old.CopyTo(grown, 0);
        if (grown.Length != old.Length) dirty = true;
        ctx.Db.Set(key, StringObject.CreateRaw(grown), keepTtl: true);
        return grown;
    }

    private static void SetBit(CommandContext ctx)
    {
        if (!TryGetBitOffset(ctx, 2, false, 0, out long offset)) return;
        if (!Cinnabar.Protocol.RequestParser.TryParseLong(ctx.Arg(3), out long on) || (on & ~1L) != 0)
        {
            ctx.Error(Errors.BitValueInvalid);
            return;
        }
        var key = ctx.Arg(1);
        var bytes = LookupForBitWrite(ctx, key, offset, out bool dirty);
        if (bytes == null) return;
        long b = offset >> 3;
        int bit = 7 - (int)(offset & 7);
        int bitval = (bytes[b] >> bit) & 1;
        if (dirty || bitval != on)
        {
            bytes[b] = (byte)((bytes[b] & ~(1 << bit)) | ((int)on << bit));
            ctx.KeyChanged(key, '$', "setbit");
        }
        ctx.Reply.WriteInteger(bitval);
    }

    private static void GetBit(CommandContext ctx)
    {
        if (!TryGetBitOffset(ctx, 2, false, 0, out long offset)) return;
        if (!StringCommands.TryGetString(ctx, ctx.Arg(1), out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        var bytes = s.RawBytes ?? s.GetBytes();
        long b = offset >> 3;
        int bitval = b < bytes.Length ? (bytes[b] >> (7 - (int)(offset & 7))) & 1 : 0;
        ctx.Reply.WriteInteger(bitval);
    }

    private static long PopCount(ReadOnlySpan<byte> s)
    {
        long n = 0;
        while (s.Length >= 8)
        {
            n += BitOperations.PopCount(System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(s));
            s = s[8..];
        }
        foreach (byte b in s) n += BitOperations.PopCount(b);
        return n;
    }

    /// <summary>Resolves BITCOUNT/BITPOS start/end (BYTE or BIT units) to an inclusive bit range; false when empty.</summary>
    private static bool ResolveRange(long start, long end, long byteLen, bool isBit, out long startBit, out long endBit)
    {
        long total = isBit ? byteLen << 3 : byteLen;
        if (start < 0) start = total + start;
        if (end < 0) end = total + end;
        if (start < 0) start = 0;
        if (end < 0) end = 0;
        if (end >= total) end = total - 1;
        startBit = isBit ? start : start << 3;
        endBit = isBit ? end : (end << 3) + 7;
        return start <= end;
    }

    private static bool TryParseUnit(CommandContext ctx, int i, out bool isBit)
    {
        isBit = false;
        if (ctx.ArgIs(i, "BIT")) isBit = true;
        else if (!ctx.ArgIs(i, "BYTE"))
        {
            ctx.SyntaxError();
            return false;
        }
        return true;
    }

    private static void BitCount(CommandContext ctx)
    {
        // Redis 7.0 looks the key up before parsing the range.
        if (!StringCommands.TryGetString(ctx, ctx.Arg(1), out var s)) return;
        if (s == null)
        {
            ctx.Reply.WriteInteger(0);
            return;
        }
        var p = s.RawBytes ?? s.GetBytes();
        long startBit, endBit;
        if (ctx.ArgCount == 4 || ctx.ArgCount == 5)
        {
            if (!ctx.TryGetLong(2, out long start) || !ctx.TryGetLong(3, out long end)) return;
            bool isBit = false;
            if (ctx.ArgCount == 5 && !TryParseUnit(ctx, 4, out isBit)) return;
            // Redis 7.0 answers 0 for two negative indexes with start > end before converting them
            // (otherwise both would clamp to 0 and count the first byte or bit).
            if ((start < 0 && end < 0 && start > end) || !ResolveRange(start, end, p.Length, isBit, out startBit, out endBit))
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
        }
        else if (ctx.ArgCount == 2)
        {
            if (p.Length == 0)
            {
                ctx.Reply.WriteInteger(0);
                return;
            }
            startBit = 0;
            endBit = ((long)p.Length << 3) - 1;
        }
        else
        {
            ctx.SyntaxError();
            return;
        }
        long sb = startBit >> 3, eb = endBit >> 3;
        long count = PopCount(p.AsSpan((int)sb, (int)(eb - sb + 1)));
        int headMask = 0xff << (8 - (int)(startBit & 7)) & 0xff; // bits before the start in the first byte
        int tailMask = (1 << (7 - (int)(endBit & 7))) - 1;       // bits after the end in the last byte
        count -= BitOperations.PopCount((uint)(p[sb] & headMask)) + BitOperations.PopCount((uint)(p[eb] & tailMask));
        ctx.Reply.WriteInteger(count);
    }

    private static void BitPos(CommandContext ctx)
    {
        if (!ctx.TryGetLong(2, out long bit)) return;
        if (bit != 0 && bit != 1)
        {
            ctx.Error(Errors.BitPosBitArgument);
            return;
        }
        var o = ctx.Db.LookupRead(ctx.Arg(1));
        if (o == null)
        {
            ctx.Reply.WriteInteger(bit == 1 ? -1 : 0);
            return;
        }
        if (o is not StringObject s)
        {
            ctx.WrongType();
            return;
        }
        var p = s.RawBytes ?? s.GetBytes();
        bool endGiven = false;
        long startBit, endBit;
        if (ctx.ArgCount >= 4 && ctx.ArgCount <= 6)
        {
            if (!ctx.TryGetLong(3, out long start)) return;
            long end = p.Length - 1;
            if (ctx.ArgCount >= 5)
            {
                if (!ctx.TryGetLong(4, out end)) return;
                endGiven = true;
            }
            bool isBit = false;
            if (ctx.ArgCount == 6 && !TryParseUnit(ctx, 5, out isBit)) return;
            if (!ResolveRange(start, end, p.Length, isBit, out startBit, out endBit))
            {
                ctx.Reply.WriteInteger(-1);
                return;
            }
        }
        else if (ctx.ArgCount == 3)
        {
            if (p.Length == 0)
            {
                ctx.Reply.WriteInteger(-1);
                return;
            }
            startBit = 0;
            endBit = ((long)p.Length << 3) - 1;
        }
        else
        {
            ctx.SyntaxError();
            return;
        }
        long pos = FindBit(p, startBit, endBit, bit == 1);
        if (pos < 0)
        {
            // A clear bit is assumed just past the string unless the caller fixed the end.
            pos = bit == 0 && !endGiven ? endBit + 1 : -1;
        }
        ctx.Reply.WriteInteger(pos);
    }

    /// <summary>First bit equal to <paramref name="one"/> in [startBit, endBit], or -1.</summary>
    private static long FindBit(byte[] p, long startBit, long endBit, bool one)
    {
        long i = startBit;
        byte skip = one ? (byte)0 : (byte)0xff;
        while (i <= endBit)
        {
            if ((i & 7) == 0 && i + 7 <= endBit)
            {
                long b = i >> 3;
                if (p[b] == skip)
                {
                    i += 8;
                    continue;
                }
            }
            int v = (p[i >> 3] >> (7 - (int)(i & 7))) & 1;
            if ((v == 1) == one) return i;
            i++;
        }
        return -1;
    }

    private static void BitOp(CommandContext ctx)
    {
        int op;
        if (ctx.ArgIs(1, "AND")) op = 0;
        else if (ctx.ArgIs(1, "OR")) op = 1;
        else if (ctx.ArgIs(1, "XOR")) op = 2;
        else if (ctx.ArgIs(1, "NOT")) op = 3;
        else
        {
            ctx.SyntaxError();
            return;
        }
        if (op == 3 && ctx.ArgCount != 4)
        {
            ctx.Error(Errors.BitOpNotSingleSource);
            return;
        }
        int n = ctx.ArgCount - 3;
        var srcs = new byte[]?[n];
        int maxLen = 0;
        for (int j = 0; j < n; j++)
        {
            var o = ctx.Db.LookupRead(ctx.Arg(j + 3));
            if (o == null) continue;
            if (o is not StringObject s)
            {
                ctx.WrongType();
                return;
            }
            srcs[j] = s.RawBytes ?? s.GetBytes();
            maxLen = Math.Max(maxLen, srcs[j]!.Length);
        }
        var key = ctx.Arg(2);
        if (maxLen == 0)
        {
            if (ctx.Db.Delete(key)) ctx.KeyChanged(key, 'g', "del");
            ctx.Reply.WriteInteger(0);
            return;
        }
        var res = new byte[maxLen];
        var first = srcs[0];
        if (first != null) first.CopyTo(res, 0);
        if (op == 3)
        {
            for (int i = 0; i < maxLen; i++) res[i] = (byte)~res[i];
        }
        for (int j = 1; j < n; j++)
        {
            var src = srcs[j];
            int len = src?.Length ?? 0;
            for (int i = 0; i < maxLen; i++)
            {
                byte b = i < len ? src![i] : (byte)0;
                res[i] = op switch { 0 => (byte)(res[i] & b), 1 => (byte)(res[i] | b), _ => (byte)(res[i] ^ b) };
            }
        }
        ctx.Db.Set(key, StringObject.CreateRaw(res));
        ctx.KeyChanged(key, '$', "set");
        ctx.Reply.WriteInteger(maxLen);
    }

    private enum Overflow { Wrap, Sat, Fail }

    private struct FieldOp
    {
        public long Offset;
        public long Value;
        public int Opcode; // 0 get, 1 set, 2 incrby
        public Overflow Ow;
        public int Bits;
        public bool Signed;
    }

    private static void BitField(CommandContext ctx) => BitFieldGeneric(ctx, readOnlyCommand: false);

    private static void BitFieldRo(CommandContext ctx) => BitFieldGeneric(ctx, readOnlyCommand: true);

    private static bool TryGetFieldType(CommandContext ctx, int i, out bool signed, out int bits)
    {
        var a = ctx.Arg(i);
        signed = false;
        bits = 0;
        if (a.Length > 0 && (a[0] == (byte)'i' || a[0] == (byte)'I' || a[0] == (byte)'u' || a[0] == (byte)'U'))
        {
            signed = a[0] == (byte)'i' || a[0] == (byte)'I';
            if (Cinnabar.Protocol.RequestParser.TryParseLong(a[1..], out long b) && b >= 1 && ((signed && b <= 64) || (!signed && b <= 63)))
            {
                bits = (int)b;
                return true;
            }
        }
        ctx.Error(Errors.BitFieldInvalidType);
        return false;
    }

    private static void BitFieldGeneric(CommandContext ctx, bool readOnlyCommand)
    {
        var ops = new List<FieldOp>();
        var ow = Overflow.Wrap;
        bool readOnly = true;
        long highestWrite = 0;
        for (int j = 2; j < ctx.ArgCount; j++)
        {
            int remaining = ctx.ArgCount - j - 1;
            int opcode;
            if (ctx.ArgIs(j, "GET") && remaining >= 2) opcode = 0;
            else if (ctx.ArgIs(j, "SET") && remaining >= 3) opcode = 1;
            else if (ctx.ArgIs(j, "INCRBY") && remaining >= 3) opcode = 2;
            else if (ctx.ArgIs(j, "OVERFLOW") && remaining >= 1)
            {
                j++;
                if (ctx.ArgIs(j, "WRAP")) ow = Overflow.Wrap;
                else if (ctx.ArgIs(j, "SAT")) ow = Overflow.Sat;
                else if (ctx.ArgIs(j, "FAIL")) ow = Overflow.Fail;
                else
                {
                    ctx.Error(Errors.BitFieldInvalidOverflow);
                    return;
                }
                continue;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
            if (!TryGetFieldType(ctx, j + 1, out bool signed, out int bits)) return;
            if (!TryGetBitOffset(ctx, j + 2, true, bits, out long offset)) return;
            long value = 0;
            if (opcode != 0)
            {
                readOnly = false;
                if (highestWrite < offset + bits - 1) highestWrite = offset + bits - 1;
                if (!ctx.TryGetLong(j + 3, out value)) return;
            }
            ops.Add(new FieldOp { Offset = offset, Value = value, Opcode = opcode, Ow = ow, Bits = bits, Signed = signed });
            j += opcode == 0 ? 2 : 3;
        }

        var key = ctx.Arg(1);
        byte[]? bytes = null;
        bool dirty = false;
        if (readOnly)
        {
            var o = ctx.Db.LookupRead(key);
            if (o != null)
            {
                if (o is not StringObject s)
                {
                    ctx.WrongType();
                    return;
                }
                bytes = s.RawBytes ?? s.GetBytes();
            }
        }
        else
        {
            if (readOnlyCommand)
            {
                ctx.Error(Errors.BitFieldRoOnlyGet);
                return;
            }
            bytes = LookupForBitWrite(ctx, key, highestWrite, out dirty);
            if (bytes == null) return;
        }

        ctx.Reply.WriteArrayHeader(ops.Count);
        long changes = 0;
        Span<byte> buf = stackalloc byte[9];
        foreach (var op in ops)
        {
            if (op.Opcode == 0)
            {
                // Reads copy up to 9 bytes into a zero-padded buffer so fields may cross the end.
                buf.Clear();
                long b = op.Offset >> 3;
                if (bytes != null)
                    for (int i = 0; i < 9 && b + i < bytes.Length; i++) buf[i] = bytes[b + i];
                ulong raw = GetField(buf, op.Offset - b * 8, op.Bits);
                ctx.Reply.WriteInteger(op.Signed ? SignExtend(raw, op.Bits) : (long)raw);
                continue;
            }
            var p = bytes!;
            ulong oldRaw = GetField(p, op.Offset, op.Bits);
            bool overflow;
            ulong newRaw;
            long reply;
            if (op.Signed)
            {
                long oldVal = SignExtend(oldRaw, op.Bits), newVal;
                if (op.Opcode == 2)
                {
                    overflow = SignedOverflow(oldVal, op.Value, op.Bits, op.Ow, out long wrapped);
                    newVal = overflow ? wrapped : unchecked(oldVal + op.Value);
                    reply = newVal;
                }
                else
                {
                    newVal = op.Value;
                    overflow = SignedOverflow(newVal, 0, op.Bits, op.Ow, out long wrapped);
                    if (overflow) newVal = wrapped;
                    reply = oldVal;
                }
                newRaw = (ulong)newVal;
                if (!(overflow && op.Ow == Overflow.Fail) && (dirty || oldVal != newVal)) changes++;
            }
            else
            {
                ulong oldVal = oldRaw, newVal;
                if (op.Opcode == 2)
                {
                    newVal = unchecked(oldVal + (ulong)op.Value);
                    overflow = UnsignedOverflow(oldVal, op.Value, op.Bits, op.Ow, out ulong wrapped);
                    if (overflow) newVal = wrapped;
                    reply = (long)newVal;
                }
                else
                {
                    newVal = (ulong)op.Value;
                    overflow = UnsignedOverflow(newVal, 0, op.Bits, op.Ow, out ulong wrapped);
                    if (overflow) newVal = wrapped;
                    reply = (long)oldVal;
                }
                newRaw = newVal;
                if (!(overflow && op.Ow == Overflow.Fail) && (dirty || oldVal != newVal)) changes++;
            }
            if (overflow && op.Ow == Overflow.Fail)
            {
                ctx.Reply.WriteNull();
                continue;
            }
            ctx.Reply.WriteInteger(reply);
            SetField(p, op.Offset, op.Bits, newRaw);
        }
        if (changes > 0)
        {
            ctx.KeyChanged(key, '$', "setbit");
            ctx.Dirty(changes - 1);
        }
    }

    private static ulong GetField(ReadOnlySpan<byte> p, long offset, int bits)
    {
        ulong value = 0;
        for (int j = 0; j < bits; j++, offset++)
        {
            int bitval = (p[(int)(offset >> 3)] >> (7 - (int)(offset & 7))) & 1;
            value = (value << 1) | (uint)bitval;
        }
        return value;
    }

    private static void SetField(byte[] p, long offset, int bits, ulong value)
    {
        for (int j = 0; j < bits; j++, offset++)
        {
            int bitval = (int)((value >> (bits - 1 - j)) & 1);
            long b = offset >> 3;
            int bit = 7 - (int)(offset & 7);
            p[b] = (byte)((p[b] & ~(1 << bit)) | (bitval << bit));
        }
    }

    private static long SignExtend(ulong v, int bits) =>
        bits < 64 && (v & (1UL << (bits - 1))) != 0 ? (long)(v | (ulong.MaxValue << bits)) : (long)v;

    // checkUnsignedBitfieldOverflow: value+incr outside [0, 2^bits-1]; limit gets the wrapped or saturated result.
    private static bool UnsignedOverflow(ulong value, long incr, int bits, Overflow ow, out ulong limit)
    {
        ulong max = (1UL << bits) - 1;
        long maxIncr = unchecked((long)(max - value));
        long minIncr = unchecked(-(long)value);
        limit = 0;
        if (value > max || (incr > 0 && incr > maxIncr))
        {
            limit = ow == Overflow.Wrap ? Wrap() : max;
            return true;
        }
        if (incr < 0 && incr < minIncr)
        {
            limit = ow == Overflow.Wrap ? Wrap() : 0;
            return true;
        }
        return false;

        ulong Wrap() => unchecked(value + (ulong)incr) & ~(ulong.MaxValue << bits);
    }

    // checkSignedBitfieldOverflow, including its 64-bit special cases.
    private static bool SignedOverflow(long value, long incr, int bits, Overflow ow, out long limit)
    {
        long max = bits == 64 ? long.MaxValue : (1L << (bits - 1)) - 1;
        long min = -max - 1;
        long maxIncr = unchecked(max - value);
        long minIncr = unchecked(min - value);
        limit = 0;
        if (value > max || (bits != 64 && incr > maxIncr) || (value >= 0 && incr > 0 && incr > maxIncr))
        {
            limit = ow == Overflow.Wrap ? Wrap() : max;
            return true;
        }
        if (value < min || (bits != 64 && incr < minIncr) || (value < 0 && incr < 0 && incr < minIncr))
        {
            limit = ow == Overflow.Wrap ? Wrap() : min;
            return true;
        }
        return false;

        long Wrap()
        {
            ulong c = unchecked((ulong)value + (ulong)incr);
            if (bits < 64)
            {
                ulong mask = ulong.MaxValue << bits;
                if ((c & (1UL << (bits - 1))) != 0) c |= mask;
                else c &= ~mask;
            }
            return (long)c;
        }
    }
}
