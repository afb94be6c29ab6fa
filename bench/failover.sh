#!/usr/bin/env bash
# Failover time, side by side on this machine: a 3-master + 3-replica cluster with
# cluster-node-timeout 2000 (built by redis-cli --cluster create), kill -9 of one master, then the
# time until every surviving node reports cluster_state:ok with the killed master's slots served
# by its promoted replica. Cinnabar cluster and redis-server 7.0 cluster alternate, each run on a
# fresh cluster. Target (issue 10): Cinnabar <= node-timeout + 1000 ms.
# Usage: bench/failover.sh [runs=5] [node-timeout-ms=2000]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-5}"
timeout_ms="${2:-2000}"
"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
pids=()
cleanup() {
  [ -f "$dir/pids" ] && while read -r p; do kill -9 "$p" 2>/dev/null || true; done <"$dir/pids"
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "logs kept in $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT

now_ms() { date +%s%3N; }

start() { # start KIND PORT: echoes the pid
  local kind="$1" port="$2"
  rm -rf "${dir:?}/$port" && mkdir -p "$dir/$port"
  local bin=redis-server
  [ "$kind" = cinnabar ] && bin="$root/bin/cinnabar-server"
  (cd "$dir/$port" && exec "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$port" \
    --cluster-enabled yes --cluster-node-timeout "$timeout_ms" >"$dir/$port/log" 2>&1) &
  local pid=$!
  echo "$pid" >>"$dir/pids"
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  echo "$pid"
}

all_ok() { # all_ok PORTS...
  for p in "$@"; do redis-cli -p "$p" cluster info 2>/dev/null | grep -q cluster_state:ok || return 1; done
}

one_run() { # one_run KIND BASEPORT: sets result to the failover time in ms
  local kind="$1" base="$2" nodes=() ports=() mpids=()
  for i in 0 1 2 3 4 5; do
    local pid
    pid=$(start "$kind" $((base + i)))
    pids+=("$pid")
    [ "$i" -lt 3 ] && mpids+=("$pid")
    nodes+=("127.0.0.1:$((base + i))"); ports+=($((base + i)))
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create-$base.log" 2>&1 || { cat "$dir/create-$base.log" >&2; exit 1; }
  for _ in $(seq 600); do
    all_ok "${ports[@]}" && [ "$(redis-cli -p "$base" cluster nodes | grep -c slave)" = 3 ] && break
    sleep 0.1
  done
  # The victim: master 1; its replica is whichever node replicates it.
  local victim=$((base + 1)) vid heir=
  vid=$(redis-cli -p "$victim" cluster myid)
  for _ in $(seq 100); do
    heir=$(redis-cli -p "$base" cluster nodes | awk -v m="$vid" '$4 == m {print $2}' | head -1 | cut -d: -f2 | cut -d@ -f1)
    [ -n "$heir" ] && break
    sleep 0.1
  done
  [ -n "$heir" ] || { echo "no replica of the victim found" >&2; redis-cli -p "$base" cluster nodes >&2; exit 1; }
  # Let the replica be fully in sync and the cluster quiet.
  for _ in $(seq 100); do redis-cli -p "$heir" info replication | grep -q master_link_status:up && break; sleep 0.1; done
  sleep 1
  local survivors=()
  for p in "${ports[@]}"; do [ "$p" != "$victim" ] && survivors+=("$p"); done
  local hid
  hid=$(redis-cli -p "$heir" cluster myid)
  # Kill, then poll every survivor over kept-open connections (redis-py) every 5 ms: the time
  # until all report cluster_state:ok and list the heir as a master.
  result=$(/usr/bin/python3 - "$hid" "${mpids[1]}" "${survivors[@]}" <<'PY'
import os, signal, sys, time
import redis
hid, pid, ports = sys.argv[1], int(sys.argv[2]), [int(p) for p in sys.argv[3:]]
conns = [redis.Redis(port=p, socket_timeout=1) for p in ports]
for c in conns: c.ping()
def done(c):
    if b"cluster_state:ok" not in c.execute_command("CLUSTER", "INFO"): return False
    for line in c.execute_command("CLUSTER", "NODES").decode().splitlines():
        f = line.split()
        if f and f[0] == hid: return "master" in f[2]
    return False
t0 = time.monotonic()
os.kill(pid, signal.SIGKILL)
pending = list(conns)
while pending:
    if time.monotonic() - t0 > 60: sys.exit("no failover in 60 s")
    pending = [c for c in pending if not done(c)]
    if pending: time.sleep(0.005)
print(int((time.monotonic() - t0) * 1000))
PY
) || exit 1
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  sleep 0.5
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cs=(); rs=()
for r in $(seq "$runs"); do
  one_run cinnabar 18400; c=$result; cs+=("$c")
  one_run redis 18500; x=$result; rs+=("$x")
  echo "run $r: cinnabar ${c} ms  redis ${x} ms"
done
cm=$(printf '%s\n' "${cs[@]}" | median); rm_=$(printf '%s\n' "${rs[@]}" | median)
echo "# kill -9 of a master -> cluster ok everywhere, node-timeout ${timeout_ms} ms, median of $runs"
echo "cinnabar ${cm} ms (node-timeout + $((${cm%.*} - timeout_ms)) ms)  redis ${rm_} ms (node-timeout + $((${rm_%.*} - timeout_ms)) ms)"
