using Cinnabar.Integration.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Cinnabar.Integration.Tests;

/// <summary>
/// Sentinel scripts (sentinel.c sentinelEvent / sentinelCallClientReconfScript /
/// sentinelScheduleScriptExecution): the notification script runs for warning-level events that
/// have an instance, with the event type and message as its two arguments; the client-reconfig
/// script runs on a failover with "&lt;master&gt; leader|observer start &lt;from-ip&gt; &lt;from-port&gt;
/// &lt;to-ip&gt; &lt;to-port&gt;"; SENTINEL SET of a script path is refused unless the config file says
/// `sentinel deny-scripts-reconfig no`; a script exiting 1 is retried. Every scenario runs against
/// Debian's redis-sentinel 7.0 too (redisSentinels = true), which pins the expected lines. The
/// scripts are /bin/sh files in each sentinel's directory that append "$@" as one line to a log.
/// </summary>
[Collection("sentinel")]
public sealed class SentinelScriptTests : IDisposable
{
    private const string M = SentinelCluster.MasterName;
    private readonly ITestOutputHelper _out;
    private readonly List<SentinelCluster> _clusters = new();

    public SentinelScriptTests(ITestOutputHelper output) => _out = output;

    public void Dispose()
    {
        foreach (var c in _clusters) c.Dispose();
    }

    private SentinelCluster Start(bool redisSentinels, int sentinels, int replicas, Func<int, string, string>? extraConf)
    {
        var c = SentinelCluster.Start(_out, redisData: false, Enumerable.Repeat(redisSentinels, sentinels).ToArray(), replicas, extraConf);
        _clusters.Add(c);
        return c;
    }

    private const UnixFileMode Executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
                                            UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
                                            UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>Writes dir/name: a /bin/sh script appending its arguments as one line to dir/name.log,
    /// then exiting with exitCode. Returns its path.</summary>
    private static string WriteLogScript(string dir, string name, int exitCode = 0, bool executable = true)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, $"#!/bin/sh\necho \"$@\" >> '{LogOf(path)}'\nexit {exitCode}\n");
        if (executable && !OperatingSystem.IsWindows()) File.SetUnixFileMode(path, Executable);
        return path;
    }

    private static string LogOf(string script) => script + ".log";

    private static string[] Lines(string script)
    {
        var log = LogOf(script);
        return File.Exists(log) ? File.ReadAllLines(log) : [];
    }

    private static string ScriptIn(SentinelProcess s, string name) => Path.Combine(s.Dir, name);

    // ---- 1: notification-script -------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Notification_script_gets_sdown_and_switch_master_but_no_notice_level_events(bool redisSentinels)
    {
        var c = Start(redisSentinels, 3, 2, (_, dir) => $"sentinel notification-script {M} {WriteLogScript(dir, "notify.sh")}\n");
        int old = c.KillMaster();
        int promoted = c.WaitAgreedMaster(old);
        string sdown = $"+sdown master {M} 127.0.0.1 {old}";
        string switchMaster = $"+switch-master {M} 127.0.0.1 {old} 127.0.0.1 {promoted}";
        // Every sentinel reports the switch. +sdown comes from those whose own down-after period
        // ran out before the failover ended: a sentinel that learns the new master from the
        // leader's hello first never flags the old one down (the same race exists in Redis), but
        // the leader always did.
        foreach (var s in c.Sentinels)
        {
            var script = ScriptIn(s, "notify.sh");
            c.WaitUntil(() => Lines(script).Any(l => l.StartsWith(switchMaster, StringComparison.Ordinal)),
                $"sentinel {s.Port}'s notification script to log '{switchMaster}'");
        }
        c.WaitUntil(() => c.Sentinels.Any(s => Lines(ScriptIn(s, "notify.sh")).Contains(sdown)),
            $"a notification script to log '{sdown}'");
        // Let the post-failover notices (+slave for the old master, +slave-reconf-*...) happen.
        Thread.Sleep(3000);
        foreach (var s in c.Sentinels)
        {
            var lines = Lines(ScriptIn(s, "notify.sh"));
            c.Log($"sentinel {s.Port} notification script lines:\n  " + string.Join("\n  ", lines));
            Assert.DoesNotContain(lines, l => l.StartsWith("+slave ", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.StartsWith("+sentinel ", StringComparison.Ordinal));
            Assert.DoesNotContain(lines, l => l.StartsWith("+slave-reconf-sent ", StringComparison.Ordinal));
            // Two arguments: the event type, then the message (echo joins them with one space).
            Assert.All(lines, l => Assert.Matches(@"^[+-][a-z-]+ \S", l));
        }
    }

    // ---- 2: client-reconfig-script -------------------------------------------------------------------

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Client_reconfig_script_runs_as_leader_on_one_sentinel_and_as_observer_on_the_others(bool redisSentinels)
    {
        var c = Start(redisSentinels, 3, 2, (_, dir) => $"sentinel client-reconfig-script {M} {WriteLogScript(dir, "reconf.sh")}\n");
        int old = c.KillMaster();
        int promoted = c.WaitAgreedMaster(old);
        string leader = $"{M} leader start 127.0.0.1 {old} 127.0.0.1 {promoted}";
        string observer = $"{M} observer start 127.0.0.1 {old} 127.0.0.1 {promoted}";
        SentinelProcess? leaderSentinel = null;
        c.WaitUntil(() =>
        {
            var withLeader = c.Sentinels.Where(s => Lines(ScriptIn(s, "reconf.sh")).Contains(leader)).ToList();
            if (withLeader.Count != 1) return false;
            leaderSentinel = withLeader[0];
            return c.Sentinels.Where(s => s != leaderSentinel).All(s => Lines(ScriptIn(s, "reconf.sh")).Contains(observer));
        }, $"one sentinel to run '{leader}' and the others '{observer}'");
        Thread.Sleep(2000);
        foreach (var s in c.Sentinels)
        {
            var lines = Lines(ScriptIn(s, "reconf.sh"));
            c.Log($"sentinel {s.Port} client-reconfig script lines:\n  " + string.Join("\n  ", lines));
            if (s == leaderSentinel) Assert.Equal([leader], lines);
            else Assert.Equal([observer], lines);
        }
    }

    // ---- 3: SENTINEL SET of script paths -------------------------------------------------------------

    private const string Denied = "ERR Reconfiguration of scripts path is denied for security reasons. " +
                                  "Check the deny-scripts-reconfig configuration directive in your Sentinel configuration";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Sentinel_set_of_a_script_path_is_denied_by_default_and_allowed_with_deny_scripts_reconfig_no(bool redisSentinels)
    {
        var c = Start(redisSentinels, 1, 1, null);
        var s = c.Sentinels[0];
        var good = WriteLogScript(s.Dir, "good.sh");
        var notExecutable = WriteLogScript(s.Dir, "plain.sh", executable: false);

        Assert.Equal(Denied, s.Call("SENTINEL", "SET", M, "notification-script", good).ToString());
        Assert.Equal(Denied, s.Call("SENTINEL", "SET", M, "client-reconfig-script", good).ToString());

        c.Log("restarting the sentinel with 'sentinel deny-scripts-reconfig no'");
        s.Kill();
        File.AppendAllText(s.ConfPath, "sentinel deny-scripts-reconfig no\n");
        s.Launch();

        Assert.Equal("ERR Notification script seems non existing or non executable",
            s.Call("SENTINEL", "SET", M, "notification-script", notExecutable).ToString());
        Assert.Equal("ERR Notification script seems non existing or non executable",
            s.Call("SENTINEL", "SET", M, "notification-script", Path.Combine(s.Dir, "missing.sh")).ToString());
        Assert.Equal("ERR Client reconfiguration script seems non existing or non executable",
            s.Call("SENTINEL", "SET", M, "client-reconfig-script", notExecutable).ToString());

        Assert.Equal("OK", s.Call("SENTINEL", "SET", M, "notification-script", good).ToString());
        Assert.Equal("OK", s.Call("SENTINEL", "SET", M, "client-reconfig-script", good).ToString());
        // The config is rewritten with the new paths.
        var conf = File.ReadAllText(s.ConfPath);
        Assert.Contains($"sentinel notification-script {M} {good}", conf);
        Assert.Contains($"sentinel client-reconfig-script {M} {good}", conf);

        // And the script now runs: a replica going down is a warning event (+sdown slave).
        var replica = c.Nodes[1];
        c.Log($"kill -9 replica {replica.Port}");
        replica.Kill();
        string sdown = $"+sdown slave 127.0.0.1:{replica.Port} 127.0.0.1 {replica.Port} @ {M} 127.0.0.1 {c.MasterPort}";
        c.WaitUntil(() => Lines(good).Contains(sdown), $"the notification script set at run time to log '{sdown}'");
    }

    // ---- 4: retries ----------------------------------------------------------------------------------

    /// <summary>SENTINEL PENDING-SCRIPTS: each entry as field -> reply.</summary>
    private static List<Dictionary<string, Reply>> PendingScripts(SentinelProcess s)
    {
        var r = s.Call("SENTINEL", "PENDING-SCRIPTS");
        Assert.False(r.IsError, r.ToString());
        return r.Items!.Select(e =>
        {
            var d = new Dictionary<string, Reply>();
            for (int i = 0; i + 1 < e.Items!.Count; i += 2) d[e.Items[i].ToString()] = e.Items[i + 1];
            return d;
        }).ToList();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_notification_script_exiting_1_is_retried_and_listed_by_pending_scripts(bool redisSentinels)
    {
        var c = Start(redisSentinels, 1, 1, (_, dir) => $"sentinel notification-script {M} {WriteLogScript(dir, "fail.sh", exitCode: 1)}\n");
        var s = c.Sentinels[0];
        var script = ScriptIn(s, "fail.sh");
        Assert.Equal("OK", s.Call("SENTINEL", "DEBUG", "script-retry-delay", "200").ToString());
        // (Redis queues the script for "+monitor master mymaster ... quorum 2" at startup already.)

        var replica = c.Nodes[1];
        c.Log($"kill -9 replica {replica.Port}");
        replica.Kill();
        string sdown = $"+sdown slave 127.0.0.1:{replica.Port} 127.0.0.1 {replica.Port} @ {M} 127.0.0.1 {c.MasterPort}";
        c.WaitUntil(() => Lines(script).Count(l => l == sdown) >= 2, $"the failing script to have run at least twice with '{sdown}'");

        // Retries 200, 400, 800... ms apart: the job stays queued for a long while, tried again and again.
        c.WaitUntil(() => PendingScripts(s).Any(p =>
                p["argv"].Items is { Count: 3 } argv && argv[0].ToString() == script && argv[1].ToString() == "+sdown" &&
                argv[2].ToString() == sdown["+sdown ".Length..] &&
                p["flags"].ToString() is "scheduled" or "running" &&
                int.Parse(p["retry-num"].ToString()) >= 2 &&
                int.Parse(p["pid"].ToString()) >= 0 &&
                (p.ContainsKey("run-delay") || p.ContainsKey("run-time"))),
            "SENTINEL PENDING-SCRIPTS to list the failing script with retry-num >= 2");
        foreach (var p in PendingScripts(s))
            c.Log("pending: " + string.Join(" ", p.Select(kv => $"{kv.Key}={kv.Value}")));
    }
}
