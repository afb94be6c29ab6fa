#!/usr/bin/env python3
"""Drives a program through a pseudo-terminal, the way a user at a terminal would.

usage: pty_drive.py COLS ROWS -- PROGRAM [ARGS...]   (keystroke chunks as a JSON list on stdin; a chunk
may be ["keys", "quiet"] to wait only for quiet output, not for a prompt)

The terminal gets a fixed size (TIOCSWINSZ). Each chunk is typed once the program has been quiet
for a moment and, after a line (a chunk ending in CR), once the next prompt is shown; after the last chunk the program
must exit. Prints everything the program wrote to the terminal, with bytes outside printable
ASCII escaped (\\r, \\n, \\x1b ...), then a final line "EXIT <status>".
"""
import fcntl, json, os, pty, select, struct, sys, termios, time

def main():
    cols, rows = int(sys.argv[1]), int(sys.argv[2])
    argv = sys.argv[sys.argv.index('--') + 1:]
    chunks = json.loads(sys.stdin.read() or '[]')
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
        os.execvp(argv[0], argv)
    out = bytearray()
    deadline = time.time() + 60

    def pump(quiet, limit, prompt=False):
        # Read until nothing arrived for `quiet` seconds (or `limit` passed); with prompt=True
        # also until the output ends with a prompt ("> " or ": "), which the line editor only
        # writes once the terminal is in raw mode. False at EOF.
        end = time.time() + limit
        last = time.time()
        while time.time() < end:
            r, _, _ = select.select([fd], [], [], 0.02)
            if r:
                try:
                    data = os.read(fd, 65536)
                except OSError:
                    return False
                if not data:
                    return False
                out.extend(data)
                last = time.time()
            elif time.time() - last >= quiet and len(out) > 0 and (not prompt or out.endswith(b'> ') or out.endswith(b': ')):
                return True
        return True

    alive = pump(0.3, 20, True)
    for c in chunks:
        if not alive:
            break
        wait_prompt = True
        if isinstance(c, list):
            # ["keys", "quiet"]: a line whose command keeps running (SUBSCRIBE...): no prompt to wait for.
            c, wait_prompt = c[0], c[1] != 'quiet'
        os.write(fd, c.encode('latin1'))
        # A finished line is followed by the command's output and the next prompt; wait for
        # it, so that nothing is typed while the terminal is back in cooked (echoing) mode.
        line = c.endswith('\r') and wait_prompt
        alive = pump(0.1 if line else 0.4, 15, line)
    while alive and time.time() < deadline:
        alive = pump(5, 10)
        pid_done, _ = os.waitpid(pid, os.WNOHANG)
        if pid_done:
            pump(0.1, 1)
            break
    status = None
    for _ in range(100):
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            status = os.waitstatus_to_exitcode(st)
            break
        time.sleep(0.05)
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        status = 'killed'
    text = ''.join(chr(b) if 32 <= b < 127 and b != 92 else
                   {10: '\\n', 13: '\\r', 92: '\\\\'}.get(b, '\\x%02x' % b) for b in out)
    sys.stdout.write(text + '\nEXIT %s\n' % status)

main()
