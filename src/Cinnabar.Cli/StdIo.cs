using System.Runtime.InteropServices;
using System.Text;

namespace Cinnabar.Cli;

/// <summary>
/// Plain streams on file descriptors 0/1/2 using read(2)/write(2). System.Console initialises the
/// terminal when a TTY is involved (keypad-mode escape, termios changes), which redis-cli never
/// does, and FileStream on a seekable descriptor writes with pwrite at its own offset (breaking
/// `(cli a; cli b) > file`), so the CLI talks to the descriptors directly.
/// </summary>
internal static partial class StdIo
{
    public static readonly Stream In = new FdStream(0);
    public static readonly Stream Out = new FdStream(1);
    public static readonly Stream ErrStream = new FdStream(2);
    public static readonly StreamWriter Err = new(ErrStream, new UTF8Encoding(false)) { AutoFlush = true };

    [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
    private static unsafe partial nint SysRead(int fd, byte* buf, nint count);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    private static unsafe partial nint SysWrite(int fd, byte* buf, nint count);

    private const int EINTR = 4;

    /// <summary>False once a write to a descriptor failed (closed pipe).</summary>
    public static bool Healthy { get; private set; } = true;

    private sealed class FdStream(int fd) : Stream
    {
        public override bool CanRead => fd == 0;
        public override bool CanSeek => false;
        public override bool CanWrite => fd != 0;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override unsafe int Read(Span<byte> buffer)
        {
            fixed (byte* p = buffer)
            {
                while (true)
                {
                    nint n = SysRead(fd, p, buffer.Length);
                    if (n >= 0) return (int)n;
                    if (Marshal.GetLastPInvokeError() != EINTR) throw new IOException("read failed: errno " + Marshal.GetLastPInvokeError());
                }
            }
        }

        public override unsafe void Write(ReadOnlySpan<byte> buffer)
        {
            fixed (byte* p = buffer)
            {
                int done = 0;
                while (done < buffer.Length)
                {
                    nint n = SysWrite(fd, p + done, buffer.Length - done);
                    if (n < 0)
                    {
                        if (Marshal.GetLastPInvokeError() == EINTR) continue;
                        Healthy = false;
                        throw new IOException("write failed: errno " + Marshal.GetLastPInvokeError());
                    }
                    done += (int)n;
                }
            }
        }
    }
}
