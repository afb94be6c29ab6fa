using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Cinnabar.Server.Commands;

/// <summary>
/// INFO [section ...] with Redis 7.0's sections, field names and order. Sections are joined by a
/// blank line; every line ends with CRLF; the reply is a bulk string (verbatim "txt" in RESP3).
/// "default" = server clients memory persistence stats replication cpu modules errorstats
/// cluster keyspace; "all" adds commandstats and latencystats; "everything" = all + module sections.
/// </summary>
public sealed class InfoCommand : ICommandFamily
{
    private static readonly string[] DefaultSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "errorstats", "cluster", "keyspace"];
    private static readonly string[] AllSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace"];

    public void Register(CommandTable t)
    {
        t.Add("info", -1, "loading stale sentinel", 0, 0, 0, "@slow @dangerous", Info, "server",
            "Returns information and statistics about the server.", "1.0.0", "O(1)").Tips = ["nondeterministic_output", "request_policy:all_shards", "response_policy:special"];
    }

    private static void Info(CommandContext ctx)
    {
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        bool all = false;
        if (ctx.ArgCount == 1) wanted.UnionWith(DefaultSections);
        for (int i = 1; i < ctx.ArgCount; i++)
        {
            string s = ctx.ArgString(i).ToLowerInvariant();
            switch (s)
            {
                case "default": wanted.UnionWith(DefaultSections); break;
                case "all" or "everything": wanted.UnionWith(AllSections); all = true; break;
                default: wanted.Add(s); break;
            }
        }
        string text = Build(ctx.Server, wanted, all);
        if (ctx.Reply.Protocol >= 3) ctx.Reply.WriteVerbatim(text);
        else ctx.Reply.WriteBulk(text);
    }

    /// <summary>Builds the INFO text for the given (lower-case) section names.</summary>
    public static string Build(RedisServer server, IReadOnlySet<string> wanted, bool everything = false)
    {
        // used_memory is read before the reply is built: the text being assembled (a StringBuilder
        // of several KB, alive during the young collection) is not part of what Redis reports.
        long used = wanted.Contains("memory") ? RedisServer.UsedMemoryAfterYoungCollection() : 0;
        var sb = new StringBuilder(4096);
        int sections = 0;
        void Section(string name, Action<InfoWriter> body)
        {
            if (!wanted.Contains(name.ToLowerInvariant())) return;
            if (sections++ > 0) sb.Append("\r\n");
            sb.Append("# ").Append(name).Append("\r\n");
            body(new InfoWriter(sb));
        }
        Section("Server", w => ServerSection(server, w));
        Section("Clients", w => ClientsSection(server, w));
        Section("Memory", w => MemorySection(server, w, used));
        Section("Persistence", w => PersistenceSection(server, w));
        Section("Stats", w => StatsSection(server, w));
        Section("Replication", w => ReplicationSection(server, w));
        Section("CPU", w => CpuSection(w));
        Section("Modules", _ => { });
        Section("Commandstats", w => CommandStatsSection(server, w));
        Section("Errorstats", w =>
        {
            foreach (var (code, n) in server.Stats.ErrorCounts) w.Line("errorstat_" + code, "count=" + n);
        });
        Section("Latencystats", w => LatencyStatsSection(server, w));
        foreach (var (name, lines) in server.ExtraInfoSections)
        {
            string title = char.ToUpperInvariant(name[0]) + name[1..];
            Section(title, w => { foreach (var l in lines()) w.Raw(l); });
        }
        Section("Cluster", w => w.Line("cluster_enabled", server.Config.ClusterEnabled ? "1" : "0"));
        Section("Keyspace", w => KeyspaceSection(server, w));
        _ = everything;
        return sb.ToString();
    }

    /// <summary>Appends "name:value\r\n" lines.</summary>
    public readonly struct InfoWriter(StringBuilder sb)
    {
        public void Line(string name, string value) => sb.Append(name).Append(':').Append(value).Append("\r\n");
        public void Line(string name, long value) => Line(name, value.ToString(CultureInfo.InvariantCulture));
        public void Line(string name, double value) => Line(name, value.ToString("F2", CultureInfo.InvariantCulture));
        public void Raw(string line) => sb.Append(line).Append("\r\n");
    }

    private static string OsName()
    {
        string release = "";
        try { release = File.ReadAllText("/proc/sys/kernel/osrelease").Trim(); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        string arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture switch
        {
            System.Runtime.InteropServices.Architecture.X64 => "x86_64",
            System.Runtime.InteropServices.Architecture.Arm64 => "aarch64",
            var a => a.ToString().ToLowerInvariant(),
        };
        string os = OperatingSystem.IsLinux() ? "Linux" : OperatingSystem.IsMacOS() ? "Darwin" : Environment.OSVersion.Platform.ToString();
        return $"{os} {release} {arch}";
    }

    private static readonly Lazy<string> Os = new(OsName);

    // Under "dotnet cinnabar-server.dll" the process path is the dotnet host: report the server's own file.
    private static string Executable()
    {
        string? path = Environment.ProcessPath;
        if (path == null || Path.GetFileNameWithoutExtension(path) == "dotnet")
        {
            var args = Environment.GetCommandLineArgs();
            path = args.Length > 0 ? Path.GetFullPath(args[0]) : "";
        }
        return path;
    }

    private static void ServerSection(RedisServer s, InfoWriter w)
    {
        long nowUs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1000 + (Stopwatch.GetTimestamp() / (Stopwatch.Frequency / 1000000)) % 1000;
        w.Line("redis_version", Config.ServerConfig.RedisVersion);
        w.Line("redis_git_sha1", "00000000");
        w.Line("redis_git_dirty", 0);
        w.Line("redis_build_id", "c1nnab4r0000000");
        w.Line("redis_mode", s.Config.ClusterEnabled ? "cluster" : s.ServerMode);
        w.Line("os", Os.Value);
        w.Line("arch_bits", IntPtr.Size * 8);
        w.Line("monotonic_clock", "POSIX clock_gettime");
        w.Line("multiplexing_api", "epoll");
        w.Line("atomicvar_api", "c11-builtin");
        w.Line("gcc_version", "0.0.0");
        w.Line("process_id", Environment.ProcessId);
        w.Line("process_supervised", "no");
        w.Line("run_id", s.RunId);
        w.Line("tcp_port", s.Config.Port);
        w.Line("server_time_usec", nowUs);
        w.Line("uptime_in_seconds", s.UptimeSeconds);
        w.Line("uptime_in_days", s.UptimeSeconds / 86400);
        w.Line("hz", s.Config.Hz);
        w.Line("configured_hz", s.Config.Hz);
        w.Line("lru_clock", s.Keyspace.LruClock);
        w.Line("executable", Executable());
        w.Line("config_file", s.Config.ConfigFile == null ? "" : Path.GetFullPath(s.Config.ConfigFile));
        w.Line("io_threads_active", 0);
        if (s.ShutdownCoordinator.Initiated) w.Line("shutdown_in_milliseconds", s.ShutdownCoordinator.MillisecondsLeft);
    }

    private static void ClientsSection(RedisServer s, InfoWriter w)
    {
        long maxIn = 0, maxOut = 0;
        int postponed = 0, replicas = 0;
        foreach (var c in s.Clients)
        {
            if ((c.Flags & ClientFlags.Replica) != 0) replicas++;
            // Redis counts a client held by CLIENT PAUSE as blocked (BLOCKED_POSTPONE), with no timeout.
            if (c.WaitingForUnpause) postponed++;
            maxIn = Math.Max(maxIn, c.QueryBufferCapacity);
            maxOut = Math.Max(maxOut, c.PendingOutputBytes);
        }
        // Redis: listLength(server.clients) - listLength(server.slaves).
        w.Line("connected_clients", s.ClientCount - replicas);
        w.Line("cluster_connections", 0);
        w.Line("maxclients", s.Config.MaxClients);
        w.Line("client_recent_max_input_buffer", maxIn);
        w.Line("client_recent_max_output_buffer", maxOut);
        w.Line("blocked_clients", s.BlockedClientCount + postponed);
        w.Line("tracking_clients", s.Tracking.TrackingClients);
        w.Line("clients_in_timeout_table", s.BlockedClientCount);
    }

    private static long Rss()
    {
        try
        {
            var parts = File.ReadAllText("/proc/self/statm").Split(' ');
            return long.Parse(parts[1], CultureInfo.InvariantCulture) * Environment.SystemPageSize;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return Environment.WorkingSet;
        }
    }

    private static long TotalSystemMemory()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                    return long.Parse(line[9..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { }
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    /// <summary>Redis's bytesToHuman: B, K, M, G, T, P with two decimals.</summary>
    public static string Human(long n)
    {
        double d = n;
        string[] units = ["K", "M", "G", "T", "P"];
        if (n < 1024) return n.ToString(CultureInfo.InvariantCulture) + "B";
        int u = -1;
        while (d >= 1024 && u < units.Length - 1)
        {
            d /= 1024;
            u++;
        }
        return d.ToString("F2", CultureInfo.InvariantCulture) + units[u];
    }

    private static void MemorySection(RedisServer s, InfoWriter w, long used)
    {
        s.UsedMemoryPeak = Math.Max(s.UsedMemoryPeak, used);
        long rss = Rss();
        long startup = Math.Min(s.UsedMemoryStartup, used);
        long clientsMem = 0;
        foreach (var c in s.Clients)
        {
            // Redis's mem_clients_normal: normal, pub/sub and master clients (replicas are below).
            if (RedisServer.TypeOf(c) is ClientType.Normal or ClientType.PubSub or ClientType.Master) clientsMem += c.MemoryUsage();
        }
        var repl = ReplicationMemory.Of(s);
        long overhead = startup + repl.Backlog + repl.ClientsSlaves + clientsMem + repl.AofBuffer;
        long dataset = Math.Max(0, used - overhead);
        long sys = TotalSystemMemory();
        var gc = GC.GetGCMemoryInfo();
        long heap = Math.Max(gc.HeapSizeBytes, used);
        long committed = Math.Max(gc.TotalCommittedBytes, heap);
        w.Line("used_memory", used);
        w.Line("used_memory_human", Human(used));
        w.Line("used_memory_rss", rss);
        w.Line("used_memory_rss_human", Human(rss));
        w.Line("used_memory_peak", s.UsedMemoryPeak);
        w.Line("used_memory_peak_human", Human(s.UsedMemoryPeak));
        w.Line("used_memory_peak_perc", Percent(used, s.UsedMemoryPeak) + "%");
        w.Line("used_memory_overhead", overhead);
        w.Line("used_memory_startup", startup);
        w.Line("used_memory_dataset", dataset);
        w.Line("used_memory_dataset_perc", Percent(dataset, Math.Max(1, used - startup)) + "%");
        w.Line("allocator_allocated", used);
        w.Line("allocator_active", heap);
        w.Line("allocator_resident", committed);
        w.Line("total_system_memory", sys);
        w.Line("total_system_memory_human", Human(sys));
        // Reading the stats must not create the scripting host and its Lua states: that would add
        // their memory to used_memory between two INFO calls (unit/obuf-limits compares two).
        var (luaEval, luaFunctions, cachedScripts, functions, libraries) = s.ScriptingIfStarted?.MemoryStats() ?? default;
        w.Line("used_memory_lua", luaEval);
        w.Line("used_memory_vm_eval", luaEval);
        w.Line("used_memory_lua_human", Human(luaEval));
        w.Line("used_memory_scripts_eval", 0);
        w.Line("number_of_cached_scripts", cachedScripts);
        w.Line("number_of_functions", functions);
        w.Line("number_of_libraries", libraries);
        w.Line("used_memory_vm_functions", luaFunctions);
        w.Line("used_memory_vm_total", luaEval + luaFunctions);
        w.Line("used_memory_vm_total_human", Human(luaEval + luaFunctions));
        w.Line("used_memory_functions", 0);
        w.Line("used_memory_scripts", 0);
        w.Line("used_memory_scripts_human", "0B");
        w.Line("maxmemory", s.Config.MaxMemory);
        w.Line("maxmemory_human", Human(s.Config.MaxMemory));
        w.Line("maxmemory_policy", s.Config.MaxMemoryPolicy);
        w.Line("allocator_frag_ratio", Ratio(heap, used));
        w.Line("allocator_frag_bytes", heap - used);
        w.Line("allocator_rss_ratio", Ratio(committed, heap));
        w.Line("allocator_rss_bytes", committed - heap);
        w.Line("rss_overhead_ratio", Ratio(rss, committed));
        w.Line("rss_overhead_bytes", rss - committed);
        w.Line("mem_fragmentation_ratio", Ratio(rss, used));
        w.Line("mem_fragmentation_bytes", rss - used);
        w.Line("mem_not_counted_for_evict", repl.NotCountedForEvict);
        w.Line("mem_replication_backlog", repl.Backlog);
        w.Line("mem_total_replication_buffers", repl.TotalBuffers);
        w.Line("mem_clients_slaves", repl.ClientsSlaves);
        w.Line("mem_clients_normal", clientsMem);
        w.Line("mem_cluster_links", 0);
        w.Line("mem_aof_buffer", repl.AofBuffer);
        w.Line("mem_allocator", "dotnet-gc");
        w.Line("active_defrag_running", 0);
        w.Line("lazyfree_pending_objects", s.LazyFree.PendingObjects);
        w.Line("lazyfreed_objects", s.LazyFree.FreedObjects);
    }

    private static string Percent(long part, long whole) =>
        (whole <= 0 ? 0 : part * 100.0 / whole).ToString("F2", CultureInfo.InvariantCulture);

    private static string Ratio(long a, long b) => (b <= 0 ? 0 : (double)a / b).ToString("F2", CultureInfo.InvariantCulture);

    private static void PersistenceSection(RedisServer s, InfoWriter w)
    {
        var p = s.Rdb;
        var a = s.Aof;
        long nowMs = Environment.TickCount64;
        w.Line("loading", p.Loading ? 1 : 0);
        w.Line("async_loading", s.AsyncLoading ? 1 : 0);
        var child = p.Child;
        w.Line("current_cow_peak", child.CowPeakBytes);
        w.Line("current_cow_size", child.CowBytes);
        // Read live from the snapshots, never a stale report: its age is always 0.
        w.Line("current_cow_size_age", 0);
        w.Line("current_fork_perc", child.ForkPercent);
        w.Line("current_save_keys_processed", child.KeysProcessed);
        w.Line("current_save_keys_total", child.KeysTotal);
        w.Line("rdb_changes_since_last_save", s.Dirty - p.DirtyAtLastSave);
        w.Line("rdb_bgsave_in_progress", p.BgsaveInProgress || s.ReplicationSavesRunning > 0 ? 1 : 0);
        w.Line("rdb_last_save_time", p.LastSaveUnix);
        w.Line("rdb_last_bgsave_status", p.LastBgsaveOk ? "ok" : "err");
        w.Line("rdb_last_bgsave_time_sec", p.LastBgsaveDurationSec);
        w.Line("rdb_current_bgsave_time_sec", p.BgsaveInProgress ? (nowMs - p.CurrentBgsaveStartMs) / 1000 : -1);
        w.Line("rdb_saves", p.SavesCompleted);
        w.Line("rdb_last_cow_size", child.RdbLastCowBytes);
        w.Line("rdb_last_load_keys_expired", s.LastLoadedRdb?.ExpiredSkipped ?? 0);
        w.Line("rdb_last_load_keys_loaded", s.LastLoadedRdb?.KeysLoaded ?? 0);
        w.Line("aof_enabled", a.Enabled ? 1 : 0);
        w.Line("aof_rewrite_in_progress", a.RewriteInProgress ? 1 : 0);
        w.Line("aof_rewrite_scheduled", a.RewriteScheduled ? 1 : 0);
        w.Line("aof_last_rewrite_time_sec", a.LastRewriteTimeSec);
        w.Line("aof_current_rewrite_time_sec", a.RewriteInProgress ? (nowMs - a.CurrentRewriteStartMs) / 1000 : -1);
        w.Line("aof_last_bgrewrite_status", a.LastBgrewriteOk ? "ok" : "err");
        w.Line("aof_rewrites", a.Rewrites);
        w.Line("aof_rewrites_consecutive_failures", 0);
        w.Line("aof_last_write_status", a.LastWriteOk ? "ok" : "err");
        w.Line("aof_last_cow_size", child.AofLastCowBytes);
        w.Line("module_fork_in_progress", 0);
        w.Line("module_fork_last_cow_size", 0);
        if (a.Enabled)
        {
            w.Line("aof_current_size", a.CurrentSize);
            w.Line("aof_base_size", a.BaseSize);
            w.Line("aof_pending_rewrite", a.RewriteScheduled ? 1 : 0);
            w.Line("aof_buffer_length", 0);
            w.Line("aof_pending_bio_fsync", 0);
            w.Line("aof_delayed_fsync", a.DelayedFsync);
        }
        if (p.Loading)
        {
            w.Line("loading_start_time", p.LoadingStartUnix);
            w.Line("loading_total_bytes", 0);
            w.Line("loading_rdb_used_mem", 0);
            w.Line("loading_loaded_bytes", 0);
            w.Line("loading_loaded_perc", 0.0);
            w.Line("loading_eta_seconds", 1);
        }
    }

    private static void StatsSection(RedisServer s, InfoWriter w)
    {
        var st = s.Stats;
        var ks = s.Keyspace;
        int patterns = s.PubSub.PatternCount;
        w.Line("total_connections_received", st.TotalConnections);
        w.Line("total_commands_processed", st.TotalCommands);
        w.Line("instantaneous_ops_per_sec", st.InstantaneousOps);
        w.Line("total_net_input_bytes", st.NetInputBytes);
        w.Line("total_net_output_bytes", st.NetOutputBytes);
        w.Line("total_net_repl_input_bytes", 0);
        w.Line("total_net_repl_output_bytes", 0);
        w.Line("instantaneous_input_kbps", st.InstantaneousInputKbps);
        w.Line("instantaneous_output_kbps", st.InstantaneousOutputKbps);
        w.Line("instantaneous_input_repl_kbps", 0.0);
        w.Line("instantaneous_output_repl_kbps", 0.0);
        w.Line("rejected_connections", st.RejectedConnections);
        w.Line("sync_full", s.Repl.SyncFull);
        w.Line("sync_partial_ok", s.Repl.SyncPartialOk);
        w.Line("sync_partial_err", s.Repl.SyncPartialErr);
        w.Line("expired_keys", ks.ExpiredKeys);
        w.Line("expired_stale_perc", ks.ExpiredStalePercLast / 100.0);
        w.Line("expired_time_cap_reached_count", 0);
        w.Line("expire_cycle_cpu_milliseconds", 0);
        w.Line("evicted_keys", ks.EvictedKeys);
        w.Line("evicted_clients", st.EvictedClients);
        w.Line("total_eviction_exceeded_time", 0);
        w.Line("current_eviction_exceeded_time", 0);
        w.Line("keyspace_hits", ks.Hits);
        w.Line("keyspace_misses", ks.Misses);
        w.Line("pubsub_channels", s.PubSub.ChannelCount);
        w.Line("pubsub_patterns", patterns);
        w.Line("pubsubshard_channels", s.PubSub.ShardChannels.Count);
        w.Line("latest_fork_usec", 0);
        w.Line("total_forks", s.Stats.TotalForks);
        w.Line("migrate_cached_sockets", MigrateCommands.CachedSockets(s));
        w.Line("slave_expires_tracked_keys", 0);
        w.Line("active_defrag_hits", 0);
        w.Line("active_defrag_misses", 0);
        w.Line("active_defrag_key_hits", 0);
        w.Line("active_defrag_key_misses", 0);
        w.Line("total_active_defrag_time", 0);
        w.Line("current_active_defrag_time", 0);
        w.Line("tracking_total_keys", s.Tracking.TotalKeys);
        w.Line("tracking_total_items", s.Tracking.TotalItems);
        w.Line("tracking_total_prefixes", s.Tracking.TotalPrefixes);
        w.Line("unexpected_error_replies", st.UnexpectedErrorReplies);
        w.Line("total_error_replies", st.TotalErrorReplies);
        w.Line("dump_payload_sanitizations", 0);
        w.Line("total_reads_processed", st.TotalReadsProcessed);
        w.Line("total_writes_processed", st.TotalWritesProcessed);
        w.Line("io_threaded_reads_processed", 0);
        w.Line("io_threaded_writes_processed", 0);
        w.Line("reply_buffer_shrinks", Client.ReplyBufferShrinks);
        w.Line("reply_buffer_expands", Client.ReplyBufferExpands);
    }

    private static void ReplicationSection(RedisServer s, InfoWriter w)
    {
        var r = s.Repl;
        long now = Environment.TickCount64;
        w.Line("role", s.RoleName);
        if (s.IsReplica)
        {
            var link = r.Link;
            w.Line("master_host", r.MasterHost!);
            w.Line("master_port", r.MasterPort);
            w.Line("master_link_status", link?.Connected == true ? "up" : "down");
            w.Line("master_last_io_seconds_ago", link?.Connected == true ? (now - link.LastIoMs) / 1000 : -1);
            w.Line("master_sync_in_progress", link?.SyncInProgress == true ? 1 : 0);
            w.Line("slave_read_repl_offset", r.MasterReplOffset + (link?.Connected == true ? link.UnappliedBytes : 0));
            w.Line("slave_repl_offset", r.MasterReplOffset);
            if (link?.SyncInProgress == true)
            {
                long total = link.SyncTotalBytes, read = link.SyncReadBytes;
                w.Line("master_sync_total_bytes", total);
                w.Line("master_sync_read_bytes", read);
                w.Line("master_sync_left_bytes", total - read);
                w.Line("master_sync_perc", total != 0 ? read * 100.0 / total : 0.0);
                w.Line("master_sync_last_io_seconds_ago", (now - link.LastIoMs) / 1000);
            }
            if (link?.Connected != true) w.Line("master_link_down_since_seconds", link == null ? -1 : (now - link.LinkDownSinceMs) / 1000);
            w.Line("slave_priority", s.Config.Find("replica-priority") != null ? s.Config.Get("replica-priority") : "100");
            w.Line("slave_read_only", s.Config.ReplicaReadOnly ? 1 : 0);
            w.Line("replica_announced", s.Config.ReplicaAnnounced ? 1 : 0);
        }
        // A replica whose connection just closed is no longer counted even before its cleanup
        // (which needs the exec lock): a busy script polling INFO sees it go, as in Redis.
        var online = r.Replicas.FindAll(x => (x.State == ReplicaState.Online || x.State == ReplicaState.WaitBgsave || x.State == ReplicaState.SendingRdb) && !x.Client.IsClosed);
        w.Line("connected_slaves", online.Count);
        for (int i = 0; i < online.Count; i++)
        {
            var x = online[i];
            string state = x.State switch { ReplicaState.Online => "online", ReplicaState.WaitBgsave => "wait_bgsave", _ => "send_bulk" };
            w.Raw($"slave{i}:ip={x.Ip},port={x.ListeningPort},state={state},offset={x.AckOffset},lag={(now - x.AckTimeMs) / 1000}");
        }
        w.Line("master_failover_state", s.FailoverStateName);
        w.Line("master_replid", r.ReplId);
        w.Line("master_replid2", r.ReplId2);
        w.Line("master_repl_offset", r.MasterReplOffset);
        w.Line("second_repl_offset", r.SecondReplOffset);
        w.Line("repl_backlog_active", r.Backlog != null ? 1 : 0);
        w.Line("repl_backlog_size", r.Backlog?.Capacity ?? (s.Config.Find("repl-backlog-size") != null ? long.Parse(s.Config.Get("repl-backlog-size"), CultureInfo.InvariantCulture) : 1048576));
        w.Line("repl_backlog_first_byte_offset", r.Backlog?.FirstByteOffset ?? 0);
        w.Line("repl_backlog_histlen", r.Backlog?.HistLen ?? 0);
    }

    private static void CpuSection(InfoWriter w)
    {
        using var p = Process.GetCurrentProcess();
        string sys = p.PrivilegedProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture);
        string user = p.UserProcessorTime.TotalSeconds.ToString("F6", CultureInfo.InvariantCulture);
        w.Line("used_cpu_sys", sys);
        w.Line("used_cpu_user", user);
        w.Line("used_cpu_sys_children", "0.000000");
        w.Line("used_cpu_user_children", "0.000000");
        w.Line("used_cpu_sys_main_thread", sys);
        w.Line("used_cpu_user_main_thread", user);
    }

    private static IEnumerable<CommandDef> Flatten(RedisServer s)
    {
        foreach (var c in s.Commands.All)
        {
            yield return c;
            if (c.Subcommands != null)
                foreach (var sub in c.Subcommands.Values) yield return sub;
        }
    }

    private static void CommandStatsSection(RedisServer s, InfoWriter w)
    {
        foreach (var c in Flatten(s))
        {
            if (c.Calls == 0 && c.FailedCalls == 0 && c.RejectedCalls == 0) continue;
            double perCall = c.Calls == 0 ? 0 : (double)c.MicrosecondsTotal / c.Calls;
            w.Line("cmdstat_" + c.FullName,
                string.Create(CultureInfo.InvariantCulture, $"calls={c.Calls},usec={c.MicrosecondsTotal},usec_per_call={perCall:F2},rejected_calls={c.RejectedCalls},failed_calls={c.FailedCalls}"));
        }
    }

    // No latency histograms are kept per command: the percentiles report the mean call time.
    private static void LatencyStatsSection(RedisServer s, InfoWriter w)
    {
        if (!s.Config.LatencyTracking) return;
        foreach (var c in Flatten(s))
        {
            if (c.LatencyHistogram == null) continue;
            w.Line("latency_percentiles_usec_" + c.FullName, c.LatencyHistogram.PercentilesLine(s.Config.LatencyTrackingInfoPercentiles));
        }
    }

    private static void KeyspaceSection(RedisServer s, InfoWriter w)
    {
        for (int i = 0; i < s.Keyspace.Count; i++)
        {
            var db = s.Keyspace[i];
            if (db.Count == 0) continue;
            w.Line("db" + i, $"keys={db.Count},expires={db.Expires.Count},avg_ttl={db.AvgTtlMs}");
        }
    }
}
