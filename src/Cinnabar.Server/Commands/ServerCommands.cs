using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Server.Commands;

/// <summary>TIME LASTSAVE SHUTDOWN MONITOR SLOWLOG LATENCY MEMORY (Redis 7.0 replies and errors).</summary>
public sealed class ServerCommands : ICommandFamily
{
    public void Register(CommandTable t)
    {
        const string g = "server";
        t.Add("time", 1, "loading stale fast", 0, 0, 0, "@fast", Time, g, "Returns the server time.", "2.6.0").Tips = ["nondeterministic_output"];
        t.Add("shutdown", -1, "admin noscript loading stale no_multi sentinel allow_busy", 0, 0, 0, "@admin @slow @dangerous", Shutdown, g,
            "Synchronously saves the database(s) to disk and shuts down the Redis server.", "1.0.0", "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)");
        t.Add("monitor", 1, "admin noscript loading stale", 0, 0, 0, "@admin @slow @dangerous", Monitor, g,
            "Listens for all requests received by the server in real-time.", "1.0.0");

        var slowlog = t.AddContainer("slowlog", -2, g, "A container for slow log commands", "2.2.12");
        const string sf = "admin loading stale";
        const string sacl = "@admin @slow @dangerous";
        t.AddSub(slowlog, "get", -2, sf, 0, 0, 0, sacl, SlowlogGet, "Get the slow log's entries", "2.2.12", "O(N) where N is the number of entries returned").Tips = ["request_policy:all_nodes", "nondeterministic_output"];
        t.AddSub(slowlog, "len", 2, sf, 0, 0, 0, sacl, ctx => ctx.Reply.WriteInteger(ctx.Server.Slowlog.Count), "Get the slow log's length", "2.2.12").Tips = ["request_policy:all_nodes", "response_policy:agg_sum", "nondeterministic_output"];
        t.AddSub(slowlog, "reset", 2, sf, 0, 0, 0, sacl, ctx => { ctx.Server.SlowlogReset(); ctx.Reply.WriteOk(); }, "Clear all entries from the slow log", "2.2.12", "O(N) where N is the number of entries in the slowlog").Tips = ["request_policy:all_nodes", "response_policy:all_succeeded"];
        t.AddSub(slowlog, "help", 2, "loading stale", 0, 0, 0, "@slow", SlowlogHelp, "Show helpful text about the different subcommands", "6.2.0");

        var latency = t.AddContainer("latency", -2, g, "A container for latency diagnostics commands", "2.8.13");
        const string lf = "admin noscript loading stale";
        string[] nodesSpecial = ["nondeterministic_output", "request_policy:all_nodes", "response_policy:special"];
        t.AddSub(latency, "latest", 2, lf, 0, 0, 0, sacl, LatencyLatest, "Return the latest latency samples for all events.", "2.8.13").Tips = nodesSpecial;
        t.AddSub(latency, "history", 3, lf, 0, 0, 0, sacl, LatencyHistory, "Return timestamp-latency samples for the event.", "2.8.13").Tips = nodesSpecial;
        t.AddSub(latency, "reset", -2, lf, 0, 0, 0, sacl, LatencyReset, "Reset latency data for one or more events.", "2.8.13").Tips = ["request_policy:all_nodes", "response_policy:all_succeeded"];
        t.AddSub(latency, "doctor", 2, lf, 0, 0, 0, sacl, LatencyDoctor, "Return a human readable latency analysis report.", "2.8.13").Tips = nodesSpecial;
        t.AddSub(latency, "graph", 3, lf, 0, 0, 0, sacl, LatencyGraph, "Return a latency graph for the event.", "2.8.13").Tips = nodesSpecial;
        t.AddSub(latency, "histogram", -2, lf, 0, 0, 0, sacl, LatencyHistogram, "Return the cumulative distribution of latencies of a subset of commands or all.", "7.0.0", "O(N) where N is the number of commands with latency information being retrieved.").Tips = nodesSpecial;
        t.AddSub(latency, "help", 2, "loading stale", 0, 0, 0, "@slow", LatencyHelp, "Show helpful text about the different subcommands.", "2.8.13");

        var memory = t.AddContainer("memory", -2, g, "A container for memory diagnostics commands", "4.0.0");
        t.AddSub(memory, "usage", -3, "readonly", 2, 2, 1, "@read @slow", MemoryUsage, "Estimate the memory usage of a key", "4.0.0", "O(N) where N is the number of samples.");
        t.AddSub(memory, "stats", 2, "", 0, 0, 0, "@slow", MemoryStats, "Show memory usage details", "4.0.0").Tips = ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"];
        t.AddSub(memory, "doctor", 2, "", 0, 0, 0, "@slow", MemoryDoctor, "Outputs memory problems report", "4.0.0").Tips = ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"];
        t.AddSub(memory, "malloc-stats", 2, "", 0, 0, 0, "@slow", ctx => WriteText(ctx, "Stats not supported for the current allocator"), "Show allocator internal stats", "4.0.0", "Depends on how much memory is allocated, could be slow").Tips = ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"];
        t.AddSub(memory, "purge", 2, "", 0, 0, 0, "@slow", MemoryPurge, "Ask the allocator to release memory", "4.0.0", "Depends on how much memory is allocated, could be slow").Tips = ["request_policy:all_shards", "response_policy:all_succeeded"];
        t.AddSub(memory, "help", 2, "loading stale", 0, 0, 0, "@slow", MemoryHelp, "Show helpful text about the different subcommands", "4.0.0");
    }

    private static void WriteText(CommandContext ctx, string text)
    {
        if (ctx.Reply.Protocol >= 3) ctx.Reply.WriteVerbatim(text);
        else ctx.Reply.WriteBulk(text);
    }

    private static void Time(CommandContext ctx)
    {
        long us = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;
        ctx.Reply.WriteArrayHeader(2);
        ctx.Reply.WriteBulkInteger(us / 1_000_000);
        ctx.Reply.WriteBulkInteger(us % 1_000_000);
    }

    // ---------------------------------------------------------------- SHUTDOWN / MONITOR

    private static void Shutdown(CommandContext ctx)
    {
        bool? save = null;
        bool now = false, force = false, abort = false;
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "NOSAVE") && save == null) save = false;
            else if (ctx.ArgIs(i, "SAVE") && save == null) save = true;
            else if (ctx.ArgIs(i, "NOW")) now = true;
            else if (ctx.ArgIs(i, "FORCE")) force = true;
            else if (ctx.ArgIs(i, "ABORT")) abort = true;
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        if (abort && (save != null || now || force))
        {
            ctx.SyntaxError();
            return;
        }
        if (abort)
        {
            if (ctx.Server.ShutdownCoordinator.Abort()) ctx.Reply.WriteOk();
            else ctx.Error(Errors.NoShutdownInProgress);
            return;
        }
        // Without NOW a master with lagging replicas blocks this client until they caught up.
        string? err = ctx.Server.ShutdownCoordinator.Prepare(save, now, force, ctx);
        if (!string.IsNullOrEmpty(err)) ctx.Error(err.StartsWith("ERR", StringComparison.Ordinal) ? err : "ERR " + err);
    }

    private static void Monitor(CommandContext ctx)
    {
        var c = ctx.Client;
        // A replica or an existing monitor gets no reply (Redis ignores the command).
        if ((c.Flags & (ClientFlags.Replica | ClientFlags.Monitor)) != 0) return;
        c.Flags |= ClientFlags.Monitor;
        ctx.Server.Monitors.Add(c);
        ctx.Reply.WriteOk();
    }

    // ---------------------------------------------------------------- SLOWLOG

    private static void SlowlogGet(CommandContext ctx)
    {
        long count = 10;
        if (ctx.ArgCount == 3)
        {
            if (!RequestParser.TryParseLong(ctx.Arg(2), out count) || count < -1)
            {
                ctx.Error("ERR count should be greater than or equal to -1");
                return;
            }
            if (count == -1) count = long.MaxValue;
        }
        else if (ctx.ArgCount > 3)
        {
            ctx.Error($"ERR unknown subcommand or wrong number of arguments for '{Errors.Truncate(ctx.ArgString(1))}'. Try SLOWLOG HELP.");
            return;
        }
        var log = ctx.Server.Slowlog;
        int n = (int)Math.Min(count, log.Count);
        var w = ctx.Reply;
        w.WriteArrayHeader(n);
        var node = log.First;
        for (int i = 0; i < n && node != null; i++, node = node.Next)
        {
            var e = node.Value;
            w.WriteArrayHeader(6);
            w.WriteInteger(e.Id);
            w.WriteInteger(e.TimestampSeconds);
            w.WriteInteger(e.Micros);
            w.WriteArrayHeader(e.Args.Length);
            foreach (var a in e.Args) w.WriteBulk(a);
            w.WriteBulk(e.ClientAddress);
            w.WriteBulk(e.ClientName);
        }
    }

    private static void SlowlogHelp(CommandContext ctx) => HelpText.Write(ctx,
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.");

    // ---------------------------------------------------------------- LATENCY

    private static void LatencyLatest(CommandContext ctx) => ctx.Server.Latency.WriteLatest(ctx.Reply);

    private static void LatencyHistory(CommandContext ctx) => ctx.Server.Latency.WriteHistory(ctx.Reply, ctx.ArgString(2));

    private static void LatencyReset(CommandContext ctx)
    {
        var latency = ctx.Server.Latency;
        int n = 0;
        if (ctx.ArgCount == 2) n = latency.Reset(null);
        else
            for (int i = 2; i < ctx.ArgCount; i++) n += latency.Reset(ctx.ArgString(i));
        ctx.Reply.WriteInteger(n);
    }

    private static void LatencyDoctor(CommandContext ctx)
    {
        var c = ctx.Server.Config;
        var context = new LatencyMonitor.DoctorContext(c.LatencyMonitorThresholdMs, c.SlowlogLogSlowerThanUs, c.Hz,
            AppendFsyncAlways: string.Equals(c.AppendFsync, "always", StringComparison.Ordinal),
            TransparentHugePages: LatencyMonitor.HasAnonHugePages());
        WriteText(ctx, ctx.Server.Latency.Doctor(context, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
    }

    private static void LatencyGraph(CommandContext ctx)
    {
        string ev = ctx.ArgString(2);
        string? graph = ctx.Server.Latency.Graph(ev, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        if (graph == null)
        {
            ctx.Error($"ERR No samples available for event '{ev}'");
            return;
        }
        WriteText(ctx, graph);
    }

    /// <summary>
    /// LATENCY HISTOGRAM [command ...]: each command with calls recorded since startup or CONFIG
    /// RESETSTAT, with its cumulative distribution (LatencyHistogram). Named commands are looked up
    /// as "name" or "container|sub"; a container brings its subcommands; unknown names are skipped
    /// and repeats are answered again, as Redis does.
    /// </summary>
    private static void LatencyHistogram(CommandContext ctx)
    {
        var list = new List<CommandDef>();
        void Add(CommandDef c)
        {
            if (c.LatencyHistogram != null) list.Add(c);
            if (c.Subcommands != null)
                foreach (var sub in c.Subcommands.Values)
                    if (sub.LatencyHistogram != null) list.Add(sub);
        }
        if (ctx.ArgCount == 2)
        {
            foreach (var c in ctx.Server.Commands.All) Add(c);
        }
        else
        {
            for (int i = 2; i < ctx.ArgCount; i++)
            {
                var c = LookupFullName(ctx.Server.Commands, ctx.ArgString(i));
                if (c != null) Add(c);
            }
        }
        var w = ctx.Reply;
        w.WriteMapHeader(list.Count);
        foreach (var c in list)
        {
            w.WriteBulk(c.FullName);
            c.LatencyHistogram!.WriteCdf(w);
        }
    }

    /// <summary>lookupCommandBySds: "get" or "config|set"; anything deeper is unknown.</summary>
    private static CommandDef? LookupFullName(CommandTable table, string name)
    {
        var parts = name.Split('|');
        if (parts.Length > 2) return null;
        var c = table.Lookup(parts[0]);
        if (c == null || parts.Length == 1) return c;
        return c.Subcommands != null && c.Subcommands.TryGetValue(parts[1], out var sub) ? sub : null;
    }

    private static void LatencyHelp(CommandContext ctx) => HelpText.Write(ctx,
        "LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return a human readable latency analysis report.",
        "GRAPH <event>",
        "    Return an ASCII latency graph for the <event> class.",
        "HISTORY <event>",
        "    Return time-latency samples for the <event> class.",
        "LATEST",
        "    Return the latest latency samples for all events.",
        "RESET [<event> ...]",
        "    Reset latency data of one or more <event> classes.",
        "    (default: reset all data for all event classes)",
        "HISTOGRAM [COMMAND ...]",
        "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
        "    If no commands are specified then all histograms are replied.");

    // ---------------------------------------------------------------- MEMORY

    /// <summary>Per-key overhead beyond the value: the key bytes, its table entry and header.</summary>
    public static long KeyOverhead(int keyLength) => keyLength + 1 + 3 + 24;

    private static void MemoryUsage(CommandContext ctx)
    {
        int samples = 5;
        for (int i = 3; i < ctx.ArgCount; i++)
        {
            if (ctx.ArgIs(i, "SAMPLES") && i + 1 < ctx.ArgCount)
            {
                if (!ctx.TryGetLong(i + 1, out long n)) return;
                samples = n <= 0 ? int.MaxValue : (int)Math.Min(n, int.MaxValue);
                i++;
            }
            else
            {
                ctx.SyntaxError();
                return;
            }
        }
        var o = ctx.Db.Lookup(ctx.Arg(2));
        if (o == null)
        {
            ctx.Reply.WriteNull();
            return;
        }
        ctx.Reply.WriteInteger(o.MemoryUsage(samples) + KeyOverhead(ctx.Arg(2).Length));
    }

    private static void MemoryStats(CommandContext ctx)
    {
        var s = ctx.Server;
        long used = RedisServer.UsedMemory();
        s.UsedMemoryPeak = Math.Max(s.UsedMemoryPeak, used);
        long startup = Math.Min(s.UsedMemoryStartup, used);
        long clients = 0;
        foreach (var c in s.Clients) clients += c.QueryBufferCapacity + c.Reply.Buffer.Length;
        var w = ctx.Reply;
        var dbs = new List<(int Index, int Keys, int Expires)>();
        long keys = 0;
        for (int i = 0; i < s.Keyspace.Count; i++)
        {
            var db = s.Keyspace[i];
            if (db.Count == 0) continue;
            dbs.Add((i, db.Count, db.Expires.Count));
            keys += db.Count;
        }
        long overheadTotal = startup + clients;
        long dataset = Math.Max(0, used - overheadTotal);
        long rss = Environment.WorkingSet;
        var gc = GC.GetGCMemoryInfo();
        long heap = Math.Max(gc.HeapSizeBytes, used);
        long committed = Math.Max(gc.TotalCommittedBytes, heap);
        w.WriteMapHeader(27 + dbs.Count);
        void Int(string k, long v)
        {
            w.WriteBulk(k);
            w.WriteInteger(v);
        }
        void Dbl(string k, double v)
        {
            w.WriteBulk(k);
            w.WriteDouble(v);
        }
        Int("peak.allocated", s.UsedMemoryPeak);
        Int("total.allocated", used);
        Int("startup.allocated", startup);
        Int("replication.backlog", 0);
        Int("clients.slaves", 0);
        Int("clients.normal", clients);
        Int("cluster.links", 0);
        Int("aof.buffer", 0);
        Int("lua.caches", 0);
        Int("functions.caches", 0);
        foreach (var (index, k, e) in dbs)
        {
            w.WriteBulk("db." + index.ToString(CultureInfo.InvariantCulture));
            w.WriteMapHeader(3);
            Int("overhead.hashtable.main", k * 24L);
            Int("overhead.hashtable.expires", e * 24L);
            Int("overhead.hashtable.slot-to-keys", 0);
        }
        Int("overhead.total", overheadTotal);
        Int("keys.count", keys);
        Int("keys.bytes-per-key", keys == 0 ? 0 : (used - startup) / keys);
        Int("dataset.bytes", dataset);
        Dbl("dataset.percentage", used - startup <= 0 ? 0 : dataset * 100.0 / (used - startup));
        Dbl("peak.percentage", s.UsedMemoryPeak == 0 ? 0 : used * 100.0 / s.UsedMemoryPeak);
        Int("allocator.allocated", used);
        Int("allocator.active", heap);
        Int("allocator.resident", committed);
        Dbl("allocator-fragmentation.ratio", used == 0 ? 0 : (double)heap / used);
        Int("allocator-fragmentation.bytes", heap - used);
        Dbl("allocator-rss.ratio", heap == 0 ? 0 : (double)committed / heap);
        Int("allocator-rss.bytes", committed - heap);
        Dbl("rss-overhead.ratio", committed == 0 ? 0 : (double)rss / committed);
        Int("rss-overhead.bytes", rss - committed);
        Dbl("fragmentation", used == 0 ? 0 : (double)rss / used);
        Int("fragmentation.bytes", rss - used);
    }

    private static void MemoryDoctor(CommandContext ctx)
    {
        long used = RedisServer.UsedMemory();
        if (ctx.Server.Keyspace.TotalKeys() == 0 || used < 5L * 1024 * 1024)
        {
            WriteText(ctx, "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting.\n");
            return;
        }
        WriteText(ctx, "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.\n");
    }

    private static void MemoryPurge(CommandContext ctx)
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        ctx.Reply.WriteOk();
    }

    private static void MemoryHelp(CommandContext ctx) => HelpText.Write(ctx,
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).");
}
