"""Uses a cluster through redis-py's RedisCluster (Debian's python3-redis), the way applications
do: slot discovery from CLUSTER SLOTS, keys spread over every master, hash-tagged multi-key
commands, pipelines, and pub/sub. Usage: redispy_cluster.py PORT [PORT ...]. Exits non-zero on
any mismatch."""
import sys
from redis.cluster import RedisCluster, ClusterNode

ports = [int(p) for p in sys.argv[1:]]
rc = RedisCluster(startup_nodes=[ClusterNode("127.0.0.1", p) for p in ports], decode_responses=True,
                  socket_timeout=10)
masters = rc.get_primaries()
assert len(masters) == 3, masters
for i in range(300):
    rc.set(f"py:{i}", i)
for i in range(300):
    assert rc.get(f"py:{i}") == str(i), i
# The keys landed on every master.
assert all(rc.dbsize(target_nodes=m) > 0 for m in masters)
rc.mset({"{py}a": "1", "{py}b": "2"})
assert rc.mget("{py}a", "{py}b") == ["1", "2"]
pipe = rc.pipeline()
for i in range(20):
    pipe.incr(f"py:ctr:{i}")
assert pipe.execute() == [1] * 20
assert rc.keyslot("py:1") == rc.cluster_keyslot("py:1")
print("redis-py cluster ok")
