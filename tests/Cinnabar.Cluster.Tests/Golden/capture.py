#!/usr/bin/env python3
"""Capture real cluster bus packets from Debian's redis-server 7.0.15 (golden bytes for BusCodec).

Plays fake cluster peers (plain sockets, hand-built packets) around real nodes and saves the first
packet of each interesting kind as <name>.bin next to this script, plus manifest.json with the
names, ports and epochs the tests check against.

Phase 1, node A (master, cluster-announce-hostname node-a.example, cluster-announce-ip 127.0.0.1,
slots 0-5460, configEpoch 3):
  fake B  master 5461-10922, configEpoch 2: CLUSTER MEET target; pings A with gossip about C, D, E
  fake C  master 10923-16383, configEpoch 4: later stops answering, so A marks it PFAIL, then FAIL
          once B reports it
  fake D  replica of A (target of PUBLISHSHARD)
  fake E  replica of B (asks A for a failover vote: AUTH_ACK)
  captures: meet, ping (gossip), pong (gossip), publish, publish-large, publishshard, update, fail, ping-pfail,
            auth-ack
Phase 2, node R (no hostname, no announce-ip): meets fake B2, CLUSTER REPLICATE B2, then
  CLUSTER FAILOVER (MFSTART) and CLUSTER FAILOVER FORCE (AUTH_REQUEST with FORCEACK).
  captures: meet-nohostname, ping-replica, mfstart, auth-req

Usage: python3 capture.py [--redis /usr/bin/redis-server] [--out DIR]. Stdlib only; every wait has
a deadline; servers are killed by PID at the end.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HEADER = struct.Struct(">4sIHHHHQQQ40s2048s40s46sH30sHHHB3s")
GOSSIP = struct.Struct(">40sII46sHHHHH")
assert HEADER.size == 2256 and GOSSIP.size == 104

PING, PONG, MEET, FAIL, PUBLISH, AUTH_REQ, AUTH_ACK, UPDATE, MFSTART, MODULE, PUBLISHSHARD = range(11)
MASTER, SLAVE, PFAIL_FLAG, FAIL_FLAG = 1, 2, 4, 8
FORCEACK = 2


def slots_bitmap(first, last):
    bits = bytearray(2048)
    for s in range(first, last + 1):
        bits[s >> 3] |= 1 << (s & 7)
    return bits


def free_port(avoid=()):
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port < 50000 and port not in avoid and port_free(port + 10000):
            return port


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_for(what, predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("timed out waiting for " + what)


# ---------------------------------------------------------------- RESP client

class Resp:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._read()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.sock.recv(65536)
            data, self.buf = self.buf[:n], self.buf[n + 2:]
            return data.decode("latin-1")
        if kind == b"*":
            return [self._read() for _ in range(int(rest))]
        raise RuntimeError("bad reply " + repr(line))


# ---------------------------------------------------------------- fake peers

def read_packet(sock):
    head = recv_exact(sock, 8)
    if head is None:
        return None
    if head[:4] != b"RCmb":
        raise RuntimeError("bad signature")
    (totlen,) = struct.unpack(">I", head[4:8])
    rest = recv_exact(sock, totlen - 8)
    return None if rest is None else head + rest


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        try:
            chunk = sock.recv(n - len(data))
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return data


class Fake:
    """A fake cluster node: a bus listener that answers PING/MEET with PONG (unless silent),
    and hands every received packet to the recorder."""

    def __init__(self, name_char, port, flags, config_epoch, slots, recorder, slaveof=b""):
        self.name = (name_char * 40).encode()
        self.port = port
        self.flags = flags
        self.config_epoch = config_epoch
        self.current_epoch = config_epoch
        self.slots = slots
        self.slaveof = slaveof
        self.silent = False
        self.recorder = recorder
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.cport = self.listener.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def header(self, mtype, totlen, count=0, slots=None, mflags=0, current_epoch=None):
        return HEADER.pack(b"RCmb", totlen, 1, self.port, mtype, count,
                           self.current_epoch if current_epoch is None else current_epoch,
                           self.config_epoch, 0, self.name, bytes(slots or self.slots),
                           self.slaveof.ljust(40, b"\0"), b"", 0, b"", 0, self.cport, self.flags,
                           0, bytes([mflags, 0, 0]))

    def ping_packet(self, mtype, gossip=(), slots=None):
        body = b"".join(gossip)
        return self.header(mtype, 2256 + len(body), count=len(gossip), slots=slots) + body

    def _accept(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self.serve, args=(conn, "in"), daemon=True).start()

    def connect_to(self, port):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.settimeout(None)
        with self.lock:
            self.conns.append(conn)
        threading.Thread(target=self.serve, args=(conn, "out"), daemon=True).start()
        return conn

    def serve(self, conn, direction):
        while True:
            try:
                packet = read_packet(conn)
            except RuntimeError:
                packet = None
            if packet is None:
                return
            mtype = struct.unpack(">H", packet[12:14])[0]
            self.recorder(self, direction, mtype, packet)
            if mtype in (PING, MEET) and not self.silent:
                try:
                    conn.sendall(self.ping_packet(PONG))
                except OSError:
                    return

    def close(self):
        self.listener.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


def gossip_entry(fake, flags=None):
    now = int(time.time())
    return GOSSIP.pack(fake.name, 0, now, b"127.0.0.1", fake.port, fake.cport,
                       fake.flags if flags is None else flags, 0, 0)


# ---------------------------------------------------------------- capture bookkeeping

class Captures:
    def __init__(self):
        self.saved = {}
        self.lock = threading.Lock()
        self.wanted = []  # (name, predicate(fake, direction, type, packet))

    def want(self, name, predicate):
        with self.lock:
            self.wanted.append((name, predicate))

    def __call__(self, fake, direction, mtype, packet):
        with self.lock:
            for name, predicate in list(self.wanted):
                if name not in self.saved and predicate(fake, direction, mtype, packet):
                    self.saved[name] = packet
                    self.wanted.remove((name, predicate))

    def get(self, name, timeout_s):
        return wait_for(name, lambda: self.saved.get(name), timeout_s)


def count_of(packet):
    return struct.unpack(">H", packet[14:16])[0]


def gossip_flags(packet):
    n = count_of(packet)
    return [struct.unpack(">H", packet[2256 + i * 104 + 98:2256 + i * 104 + 100])[0] for i in range(n)]


def start_redis(redis, workdir, port, extra):
    log = os.path.join(workdir, "redis-%d.log" % port)
    args = [redis, "--port", str(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes-%d.conf" % port, "--dir", workdir,
            "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
            "--logfile", log] + extra
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        try:
            return Resp(port)
        except OSError:
            return None
    return proc, wait_for("redis-server on %d" % port, ready, 10)


def cluster_nodes_connected(client, count):
    lines = [l for l in client.call("CLUSTER", "NODES").splitlines() if l]
    return len(lines) == count and all(" connected" in l and "handshake" not in l for l in lines)


# ---------------------------------------------------------------- phase 1: a master with a hostname

def phase_master(redis, workdir, out, manifest):
    cap = Captures()
    pa = free_port()
    proc, a = start_redis(redis, workdir, pa, ["--cluster-announce-hostname", "node-a.example",
                                                "--cluster-announce-ip", "127.0.0.1"])
    try:
        a.call("CLUSTER", "ADDSLOTSRANGE", 0, 5460)
        a.call("CLUSTER", "SET-CONFIG-EPOCH", 3)
        a_name = a.call("CLUSTER", "MYID").encode()
        used = {pa}
        def client_port():
            p = free_port(used)
            used.add(p)
            return p
        b = Fake("b", client_port(), MASTER, 2, slots_bitmap(5461, 10922), cap)
        c = Fake("c", client_port(), MASTER, 4, slots_bitmap(10923, 16383), cap)
        d = Fake("d", client_port(), SLAVE, 3, slots_bitmap(0, 5460), cap, slaveof=a_name)
        e = Fake("e", client_port(), SLAVE, 2, slots_bitmap(5461, 10922), cap, slaveof=b.name)
        fakes = [b, c, d, e]
        from_a_out = lambda f, t: (lambda fk, d_, mt, p: fk is f and d_ == "in" and mt == t)

        cap.want("meet", lambda fk, d_, mt, p: fk is b and mt == MEET)
        a.call("CLUSTER", "MEET", "127.0.0.1", b.port, b.cport)
        cap.get("meet", 10)
        wait_for("A to accept B", lambda: cluster_nodes_connected(a, 2), 10)

        # B pings A on its own (inbound for A) link with gossip about C, D and E; A answers PONG.
        b_out = b.connect_to(pa + 10000)
        stop = threading.Event()
        state = {"claim_slot0": False, "c_pfail": False}

        def b_pinger():
            while not stop.is_set():
                slots = bytearray(b.slots)
                if state["claim_slot0"]:
                    slots[0] |= 1
                gossip = [gossip_entry(c, PFAIL_FLAG | MASTER if state["c_pfail"] else None),
                          gossip_entry(d), gossip_entry(e)]
                try:
                    b_out.sendall(b.ping_packet(PING, gossip, slots))
                except OSError:
                    return
                stop.wait(0.3)
        threading.Thread(target=b_pinger, daemon=True).start()

        cap.want("pong", lambda fk, d_, mt, p: fk is b and d_ == "out" and mt == PONG and count_of(p) > 0)
        wait_for("A to know B, C, D, E", lambda: cluster_nodes_connected(a, 5), 15)
        wait_for("A to see D as its replica", lambda: any(
            l.startswith(d.name.decode()) and (" slave " + a_name.decode()) in l
            for l in a.call("CLUSTER", "NODES").splitlines()), 10)
        cap.want("ping", lambda fk, d_, mt, p: from_a_out(b, PING)(fk, d_, mt, p) and count_of(p) > 0
                 and not any(f & (PFAIL_FLAG | FAIL_FLAG) for f in gossip_flags(p)))
        cap.get("pong", 10)
        cap.get("ping", 10)

        cap.want("publish", from_a_out(b, PUBLISH))
        a.call("PUBLISH", "news", b"hello\x00world\xff")
        cap.get("publish", 5)
        # Larger than sizeof(clusterMsg): Redis builds it in a heap buffer instead of on the stack.
        cap.want("publish-large", lambda fk, d_, mt, p: from_a_out(b, PUBLISH)(fk, d_, mt, p) and len(p) > 4352)
        a.call("PUBLISH", "news", bytes(i % 251 for i in range(5000)))
        cap.get("publish-large", 5)

        channel = next(ch for ch in ("shard-%d" % i for i in range(1000))
                       if a.call("CLUSTER", "KEYSLOT", ch) <= 5460)
        cap.want("publishshard", from_a_out(d, PUBLISHSHARD))
        a.call("SPUBLISH", channel, "sharded message")
        cap.get("publishshard", 5)

        # B claims slot 0 (A's, configEpoch 3) with configEpoch 2: A tells B with an UPDATE.
        cap.want("update", from_a_out(b, UPDATE))
        state["claim_slot0"] = True
        cap.get("update", 5)
        state["claim_slot0"] = False

        # C goes silent: A flags it PFAIL (and gossips it), B reports it: A marks it FAIL.
        cap.want("ping-pfail", lambda fk, d_, mt, p: fk in (b, d, e) and d_ == "in" and mt == PING
                 and any(f & PFAIL_FLAG for f in gossip_flags(p)))
        cap.want("fail", from_a_out(b, FAIL))
        c.silent = True
        cap.get("ping-pfail", 15)
        state["c_pfail"] = True
        cap.get("fail", 15)

        # E (replica of B) asks for a vote with FORCEACK and a higher currentEpoch: A acks it.
        cap.want("auth-ack", from_a_out(e, AUTH_ACK))
        e_out = e.connect_to(pa + 10000)
        e_out.sendall(e.header(AUTH_REQ, 2256, mflags=FORCEACK, current_epoch=10))
        cap.get("auth-ack", 5)

        stop.set()
        manifest["master"] = {"name": a_name.decode(), "port": pa, "cport": pa + 10000,
                              "hostname": "node-a.example", "ip": "127.0.0.1",
                              "publish_channel": "news", "shard_channel": channel,
                              "fakes": {f.name[:1].decode(): {"name": f.name.decode(), "port": f.port,
                                                              "cport": f.cport} for f in fakes}}
        for f in fakes:
            f.close()
        return cap.saved
    finally:
        stop_redis(proc)


# ---------------------------------------------------------------- phase 2: a replica without hostname

def phase_replica(redis, workdir, out, manifest):
    cap = Captures()
    pr = free_port()
    proc, r = start_redis(redis, workdir, pr, [])
    try:
        b = Fake("b", free_port({pr}), MASTER, 7, slots_bitmap(0, 16383), cap)
        b.current_epoch = 8
        cap.want("meet-nohostname", lambda fk, d_, mt, p: mt == MEET)
        r.call("CLUSTER", "MEET", "127.0.0.1", b.port, b.cport)
        cap.get("meet-nohostname", 10)
        wait_for("R to accept B", lambda: cluster_nodes_connected(r, 2), 10)
        r.call("CLUSTER", "REPLICATE", b.name.decode())
        # A replica's header carries its master's slots and configEpoch, once it has learnt them.
        cap.want("ping-replica", lambda fk, d_, mt, p: mt == PING and
                 struct.unpack(">H", p[2250:2252])[0] & SLAVE and p[24:32] != bytes(8))
        cap.get("ping-replica", 10)

        cap.want("mfstart", lambda fk, d_, mt, p: mt == MFSTART)
        r.call("CLUSTER", "FAILOVER")
        cap.get("mfstart", 5)

        cap.want("auth-req", lambda fk, d_, mt, p: mt == AUTH_REQ)
        r.call("CLUSTER", "FAILOVER", "FORCE")
        cap.get("auth-req", 10)
        manifest["replica"] = {"name": r.call("CLUSTER", "MYID"), "port": pr, "cport": pr + 10000,
                               "master": {"name": b.name.decode(), "port": b.port, "cport": b.cport}}
        b.close()
        return cap.saved
    finally:
        stop_redis(proc)


def stop_redis(proc):
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis", default="/usr/bin/redis-server")
    parser.add_argument("--out", default=here)
    args = parser.parse_args()
    version = subprocess.run([args.redis, "--version"], capture_output=True, text=True).stdout.strip()
    workdir = tempfile.mkdtemp(prefix="bus-capture-")
    manifest = {"redis": version}
    try:
        saved = {}
        saved.update(phase_master(args.redis, workdir, args.out, manifest))
        saved.update(phase_replica(args.redis, workdir, args.out, manifest))
    except Exception:
        for log in sorted(f for f in os.listdir(workdir) if f.endswith(".log")):
            sys.stderr.write("---- %s\n" % log)
            with open(os.path.join(workdir, log)) as fh:
                sys.stderr.write(fh.read()[-4000:])
        raise
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(args.out, exist_ok=True)
    manifest["captures"] = {}
    for name, packet in sorted(saved.items()):
        with open(os.path.join(args.out, name + ".bin"), "wb") as fh:
            fh.write(packet)
        manifest["captures"][name] = {"type": struct.unpack(">H", packet[12:14])[0], "bytes": len(packet)}
        print("%-16s type %2d  %5d bytes" % (name, manifest["captures"][name]["type"], len(packet)))
    with open(os.path.join(args.out, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")


if __name__ == "__main__":
    main()
