using System.Text;
using Cinnabar.Protocol;
using KeraLua;

namespace Cinnabar.Scripting;

/// <summary>
/// Conversion between RESP replies and Lua values, following Redis 7.0's rules:
/// RESP -> Lua: integer -> number, bulk -> string, nil bulk / nil array -> false, array -> table,
/// status -> {ok=s}, error -> {err=s}; RESP3 (after redis.setresp(3)): null -> nil, boolean ->
/// boolean, double -> {double=n}, map -> {map={...}}, set -> {set={k=true}}, big number ->
/// {big_number=s}, verbatim -> {verbatim_string={format=, string=}}.
/// Lua -> RESP: number -> integer (truncated), string -> bulk, true -> 1 (RESP3 #t), false/nil ->
/// null, table -> {err=}/{ok=}/{double=}/{map=}/{set=}/{big_number=} or an array up to the first nil.
/// </summary>
public static class LuaConversion
{
    /// <summary>Pushes the single RESP reply starting at <paramref name="pos"/>; returns the position after it.</summary>
    public static int PushResp(Lua l, ReadOnlySpan<byte> resp, int pos)
    {
        l.CheckStack(4);
        byte type = resp[pos];
        int lineEnd = resp[pos..].IndexOf("\r\n"u8) + pos;
        var line = resp[(pos + 1)..lineEnd];
        int next = lineEnd + 2;
        switch (type)
        {
            case (byte)'+':
                PushTableWith(l, "ok", line);
                return next;
            case (byte)'-':
                PushTableWith(l, "err", line);
                return next;
            case (byte)':':
                l.PushInteger(ParseLong(line));
                return next;
            case (byte)'$':
            case (byte)'=':
            {
                long len = ParseLong(line);
                if (len < 0)
                {
                    l.PushBoolean(false);
                    return next;
                }
                var body = resp.Slice(next, (int)len);
                if (type == '=' && body.Length >= 4)
                {
                    l.NewTable();
                    l.NewTable();
                    l.PushBuffer(body[..3].ToArray());
                    l.SetField(-2, "format");
                    l.PushBuffer(body[4..].ToArray());
                    l.SetField(-2, "string");
                    l.SetField(-2, "verbatim_string");
                }
                else l.PushBuffer(body.ToArray());
                return next + (int)len + 2;
            }
            case (byte)'*':
            case (byte)'~':
            case (byte)'%':
            case (byte)'>':
            {
                long n = ParseLong(line);
                if (n < 0)
                {
                    l.PushBoolean(false);
                    return next;
                }
                if (type == '*' || type == '>')
                {
                    l.CreateTable((int)n, 0);
                    for (int i = 1; i <= n; i++)
                    {
                        next = PushResp(l, resp, next);
                        l.RawSetInteger(-2, i);
                    }
                    return next;
                }
                l.NewTable();
                l.CreateTable(0, (int)n);
                for (int i = 0; i < n; i++)
                {
                    next = PushResp(l, resp, next);
                    if (type == '%') next = PushResp(l, resp, next);
                    else l.PushBoolean(true);
                    l.RawSet(-3);
                }
                l.SetField(-2, type == '%' ? "map" : "set");
                return next;
            }
            case (byte)'_':
                l.PushNil();
                return next;
            case (byte)'#':
                l.PushBoolean(line.Length > 0 && line[0] == 't');
                return next;
            case (byte)',':
                l.NewTable();
                NumberFormat.TryParseDouble(line, out double d);
                l.PushNumber(d);
                l.SetField(-2, "double");
                return next;
            case (byte)'(':
                PushTableWith(l, "big_number", line);
                return next;
            case (byte)'|':
            {
                // Attributes carry no reply value: skip them and read the reply that follows.
                long n = ParseLong(line);
                for (int i = 0; i < n * 2; i++) next = SkipResp(resp, next);
                return PushResp(l, resp, next);
            }
            default:
                l.PushNil();
                return next;
        }
    }

    /// <summary>Returns the position after the RESP value at <paramref name="pos"/>.</summary>
    public static int SkipResp(ReadOnlySpan<byte> resp, int pos)
    {
        byte type = resp[pos];
        int lineEnd = resp[pos..].IndexOf("\r\n"u8) + pos;
        long n = type is (byte)'$' or (byte)'=' or (byte)'!' or (byte)'*' or (byte)'~' or (byte)'%' or (byte)'>' or (byte)'|'
            ? ParseLong(resp[(pos + 1)..lineEnd]) : 0;
        int next = lineEnd + 2;
        switch (type)
        {
            case (byte)'$' or (byte)'=' or (byte)'!':
                return n < 0 ? next : next + (int)n + 2;
            case (byte)'*' or (byte)'~' or (byte)'>':
                for (long i = 0; i < n; i++) next = SkipResp(resp, next);
                return next;
            case (byte)'%' or (byte)'|':
                for (long i = 0; i < n * 2; i++) next = SkipResp(resp, next);
                return next;
            default:
                return next;
        }
    }

    private static void PushTableWith(Lua l, string field, ReadOnlySpan<byte> value)
    {
        l.NewTable();
        l.PushBuffer(value.ToArray());
        l.SetField(-2, field);
    }

    private static long ParseLong(ReadOnlySpan<byte> s)
    {
        RequestParser.TryParseLong(s, out long v);
        return v;
    }

    /// <summary>
    /// Writes the Lua value at <paramref name="index"/> as a reply. <paramref name="luaResp"/> is the
    /// protocol chosen with redis.setresp (it decides how booleans are sent). Returns the error
    /// text when the top-level value is an error table (the caller reports it), else null.
    /// </summary>
    public static string? WriteReply(Lua l, int index, RespWriter w, int luaResp, bool topLevel = true)
    {
        l.CheckStack(4);
        index = l.AbsIndex(index);
        switch (l.Type(index))
        {
            case LuaType.String:
                w.WriteBulk(l.ToBuffer(index, false));
                return null;
            case LuaType.Boolean:
                bool b = l.ToBoolean(index);
                if (luaResp == 2)
                {
                    if (b) w.WriteInteger(1);
                    else w.WriteNull();
                }
                else w.WriteBool(b);
                return null;
            case LuaType.Number:
                w.WriteInteger(LuaNumbers.ToReplyInteger(l, index));
                return null;
            case LuaType.Table:
                return WriteTable(l, index, w, luaResp, topLevel);
            default:
                w.WriteNull();
                return null;
        }
    }

    private static string? WriteTable(Lua l, int index, RespWriter w, int luaResp, bool topLevel)
    {
        if (TryGetStringField(l, index, "err", out var err))
        {
            string msg = Encoding.UTF8.GetString(err);
            if (topLevel) return msg;
            w.WriteError(msg);
            return null;
        }
        if (TryGetStringField(l, index, "ok", out var ok))
        {
            w.WriteSimpleString(SanitizeStatus(ok));
            return null;
        }
        if (l.GetField(index, "double") == LuaType.Number)
        {
            w.WriteDouble(l.ToNumber(-1));
            l.Pop(1);
            return null;
        }
        l.Pop(1);
        if (TryGetStringField(l, index, "big_number", out var big))
        {
            w.WriteBigNumber(Encoding.ASCII.GetString(big));
            return null;
        }
        if (l.GetField(index, "map") == LuaType.Table)
        {
            int map = l.GetTop();
            long pairs = 0;
            l.PushNil();
            while (l.Next(map)) { pairs++; l.Pop(1); }
            w.WriteMapHeader(pairs);
            l.PushNil();
            while (l.Next(map))
            {
                WriteReply(l, -2, w, luaResp, false);
                WriteReply(l, -1, w, luaResp, false);
                l.Pop(1);
            }
            l.Pop(1);
            return null;
        }
        l.Pop(1);
        if (l.GetField(index, "set") == LuaType.Table)
        {
            int set = l.GetTop();
            long count = 0;
            l.PushNil();
            while (l.Next(set)) { count++; l.Pop(1); }
            w.WriteSetHeader(count);
            l.PushNil();
            while (l.Next(set))
            {
                WriteReply(l, -2, w, luaResp, false);
                l.Pop(1);
            }
            l.Pop(1);
            return null;
        }
        l.Pop(1);
        // An array: elements 1..n up to the first nil.
        int len = 0;
        while (l.RawGetInteger(index, len + 1) != LuaType.Nil)
        {
            l.Pop(1);
            len++;
        }
        l.Pop(1);
        w.WriteArrayHeader(len);
        for (int i = 1; i <= len; i++)
        {
            l.RawGetInteger(index, i);
            WriteReply(l, -1, w, luaResp, false);
            l.Pop(1);
        }
        return null;
    }

    private static byte[] SanitizeStatus(byte[] s)
    {
        for (int i = 0; i < s.Length; i++)
            if (s[i] == '\r' || s[i] == '\n') s[i] = (byte)' ';
        return s;
    }

    internal static bool TryGetStringField(Lua l, int index, string field, out byte[] value)
    {
        // rawget: Redis reads these fields without metamethods.
        index = l.AbsIndex(index);
        l.PushString(field);
        var t = l.RawGet(index);
        if (t == LuaType.String)
        {
            value = l.ToBuffer(-1, false);
            l.Pop(1);
            return true;
        }
        l.Pop(1);
        value = [];
        return false;
    }
}
