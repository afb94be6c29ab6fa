using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Cinnabar.Cli;

/// <summary>
/// Plain streams on file descriptors 0/1/2. System.Console initialises the terminal when it
/// writes to or reads from a TTY (keypad mode escape, echo off), which redis-cli never does, so
/// the CLI bypasses it.
/// </summary>
internal static class StdIo
{
    public static readonly Stream In = Open(0, FileAccess.Read);
    public static readonly Stream Out = Open(1, FileAccess.Write);
    public static readonly StreamWriter Err = new(Open(2, FileAccess.Write), new UTF8Encoding(false)) { AutoFlush = true };

    private static FileStream Open(int fd, FileAccess access) => new(new SafeFileHandle(fd, ownsHandle: false), access, 1);
}
