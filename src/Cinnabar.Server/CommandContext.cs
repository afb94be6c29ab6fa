using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server;

/// <summary>
/// Everything a handler needs for one command: the client, its args, its reply writer, the
/// server. One instance per client, reused for every command (no per-command allocation).
/// Handlers write exactly one reply, and report errors through <see cref="Error"/> so INFO
/// errorstats and commandstats count them as Redis does.
/// </summary>
public sealed class CommandContext
{
    public CommandContext(RedisServer server, Client client)
    {
        Server = server;
        Client = client;
    }

    public RedisServer Server { get; }
    public Client Client { get; }
    public CommandArgs Args { get; internal set; } = new();
    public CommandDef Command { get; internal set; } = null!;
    public RespWriter Reply => Client.Reply;
    public Db Db => Server.Keyspace[Client.DbIndex];
    public Keyspace Keyspace => Server.Keyspace;
    public long NowMs => Server.Keyspace.NowMs;
    public int ArgCount => Args.Count;

    /// <summary>Set by handlers that propagate something other than their own argv (SET EX -> SET PXAT ...).</summary>
    internal List<byte[][]>? PropagateOverride;
    /// <summary>Redis's forceCommandPropagation: the command reaches replicas and the AOF even when it changed nothing.</summary>
    internal bool ForcePropagation;

    /// <summary>True while a blocked command is re-executed because a key it waits on became ready.</summary>
    public bool RetryingBlocked { get; internal set; }

    /// <summary>Milliseconds left of a retried blocked command's timeout (0 = forever).</summary>
    public long BlockRemainingMs { get; internal set; }

    /// <summary>True when the handler wrote an error reply.</summary>
    public bool Failed { get; internal set; }

    public ReadOnlySpan<byte> Arg(int i) => Args[i];
    public byte[] ArgBytes(int i) => Args.ToArray(i);
    public string ArgString(int i) => Args.GetString(i);

    public bool ArgIs(int i, string upper)
    {
        var a = Args[i];
        if (a.Length != upper.Length) return false;
        for (int k = 0; k < a.Length; k++)
        {
            int c = a[k];
            if (c >= 'a' && c <= 'z') c -= 32;
            if (c != upper[k]) return false;
        }
        return true;
    }

    public void Error(string message)
    {
        Failed = true;
        Server.Stats.CountError(message);
        Reply.WriteError(message);
    }

    /// <summary>An error reply the statistics already counted (a script passing on a command's error): the command still failed.</summary>
    public void ErrorCountedAlready(string message)
    {
        Failed = true;
        Reply.WriteError(message);
    }

    public void WrongType() => Error(Errors.WrongType);
    public void SyntaxError() => Error(Errors.Syntax);

    public bool TryGetLong(int i, out long value)
    {
        if (RequestParser.TryParseLong(Args[i], out value)) return true;
        Error(Errors.NotInteger);
        return false;
    }

    public bool TryGetInt(int i, out int value)
    {
        value = 0;
        if (!RequestParser.TryParseLong(Args[i], out long v) || v < int.MinValue || v > int.MaxValue)
        {
            Error(Errors.NotInteger);
            return false;
        }
        value = (int)v;
        return true;
    }

    public bool TryGetDouble(int i, out double value)
    {
        if (NumberFormat.TryParseDouble(Args[i], out value)) return true;
        Error(Errors.NotFloat);
        return false;
    }

    /// <summary>
    /// Records a change to key: bumps the dirty counter, invalidates WATCHers and fires the
    /// keyspace notification (<paramref name="type"/> is the notify-keyspace-events class letter).
    /// </summary>
    public void KeyChanged(ReadOnlySpan<byte> key, char type, string @event)
    {
        Server.Dirty++;
        Server.SignalModified(Db, key);
        if (Server.Notifications.Enabled) Server.Notifications.Notify(type, @event, key, Client.DbIndex);
    }

    /// <summary>Marks a change without a key (FLUSHALL ...).</summary>
    public void Dirty(long count = 1) => Server.Dirty += count;

    public void Notify(char type, string @event, ReadOnlySpan<byte> key)
    {
        if (Server.Notifications.Enabled) Server.Notifications.Notify(type, @event, key, Client.DbIndex);
    }

    /// <summary>Replaces what is propagated to AOF/replicas for this command.</summary>
    public void PropagateAs(params byte[][] argv)
    {
        PropagateOverride ??= new List<byte[][]>();
        PropagateOverride.Add(argv);
    }

    public static byte[] Bytes(string s) => Encoding.UTF8.GetBytes(s);
}
