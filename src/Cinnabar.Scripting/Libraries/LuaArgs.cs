using System.Text;
using Cinnabar.Scripting.Native;

namespace Cinnabar.Scripting;

/// <summary>
/// An error raised by one of the Lua libraries implemented in C# (bit, struct, cmsgpack): the
/// dispatcher raises its message as a plain Lua string once the C# function has returned.
/// </summary>
internal sealed class LuaLibraryException(string message) : Exception(message);

/// <summary>Argument checks with the messages of Lua 5.1's luaL_check* functions.</summary>
internal static class LuaArgs
{
    public static string TypeName(LuaType t) => t switch
    {
        LuaType.None => "no value",
        LuaType.Nil => "nil",
        LuaType.Boolean => "boolean",
        LuaType.LightUserData or LuaType.UserData => "userdata",
        LuaType.Number => "number",
        LuaType.String => "string",
        LuaType.Table => "table",
        LuaType.Function => "function",
        _ => "thread",
    };

    public static LuaLibraryException ArgError(int narg, string fname, string extra) => new($"bad argument #{narg} to '{fname}' ({extra})");

    public static LuaLibraryException TypeError(LuaState l, int narg, string fname, string expected) =>
        ArgError(narg, fname, $"{expected} expected, got {TypeName(l.Type(narg))}");

    public static unsafe bool IsNumber(LuaState l, int idx) => Lua51.lua_isnumber(l.Handle, idx) != 0;

    public static double CheckNumber(LuaState l, int idx, string fname)
    {
        double d = l.ToNumber(idx);
        if (d == 0 && !IsNumber(l, idx)) throw TypeError(l, idx, fname, "number");
        return d;
    }

    public static long CheckInteger(LuaState l, int idx, string fname) => (long)CheckNumber(l, idx, fname);

    public static long OptInteger(LuaState l, int idx, string fname, long def) =>
        l.Type(idx) is LuaType.None or LuaType.Nil ? def : CheckInteger(l, idx, fname);

    public static byte[] CheckString(LuaState l, int idx, string fname)
    {
        if (l.Type(idx) is not (LuaType.String or LuaType.Number)) throw TypeError(l, idx, fname, "string");
        return l.ToBuffer(idx);
    }

    public static byte[] Ascii(string s) => Encoding.ASCII.GetBytes(s);
}
