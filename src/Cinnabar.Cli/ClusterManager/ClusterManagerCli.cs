using System.Text;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>`cinnabar-cli --cluster &lt;verb&gt; ...`: redis-cli 7.0's cluster manager.</summary>
public static class ClusterManagerCli
{
    /// <summary>A verb: its name, its arity (negative: at least that many), the help text.</summary>
    private sealed record Verb(string Name, Func<CliOptions, int> Run, int Arity, string? Args, string? Options);

    private static int Proc(Func<CliOptions, bool> f, CliOptions o) => f(o) ? 0 : 1;

    private const string HostArgs = "<host:port> or <host> <port> - separated by either colon or space";

    private static readonly Verb[] Verbs =
    [
        new("create", o => Proc(CreateVerb.Run, o), -2, "host1:port1 ... hostN:portN", "replicas <arg>"),
        new("check", o => Proc(NodeVerbs.Check, o), -1, HostArgs, "search-multiple-owners"),
        new("info", o => Proc(NodeVerbs.Info, o), -1, HostArgs, null),
        new("fix", o => Proc(NodeVerbs.Fix, o), -1, HostArgs, "search-multiple-owners,fix-with-unreachable-masters"),
        new("reshard", ReshardVerb.Run, -1, HostArgs, "from <arg>,to <arg>,slots <arg>,yes,timeout <arg>,pipeline <arg>,replace"),
        new("rebalance", RebalanceVerb.Run, -1, HostArgs, "weight <node1=w1...nodeN=wN>,use-empty-masters,timeout <arg>,simulate,pipeline <arg>,threshold <arg>,replace"),
        new("add-node", o => Proc(NodeVerbs.AddNode, o), 2, "new_host:new_port existing_host:existing_port", "slave,master-id <arg>"),
        new("del-node", o => Proc(NodeVerbs.DelNode, o), 2, "host:port node_id", null),
        new("call", o => Proc(NodeVerbs.Call, o), -2, "host:port command arg arg .. arg", "only-masters,only-replicas"),
        new("set-timeout", o => Proc(NodeVerbs.SetTimeout, o), 2, "host:port milliseconds", null),
        new("import", ImportVerb.Run, 1, "host:port", "from <arg>,from-user <arg>,from-pass <arg>,from-askpass,copy,replace"),
        new("backup", o => Proc(NodeVerbs.Backup, o), 2, "host:port backup_directory", null),
        new("help", o => Proc(Help, o), 0, null, null),
    ];

    /// <summary>Validates the verb and its arity, runs it, returns the exit code (0 ok, 1 failure).</summary>
    public static int Run(CliOptions o)
    {
        var cmd = o.ClusterCmd;
        if (Environment.GetEnvironmentVariable("REDISCLI_CLUSTER_YES") == "1") cmd.Yes = true;
        // redis-cli takes the stdin argument when it meets --cluster, so only a -x/-X given
        // before --cluster counts.
        if (o.StdinLastArg && GivenBeforeCluster("-x"))
        {
            cmd.Args.Add(ReadStdin());
        }
        else if (o.StdinTag != null && GivenBeforeCluster("-X"))
        {
            string value = ReadStdin();
            int idx = cmd.Args.IndexOf(o.StdinTag);
            if (idx < 0)
            {
                StdIo.Err.WriteLine("Using -X option but stdin tag not match.");
                return 1;
            }
            cmd.Args[idx] = value;
        }

        Verb? verb = null;
        foreach (var v in Verbs)
        {
            if (v.Name != cmd.Name) continue;
            int argc = cmd.Args.Count;
            if ((v.Arity > 0 && argc != v.Arity) || (v.Arity < 0 && argc < -v.Arity))
            {
                StdIo.Err.WriteLine("[ERR] Wrong number of arguments for specified --cluster sub command");
                return 1;
            }
            verb = v;
        }
        if (verb == null)
        {
            StdIo.Err.WriteLine("Unknown --cluster subcommand");
            return 1;
        }
        try
        {
            return verb.Run(o);
        }
        catch (ClusterManagerExitException e)
        {
            return e.Code;
        }
    }

    private static bool GivenBeforeCluster(string flag)
    {
        foreach (var a in Environment.GetCommandLineArgs().Skip(1))
        {
            if (a == "--cluster") return false;
            if (a == flag) return true;
        }
        return false;
    }

    private static string ReadStdin()
    {
        var ms = new MemoryStream();
        StdIo.In.CopyTo(ms);
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    /// <summary>clusterManagerCommandHelp (it reports failure, so redis-cli exits 1 after it).</summary>
    private static bool Help(CliOptions o)
    {
        const int padding = 15;
        var sb = new StringBuilder("Cluster Manager Commands:\n");
        foreach (var v in Verbs)
        {
            sb.Append("  ").Append(v.Name).Append(' ', Math.Max(0, padding - v.Name.Length)).Append(v.Args ?? "").Append('\n');
            if (v.Options == null) continue;
            foreach (var opt in v.Options.Split(',', StringSplitOptions.RemoveEmptyEntries))
                sb.Append(' ', padding).Append("  --cluster-").Append(opt).Append('\n');
        }
        sb.Append("\nFor check, fix, reshard, del-node, set-timeout, info, rebalance, call, import, backup you can specify the host and port of any working node in the cluster.\n");
        sb.Append("\nCluster Manager Options:\n");
        string name = "--cluster-yes";
        sb.Append("  ").Append(name).Append(' ', padding - name.Length).Append("Automatic yes to cluster commands prompts\n");
        sb.Append('\n');
        CmLog.Print(sb.ToString());
        return false;
    }
}
