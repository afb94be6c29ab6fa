using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.ClusterManager;

/// <summary>`--cluster import`.</summary>
public static class ImportVerb
{
    /// <summary>Runs the verb with o.ClusterCmd.Args; returns the exit code.</summary>
    public static int Run(CliOptions o)
    {
        // redis-cli asks for the source's password at startup, before looking at anything else.
        if (o.ClusterCmd.FromAskPass && !_asked)
        {
            _asked = true;
            o.ClusterCmd.FromPass = PasswordPrompt.Ask("Please input import source node password: ");
        }
        return Import(o) ? 0 : 1;
    }

    private static bool _asked;

    private static bool Import(CliOptions o)
    {
        var cmd = o.ClusterCmd;
        if (!CmCluster.ParseHostArgs(cmd.Args, cmd.Args.Count, out string ip, out int port))
        {
            StdIo.Err.Write(ReshardVerb.InvalidHostArg);
            return false;
        }
        if (cmd.From == null)
        {
            StdIo.Err.Write("[ERR] Option '--cluster-from' is required for subcommand 'import'.\n");
            return false;
        }
        if (!CmCluster.ParseHostArgs([cmd.From], 1, out string srcIp, out int srcPort))
        {
            StdIo.Err.Write("[ERR] Invalid --cluster-from host. You need to pass a valid address (ie. 120.0.0.1:7000).\n");
            return false;
        }
        MoveOut.Info($">>> Importing data from {srcIp}:{srcPort} to cluster {ip}:{port}\n");
        using var cluster = new CmCluster(o);
        if (!cluster.LoadInfoFromNode(new CmNode(ip, port))) return false;
        if (!ClusterChecker.Check(cluster, quiet: false)) return false;

        var src = Connection.Open(new CliOptions { Host = srcIp, Port = srcPort }, out string? connErr);
        if (src == null)
        {
            StdIo.Err.Write(connErr + ".\n");
            return false;
        }
        using (src)
        {
            return ImportFrom(o, cluster, src, srcIp, srcPort);
        }
    }

    private static bool ImportFrom(CliOptions o, CmCluster cluster, Connection src, string srcIp, int srcPort)
    {
        var cmd = o.ClusterCmd;
        string? replyErr = null;
        bool Fail(RespReply? r)
        {
            if (r != null && r.Type == RespType.Error) replyErr = r.Text;
            if (replyErr != null) MoveOut.Err($"Source {srcIp}:{srcPort} replied with error:\n{replyErr}\n");
            return false;
        }
        RespReply? Call(List<byte[]> args)
        {
            try
            {
                return src.Call(args);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                return null;
            }
        }
        RespReply? CallS(params string[] args) => Call(args.Select(Encoding.UTF8.GetBytes).ToList());

        if (cmd.FromPass != null)
        {
            var auth = cmd.FromUser == null ? CallS("AUTH", cmd.FromPass) : CallS("AUTH", cmd.FromUser, cmd.FromPass);
            if (auth == null)
            {
                StdIo.Err.Write("\nI/O error\n");
                return false;
            }
            if (auth.Type == RespType.Error)
            {
                StdIo.Err.Write("AUTH failed: " + auth.Text + "\n");
                return false;
            }
        }
        var info = CallS("INFO");
        if (info == null || info.Type == RespType.Error) return Fail(info);
        if (CmNode.InfoField(info.Text, "cluster_enabled") != 0)
        {
            MoveOut.Err("[ERR] The source node should not be a cluster node.\n");
            return false;
        }
        var dbsize = CallS("DBSIZE");
        if (dbsize == null || dbsize.Type == RespType.Error) return Fail(dbsize);
        long size = dbsize.Integer;
        MoveOut.Warn($"*** Importing {(int)size} keys from DB 0\n");

        // The owner of every slot: the first master, in load order, that serves it.
        var slotsMap = new CmNode?[CmNode.Slots];
        for (int i = 0; i < CmNode.Slots; i++)
        {
            foreach (var n in cluster.Nodes)
            {
                if (n.IsSlave || n.SlotsCount == 0) continue;
                if (n.SlotMap[i])
                {
                    slotsMap[i] = n;
                    break;
                }
            }
        }
        // redis-cli builds "MIGRATE %s %d %s %d %d" and pastes AUTH, COPY and REPLACE into the
        // format itself, so a password is split at its spaces.
        var extra = new List<string>();
        if (o.Password != null)
        {
            string fmt = o.User != null ? $" AUTH2 {o.User} {o.Password}" : $" AUTH {o.Password}";
            extra.AddRange(SplitFormat(fmt));
        }
        if (cmd.Copy) extra.Add("COPY");
        if (cmd.Replace) extra.Add("REPLACE");
        string timeout = cmd.Timeout.ToString(CultureInfo.InvariantCulture);

        using var progress = MoveProgress.Begin(o, "import", 0, size);
        string cursor = "0";
        bool first = true;
        while (first || cursor != "0")
        {
            first = false;
            var scan = CallS("SCAN", cursor, "COUNT", "1000");
            if (scan == null || scan.Type == RespType.Error)
            {
                progress.Finish(false);
                return Fail(scan);
            }
            if (scan.Elements.Count < 2)
            {
                progress.Finish(false);
                return false;
            }
            var c0 = scan.Elements[0];
            cursor = c0.Type == RespType.Integer ? c0.Integer.ToString(CultureInfo.InvariantCulture) : c0.Text;
            foreach (var kr in scan.Elements[1].Elements)
            {
                byte[] key = kr.Str;
                // The key goes through printf's and the format's %s: it ends at a NUL byte.
                int nul = Array.IndexOf(key, (byte)0);
                byte[] ckey = nul >= 0 ? key[..nul] : key;
                var target = slotsMap[KeyHashSlot(key)];
                if (target == null)
                {
                    progress.Finish(false);
                    return false;
                }
                var line = new List<byte>(Encoding.UTF8.GetBytes("Migrating "));
                line.AddRange(ckey);
                line.AddRange(Encoding.UTF8.GetBytes($" to {target.Ip}:{target.Port}: "));
                MoveOut.PrintBytes(line.ToArray());
                var args = new List<byte[]>
                {
                    "MIGRATE"u8.ToArray(),
                    Encoding.UTF8.GetBytes(target.Ip),
                    Encoding.UTF8.GetBytes(target.Port.ToString(CultureInfo.InvariantCulture)),
                    ckey,
                    "0"u8.ToArray(),
                    Encoding.UTF8.GetBytes(timeout),
                };
                args.AddRange(extra.Select(Encoding.UTF8.GetBytes));
                var r = Call(args);
                if (r == null || r.Type == RespType.Error)
                {
                    if (r != null) MoveOut.Err($"Source {srcIp}:{srcPort} replied with error:\n{r.Text}\n");
                    progress.Finish(false);
                    return false;
                }
                MoveOut.Ok("OK\n");
                progress.AddKeys(1);
            }
        }
        progress.Finish(true);
        return true;
    }

    /// <summary>The words hiredis makes of a literal format text: split at spaces, "%%" is '%'.</summary>
    private static IEnumerable<string> SplitFormat(string fmt)
    {
        var cur = new StringBuilder();
        bool touched = false;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == ' ')
            {
                if (touched) yield return cur.ToString();
                cur.Clear();
                touched = false;
                continue;
            }
            if (c == '%' && i + 1 < fmt.Length && fmt[i + 1] == '%') i++;
            cur.Append(c);
            touched = true;
        }
        if (touched) yield return cur.ToString();
    }

    /// <summary>The key's hash slot (CRC16/XMODEM of the key or of its {hash tag}).</summary>
    internal static int KeyHashSlot(ReadOnlySpan<byte> key)
    {
        int s = key.IndexOf((byte)'{');
        if (s >= 0)
        {
            int e = key[(s + 1)..].IndexOf((byte)'}');
            if (e > 0) key = key.Slice(s + 1, e);
        }
        ushort crc = 0;
        foreach (byte b in key)
        {
            crc ^= (ushort)(b << 8);
            for (int i = 0; i < 8; i++) crc = (crc & 0x8000) != 0 ? (ushort)((crc << 1) ^ 0x1021) : (ushort)(crc << 1);
        }
        return crc & 0x3FFF;
    }
}

/// <summary>
/// askPassword (linenoise in mask mode): on a terminal the prompt is shown and the answer is not
/// echoed; otherwise a line is read from stdin without a prompt (null at end of input).
/// </summary>
internal static partial class PasswordPrompt
{
    private const int Echo = 0x8;
    private const int LFlagOffset = 12;

    [LibraryImport("libc", EntryPoint = "tcgetattr", SetLastError = true)]
    private static partial int TcGetAttr(int fd, [Out] byte[] termios);

    [LibraryImport("libc", EntryPoint = "tcsetattr", SetLastError = true)]
    private static partial int TcSetAttr(int fd, int actions, byte[] termios);

    public static string? Ask(string prompt)
    {
        bool tty = MoveProgress.IsTty(0);
        byte[]? saved = null;
        if (tty)
        {
            CmLog.Print(prompt);
            var t = new byte[128];
            try
            {
                if (TcGetAttr(0, t) == 0)
                {
                    saved = (byte[])t.Clone();
                    int lflag = BitConverter.ToInt32(t, LFlagOffset) & ~Echo;
                    BitConverter.GetBytes(lflag).CopyTo(t, LFlagOffset);
                    TcSetAttr(0, 0, t);
                }
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                saved = null;
            }
        }
        try
        {
            var line = new List<byte>();
            var one = new byte[1];
            bool any = false;
            while (true)
            {
                int n = PromptInput.ReadRaw(one, 1);
                if (n <= 0) break;
                any = true;
                if (one[0] == (byte)'\n') break;
                line.Add(one[0]);
            }
            if (!any) return null;
            if (line.Count > 0 && line[^1] == (byte)'\r' && tty) line.RemoveAt(line.Count - 1);
            return Encoding.UTF8.GetString(line.ToArray());
        }
        finally
        {
            if (saved != null)
            {
                TcSetAttr(0, 0, saved);
                CmLog.Print("\n");
            }
        }
    }
}
