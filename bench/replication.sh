#!/usr/bin/env bash
# Replication side by side: Cinnabar->Cinnabar against redis-server->redis-server on loopback.
# Usage: bench/replication.sh [keys=1000000] [requests=1000000]
#  1. full-sync time of a master holding KEYS keys (DEBUG POPULATE, 100-byte values), measured
#     from REPLICAOF to master_link_status:up on the replica, for disk and diskless sync;
#  2. master throughput under redis-benchmark -P 16 (SET and INCR), alone and with one replica
#     attached, and the ratio of the two.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys="${1:-1000000}"
n="${2:-1000000}"
"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

declare -A pid_of
# start KIND PORT -> starts a server with its own dir, waits for PING
start() {
  local kind=$1 port=$2 d="$dir/$1-$2"
  mkdir -p "$d"
  local args=(--port "$port" --save "" --dir "$d" --repl-backlog-size 64mb --enable-debug-command yes)
  if [ "$kind" = cinnabar ]; then
    "$root/bin/cinnabar-server" "${args[@]}" >"$d/log" 2>&1 &
  else
    redis-server "${args[@]}" >"$d/log" 2>&1 &
  fi
  pids+=($!)
  pid_of[$port]=$!
  for _ in $(seq 200); do
    [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && return
    kill -0 "${pid_of[$port]}" 2>/dev/null || break
    sleep 0.05
  done
  echo "server $kind on $port did not start" >&2; exit 1
}

now_ms() { date +%s%3N; }

# restart KIND PORT: a fresh process (new replication ID, empty), so the next sync is a full one
restart() {
  kill "${pid_of[$2]}"; while kill -0 "${pid_of[$2]}" 2>/dev/null; do sleep 0.05; done
  rm -rf "$dir/$1-$2"; start "$1" "$2"
}

# sync_time KIND MASTER_PORT REPLICA_PORT: sets $ms to the milliseconds from REPLICAOF to link
# up (a full sync). Not called in a subshell: restart must update pid_of.
sync_time() {
  local m=$2 r=$3 t0 t1
  restart "$1" "$r"
  t0=$(now_ms)
  redis-cli -p "$r" replicaof 127.0.0.1 "$m" >/dev/null
  local deadline=$((t0 + 300000))
  until redis-cli -p "$r" info replication | grep -q "master_link_status:up"; do
    [ "$(now_ms)" -lt $deadline ] || { echo "replica on $r did not sync" >&2; exit 1; }
    sleep 0.01
  done
  t1=$(now_ms)
  [ "$(redis-cli -p "$r" dbsize)" = "$keys" ] || { echo "replica on $r has $(redis-cli -p "$r" dbsize) keys" >&2; exit 1; }
  redis-cli -p "$r" replicaof no one >/dev/null
  ms=$((t1 - t0))
}

# rps PORT TEST -> requests per second at -P 16
rps() {
  redis-benchmark -p "$1" -c 50 -n "$n" -P 16 -t "$2" -q 2>/dev/null | tr '\r' '\n' \
    | grep -E "requests per second" | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'
}

start cinnabar 17201; start cinnabar 17202
start redis 17211; start redis 17212

echo "# full sync of $keys keys (ms, lower is better)"
printf "%-10s %10s %10s %7s\n" mode cinnabar redis ratio
for p in 17201 17211; do redis-cli -p "$p" debug populate "$keys" key 100 >/dev/null; done
for mode in no yes; do
  for p in 17201 17211; do redis-cli -p "$p" config set repl-diskless-sync "$mode" repl-diskless-sync-delay 0 >/dev/null; done
  sync_time cinnabar 17201 17202; c=$ms
  sync_time redis 17211 17212; r=$ms
  label=disk; [ "$mode" = yes ] && label=diskless
  printf "%-10s %10s %10s %7.2f\n" "$label" "$c" "$r" "$(echo "$c / $r" | bc -l)"
done
for p in 17201 17211; do redis-cli -p "$p" flushall >/dev/null; done
restart cinnabar 17202; restart redis 17212

echo "# master throughput at -P 16 (rps): alone, with one replica attached"
printf "%-6s %-9s %12s %12s %7s\n" test server alone replica ratio
for t in set incr; do
  for pair in "cinnabar 17201 17202" "redis 17211 17212"; do
    set -- $pair
    rps "$2" "$t" >/dev/null   # warm-up
    alone=$(rps "$2" "$t")
    redis-cli -p "$3" replicaof 127.0.0.1 "$2" >/dev/null
    until redis-cli -p "$3" info replication | grep -q "master_link_status:up"; do sleep 0.01; done
    with=$(rps "$2" "$t")
    redis-cli -p "$3" replicaof no one >/dev/null
    printf "%-6s %-9s %12.0f %12.0f %7.2f\n" "$t" "$1" "$alone" "$with" "$(echo "$with / $alone" | bc -l)"
  done
done
