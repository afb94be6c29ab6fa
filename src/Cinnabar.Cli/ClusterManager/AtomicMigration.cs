using System.Diagnostics;
using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>
/// Beyond redis-cli: --cluster-atomic. When every master answers CLUSTER MIGRATION STATUS ALL,
/// planned slots move per (source, target) pair with one CLUSTER MIGRATION IMPORT sent to the
/// target (clients never see ASK; the target claims the slots at once at the end), polled with
/// CLUSTER MIGRATION STATUS ID until the task completes or fails.
/// </summary>
internal static class AtomicMigration
{
    private const int PollMs = 100;

    /// <summary>True when every master supports CLUSTER MIGRATION; otherwise prints a notice
    /// (the caller falls back to MIGRATE).</summary>
    public static bool Supported(CmCluster cluster)
    {
        foreach (var n in cluster.Masters)
        {
            var r = n.Command("CLUSTER", "MIGRATION", "STATUS", "ALL");
            if (r != null && r.Type != RespType.Error) continue;
            string why = r == null ? "no reply" : r.Text;
            MoveOut.Warn($"*** --cluster-atomic: {n.Ip}:{n.Port} does not support CLUSTER MIGRATION ({why}); moving slots with MIGRATE instead.\n");
            return false;
        }
        return true;
    }

    /// <summary>
    /// Moves the planned slots to target, one task per source in the order the plan first names
    /// it. Reshard style prints a line per task; rebalance style prints a '#' per slot once the
    /// task is done (the caller ends the line). The local model is updated as MoveSlot's update.
    /// </summary>
    public static bool MoveTable(CmCluster cluster, List<ReshardVerb.Move> table, CmNode target, bool rebalanceStyle)
    {
        var bySource = new List<(CmNode Source, List<int> Slots)>();
        foreach (var m in table)
        {
            int i = bySource.FindIndex(x => ReferenceEquals(x.Source, m.Source));
            if (i < 0) bySource.Add((m.Source, [m.Slot]));
            else bySource[i].Slots.Add(m.Slot);
        }
        long throttle = cluster.Cmd.Throttle;
        var progress = MoveProgress.Current;
        foreach (var (source, slots) in bySource)
        {
            slots.Sort();
            // With --cluster-throttle, tasks of about one second's worth of keys each, and a
            // pause after each as needed to keep the average under the rate.
            foreach (var chunk in throttle > 0 ? Chunks(source, slots, throttle) : [slots])
            {
                if (!RunTask(cluster, source, target, chunk, rebalanceStyle, progress)) return false;
                progress?.ThrottleNow();
            }
        }
        return true;
    }

    /// <summary>Consecutive runs of the slots holding at most maxKeys keys (at least one slot each).</summary>
    private static List<List<int>> Chunks(CmNode source, List<int> slots, long maxKeys)
    {
        var chunks = new List<List<int>>();
        var cur = new List<int>();
        long keys = 0;
        foreach (int s in slots)
        {
            var r = source.Command("CLUSTER", "COUNTKEYSINSLOT", s.ToString(CultureInfo.InvariantCulture));
            long n = r is { Type: RespType.Integer } ? r.Integer : 0;
            if (cur.Count > 0 && keys + n > maxKeys)
            {
                chunks.Add(cur);
                cur = [];
                keys = 0;
            }
            cur.Add(s);
            keys += n;
        }
        if (cur.Count > 0) chunks.Add(cur);
        return chunks;
    }

    /// <summary>One CLUSTER MIGRATION IMPORT of the slots from source to target, polled to its end.</summary>
    private static bool RunTask(CmCluster cluster, CmNode source, CmNode target, List<int> slots, bool rebalanceStyle, MoveProgress? progress)
    {
        var ranges = Ranges(slots);
        string rangeText = string.Join(",", ranges.Select(r => r.Start == r.End ? r.Start.ToString(CultureInfo.InvariantCulture) : string.Create(CultureInfo.InvariantCulture, $"{r.Start}-{r.End}")));
        if (!rebalanceStyle)
            MoveOut.Print($"Moving slots {rangeText} from {source.Ip}:{source.Port} to {target.Ip}:{target.Port} (atomic): ");
        var args = new List<string> { "CLUSTER", "MIGRATION", "IMPORT" };
        foreach (var (s, e) in ranges)
        {
            args.Add(s.ToString(CultureInfo.InvariantCulture));
            args.Add(e.ToString(CultureInfo.InvariantCulture));
        }
        var r = target.Command([.. args]);
        if (r == null || r.Type == RespType.Error)
        {
            if (!rebalanceStyle) MoveOut.Print("\n");
            MoveOut.Err($"*** CLUSTER MIGRATION IMPORT on {target.Ip}:{target.Port} failed: {(r == null ? "no reply" : r.Text)}\n");
            return false;
        }
        string id = r.Text;
        progress?.BeginTask();
        Dictionary<string, RespReply>? status;
        while (true)
        {
            status = Status(target, id, out string? err);
            if (status == null)
            {
                if (!rebalanceStyle) MoveOut.Print("\n");
                MoveOut.Err($"*** CLUSTER MIGRATION STATUS ID {id} on {target.Ip}:{target.Port}: {err}\n");
                return false;
            }
            string state = Text(status, "state");
            long keys = Int(status, "keys"), bytes = Int(status, "bytes");
            progress?.SetTaskCounters(slots.Count, state == "completed", keys, bytes);
            if (state == "completed") break;
            if (state is "failed" or "canceled")
            {
                if (!rebalanceStyle) MoveOut.Print("\n");
                string lastError = Text(status, "last_error");
                MoveOut.Err($"*** Slot migration task {id} {state}{(lastError.Length > 0 ? ": " + lastError : "")}\n");
                return false;
            }
            Thread.Sleep(PollMs);
        }
        long taskKeys = Int(status, "keys");
        // The source finishes once it sees the target owning the slots; then its writes resume.
        WaitSourceDone(source, id);
        foreach (int s in slots)
        {
            source.SlotMap[s] = false;
            target.SlotMap[s] = true;
        }
        WaitAgreement(cluster, target, slots);
        if (rebalanceStyle) MoveOut.Print(new string('#', slots.Count));
        else MoveOut.Print(string.Create(CultureInfo.InvariantCulture, $"done, {taskKeys} keys (task {id})\n"));
        return true;
    }

    private static List<(int Start, int End)> Ranges(List<int> sorted)
    {
        var ranges = new List<(int, int)>();
        int i = 0;
        while (i < sorted.Count)
        {
            int start = sorted[i], end = start;
            while (i + 1 < sorted.Count && sorted[i + 1] == end + 1) end = sorted[++i];
            ranges.Add((start, end));
            i++;
        }
        return ranges;
    }

    /// <summary>CLUSTER MIGRATION STATUS ID id: the task's fields (a RESP2 flat array or a map).</summary>
    private static Dictionary<string, RespReply>? Status(CmNode node, string id, out string? err)
    {
        err = null;
        var r = node.Command("CLUSTER", "MIGRATION", "STATUS", "ID", id);
        if (r == null)
        {
            err = "connection lost";
            return null;
        }
        if (r.Type == RespType.Error)
        {
            err = r.Text;
            return null;
        }
        if (r.Elements.Count == 0)
        {
            err = "no such task";
            return null;
        }
        var t = r.Elements[0];
        var fields = new Dictionary<string, RespReply>(StringComparer.Ordinal);
        for (int i = 0; i + 1 < t.Elements.Count; i += 2) fields[t.Elements[i].Text] = t.Elements[i + 1];
        return fields;
    }

    private static string Text(Dictionary<string, RespReply> f, string name) =>
        f.TryGetValue(name, out var v) ? (v.Type == RespType.Integer ? v.Integer.ToString(CultureInfo.InvariantCulture) : Encoding.UTF8.GetString(v.Str)) : "";

    private static long Int(Dictionary<string, RespReply> f, string name) =>
        f.TryGetValue(name, out var v) ? (v.Type == RespType.Integer ? v.Integer : CmNode.AtoL(v.Text)) : 0;

    private static void WaitSourceDone(CmNode source, string id)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 10_000)
        {
            var s = Status(source, id, out _);
            if (s == null) return;
            if (Text(s, "state") is "completed" or "failed" or "canceled") return;
            Thread.Sleep(PollMs);
        }
    }

    /// <summary>Waits (10 s at most) until every master's CLUSTER SLOTS shows target owning the slots.</summary>
    private static void WaitAgreement(CmCluster cluster, CmNode target, List<int> slots)
    {
        var sw = Stopwatch.StartNew();
        while (sw.ElapsedMilliseconds < 10_000)
        {
            bool agreed = true;
            foreach (var n in cluster.Masters)
            {
                var r = n.Command("CLUSTER", "SLOTS");
                if (r == null || r.Type == RespType.Error) continue;
                var owner = new Dictionary<int, string>();
                foreach (var range in r.Elements)
                {
                    if (range.Elements.Count < 3 || range.Elements[2].Elements.Count < 3) continue;
                    long from = range.Elements[0].Integer, to = range.Elements[1].Integer;
                    string name = range.Elements[2].Elements[2].Text;
                    foreach (int s in slots)
                        if (s >= from && s <= to) owner[s] = name;
                }
                if (slots.Any(s => !owner.TryGetValue(s, out var o) || o != target.Name))
                {
                    agreed = false;
                    break;
                }
            }
            if (agreed) return;
            Thread.Sleep(PollMs);
        }
    }
}
