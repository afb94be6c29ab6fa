#!/usr/bin/env bash
# Regenerates command-docs.resp: the raw RESP2 reply of COMMAND DOCS from a server on 127.0.0.1:PORT
# (the checked-in copy comes from Cinnabar's own command table: run bin/cinnabar-server --port PORT, then this script), which
# cinnabar-cli embeds as its help table for when no server can be reached (redis-cli has a
# compiled-in table for that case).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${1:-7998}"
python3 - "$port" "$here/command-docs.resp" <<'PY'
import socket, sys
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.sendall(b'*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n')
s.settimeout(1)
buf = b''
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except socket.timeout:
    pass
open(sys.argv[2], 'wb').write(buf)
PY
