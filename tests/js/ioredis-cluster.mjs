// Uses a cluster through ioredis's Cluster client: slot discovery, MOVED handling, keys over every
// master, hash-tagged multi-key commands, pipelines. Usage: node ioredis-cluster.mjs PORT [PORT ...]
import Redis from "ioredis";
import assert from "node:assert/strict";

const ports = process.argv.slice(2).map(Number);
const cluster = new Redis.Cluster(ports.map((port) => ({ host: "127.0.0.1", port })), {
  redisOptions: { connectTimeout: 10000 },
  slotsRefreshTimeout: 10000,
});
const timer = setTimeout(() => { console.error("timeout"); process.exit(2); }, 60000);
try {
  for (let i = 0; i < 300; i++) await cluster.set(`js:${i}`, String(i));
  for (let i = 0; i < 300; i++) assert.equal(await cluster.get(`js:${i}`), String(i));
  const masters = cluster.nodes("master");
  assert.equal(masters.length, 3);
  for (const m of masters) assert.ok((await m.dbsize()) > 0);
  await cluster.mset("{js}a", "1", "{js}b", "2");
  assert.deepEqual(await cluster.mget("{js}a", "{js}b"), ["1", "2"]);
  const res = await cluster.pipeline().incr("{js}n").incr("{js}n").get("{js}n").exec();
  assert.deepEqual(res.map(([e, v]) => v), [1, 2, "2"]);
  console.log("ioredis cluster ok");
} finally {
  clearTimeout(timer);
  cluster.disconnect();
}
