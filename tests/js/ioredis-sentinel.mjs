// Follows a Sentinel failover through ioredis ({ sentinels: [...], name: "mymaster" }): writes,
// waits for both replicas (WAIT), kills the master (SIGKILL, by the PID given), then retries a
// write until ioredis reconnects to the promoted replica, and checks everything written before.
// usage: node ioredis-sentinel.mjs <master-pid> <sentinel-port>...   Exits non-zero on any mismatch.
import Redis from "ioredis";
import assert from "node:assert/strict";

const [masterPid, ...ports] = process.argv.slice(2).map(Number);
const sentinels = ports.map((port) => ({ host: "127.0.0.1", port }));
const r = new Redis({
  sentinels,
  name: "mymaster",
  connectTimeout: 2000,
  sentinelRetryStrategy: () => 200,
  retryStrategy: () => 200,
  maxRetriesPerRequest: 1,
});
let lastError = null;
r.on("error", (e) => { lastError = e; });
const timer = setTimeout(() => { console.error("timeout, last error: " + lastError); process.exit(2); }, 90000);

async function masterAddr() {
  const s = new Redis({ host: "127.0.0.1", port: ports[0], lazyConnect: true });
  try {
    await s.connect();
    return await s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster");
  } finally {
    s.disconnect();
  }
}

try {
  const old = await masterAddr();
  for (let i = 0; i < 100; i++) await r.set(`js:before:${i}`, String(i));
  assert.equal(await r.call("WAIT", "2", "10000"), 2);

  process.kill(masterPid, "SIGKILL");
  const killed = Date.now();
  let attempts = 0;
  while (true) {
    attempts++;
    try {
      assert.equal(await r.set("js:after", "written after the failover"), "OK");
      break;
    } catch (e) {
      lastError = e;
      if (Date.now() - killed > 45000) throw new Error(`no write accepted within 45 s after the kill (${attempts} attempts), last error: ${e}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }
  const now = await masterAddr();
  assert.notDeepEqual(now, old, "sentinels still name the old master");
  assert.equal(await r.get("js:after"), "written after the failover");
  for (let i = 0; i < 100; i++) assert.equal(await r.get(`js:before:${i}`), String(i), `js:before:${i} lost`);
  console.log(`ioredis sentinel ok ${now[1]} after ${((Date.now() - killed) / 1000).toFixed(1)}s, ${attempts} attempts, last error ${lastError}`);
} catch (e) {
  console.error(e);
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  r.disconnect();
}
