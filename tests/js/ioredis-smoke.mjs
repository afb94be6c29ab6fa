// Exercises a server through ioredis the way applications do: readiness check (INFO),
// strings, hashes, lists, pipelines, MULTI, Lua, pub/sub. Exits non-zero on any mismatch.
import Redis from "ioredis";
import assert from "node:assert/strict";

const port = Number(process.argv[2]);
const opts = { port, host: "127.0.0.1", lazyConnect: false, maxRetriesPerRequest: 2, connectTimeout: 10000 };
const r = new Redis(opts);
const sub = new Redis(opts);
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 30000);

try {
  await r.set("js:str", "hello");
  assert.equal(await r.get("js:str"), "hello");
  assert.equal(await r.incrby("js:n", 5), 5);
  await r.hset("js:h", { a: "1", b: "2" });
  assert.deepEqual(await r.hgetall("js:h"), { a: "1", b: "2" });
  await r.rpush("js:l", "x", "y", "z");
  assert.deepEqual(await r.lrange("js:l", 0, -1), ["x", "y", "z"]);
  const pipe = await r.pipeline().set("js:p1", "1").get("js:p1").del("js:p1").exec();
  assert.deepEqual(pipe.map(([e, v]) => v), ["OK", "1", 1]);
  const tx = await r.multi().incr("js:t").incr("js:t").exec();
  assert.deepEqual(tx.map(([e, v]) => v), [1, 2]);
  assert.equal(await r.eval("return redis.call('get', KEYS[1])", 1, "js:str"), "hello");
  await r.zadd("js:z", 1, "a", 2, "b");
  assert.deepEqual(await r.zrange("js:z", 0, -1, "WITHSCORES"), ["a", "1", "b", "2"]);
  const got = new Promise((resolve) => sub.on("message", (ch, msg) => resolve([ch, msg])));
  await sub.subscribe("js:chan");
  assert.equal(await r.publish("js:chan", "ping"), 1);
  assert.deepEqual(await got, ["js:chan", "ping"]);
  const info = await r.info("server");
  assert.match(info, /redis_version:7\.0\./);
  console.log("ioredis ok");
} finally {
  clearTimeout(timer);
  r.disconnect();
  sub.disconnect();
}
