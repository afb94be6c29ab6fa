namespace Cinnabar.Server.Commands;

/// <summary>DEBUG REPLYBUFFER peak-reset-time &lt;never|reset|ms&gt; / resizing &lt;0|1&gt; (see Client.Buffers.cs).</summary>
public sealed partial class DebugCommands
{
    private static void ReplyBuffer(CommandContext ctx)
    {
        if (ctx.ArgCount != 4)
        {
            ctx.Error(Errors.DebugWrongArguments(ctx.ArgString(1)));
            return;
        }
        if (ctx.ArgIs(2, "PEAK-RESET-TIME"))
        {
            if (ctx.ArgIs(3, "NEVER")) Client.ReplyBufferPeakResetTimeMs = -1;
            else if (ctx.ArgIs(3, "RESET")) Client.ReplyBufferPeakResetTimeMs = Client.DefaultReplyPeakResetTimeMs;
            else if (Protocol.RequestParser.TryParseLong(ctx.Arg(3), out long ms)) Client.ReplyBufferPeakResetTimeMs = ms;
            else
            {
                ctx.Error(Errors.NotInteger);
                return;
            }
        }
        else if (ctx.ArgIs(2, "RESIZING"))
        {
            // atoi: a leading number, anything else is 0.
            string v = ctx.ArgString(3);
            int end = 0;
            while (end < v.Length && (char.IsAsciiDigit(v[end]) || (end == 0 && v[end] == '-'))) end++;
            Client.ReplyBufferResizing = int.TryParse(v.AsSpan(0, end), out int n) && n != 0;
        }
        else
        {
            ctx.Error(Errors.DebugWrongArguments(ctx.ArgString(1)));
            return;
        }
        ctx.Reply.WriteOk();
    }
}
