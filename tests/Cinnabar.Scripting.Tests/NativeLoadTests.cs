using KeraLua;

namespace Cinnabar.Scripting.Tests;

public class NativeLoadTests
{
    [Fact]
    public void Keralua_native_library_runs_a_chunk()
    {
        using var l = new Lua();
        Assert.Equal(LuaStatus.OK, l.LoadString("return 1 + 2"));
        Assert.Equal(LuaStatus.OK, l.PCall(0, 1, 0));
        Assert.Equal(3, l.ToInteger(-1));
    }
}
