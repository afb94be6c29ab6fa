#!/usr/bin/env bash
# Legacy resharding time, side by side on this machine: 3 masters made by redis-cli --cluster
# create, 200k keys (strings plus some big collections) loaded into the first master's slots,
# then `redis-cli --cluster reshard --cluster-slots 4096 --cluster-pipeline 100` from the first
# master to the second, while a probe client (redis-py RedisCluster, follows MOVED/ASK) keeps
# writing keys of the moving slots and records its longest wait. Cinnabar and redis-server 7.0
# alternate, each run on a fresh cluster; then the same data moved by Cinnabar's atomic slot
# migration (CLUSTER MIGRATION IMPORT 0 4095 on the second master). Targets (issue 11): legacy
# Cinnabar time <= 1.0x Redis's; atomic >= 5x faster than legacy.
# Usage: bench/reshard.sh [runs=1] [keys=200000]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-1}"
keys="${2:-200000}"
"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
cleanup() {
  [ -f "$dir/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$dir/pids"
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "logs kept in $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT

start() { # start KIND PORT
  local kind="$1" port="$2"
  rm -rf "${dir:?}/$port" && mkdir -p "$dir/$port"
  local bin=redis-server
  [ "$kind" = cinnabar ] && bin="$root/bin/cinnabar-server"
  (cd "$dir/$port" && exec "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$port" \
    --cluster-enabled yes --cluster-node-timeout 5000 >"$dir/$port/log" 2>&1) &
  echo $! >>"$dir/pids"
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}

# Writes the load for the first master (slots 0-5460) as RESP on stdout: strings of 100 bytes,
# and 1% of the keys as big collections (hash, list, set, zset of 1000 elements).
gen_load() {
  /usr/bin/python3 - "$keys" <<'PY'
import sys
n = int(sys.argv[1])
def crc16(b):
    crc = 0
    for x in b:
        crc ^= x << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc
def cmd(*a):
    out = [b"*%d\r\n" % len(a)]
    for x in a:
        x = x if isinstance(x, bytes) else str(x).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(x), x))
    return b"".join(out)
w = sys.stdout.buffer
value = b"v" * 100
i = made = 0
while made < n:
    k = b"key:%d" % i
    i += 1
    if crc16(k) % 16384 > 5460: continue
    made += 1
    kind = made % 100
    if kind == 1:
        w.write(cmd(b"HSET", k, *[x for j in range(1000) for x in (b"f%d" % j, b"val%d" % j)]))
    elif kind == 2:
        w.write(cmd(b"RPUSH", k, *[b"elem%d" % j for j in range(1000)]))
    elif kind == 3:
        w.write(cmd(b"SADD", k, *[b"m%d" % j for j in range(1000)]))
    elif kind == 4:
        w.write(cmd(b"ZADD", k, *[x for j in range(1000) for x in (str(j).encode(), b"z%d" % j)]))
    else:
        w.write(cmd(b"SET", k, value))
PY
}

one_run() { # one_run KIND BASEPORT [atomic]: sets secs and pause_ms
  local kind="$1" base="$2" mode="${3:-legacy}" nodes=()
  for i in 0 1 2; do start "$kind" $((base + i)); nodes+=("127.0.0.1:$((base + i))"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-yes >"$dir/create-$base.log" 2>&1 || { cat "$dir/create-$base.log" >&2; exit 1; }
  for _ in $(seq 300); do redis-cli -p "$base" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
  gen_load | redis-cli -p "$base" --pipe >"$dir/load-$base.log" 2>&1 || { cat "$dir/load-$base.log" >&2; exit 1; }
  local from to
  from=$(redis-cli -p "$base" cluster myid); to=$(redis-cli -p $((base + 1)) cluster myid)
  # The probe: writes keys of the moving slots through a cluster client, longest wait in ms.
  /usr/bin/python3 - "$base" "$dir/probe-$base" 2>/dev/null <<'PY' &
import sys, time, os
from redis.cluster import RedisCluster
port, out = int(sys.argv[1]), sys.argv[2]
rc = RedisCluster(host="127.0.0.1", port=port)
worst = 0.0
i = 0
while not os.path.exists(out + ".stop"):
    t = time.monotonic()
    rc.set("probe:{key:%d}" % (i % 2000), i)
    worst = max(worst, time.monotonic() - t)
    i += 1
open(out, "w").write("%d %d\n" % (int(worst * 1000), i))
PY
  local probe=$!
  local t0 t1
  t0=$(date +%s%N)
  if [ "$mode" = atomic ]; then
    # The same 4096 slots (redis-cli reshard takes the source's first ones: 0-4095), in one task.
    local id state=""
    id=$(redis-cli -p $((base + 1)) cluster migration import 0 4095)
    for _ in $(seq 6000); do
      state=$(redis-cli -p $((base + 1)) cluster migration status id "$id" | awk 'prev == "state" {print; exit} {prev = $0}')
      [ "$state" = completed ] || [ "$state" = failed ] && break
      sleep 0.01
    done
    [ "$state" = completed ] || { echo "atomic migration ended $state" >&2; redis-cli -p $((base + 1)) cluster migration status id "$id" >&2; exit 1; }
    # Done when the source agrees (it completes on seeing the claim, then drops the keys).
    for _ in $(seq 3000); do
      redis-cli -p "$base" cluster migration status id "$id" | grep -qx completed && break
      sleep 0.01
    done
  else
    redis-cli --cluster reshard "127.0.0.1:$base" --cluster-from "$from" --cluster-to "$to" --cluster-slots 4096 \
      --cluster-yes --cluster-pipeline 100 >"$dir/reshard-$base.log" 2>&1 || { tail -20 "$dir/reshard-$base.log" >&2; exit 1; }
  fi
  t1=$(date +%s%N)
  touch "$dir/probe-$base.stop"; wait "$probe" || true
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  pause_ms=$(cut -d' ' -f1 "$dir/probe-$base")
  redis-cli --cluster check "127.0.0.1:$base" | grep -q "All 16384 slots covered" || { echo "check failed after reshard" >&2; exit 1; }
  for i in 0 1 2; do redis-cli -p $((base + i)) shutdown nosave >/dev/null 2>&1 || true; done
  sleep 0.5
}

for r in $(seq "$runs"); do
  one_run cinnabar 18600; cs=$secs; cp=$pause_ms
  one_run redis 18700; rs=$secs; rp=$pause_ms
  one_run cinnabar 18800 atomic; as=$secs; ap=$pause_ms
  echo "run $r: legacy reshard: cinnabar ${cs} s (longest client wait ${cp} ms), redis ${rs} s (${rp} ms): cinnabar/redis $(awk -v a="$cs" -v b="$rs" 'BEGIN {printf "%.2f", a / b}')x"
  echo "run $r: atomic migration (cinnabar): ${as} s (longest client wait ${ap} ms): $(awk -v a="$cs" -v b="$as" 'BEGIN {printf "%.1f", a / b}')x faster than cinnabar legacy, $(awk -v a="$rs" -v b="$as" 'BEGIN {printf "%.1f", a / b}')x faster than redis legacy"
done
