using Cinnabar.Storage;

namespace Cinnabar.Server.Commands;

// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN]: the classic dynamic-programming table,
// then a walk back from the end emitting matched ranges last-to-first, as Redis's lcsCommand does
// (so IDX output order and range boundaries are identical).
public sealed partial class StringCommands
{
    private static void Lcs(CommandContext ctx)
    {
        var oa = ctx.Db.LookupRead(ctx.Arg(1));
        var ob = ctx.Db.LookupRead(ctx.Arg(2));
        if ((oa != null && oa is not StringObject) || (ob != null && ob is not StringObject))
        {
            ctx.Error(Errors.LcsNotStrings);
            return;
        }
        byte[] a = oa is StringObject sa ? sa.RawBytes ?? sa.GetBytes() : [];
        byte[] b = ob is StringObject sb ? sb.RawBytes ?? sb.GetBytes() : [];
        bool getLen = false, getIdx = false, withMatchLen = false;
        long minMatchLen = 0;
        for (int j = 3; j < ctx.ArgCount; j++)
        {
            bool moreArgs = j + 1 < ctx.ArgCount;
            if (ctx.ArgIs(j, "IDX")) getIdx = true;
            else if (ctx.ArgIs(j, "LEN")) getLen = true;
            else if (ctx.ArgIs(j, "WITHMATCHLEN")) withMatchLen = true;
            else if (ctx.ArgIs(j, "MINMATCHLEN") && moreArgs)
            {
                if (!ctx.TryGetLong(j + 1, out minMatchLen)) return;
                if (minMatchLen < 0) minMatchLen = 0;
                j++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (getIdx && getLen)
        {
            ctx.Error(Errors.LcsLenAndIdx);
            return;
        }
        int alen = a.Length, blen = b.Length;
        long cells = (long)(alen + 1) * (blen + 1);
        if (cells * sizeof(uint) > ctx.Server.Config.ProtoMaxBulkLen || cells > Array.MaxLength)
        {
            ctx.Error(Errors.LcsTooMuchMemory);
            return;
        }
        var dp = new uint[cells];
        int w = blen + 1;
        for (int i = 1; i <= alen; i++)
        {
            for (int j = 1; j <= blen; j++)
            {
                dp[i * w + j] = a[i - 1] == b[j - 1]
                    ? dp[(i - 1) * w + j - 1] + 1
                    : Math.Max(dp[(i - 1) * w + j], dp[i * w + j - 1]);
            }
        }
        uint total = dp[alen * w + blen];
        if (getLen)
        {
            ctx.Reply.WriteInteger(total);
            return;
        }
        var result = new byte[total];
        List<(uint As, uint Ae, uint Bs, uint Be)>? ranges = getIdx ? new() : null;
        uint idx = total;
        uint aStart = (uint)alen, aEnd = 0, bStart = 0, bEnd = 0;
        int ii = alen, jj = blen;
        while (ii > 0 && jj > 0)
        {
            bool emit = false;
            if (a[ii - 1] == b[jj - 1])
            {
                result[idx - 1] = a[ii - 1];
                if (aStart == alen)
                {
                    aStart = aEnd = (uint)ii - 1;
                    bStart = bEnd = (uint)jj - 1;
                }
                else if (aStart == ii && bStart == jj)
                {
                    // Contiguous with the current range: extend it backwards.
                    aStart--;
                    bStart--;
                }
                else emit = true;
                if (aStart == 0 || bStart == 0) emit = true;
                idx--;
                ii--;
                jj--;
            }
            else
            {
                if (dp[(ii - 1) * w + jj] > dp[ii * w + jj - 1]) ii--;
                else jj--;
                if (aStart != alen) emit = true;
            }
            if (emit)
            {
                uint matchLen = aEnd - aStart + 1;
                if (ranges != null && (minMatchLen == 0 || matchLen >= minMatchLen)) ranges.Add((aStart, aEnd, bStart, bEnd));
                aStart = (uint)alen;
            }
        }
        if (ranges == null)
        {
            ctx.Reply.WriteBulk(result);
            return;
        }
        var r = ctx.Reply;
        r.WriteMapHeader(2);
        r.WriteBulk("matches");
        r.WriteArrayHeader(ranges.Count);
        foreach (var (aS, aE, bS, bE) in ranges)
        {
            r.WriteArrayHeader(withMatchLen ? 3 : 2);
            r.WriteArrayHeader(2);
            r.WriteInteger(aS);
            r.WriteInteger(aE);
            r.WriteArrayHeader(2);
            r.WriteInteger(bS);
            r.WriteInteger(bE);
            if (withMatchLen) r.WriteInteger(aE - aS + 1);
        }
        r.WriteBulk("len");
        r.WriteInteger(total);
    }
}
