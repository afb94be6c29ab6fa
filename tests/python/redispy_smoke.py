"""Exercises a server through redis-py (Debian's python3-redis) in RESP2: strings, hashes,
pipelines, transactions, Lua, pub/sub and scan iteration. Exits non-zero on any mismatch."""
import sys
import redis

port = int(sys.argv[1])
r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
assert r.ping()
r.set("py:str", "hello", ex=100)
assert r.get("py:str") == "hello"
assert 0 < r.ttl("py:str") <= 100
r.hset("py:h", mapping={"a": "1", "b": "2"})
assert r.hgetall("py:h") == {"a": "1", "b": "2"}
with r.pipeline(transaction=True) as p:
    p.incr("py:n").incr("py:n").get("py:n")
    assert p.execute() == [1, 2, "2"]
for i in range(50):
    r.sadd("py:s", i)
assert sorted(int(x) for x in r.sscan_iter("py:s")) == list(range(50))
assert r.eval("return redis.call('get', KEYS[1])", 1, "py:str") == "hello"
ps = r.pubsub()
ps.subscribe("py:chan")
assert ps.get_message(timeout=5)["type"] == "subscribe"
assert r.publish("py:chan", "msg") == 1
m = ps.get_message(timeout=5)
assert m["data"] == "msg", m
ps.close()
r.zadd("py:z", {"a": 1.5, "b": 2})
assert r.zrange("py:z", 0, -1, withscores=True) == [("a", 1.5), ("b", 2.0)]
assert r.info("server")["redis_version"].startswith("7.0")
print("redis-py ok")
