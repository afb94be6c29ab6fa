#!/usr/bin/env bash
# Failover time, Cinnabar sentinels vs Redis sentinels, on the same kind of data nodes.
# Each run: a master and 2 replicas, 3 sentinels (down-after-milliseconds 1000, failover-timeout
# 10000); once the sentinels know both replicas and each other, kill -9 the master and time until
# SENTINEL GET-MASTER-ADDR-BY-NAME names another node AND that node accepts a write.
# Runs alternate between the two kinds of sentinels; prints every time and the medians.
# Usage: bench/sentinel.sh [runs=5] [data=cinnabar|redis]
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${1:-5}"
data="${2:-cinnabar}"
base=27700
work="$(mktemp -d /tmp/cinnabar-sentinel-bench.XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; pids=(); }
trap 'cleanup; rm -rf "$work"' EXIT
"$root/bin/cinnabar-server" --version >/dev/null

start_data() { # port [master-port]
  local dir="$work/d$1"; mkdir -p "$dir"
  local args=(--port "$1" --dir "$dir" --save "" --logfile "$dir/log.txt")
  [ $# -gt 1 ] && args+=(--replicaof "127.0.0.1 $2")
  if [ "$data" = redis ]; then redis-server "${args[@]}" >/dev/null 2>&1 & else "$root/bin/cinnabar-server" "${args[@]}" >/dev/null 2>&1 & fi
  pids+=($!)
}

start_sentinel() { # kind port master-port
  local dir="$work/s$2"; mkdir -p "$dir"
  printf 'port %s\ndir %s\nlogfile log.txt\nsentinel monitor mymaster 127.0.0.1 %s 2\nsentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 10000\n' \
    "$2" "$dir" "$3" >"$dir/sentinel.conf"
  if [ "$1" = redis ]; then redis-sentinel "$dir/sentinel.conf" >/dev/null 2>&1 & else "$root/bin/cinnabar-sentinel" "$dir/sentinel.conf" >/dev/null 2>&1 & fi
  pids+=($!)
}

wait_until() { # deadline-seconds command...
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && return 1; sleep 0.05; done
}

field() { redis-cli -p "$1" sentinel master mymaster 2>/dev/null | awk -v k="$2" 'prev==k{print; exit} {prev=$0}'; }
ready() { for s in 0 1 2; do [ "$(field $((base + 10 + s)) num-slaves)" = 2 ] && [ "$(field $((base + 10 + s)) num-other-sentinels)" = 2 ] || return 1; done; }
moved() {
  local port; port="$(redis-cli -p $((base + 10)) sentinel get-master-addr-by-name mymaster 2>/dev/null | tail -1)"
  [ -n "$port" ] && [ "$port" != "$base" ] && redis-cli -p "$port" set bench:k v 2>/dev/null | grep -q OK
}

one_run() { # kind -> sets ms (runs in this shell, so pids stays ours to clean up)
  ms=""
  rm -rf "$work"/*
  start_data $base; wait_until 30 redis-cli -p $base ping || return 1
  start_data $((base + 1)) $base; start_data $((base + 2)) $base
  wait_until 30 sh -c "redis-cli -p $base info replication | grep -q connected_slaves:2"
  for s in 0 1 2; do start_sentinel "$1" $((base + 10 + s)) $base; done
  wait_until 60 ready || { echo "sentinels never discovered each other" >&2; return 1; }
  kill -9 "${pids[0]}"; wait "${pids[0]}" 2>/dev/null
  local t0; t0=$(date +%s%N)
  wait_until 60 moved || { echo "no failover within 60 s" >&2; return 1; }
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}

declare -A times=([cinnabar]="" [redis]="")
for r in $(seq "$runs"); do
  for kind in cinnabar redis; do
    one_run $kind; cleanup; sleep 0.5
    echo "run $r $kind sentinels: ${ms:-failed} ms"
    times[$kind]+="${ms:-999999} "
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mc="$(echo "${times[cinnabar]}" | median)"; mr="$(echo "${times[redis]}" | median)"
echo "median failover time ($data data nodes): cinnabar sentinels ${mc} ms, redis sentinels ${mr} ms, ratio $(awk -v a="$mc" -v b="$mr" 'BEGIN{printf "%.2f", a/b}')"
