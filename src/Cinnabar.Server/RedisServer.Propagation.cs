using System.Buffers.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server;

/// <summary>A consumer of the propagated command stream (the AOF, the replication backlog).</summary>
/// <summary>Where a propagated command goes (Redis's PROPAGATE_AOF / PROPAGATE_REPL; a script's redis.set_repl).</summary>
[Flags]
public enum PropagationTargets
{
    None = 0,
    Aof = 1,
    Replicas = 2,
    All = Aof | Replicas,
}

public interface ICommandStreamConsumer
{
    /// <summary>Receives RESP-encoded commands, already preceded by SELECT when the db changed for this consumer.</summary>
    void Append(ReadOnlySpan<byte> resp);
}

// The single propagation path (DESIGN.md): every successful write is turned into RESP once and
// handed to each consumer (AOF, replication). Each consumer tracks its own selected db, as
// Redis's AOF and replication stream do. Commands issued inside an atomic unit (EXEC, a script)
// are wrapped in MULTI/EXEC when there is more than one, so replicas apply them atomically.
public sealed partial class RedisServer : IPropagationSink
{
    private sealed class ConsumerState
    {
        public required ICommandStreamConsumer Consumer { get; init; }
        public bool IsReplication { get; init; }
        public int SelectedDb = -1;
    }

    private readonly List<ConsumerState> _consumers = new();
    private readonly RespWriter _propBuffer = new(4096);
    private List<(int Db, byte[][] Argv, PropagationTargets Targets)>? _atomicBatch;
    private bool _propagatingFromMaster;
    private int _atomicDepth;

    public void AddStreamConsumer(ICommandStreamConsumer consumer, bool isReplication = false)
    {
        _consumers.Add(new ConsumerState { Consumer = consumer, IsReplication = isReplication });
        Propagator = this;
    }

    public void RemoveStreamConsumer(ICommandStreamConsumer consumer)
    {
        _consumers.RemoveAll(c => c.Consumer == consumer);
        if (_consumers.Count == 0) Propagator = null;
    }

    /// <summary>Forces the next command to each consumer to be preceded by SELECT (after a new AOF file, a new replica).</summary>
    public void ResetSelectedDb(ICommandStreamConsumer consumer)
    {
        foreach (var c in _consumers)
            if (c.Consumer == consumer) c.SelectedDb = -1;
    }

    void IPropagationSink.Propagate(int dbIndex, CommandArgs argv)
    {
        if (_atomicDepth > 0)
        {
            _atomicBatch!.Add((dbIndex, argv.ToOwnedArray(), PropagationTargets.All));
            return;
        }
        EmitOne(dbIndex, argv, null);
    }

    void IPropagationSink.Propagate(int dbIndex, byte[][] argv)
    {
        if (_atomicDepth > 0)
        {
            _atomicBatch!.Add((dbIndex, argv, PropagationTargets.All));
            return;
        }
        EmitOne(dbIndex, null, argv);
    }

    /// <summary>Propagates to the AOF, the replicas, both, or (None) nowhere.</summary>
    public void PropagateTo(int dbIndex, byte[][] argv, PropagationTargets targets)
    {
        if (Propagator == null || targets == PropagationTargets.None) return;
        if (_atomicDepth > 0)
        {
            _atomicBatch!.Add((dbIndex, argv, targets));
            return;
        }
        EmitOne(dbIndex, null, argv, targets);
    }

    /// <summary>
    /// PUBLISH reaches replicas (so their subscribers get the message) but not the AOF, where a
    /// reload would publish it again (forceCommandPropagation with PROPAGATE_REPL).
    /// </summary>
    public void PropagateToReplicasOnly(int dbIndex, byte[][] argv) => PropagateTo(dbIndex, argv, PropagationTargets.Replicas);

    /// <summary>Starts collecting propagated commands into one atomic unit (EXEC, EVAL).</summary>
    public void BeginAtomicPropagation()
    {
        if (_atomicDepth++ == 0) _atomicBatch = new List<(int, byte[][], PropagationTargets)>();
    }

    /// <summary>True inside EXEC or a script: their commands run as one unit.</summary>
    public bool InAtomicUnit => _atomicDepth > 0;

    public void EndAtomicPropagation()
    {
        if (--_atomicDepth > 0) return;
        var batch = _atomicBatch!;
        _atomicBatch = null;
        EmitAtomicBatch(batch);
        // Evictions the unit deferred (CONFIG SET maxmemory inside it) follow it in the stream.
        RunDeferredEviction();
    }

    private void EmitAtomicBatch(List<(int Db, byte[][] Argv, PropagationTargets Targets)> batch)
    {
        if (batch.Count == 0 || _consumers.Count == 0) return;
        if (batch.Count == 1)
        {
            EmitOne(batch[0].Db, null, batch[0].Argv, batch[0].Targets);
            return;
        }
        EmitOne(batch[0].Db, null, [ "MULTI"u8.ToArray() ]);
        foreach (var (db, argv, targets) in batch) EmitOne(db, null, argv, targets);
        EmitOne(batch[^1].Db, null, [ "EXEC"u8.ToArray() ]);
    }

    private void EmitOne(int dbIndex, CommandArgs? args, byte[][]? owned, PropagationTargets targets = PropagationTargets.All)
    {
        if (_consumers.Count == 0) return;
        var w = _propBuffer;
        w.Clear();
        int count = args?.Count ?? owned!.Length;
        w.WriteArrayHeader(count);
        for (int i = 0; i < count; i++) w.WriteBulk(args != null ? args[i] : owned![i]);
        var cmd = new ReadOnlySpan<byte>(w.Buffer, 0, w.Length);
        Span<byte> sel = stackalloc byte[48];
        foreach (var c in _consumers)
        {
            // On a replica the replication stream is the master's bytes, proxied as received;
            // its own writes (replica-read-only no) never reach sub-replicas, as in Redis.
            if (c.IsReplication && (_propagatingFromMaster || IsReplica)) continue;
            if ((targets & (c.IsReplication ? PropagationTargets.Replicas : PropagationTargets.Aof)) == 0) continue;
            if (c.SelectedDb != dbIndex)
            {
                int n = WriteSelect(sel, dbIndex);
                c.Consumer.Append(sel[..n]);
                c.SelectedDb = dbIndex;
            }
            c.Consumer.Append(cmd);
        }
    }

    private static int WriteSelect(Span<byte> buf, int db)
    {
        Span<byte> num = stackalloc byte[12];
        Utf8Formatter.TryFormat(db, num, out int n);
        int p = 0;
        "*2\r\n$6\r\nSELECT\r\n$"u8.CopyTo(buf);
        p += 17;
        Utf8Formatter.TryFormat(n, buf[p..], out int m);
        p += m;
        buf[p++] = (byte)'\r';
        buf[p++] = (byte)'\n';
        num[..n].CopyTo(buf[p..]);
        p += n;
        buf[p++] = (byte)'\r';
        buf[p++] = (byte)'\n';
        return p;
    }
}
