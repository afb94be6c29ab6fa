#!/usr/bin/env python3
"""Prints the canonical description of a running server's data set (the *.expected files).

One line per key, sorted by db then key: db|key|type|encoding|expire-ms|content, then one
line per function library. Cinnabar.Persistence.Tests/GoldenDescriber.cs renders a loaded
keyspace the same way. Usage: describe.py PORT [--no-seen-time]
"""
import socket, sys

class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")
    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()
    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+": return rest.decode()
        if t == b"-": raise RuntimeError(rest.decode())
        if t == b":": return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0: return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("latin-1")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError("bad reply " + repr(line))

def fmap(flat):
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}

def score(s):
    return s  # Redis prints scores as %.17g; the goldens use exactly representable scores

def stream(c, key, seen):
    full = fmap(c.call("XINFO", "STREAM", key, "FULL"))
    parts = ["len=%s" % full["length"], "last=%s" % full["last-generated-id"],
             "first=%s" % full["recorded-first-entry-id"], "maxdel=%s" % full["max-deleted-entry-id"],
             "added=%s" % full["entries-added"]]
    ents = []
    for eid, fv in full["entries"]:
        ents.append("%s{%s}" % (eid, " ".join("%s=%s" % (fv[i], fv[i + 1]) for i in range(0, len(fv), 2))))
    parts.append("entries=" + " ".join(ents))
    for g in full["groups"]:
        g = fmap(g)
        pel = " ".join("%s/%s/%s/%s" % tuple(p) for p in g["pending"])
        cons = []
        for cn in g["consumers"]:
            cn = fmap(cn)
            ids = ",".join(p[0] for p in cn["pending"])
            cons.append("%s/%s/[%s]" % (cn["name"], cn["seen-time"] if seen else "-", ids))
        parts.append("group=%s{last=%s read=%s pel=%s consumers=%s}" % (
             g["name"], g["last-delivered-id"], "nil" if g["entries-read"] is None else g["entries-read"], pel, " ".join(cons)))
    return ";".join(parts)

def describe(port, seen):
    c = Conn(port)
    lines = []
    for db in range(16):
        c.call("SELECT", db)
        for key in sorted(c.call("KEYS", "*")):
            t = c.call("TYPE", key)
            enc = c.call("OBJECT", "ENCODING", key)
            exp = c.call("PEXPIRETIME", key)
            if t == "string": content = c.call("GET", key)
            elif t == "list": content = ",".join(c.call("LRANGE", key, 0, -1))
            elif t == "set": content = ",".join(sorted(c.call("SMEMBERS", key)))
            elif t == "hash":
                h = fmap(c.call("HGETALL", key))
                content = ",".join("%s=%s" % (f, h[f]) for f in sorted(h))
            elif t == "zset":
                z = c.call("ZRANGE", key, 0, -1, "WITHSCORES")
                content = ",".join("%s=%s" % (z[i], score(z[i + 1])) for i in range(0, len(z), 2))
            elif t == "stream": content = stream(c, key, seen)
            else: raise RuntimeError("type " + t)
            lines.append("%d|%s|%s|%s|%d|%s" % (db, key, t, enc, exp, content))
    for lib in sorted(c.call("FUNCTION", "LIST", "WITHCODE"), key=lambda l: fmap(l)["library_name"]):
        lines.append("function|" + fmap(lib)["library_code"].replace("\n", "\\n"))
    return "\n".join(lines) + "\n"

if __name__ == "__main__":
    sys.stdout.write(describe(int(sys.argv[1]), "--no-seen-time" not in sys.argv))
