using System.Globalization;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>--stat: one line of INFO figures every -i seconds (default 1), a header every 20 lines.</summary>
internal static class StatMode
{
    public static int Run(ModeContext ctx)
    {
        long intervalUs = ctx.IntervalUs == 0 ? 1_000_000 : ctx.IntervalUs;
        ctx.Connect();
        long requests = 0;
        int lines = 0;
        string buf = "";
        var o = ctx.Out;
        while (true)
        {
            var reply = ctx.ReconnectingCall("INFO");
            if (reply.Type == RespType.Error)
            {
                StdIo.Err.Write("ERROR: " + reply.Text + "\n");
                return 1;
            }
            string info = Encoding.UTF8.GetString(reply.Str);
            if (lines++ % 20 == 0)
            {
                o.Write("------- data ------ --------------------- load -------------------- - child -\n"
                      + "keys       mem      clients blocked requests            connections          \n");
            }

            long keys = 0;
            for (int db = 0; db < 20; db++)
            {
                long k = LongField(info, "db" + db + ":keys");
                if (k != long.MinValue) keys += k;
            }
            buf = keys.ToString(CultureInfo.InvariantCulture);
            o.Write(buf.PadRight(11));

            buf = BytesToHuman(buf, LongField(info, "used_memory"));
            o.Write(buf.PadRight(8));

            buf = LongField(info, "connected_clients").ToString(CultureInfo.InvariantCulture);
            o.Write(" " + buf.PadRight(8));

            buf = LongField(info, "blocked_clients").ToString(CultureInfo.InvariantCulture);
            o.Write(buf.PadRight(8));

            long total = LongField(info, "total_commands_processed");
            buf = $"{total} (+{(requests == 0 ? 0 : total - requests)})";
            o.Write(buf.PadRight(19));
            requests = total;

            buf = LongField(info, "total_connections_received").ToString(CultureInfo.InvariantCulture);
            o.Write(" " + buf.PadRight(12));

            long child = LongField(info, "bgsave_in_progress");
            child |= LongField(info, "aof_rewrite_in_progress") << 1;
            child |= LongField(info, "loading") << 2;
            o.Write(child switch
            {
                1 => "SAVE",
                2 => "AOF",
                3 => "SAVE+AOF",
                4 => "LOAD",
                _ => "",
            });
            o.Write("\n");
            CFmt.SleepUs(intervalUs);
        }
    }

    /// <summary>
    /// The value after the first occurrence of field (anywhere in the text, as redis-cli's strstr
    /// lookup does), up to the next '\r' or ','; strtol'd; long.MinValue when absent.
    /// </summary>
    internal static long LongField(string info, string field)
    {
        int p = info.IndexOf(field, StringComparison.Ordinal);
        if (p < 0) return long.MinValue;
        p += field.Length + 1;
        if (p > info.Length) return 0;
        int i = p;
        while (i < info.Length && char.IsWhiteSpace(info[i])) i++;
        bool neg = false;
        if (i < info.Length && (info[i] == '-' || info[i] == '+')) neg = info[i++] == '-';
        long v = 0;
        while (i < info.Length && info[i] is >= '0' and <= '9')
        {
            long next = unchecked(v * 10 + (info[i++] - '0'));
            if (next < v) return neg ? long.MinValue : long.MaxValue;
            v = next;
        }
        return neg ? -v : v;
    }

    /// <summary>100B, 4.00K, 2.50M, 1.00G; from 1024G on redis-cli writes nothing new, so the
    /// previous text stays (after a '-' for negative values).</summary>
    internal static string BytesToHuman(string previous, long n)
    {
        string sign = "";
        if (n < 0)
        {
            sign = "-";
            n = n == long.MinValue ? long.MinValue : -n;
        }
        if (n < 0) return sign + n.ToString(CultureInfo.InvariantCulture) + "B"; // LONG_MIN stays negative
        if (n < 1024) return sign + n.ToString(CultureInfo.InvariantCulture) + "B";
        if (n < 1024 * 1024) return sign + CFmt.F(n / 1024.0, 2) + "K";
        if (n < 1024L * 1024 * 1024) return sign + CFmt.F(n / (1024.0 * 1024), 2) + "M";
        if (n < 1024L * 1024 * 1024 * 1024) return sign + CFmt.F(n / (1024.0 * 1024 * 1024), 2) + "G";
        return sign + (previous.Length > sign.Length ? previous[sign.Length..] : "");
    }
}
