using System.Text;
using Cinnabar.Protocol;
using Cinnabar.Scripting.Native;

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
internal static class LuaConversion
{
    /// <summary>Pushes the single RESP reply starting at <paramref name="pos"/>; returns the position after it.</summary>
    public static int PushResp(LuaState l, ReadOnlySpan<byte> resp, int pos)
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
                    l.PushBuffer(body[..3]);
                    l.SetField(-2, "format");
                    l.PushBuffer(body[4..]);
                    l.SetField(-2, "string");
                    l.SetField(-2, "verbatim_string");
                }
                else l.PushBuffer(body);
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

    private static void PushTableWith(LuaState l, string field, ReadOnlySpan<byte> value)
    {
        l.NewTable();
        l.PushBuffer(value);
        l.SetField(-2, field);
    }

    private static long ParseLong(ReadOnlySpan<byte> s)
    {
        RequestParser.TryParseLong(s, out long v);
        return v;
    }

    private enum FrameKind { Array, MapKey, MapValue, Set }

    private struct Frame
    {
        public FrameKind Kind;
        public int Table;     // stack index of the table being walked
        public int Next;      // array: next element index
        public int Count;     // array: elements to write
        public int Pops;      // slots to pop when done
    }

    /// <summary>
    /// Writes the value on top of the stack as the script's reply (and pops it). <paramref name="luaResp"/>
    /// is the protocol chosen with redis.setresp (it decides how booleans are sent). Returns the
    /// error text when the top-level value is an error table (the caller reports it), else null.
    /// Tables are read with raw access only, and nesting is walked with an explicit stack:
    /// like Redis, a level that cannot get 4 more Lua stack slots becomes the error reply
    /// "reached lua stack limit".
    /// </summary>
    public static string? WriteReply(LuaState l, RespWriter w, int luaResp) => WriteReply(l, w, luaResp, out _);

    /// <summary>As above; <paramref name="errorCounted"/> tells that a returned error table came
    /// from a command the script ran, whose error the error statistics already counted.</summary>
    public static string? WriteReply(LuaState l, RespWriter w, int luaResp, out bool errorCounted)
    {
        errorCounted = false;
        if (l.Type(-1) == LuaType.Table && l.CheckStack(4) && TryGetStringField(l, -1, "err", out var topErr))
        {
            errorCounted = IsErrorCounted(l, -1);
            l.Pop(1);
            return Encoding.UTF8.GetString(topErr);
        }
        var frames = new Stack<Frame>();
        WriteValue(l, w, luaResp, frames);
        while (frames.Count > 0)
        {
            var f = frames.Pop();
            switch (f.Kind)
            {
                case FrameKind.Array:
                    if (f.Next > f.Count)
                    {
                        l.Pop(f.Pops);
                        continue;
                    }
                    l.RawGetInteger(f.Table, f.Next++);
                    frames.Push(f);
                    WriteValue(l, w, luaResp, frames);
                    break;
                case FrameKind.MapKey:
                    // Stack: ..., map, [key]. Next pair, then write a copy of the key.
                    if (!l.Next(f.Table))
                    {
                        l.Pop(f.Pops);
                        continue;
                    }
                    f.Kind = FrameKind.MapValue;
                    frames.Push(f);
                    l.PushCopy(-2);
                    WriteValue(l, w, luaResp, frames);
                    break;
                case FrameKind.MapValue:
                    // Stack: ..., map, key, value.
                    f.Kind = FrameKind.MapKey;
                    frames.Push(f);
                    WriteValue(l, w, luaResp, frames);
                    break;
                case FrameKind.Set:
                    if (!l.Next(f.Table))
                    {
                        l.Pop(f.Pops);
                        continue;
                    }
                    l.Pop(1);
                    frames.Push(f);
                    l.PushCopy(-1);
                    WriteValue(l, w, luaResp, frames);
                    break;
            }
        }
        return null;
    }

    /// <summary>Writes the scalar on top (and pops it), or starts a table by pushing its frame.</summary>
    private static void WriteValue(LuaState l, RespWriter w, int luaResp, Stack<Frame> frames)
    {
        if (!l.CheckStack(4))
        {
            w.WriteError("ERR reached lua stack limit");
            l.Pop(1);
            return;
        }
        switch (l.Type(-1))
        {
            case LuaType.String:
                w.WriteBulk(l.ToSpan(-1));
                break;
            case LuaType.Boolean:
                bool b = l.ToBoolean(-1);
                if (luaResp == 2)
                {
                    if (b) w.WriteInteger(1);
                    else w.WriteNull();
                }
                else w.WriteBool(b);
                break;
            case LuaType.Number:
                w.WriteInteger(LuaNumbers.ToReplyInteger(l.ToNumber(-1)));
                break;
            case LuaType.Table:
                StartTable(l, w, frames);
                return;
            default:
                w.WriteNull();
                break;
        }
        l.Pop(1);
    }

    private static void StartTable(LuaState l, RespWriter w, Stack<Frame> frames)
    {
        int t = l.GetTop();
        if (TryGetStringField(l, t, "err", out var err))
        {
            w.WriteError(Encoding.UTF8.GetString(err));
            l.Pop(1);
            return;
        }
        if (TryGetStringField(l, t, "ok", out var ok))
        {
            w.WriteSimpleString(SanitizeStatus(ok));
            l.Pop(1);
            return;
        }
        if (l.GetField(t, "double") == LuaType.Number)
        {
            w.WriteDouble(l.ToNumber(-1));
            l.Pop(2);
            return;
        }
        l.Pop(1);
        if (TryGetStringField(l, t, "big_number", out var big))
        {
            w.WriteBigNumber(Encoding.ASCII.GetString(SanitizeStatus(big)));
            l.Pop(1);
            return;
        }
        if (l.GetField(t, "verbatim_string") == LuaType.Table)
        {
            if (TryGetStringField(l, -1, "format", out var format) && TryGetStringField(l, -1, "string", out var text))
            {
                w.WriteVerbatim(Encoding.UTF8.GetString(text), Encoding.UTF8.GetString(format));
                l.Pop(2);
                return;
            }
        }
        l.Pop(1);
        if (l.GetField(t, "map") == LuaType.Table)
        {
            int map = l.GetTop();
            long pairs = 0;
            l.PushNil();
            while (l.Next(map)) { pairs++; l.Pop(1); }
            w.WriteMapHeader(pairs);
            l.PushNil();
            frames.Push(new Frame { Kind = FrameKind.MapKey, Table = map, Pops = 2 });
            return;
        }
        l.Pop(1);
        if (l.GetField(t, "set") == LuaType.Table)
        {
            int set = l.GetTop();
            long count = 0;
            l.PushNil();
            while (l.Next(set)) { count++; l.Pop(1); }
            w.WriteSetHeader(count);
            l.PushNil();
            frames.Push(new Frame { Kind = FrameKind.Set, Table = set, Pops = 2 });
            return;
        }
        l.Pop(1);
        // An array: elements 1..n up to the first nil.
        int len = 0;
        while (l.RawGetInteger(t, len + 1) != LuaType.Nil)
        {
            l.Pop(1);
            len++;
        }
        l.Pop(1);
        w.WriteArrayHeader(len);
        frames.Push(new Frame { Kind = FrameKind.Array, Table = t, Next = 1, Count = len, Pops = 1 });
    }

    private static byte[] SanitizeStatus(byte[] s)
    {
        for (int i = 0; i < s.Length; i++)
            if (s[i] == '\r' || s[i] == '\n') s[i] = (byte)' ';
        return s;
    }

    /// <summary>The field Redis sets on error tables made from a command's error reply or refusal
    /// (its statistics were updated then, so the script's final error reply must not count it again).</summary>
    public const string IgnoreErrorStatsField = "ignore_error_stats_update";

    internal static bool IsErrorCounted(LuaState l, int index)
    {
        index = l.AbsIndex(index);
        l.PushString(IgnoreErrorStatsField);
        bool counted = l.RawGet(index) == LuaType.Boolean && l.ToBoolean(-1);
        l.Pop(1);
        return counted;
    }

    internal static bool TryGetStringField(LuaState l, int index, string field, out byte[] value)
    {
        // rawget: Redis reads these fields without metamethods.
        index = l.AbsIndex(index);
        l.PushString(field);
        var t = l.RawGet(index);
        if (t == LuaType.String)
        {
            value = l.ToBuffer(-1);
            l.Pop(1);
            return true;
        }
        l.Pop(1);
        value = [];
        return false;
    }
}
