"""Follows a Sentinel failover through redis-py's redis.sentinel.Sentinel (Debian's python3-redis):
writes through master_for('mymaster'), waits for both replicas (WAIT), kills the master
(SIGKILL, by the PID given), then retries a write until the sentinels hand out the promoted
replica, and checks that everything written before is still there.

usage: redispy_sentinel.py <master-pid> <sentinel-port>...   Exits non-zero on any mismatch."""
import os
import signal
import sys
import time

import redis
from redis.sentinel import Sentinel

master_pid = int(sys.argv[1])
ports = [int(p) for p in sys.argv[2:]]
sentinel = Sentinel([("127.0.0.1", p) for p in ports], socket_timeout=2, sentinel_kwargs={"socket_timeout": 2})
m = sentinel.master_for("mymaster", socket_timeout=2, socket_connect_timeout=2, decode_responses=True)

old = sentinel.discover_master("mymaster")
for i in range(100):
    m.set(f"py:before:{i}", i)
acked = m.wait(2, 10000)
assert acked == 2, f"WAIT 2 gave {acked}"

os.kill(master_pid, signal.SIGKILL)
killed = time.monotonic()
deadline = killed + 45
attempts = 0
last = None
while True:
    attempts += 1
    try:
        assert m.set("py:after", "written after the failover")
        break
    except redis.exceptions.RedisError as e:  # connection refused, timeouts, READONLY, master not found
        last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"no write accepted within 45 s after the kill ({attempts} attempts), last error: {last!r}")
        time.sleep(0.2)

new = sentinel.discover_master("mymaster")
assert new != old, f"sentinels still name {old}"
assert m.get("py:after") == "written after the failover"
for i in range(100):
    assert m.get(f"py:before:{i}") == str(i), f"py:before:{i} lost"
print(f"redis-py sentinel ok {new[1]} after {time.monotonic() - killed:.1f}s, {attempts} attempts, last error {last!r}")
