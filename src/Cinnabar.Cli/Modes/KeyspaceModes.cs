using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Cinnabar.Protocol;

namespace Cinnabar.Cli.Modes;

/// <summary>
/// --bigkeys, --memkeys [--memkeys-samples N] and --hotkeys: walk the keyspace with SCAN
/// (honouring --pattern), pipelining TYPE and a size command (or MEMORY USAGE / OBJECT FREQ) per
/// batch, reporting the biggest or hottest keys as they turn up and a summary at the end.
/// Ctrl-C stops the scan early and still prints the summary.
/// </summary>
internal static class KeyspaceModes
{
    private sealed class TypeInfo(string name, string? sizeCmd, string unit)
    {
        public string Name { get; } = name;
        public string? SizeCmd { get; } = sizeCmd;
        public string Unit { get; } = unit;
        public ulong Biggest;
        public ulong Count;
        public ulong TotalSize;
        public string? BiggestKey;
    }

    public static int BigKeys(ModeContext ctx, bool memKeys)
    {
        // Summaries come out in the order of redis-cli's type dict (see TypeTable).
        var types = new TypeTable<TypeInfo>();
        foreach (var t in new TypeInfo[]
        {
            new("string", "STRLEN", "bytes"),
            new("list", "LLEN", "items"),
            new("set", "SCARD", "members"),
            new("hash", "HLEN", "fields"),
            new("zset", "ZCARD", "members"),
            new("stream", "XLEN", "entries"),
        })
            types.Add(t.Name, t);
        var conn = ctx.Connect();
        using var interrupt = new InterruptFlag();
        ulong totalKeys = (ulong)DbSize(conn);
        var o = ctx.Out;
        o.Write("\n# Scanning the entire keyspace to find biggest keys as well as\n");
        o.Write("# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n");
        o.Write("# per 100 SCAN commands (not usually needed).\n\n");

        ulong sampled = 0, totLen = 0, cursor = 0, scanLoops = 0;
        double pct;
        do
        {
            pct = 100 * (double)sampled / totalKeys;
            var keys = Scan(ctx, conn, ref cursor);
            scanLoops++;
            var keyTypes = GetTypes(conn, keys, types);
            var sizes = GetSizes(conn, keys, keyTypes, memKeys, ctx.O.MemKeysSamples);
            for (int i = 0; i < keys.Count; i++)
            {
                var type = keyTypes[i];
                if (type == null) continue; // gone between SCAN and TYPE
                type.TotalSize += sizes[i];
                type.Count++;
                totLen += (ulong)keys[i].Length;
                sampled++;
                if (type.Biggest < sizes[i])
                {
                    type.BiggestKey = ArgSplitter.Repr(keys[i]);
                    o.Write($"[{CFmt.Pct(pct)}%] Biggest {type.Name,-6} found so far '{type.BiggestKey}' with {sizes[i]} {(memKeys ? "bytes" : type.Unit)}\n");
                    type.Biggest = sizes[i];
                }
                if (sampled % 1000000 == 0) o.Write($"[{CFmt.Pct(pct)}%] Sampled {sampled} keys so far\n");
            }
            if (ctx.IntervalUs != 0 && scanLoops % 100 == 0) CFmt.SleepUs(ctx.IntervalUs);
        }
        while (!interrupt.IsSet && cursor != 0);

        o.Write("\n-------- summary -------\n\n");
        if (interrupt.IsSet) o.Write($"[{CFmt.Pct(pct)}%] ");
        o.Write($"Sampled {sampled} keys in the keyspace!\n");
        o.Write($"Total key length in bytes is {totLen} (avg len {CFmt.F(totLen != 0 ? (double)totLen / sampled : 0, 2)})\n\n");
        foreach (var t in types.Values())
        {
            if (t.BiggestKey != null)
                o.Write($"Biggest {t.Name,6} found '{t.BiggestKey}' has {t.Biggest} {(memKeys ? "bytes" : t.Unit)}\n");
        }
        o.Write("\n");
        foreach (var t in types.Values())
        {
            string share = CFmt.Pct(sampled != 0 ? 100 * (double)t.Count / sampled : 0);
            string avg = CFmt.F(t.Count != 0 ? (double)t.TotalSize / t.Count : 0, 2);
            o.Write($"{t.Count} {t.Name}s with {t.TotalSize} {(memKeys ? "bytes" : t.Unit)} ({share}% of keys, avg size {avg})\n");
        }
        return 0;
    }

    private const int HotKeysSample = 16;

    public static int HotKeys(ModeContext ctx)
    {
        var conn = ctx.Connect();
        using var interrupt = new InterruptFlag();
        ulong totalKeys = (ulong)DbSize(conn);
        var o = ctx.Out;
        o.Write("\n# Scanning the entire keyspace to find hot keys as well as\n");
        o.Write("# average sizes per key type.  You can use -i 0.1 to sleep 0.1 sec\n");
        o.Write("# per 100 SCAN commands (not usually needed).\n\n");

        // A small pool ordered by counter, coldest first: a hotter key pushes the coldest out.
        var counters = new ulong[HotKeysSample];
        var names = new string?[HotKeysSample];
        ulong sampled = 0, cursor = 0, scanLoops = 0;
        double pct;
        do
        {
            pct = 100 * (double)sampled / totalKeys;
            var keys = Scan(ctx, conn, ref cursor);
            scanLoops++;
            var freqs = GetFreqs(conn, keys);
            for (int i = 0; i < keys.Count; i++)
            {
                sampled++;
                if (sampled % 1000000 == 0) o.Write($"[{CFmt.Pct(pct)}%] Sampled {sampled} keys so far\n");
                int k = 0;
                while (k < HotKeysSample && freqs[i] > counters[k]) k++;
                if (k == 0) continue;
                k--;
                if (k != 0 && counters[k] != 0)
                {
                    Array.Copy(counters, 1, counters, 0, k);
                    Array.Copy(names, 1, names, 0, k);
                }
                counters[k] = freqs[i];
                names[k] = ArgSplitter.Repr(keys[i]);
                o.Write($"[{CFmt.Pct(pct)}%] Hot key '{names[k]}' found so far with counter {freqs[i]}\n");
            }
            if (ctx.IntervalUs != 0 && scanLoops % 100 == 0) CFmt.SleepUs(ctx.IntervalUs);
        }
        while (!interrupt.IsSet && cursor != 0);

        o.Write("\n-------- summary -------\n\n");
        if (interrupt.IsSet) o.Write($"[{CFmt.Pct(pct)}%] ");
        o.Write($"Sampled {sampled} keys in the keyspace!\n");
        for (int i = 1; i <= HotKeysSample; i++)
        {
            int k = HotKeysSample - i;
            if (counters[k] > 0) o.Write($"hot key found with counter: {counters[k]}\tkeyname: {names[k]}\n");
        }
        return 0;
    }

    private static RespReply Reply(Connection conn)
    {
        try
        {
            var r = conn.Read();
            if (r != null) return r;
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
        }
        StdIo.Err.Write("\nI/O error\n");
        throw new ModeExit(1);
    }

    private static long DbSize(Connection conn)
    {
        conn.Send(Connection.Encode([Encoding.ASCII.GetBytes("DBSIZE")]));
        var r = Reply(conn);
        if (r.Type == RespType.Error) Exit("Couldn't determine DBSIZE: " + r.Text);
        if (r.Type != RespType.Integer) Exit("Non INTEGER response from DBSIZE!");
        // redis-cli keeps the count in an int.
        return unchecked((int)r.Integer);
    }

    private static void Exit(string message)
    {
        StdIo.Err.Write(message + "\n");
        throw new ModeExit(1);
    }

    private static List<byte[]> Scan(ModeContext ctx, Connection conn, ref ulong cursor)
    {
        var args = new List<byte[]> { "SCAN"u8.ToArray(), Encoding.ASCII.GetBytes(cursor.ToString(CultureInfo.InvariantCulture)) };
        if (ctx.O.Pattern != null)
        {
            args.Add("MATCH"u8.ToArray());
            args.Add(Encoding.UTF8.GetBytes(ctx.O.Pattern));
        }
        conn.Send(Connection.Encode(args));
        var r = Reply(conn);
        if (r.Type == RespType.Error) Exit("SCAN error: " + r.Text);
        if (!r.IsAggregate) Exit("Non ARRAY response from SCAN!");
        if (r.Elements.Count != 2) Exit("Invalid element count from SCAN!");
        cursor = ulong.TryParse(r.Elements[0].Str, NumberStyles.None, CultureInfo.InvariantCulture, out var c) ? c : 0;
        return r.Elements[1].Elements.Select(e => e.Str).ToList();
    }

    /// <summary>The next reply of a pipelined batch; a closed connection ends the mode with
    /// redis-cli's "Error getting {what} for key '...'" message.</summary>
    private static RespReply ReadPipelined(Connection conn, string what, string key)
    {
        RespReply? r = null;
        try
        {
            r = conn.Read();
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
        }
        if (r == null) Exit($"Error getting {what} for key '{key}' (1: Server closed the connection)");
        return r!;
    }

    private static TypeInfo?[] GetTypes(Connection conn, List<byte[]> keys, TypeTable<TypeInfo> types)
    {
        var result = new TypeInfo?[keys.Count];
        if (keys.Count == 0) return result;
        conn.SendMany(keys.Select(k => (IReadOnlyList<byte[]>)["TYPE"u8.ToArray(), k]));
        for (int i = 0; i < keys.Count; i++)
        {
            var r = ReadPipelined(conn, "type", Encoding.UTF8.GetString(keys[i]));
            if (r.Type != RespType.Status)
            {
                if (r.Type == RespType.Error) Exit("TYPE returned an error: " + r.Text);
                Exit($"Invalid reply type ({HiredisType(r)}) for TYPE on key '{Encoding.UTF8.GetString(keys[i])}'!");
            }
            string name = r.Text;
            if (!types.TryFind(name, out var t) && name != "none")
            {
                // A module type: counted, but without a size command.
                t = new TypeInfo(name, null, "?");
                types.Add(name, t);
            }
            result[i] = t;
        }
        return result;
    }

    private static ulong[] GetSizes(Connection conn, List<byte[]> keys, TypeInfo?[] types, bool memKeys, int samples)
    {
        var sizes = new ulong[keys.Count];
        bool Sized(int i) => types[i] != null && (types[i]!.SizeCmd != null || memKeys);
        var cmds = new List<IReadOnlyList<byte[]>>();
        for (int i = 0; i < keys.Count; i++)
        {
            if (!Sized(i)) continue;
            if (!memKeys) cmds.Add([Encoding.ASCII.GetBytes(types[i]!.SizeCmd!), keys[i]]);
            else if (samples == 0) cmds.Add(["MEMORY"u8.ToArray(), "USAGE"u8.ToArray(), keys[i]]);
            else cmds.Add(["MEMORY"u8.ToArray(), "USAGE"u8.ToArray(), keys[i], "SAMPLES"u8.ToArray(), Encoding.ASCII.GetBytes(((uint)samples).ToString(CultureInfo.InvariantCulture))]);
        }
        if (cmds.Count > 0) conn.SendMany(cmds);
        for (int i = 0; i < keys.Count; i++)
        {
            if (!Sized(i)) continue;
            var r = ReadPipelined(conn, "size", Encoding.UTF8.GetString(keys[i]));
            if (r.Type != RespType.Integer)
            {
                StdIo.ErrStream.Write(Encoding.UTF8.GetBytes($"Warning:  {(memKeys ? "MEMORY USAGE" : types[i]!.SizeCmd)} on '"));
                StdIo.ErrStream.Write(CString(keys[i]));
                StdIo.ErrStream.Write("' failed (may have changed type)\n"u8);
            }
            else
            {
                sizes[i] = unchecked((ulong)r.Integer);
            }
        }
        return sizes;
    }

    private static ulong[] GetFreqs(Connection conn, List<byte[]> keys)
    {
        var freqs = new ulong[keys.Count];
        if (keys.Count == 0) return freqs;
        conn.SendMany(keys.Select(k => (IReadOnlyList<byte[]>)["OBJECT"u8.ToArray(), "FREQ"u8.ToArray(), k]));
        for (int i = 0; i < keys.Count; i++)
        {
            var r = ReadPipelined(conn, "freq", ArgSplitter.Repr(keys[i]));
            if (r.Type == RespType.Error) Exit("Error: " + r.Text);
            if (r.Type != RespType.Integer)
                StdIo.Err.Write($"Warning: OBJECT freq on '{ArgSplitter.Repr(keys[i])}' failed (may have been deleted)\n");
            else
                freqs[i] = unchecked((ulong)r.Integer);
        }
        return freqs;
    }

    // A key printed with %s stops at its first NUL byte.
    private static byte[] CString(byte[] s)
    {
        int nul = Array.IndexOf(s, (byte)0);
        return nul < 0 ? s : s[..nul];
    }

    // hiredis's reply type numbers, as redis-cli prints them.
    private static int HiredisType(RespReply r) => r.Type switch
    {
        RespType.Bulk => 1,
        RespType.Array => 2,
        RespType.Integer => 3,
        RespType.Nil => 4,
        RespType.Status => 5,
        RespType.Error => 6,
        RespType.Double => 7,
        RespType.Bool => 8,
        RespType.Map => 9,
        RespType.Set => 10,
        RespType.Attribute => 11,
        RespType.Push => 12,
        RespType.BigNumber => 13,
        RespType.Verbatim => 14,
        _ => 0,
    };
}
