using Cinnabar.Protocol;

namespace Cinnabar.Server;

public sealed partial class RedisServer
{
    /// <summary>
    /// Like <see cref="Block"/> but parks the client with <paramref name="argv"/> as the command to
    /// re-execute: XREAD with "$" blocks with the IDs "$" resolved to when it first blocked.
    /// </summary>
    public void BlockWithArgv(CommandContext ctx, byte[][] argv, byte[][] keys, long timeoutMs, Action<RespWriter> onTimeout)
    {
        var saved = ctx.Args;
        var copy = new CommandArgs();
        copy.SetOwned(argv);
        ctx.Args = copy;
        try
        {
            Block(ctx, keys, timeoutMs, onTimeout);
        }
        finally
        {
            ctx.Args = saved;
        }
    }
}
