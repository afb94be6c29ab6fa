using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Cinnabar.Scripting.Native;

/// <summary>
/// Our P/Invoke bindings to the Lua 5.1 C API (Debian's liblua5.1.so.0, the Lua Redis 7.0
/// embeds). Only what the engine needs. Every function that may raise a Lua error must be
/// called where a longjmp cannot cross a managed frame: inside lua_pcall'd Lua code, or from
/// C# with the allocator in lenient mode and no metamethods involved (raw access only).
/// </summary>
internal static unsafe partial class Lua51
{
    public const string Library = "liblua5.1.so.0";

    public const int RegistryIndex = -10000;
    public const int EnvironIndex = -10001;
    public const int GlobalsIndex = -10002;
    public static int UpvalueIndex(int i) => GlobalsIndex - i;

    public const int MultRet = -1;
    public const int MaxCStack = 8000;

    public const int GcStop = 0, GcRestart = 1, GcCollect = 2, GcCount = 3, GcCountB = 4, GcStep = 5;

    [LibraryImport(Library)] public static partial IntPtr lua_newstate(delegate* unmanaged[Cdecl]<void*, void*, nuint, nuint, void*> f, void* ud);
    [LibraryImport(Library)] public static partial void lua_close(IntPtr L);
    [LibraryImport(Library)] public static partial IntPtr lua_atpanic(IntPtr L, delegate* unmanaged[Cdecl]<IntPtr, int> f);

    [LibraryImport(Library)] public static partial int lua_gettop(IntPtr L);
    [LibraryImport(Library)] public static partial void lua_settop(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_pushvalue(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_remove(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_insert(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_replace(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial int lua_checkstack(IntPtr L, int sz);

    [LibraryImport(Library)] public static partial int lua_type(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial double lua_tonumber(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial int lua_toboolean(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial byte* lua_tolstring(IntPtr L, int idx, nuint* len);
    [LibraryImport(Library)] public static partial nuint lua_objlen(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void* lua_touserdata(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void* lua_topointer(IntPtr L, int idx);

    [LibraryImport(Library)] public static partial void lua_pushnil(IntPtr L);
    [LibraryImport(Library)] public static partial void lua_pushnumber(IntPtr L, double n);
    [LibraryImport(Library)] public static partial void lua_pushlstring(IntPtr L, byte* s, nuint len);
    [LibraryImport(Library)] public static partial void lua_pushcclosure(IntPtr L, delegate* unmanaged[Cdecl]<IntPtr, int> fn, int n);
    [LibraryImport(Library)] public static partial void lua_pushboolean(IntPtr L, int b);
    [LibraryImport(Library)] public static partial void lua_pushlightuserdata(IntPtr L, void* p);

    [LibraryImport(Library)] public static partial void lua_rawget(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_rawgeti(IntPtr L, int idx, int n);
    [LibraryImport(Library)] public static partial void lua_createtable(IntPtr L, int narr, int nrec);
    [LibraryImport(Library)] public static partial int lua_getmetatable(IntPtr L, int objindex);
    [LibraryImport(Library)] public static partial void lua_rawset(IntPtr L, int idx);
    [LibraryImport(Library)] public static partial void lua_rawseti(IntPtr L, int idx, int n);
    [LibraryImport(Library)] public static partial int lua_setmetatable(IntPtr L, int objindex);
    [LibraryImport(Library)] public static partial int lua_setfenv(IntPtr L, int idx);

    [LibraryImport(Library)] public static partial int lua_pcall(IntPtr L, int nargs, int nresults, int errfunc);
    [LibraryImport(Library)] public static partial int lua_gc(IntPtr L, int what, int data);
    [LibraryImport(Library)] public static partial int lua_next(IntPtr L, int idx);

    [LibraryImport(Library)] public static partial int luaL_loadbuffer(IntPtr L, byte* buff, nuint sz, byte* name);
    [LibraryImport(Library)] public static partial int luaL_ref(IntPtr L, int t);
    [LibraryImport(Library)] public static partial void luaL_unref(IntPtr L, int t, int reference);
    [LibraryImport(Library)] public static partial void luaL_openlibs(IntPtr L);

    /// <summary>Allocation bookkeeping shared with the allocator (native memory, one per state).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MemState
    {
        public long Used;
        public long Limit;
        /// <summary>1 while Lua code runs: allocations past the limit fail (Lua raises "not enough memory").</summary>
        public int Strict;
        public int Failed;
    }

    /// <summary>
    /// The lua_Alloc of every state: counts bytes and refuses to grow past the limit while a
    /// script runs. Shrinking never fails (Lua 5.1 assumes it cannot).
    /// </summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static void* Alloc(void* ud, void* ptr, nuint osize, nuint nsize)
    {
        var m = (MemState*)ud;
        if (ptr == null) osize = 0;
        if (nsize == 0)
        {
            if (ptr != null)
            {
                NativeMemory.Free(ptr);
                m->Used -= (long)osize;
            }
            return null;
        }
        if (nsize > osize && m->Strict != 0 && m->Used + (long)(nsize - osize) > m->Limit)
        {
            m->Failed = 1;
            return null;
        }
        void* r = NativeMemory.Realloc(ptr, nsize);
        if (r == null) return null;
        m->Used += (long)nsize - (long)osize;
        return r;
    }

    /// <summary>Last resort: an error outside any protected call. Lua aborts the process after this returns.</summary>
    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    public static int Panic(IntPtr L)
    {
        try
        {
            Console.Error.WriteLine("Lua panic: unprotected error in call to Lua API");
        }
        catch
        {
            // nothing more can be done
        }
        return 0;
    }
}

internal static unsafe partial class Lua51
{
    [LibraryImport(Library)] public static partial int lua_isnumber(IntPtr L, int idx);
}

internal static unsafe partial class Lua51
{
    [LibraryImport(Library)] public static partial int lua_sethook(IntPtr L, IntPtr func, int mask, int count);
}
