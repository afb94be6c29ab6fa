"""Client side caching through redis-py (Debian's python3-redis), RESP2: invalidations redirected
to a connection subscribed to __redis__:invalidate, BCAST prefixes, CLIENT TRACKINGINFO and
GETREDIR. Exits non-zero on any mismatch."""
import sys
import redis

port = int(sys.argv[1])
def conn():
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True, single_connection_client=True)

# The redirect target: one plain connection, its id, then subscribed to the invalidation channel.
listener = redis.Connection(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
listener.connect()
listener.send_command("CLIENT", "ID")
listener_id = listener.read_response()
listener.send_command("SUBSCRIBE", "__redis__:invalidate")
assert listener.read_response() == ["subscribe", "__redis__:invalidate", 1]

def message():
    kind, channel, data = listener.read_response()
    assert kind == "message" and channel == "__redis__:invalidate", (kind, channel)
    return data

cache = conn()
writer = conn()
assert cache.client_tracking_on(clientid=listener_id)
assert cache.client_getredir() == listener_id
writer.set("pytrk:a", "1")
assert cache.get("pytrk:a") == "1"
writer.set("pytrk:a", "2")
assert message() == ["pytrk:a"]

assert cache.client_tracking_off()
assert cache.client_tracking_on(clientid=listener_id, bcast=True, prefix=["pytrk:p:"])
info = cache.client_trackinginfo()
assert info[1] == ["on", "bcast"] and info[5] == ["pytrk:p:"], info
writer.mset({"pytrk:p:1": "x", "pytrk:q": "y"})
assert message() == ["pytrk:p:1"]
writer.flushall()
assert message() is None
listener.disconnect()
print("redis-py tracking ok")
