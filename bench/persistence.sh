#!/usr/bin/env bash
# Persistence side by side with redis-server: SAVE time, RDB load time at startup, BGREWRITEAOF
# time (RDB preamble and plain commands), and GET/SET p99 latency with and without a BGSAVE
# running in a loop. One server at a time (the machine has 2 cores).
# Usage: bench/persistence.sh [keys=1000000] [requests=200000]
# Data: 80% DEBUG POPULATE strings, 20% lists/hashes/sets/zsets of 10 elements (redis-cli --pipe).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys="${1:-1000000}"
requests="${2:-200000}"
port=17101
work="$(mktemp -d)"
pid=""
loop_pid=""
cleanup() {
  [ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null || true
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$root/bin/cinnabar-server" --version >/dev/null

now() { date +%s.%N; }
cli() { redis-cli -p $port "$@"; }
info_has() { cli info persistence | tr -d '\r' | grep -q "^$1$"; }
wait_for() { while ! info_has "$1"; do sleep 0.02; done; }

start() { # start KIND DIR [args]: launches, waits until loaded; sets $pid and $ready_s
  local kind=$1 dir=$2; shift 2
  local bin=/usr/bin/redis-server
  [ "$kind" = cinnabar ] && bin="$root/bin/cinnabar-server"
  local t0; t0=$(now)
  "$bin" --port $port --dir "$dir" --save "" --appendonly no --enable-debug-command yes "$@" >"$dir/$kind.log" 2>&1 &
  pid=$!
  until [ "$(cli ping 2>/dev/null)" = PONG ] && info_has loading:0; do sleep 0.02; done
  ready_s=$(echo "$(now) - $t0" | bc -l)
}
stop() { cli shutdown nosave >/dev/null 2>&1 || true; wait "$pid" 2>/dev/null || true; pid=""; }

# RESP for the collections: n keys of each kind, 10 elements each.
gen() {
  awk -v n="$1" 'function c(s,  i, k) { k = split(s, a, " "); printf "*%d\r\n", k; for (i = 1; i <= k; i++) printf "$%d\r\n%s\r\n", length(a[i]), a[i] }
  BEGIN {
    for (i = 0; i < n; i++) {
      l = "RPUSH list:" i; h = "HSET hash:" i; s = "SADD set:" i; z = "ZADD zset:" i
      for (j = 0; j < 10; j++) { l = l " item" j; h = h " field" j " value" i "-" j; s = s " member" j "-" i; z = z " " j " m" j }
      c(l); c(h); c(s); c(z)
    }
  }'
}

elapsed() { echo "$(now) - $1" | bc -l; }

p99() { # p99 TEST -> p99 ms from redis-benchmark --csv
  redis-benchmark -p $port -c 50 -n "$requests" -r 1000000 -t "$1" --csv 2>/dev/null \
    | awk -F'","' 'NR > 1 { gsub(/"/, "", $7); print $7 }' | tail -1
}

run() { # run KIND -> prints "name value" lines
  local kind=$1 dir="$work/$1"
  mkdir -p "$dir"
  start "$kind" "$dir"
  cli debug populate $((keys * 8 / 10)) >/dev/null
  gen $((keys / 20)) | cli --pipe >/dev/null
  echo "dbsize $(cli dbsize)"
  local t; t=$(now); cli save >/dev/null; echo "save_s $(elapsed "$t")"
  echo "rdb_bytes $(stat -c %s "$dir/dump.rdb")"
  stop
  start "$kind" "$dir"
  echo "load_ready_s $ready_s"
  echo "load_log_s $(grep -o 'DB loaded from disk: [0-9.]*' "$dir/$kind.log" | awk '{print $5}')"
  t=$(now); cli config set appendonly yes >/dev/null; wait_for aof_rewrite_in_progress:0
  t=$(now); cli bgrewriteaof >/dev/null; sleep 0.05; wait_for aof_rewrite_in_progress:0
  echo "bgrewriteaof_preamble_s $(elapsed "$t")"
  cli config set aof-use-rdb-preamble no >/dev/null
  t=$(now); cli bgrewriteaof >/dev/null; sleep 0.05; wait_for aof_rewrite_in_progress:0
  echo "bgrewriteaof_commands_s $(elapsed "$t")"
  echo "aof_base_bytes $(stat -c %s "$dir"/appendonlydir/*.base.aof)"
  cli config set appendonly no >/dev/null
  redis-benchmark -p $port -c 50 -n 50000 -r 1000000 -t set,get -q >/dev/null 2>&1 # warm-up
  echo "p99_set_ms $(p99 set)"
  echo "p99_get_ms $(p99 get)"
  (while true; do cli bgsave >/dev/null 2>&1; sleep 0.05; wait_for rdb_bgsave_in_progress:0; done) &
  loop_pid=$!
  echo "p99_set_bgsave_ms $(p99 set)"
  echo "p99_get_bgsave_ms $(p99 get)"
  kill $loop_pid; wait $loop_pid 2>/dev/null || true; loop_pid=""
  wait_for rdb_bgsave_in_progress:0
  stop
}

run redis >"$work/redis.txt"
run cinnabar >"$work/cinnabar.txt"
printf "%-26s %12s %12s %7s\n" metric redis cinnabar ratio
paste -d' ' "$work/redis.txt" "$work/cinnabar.txt" | while read -r name r _ c; do
  ratio=$(echo "if ($r > 0) $c / $r else 0" | bc -l)
  printf "%-26s %12s %12s %7.2f\n" "$name" "$r" "$c" "$ratio"
done
