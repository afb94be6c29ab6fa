using System.Text;

namespace Cinnabar.Scripting.Native;

internal enum LuaType
{
    None = -1, Nil = 0, Boolean = 1, LightUserData = 2, Number = 3, String = 4, Table = 5, Function = 6, UserData = 7, Thread = 8,
}

internal enum LuaStatus
{
    OK = 0, Yield = 1, ErrRun = 2, ErrSyntax = 3, ErrMem = 4, ErrErr = 5,
}

/// <summary>
/// A thin view of a lua_State* (the main state or a coroutine). Table access is raw on
/// purpose: a metamethod could raise, and a Lua error must never longjmp across C# frames.
/// </summary>
internal readonly unsafe struct LuaState
{
    public readonly IntPtr Handle;

    public LuaState(IntPtr handle) => Handle = handle;

    public int GetTop() => Lua51.lua_gettop(Handle);
    public void SetTop(int idx) => Lua51.lua_settop(Handle, idx);
    public void Pop(int n) => Lua51.lua_settop(Handle, -n - 1);
    public void PushCopy(int idx) => Lua51.lua_pushvalue(Handle, idx);
    public void Remove(int idx) => Lua51.lua_remove(Handle, idx);
    public void Insert(int idx) => Lua51.lua_insert(Handle, idx);
    public void Replace(int idx) => Lua51.lua_replace(Handle, idx);
    public bool CheckStack(int n) => Lua51.lua_checkstack(Handle, n) != 0;

    public int AbsIndex(int idx) => idx > 0 || idx <= Lua51.RegistryIndex ? idx : GetTop() + idx + 1;

    public LuaType Type(int idx) => (LuaType)Lua51.lua_type(Handle, idx);
    public double ToNumber(int idx) => Lua51.lua_tonumber(Handle, idx);
    public bool ToBoolean(int idx) => Lua51.lua_toboolean(Handle, idx) != 0;

    /// <summary>The bytes of a string (or number, converted in place) at idx.</summary>
    public ReadOnlySpan<byte> ToSpan(int idx)
    {
        nuint len;
        byte* p = Lua51.lua_tolstring(Handle, idx, &len);
        return p == null ? default : new ReadOnlySpan<byte>(p, checked((int)len));
    }

    public byte[] ToBuffer(int idx) => ToSpan(idx).ToArray();
    public string? ToStringUtf8(int idx) => Type(idx) is LuaType.String or LuaType.Number ? Encoding.UTF8.GetString(ToSpan(idx)) : null;
    public long ObjLen(int idx) => (long)Lua51.lua_objlen(Handle, idx);

    public void PushNil() => Lua51.lua_pushnil(Handle);
    public void PushBoolean(bool b) => Lua51.lua_pushboolean(Handle, b ? 1 : 0);
    public void PushNumber(double d) => Lua51.lua_pushnumber(Handle, d);
    public void PushInteger(long v) => Lua51.lua_pushnumber(Handle, v);

    public void PushBuffer(ReadOnlySpan<byte> s)
    {
        fixed (byte* p = s)
        {
            byte dummy = 0;
            Lua51.lua_pushlstring(Handle, p == null ? &dummy : p, (nuint)s.Length);
        }
    }

    public void PushString(string s) => PushBuffer(Encoding.UTF8.GetBytes(s));

    public void NewTable() => Lua51.lua_createtable(Handle, 0, 0);
    public void CreateTable(int narr, int nrec) => Lua51.lua_createtable(Handle, Math.Max(0, narr), Math.Max(0, nrec));

    public LuaType RawGetInteger(int idx, int n)
    {
        Lua51.lua_rawgeti(Handle, idx, n);
        return Type(-1);
    }

    public void RawSetInteger(int idx, int n) => Lua51.lua_rawseti(Handle, idx, n);

    public LuaType RawGet(int idx)
    {
        Lua51.lua_rawget(Handle, idx);
        return Type(-1);
    }

    public void RawSet(int idx) => Lua51.lua_rawset(Handle, idx);

    /// <summary>Raw t[name] (no metamethods).</summary>
    public LuaType GetField(int idx, string name)
    {
        idx = AbsIndex(idx);
        PushString(name);
        return RawGet(idx);
    }

    /// <summary>Raw t[name] = top (pops the value).</summary>
    public void SetField(int idx, string name)
    {
        idx = AbsIndex(idx);
        PushString(name);
        Insert(-2);
        RawSet(idx);
    }

    public bool Next(int idx) => Lua51.lua_next(Handle, idx) != 0;

    public int Ref() => Lua51.luaL_ref(Handle, Lua51.RegistryIndex);
    public void Unref(int r) => Lua51.luaL_unref(Handle, Lua51.RegistryIndex, r);
    public LuaType GetRef(int r) => RawGetInteger(Lua51.RegistryIndex, r);

    public LuaStatus PCall(int nargs, int nresults, int errfunc) => (LuaStatus)Lua51.lua_pcall(Handle, nargs, nresults, errfunc);

    public LuaStatus LoadBuffer(ReadOnlySpan<byte> chunk, string name)
    {
        byte[] n = Encoding.UTF8.GetBytes(name + "\0");
        fixed (byte* p = chunk)
        fixed (byte* pn = n)
        {
            byte dummy = 0;
            return (LuaStatus)Lua51.luaL_loadbuffer(Handle, p == null ? &dummy : p, (nuint)chunk.Length, pn);
        }
    }

    public bool SetFEnv(int idx) => Lua51.lua_setfenv(Handle, idx) != 0;
    public int Gc(int what, int data) => Lua51.lua_gc(Handle, what, data);
}
