using Cinnabar.Cluster;
using Cinnabar.Protocol;
using Cinnabar.Storage;

namespace Cinnabar.Server.Cluster;

/// <summary>
/// Redis's getNodeByQuery + clusterRedirectClient: which node serves a command's keys, and the
/// redirection or error a client gets when it is not this one (MOVED, ASK, TRYAGAIN, CROSSSLOT,
/// CLUSTERDOWN). The common case (one key, a stable slot we own) costs a CRC16 and one array read.
/// </summary>
public sealed class ClusterRouter
{
    public const string CrossSlot = "CROSSSLOT Keys in request don't hash to the same slot";
    public const string TryAgain = "TRYAGAIN Multiple keys request during rehashing of slot";
    public const string Down = "CLUSTERDOWN The cluster is down";
    public const string DownReadOnly = "CLUSTERDOWN The cluster is down and only accepts read commands";
    public const string Unbound = "CLUSTERDOWN Hash slot not served";

    private enum Redirect { None, CrossSlot, Unstable, Ask, Moved, DownState, DownRoState, DownUnbound }

    private readonly RedisServer _server;
    private readonly ClusterService _svc;
    private readonly CommandArgs _queuedArgs = new();

    public ClusterRouter(RedisServer server, ClusterService svc)
    {
        _server = server;
        _svc = svc;
    }

    /// <summary>Slot of the last routed command's keys, -1 when it had none (the caller's c->slot).</summary>
    public int CurrentSlot { get; private set; } = -1;

    /// <summary>processCommand's cluster step. Returns the error reply (without '-') or null to run the command.</summary>
    public string? Check(Client client, CommandDef cmd, CommandArgs args)
    {
        CurrentSlot = -1;
        bool asking = (client.Flags & ClientFlags.Asking) != 0;
        // resetClient: ASKING lasts for one command (or until EXEC inside MULTI).
        if ((client.Flags & ClientFlags.Multi) == 0 && cmd.Name != "asking") client.Flags &= ~ClientFlags.Asking;
        if ((client.Flags & (ClientFlags.Master | ClientFlags.Importing)) != 0) return null;
        bool isExec = cmd.Name == "exec" && cmd.Parent == null;
        if (!isExec && cmd.FirstKey <= 0 && !cmd.Is(CommandFlags.MovableKeys)) return null;
        if (isExec && (client.Flags & ClientFlags.Multi) == 0) return null;

        var (node, slot, code) = GetNode(client, cmd, args, isExec, asking);
        CurrentSlot = slot;
        if (code == Redirect.None && (node == null || node == _svc.Node.Myself)) return null;
        return Describe(node, slot, code);
    }

    /// <summary>scriptVerifyClusterState: a key touched by redis.call must be served here, and in
    /// the slot of the script's declared keys.</summary>
    public string? CheckScriptCall(Client caller, Client fake, CommandDef cmd, CommandArgs args, ref int scriptSlot)
    {
        if ((caller.Flags & ClientFlags.Master) != 0) return null;
        if (cmd.FirstKey <= 0 && !cmd.Is(CommandFlags.MovableKeys)) return null;
        fake.Flags &= ~(ClientFlags.ReadOnly | ClientFlags.Asking);
        fake.Flags |= caller.Flags & (ClientFlags.ReadOnly | ClientFlags.Asking);
        var (node, slot, code) = GetNode(fake, cmd, args, isExec: false, (fake.Flags & ClientFlags.Asking) != 0);
        if (code != Redirect.None || (node != null && node != _svc.Node.Myself))
        {
            return code switch
            {
                Redirect.DownRoState => "ERR Script attempted to execute a write command while the cluster is down and readonly",
                Redirect.DownState => "ERR Script attempted to execute a command while the cluster is down",
                _ => "ERR Script attempted to access a non local key in a cluster node",
            };
        }
        if (slot != -1)
        {
            if (scriptSlot == -1) scriptSlot = slot;
            else if (scriptSlot != slot) return "ERR Script attempted to access keys that do not hash to the same slot";
        }
        return null;
    }

    private (Peer? Node, int Slot, Redirect Code) GetNode(Client client, CommandDef cmd, CommandArgs args, bool isExec, bool asking)
    {
        var cl = _svc.Node;
        Peer? n = null;
        ReadOnlySpan<byte> firstKey = default;
        bool haveFirst = false;
        int slot = -1;
        bool multipleKeys = false, migrating = false, importing = false;
        int missing = 0, existing = 0;
        bool pubsubShard = cmd.Name is "ssubscribe" or "sunsubscribe" or "spublish";
        bool anyWrite = _server.IsWriteWithScriptFlags(cmd, args);

        int count = isExec ? client.MultiQueue?.Count ?? 0 : 1;
        for (int c = 0; c < count; c++)
        {
            CommandDef mcmd = cmd;
            CommandArgs margs = args;
            if (isExec)
            {
                var queued = client.MultiQueue![c];
                var q = _server.Commands.Lookup(queued[0]);
                if (q == null) continue;
                if (q.Subcommands != null && queued.Length > 1) q = CommandTable.LookupSub(q, queued[1]) ?? q;
                _queuedArgs.SetOwned(queued);
                mcmd = q;
                margs = _queuedArgs;
                anyWrite |= q.Is(CommandFlags.Write);
            }
            KeyPositions(mcmd, margs, _positions);
            foreach (int pos in _positions)
            {
                var key = margs[pos];
                int thisSlot = HashSlot.Of(key);
                if (!haveFirst)
                {
                    haveFirst = true;
                    firstKey = isExec ? client.MultiQueue![c][pos] : key;
                    slot = thisSlot;
                    n = cl.SlotOwner(slot);
                    if (n == null) return (null, slot, Redirect.DownUnbound);
                    if (n == cl.Myself && cl.MigratingTo(slot) != null) migrating = true;
                    else if (cl.ImportingFrom(slot) != null) importing = true;
                }
                else if (!key.SequenceEqual(firstKey))
                {
                    if (slot != thisSlot) return (null, slot, Redirect.CrossSlot);
                    multipleKeys = true;
                }
                if ((migrating || importing) && !pubsubShard)
                {
                    if (_server.Keyspace[0].Lookup(key) == null) missing++;
                    else existing++;
                }
            }
        }
        if (!haveFirst) return (null, -1, Redirect.None);

        var cfg = _server.Config;
        if (!cl.StateOk)
        {
            if (pubsubShard)
            {
                if (!cfg.ClusterAllowPubsubshardWhenDown) return (null, slot, Redirect.DownState);
            }
            else if (!cfg.ClusterAllowReadsWhenDown) return (null, slot, Redirect.DownState);
            else if (anyWrite) return (null, slot, Redirect.DownRoState);
        }
        if ((migrating || importing) && cmd.Name == "migrate") return (cl.Myself, slot, Redirect.None);
        if (migrating && missing > 0)
            return existing > 0 ? (null, slot, Redirect.Unstable) : (cl.MigratingTo(slot), slot, Redirect.Ask);
        if (importing && (asking || cmd.Is(CommandFlags.Asking)))
            return multipleKeys && missing > 0 ? (null, slot, Redirect.Unstable) : (cl.Myself, slot, Redirect.None);
        if (((client.Flags & ClientFlags.ReadOnly) != 0 || pubsubShard) && !anyWrite &&
            cl.Myself.IsReplica && cl.Myself.Master == n)
            return (cl.Myself, slot, Redirect.None);
        return (n, slot, n != cl.Myself ? Redirect.Moved : Redirect.None);
    }

    private readonly List<int> _positions = new();

    /// <summary>getKeysFromCommand: the command's key finder when it has one, else the legacy
    /// first/last/step range (which includes shard channels).</summary>
    internal static void KeyPositions(CommandDef cmd, CommandArgs args, List<int> into)
    {
        into.Clear();
        if (cmd.Keys != null)
        {
            foreach (int p in cmd.Keys(args)) if (p > 0 && p < args.Count) into.Add(p);
            return;
        }
        if (cmd.FirstKey <= 0) return;
        int last = cmd.LastKey < 0 ? args.Count + cmd.LastKey : cmd.LastKey;
        if (last >= args.Count) last = args.Count - 1;
        for (int i = cmd.FirstKey; i <= last; i += Math.Max(cmd.Step, 1)) into.Add(i);
    }

    private string Describe(Peer? node, int slot, Redirect code) => code switch
    {
        Redirect.CrossSlot => CrossSlot,
        Redirect.Unstable => TryAgain,
        Redirect.DownState => Down,
        Redirect.DownRoState => DownReadOnly,
        Redirect.DownUnbound => Unbound,
        Redirect.Ask => $"ASK {slot} {Endpoint(node!)}:{node!.Port}",
        _ => $"MOVED {slot} {Endpoint(node!)}:{node!.Port}",
    };

    /// <summary>getPreferredEndpoint.</summary>
    public string Endpoint(Peer n) => _server.Config.ClusterPreferredEndpointType switch
    {
        "hostname" => n.Hostname.Length > 0 ? n.Hostname : "?",
        "unknown-endpoint" => "",
        _ => n.Ip,
    };
}
