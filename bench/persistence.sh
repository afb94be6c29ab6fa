#!/usr/bin/env bash
# Persistence side by side with redis-server: SAVE time, RDB load time at startup, BGREWRITEAOF
# time (RDB preamble and plain commands), and GET/SET p99 latency with and without a BGSAVE
# running in a loop. Every measure alternates the two servers and is repeated ROUNDS times;
# the median is reported (this machine is shared and noisy).
# Usage: bench/persistence.sh [keys=1000000] [requests=200000] [rounds=3]
# Data: 80% DEBUG POPULATE strings, 20% lists/hashes/sets/zsets of 10 elements (redis-cli --pipe).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
keys="${1:-1000000}"
requests="${2:-200000}"
rounds="${3:-3}"
work="$(mktemp -d)"
declare -A port=([redis]=17101 [cinnabar]=17102) pid=()
loop_pid=""
cleanup() {
  [ -n "$loop_pid" ] && kill "$loop_pid" 2>/dev/null || true
  for k in redis cinnabar; do
    [ -n "${pid[$k]:-}" ] && kill "${pid[$k]}" 2>/dev/null && wait "${pid[$k]}" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
"$root/bin/cinnabar-server" --version >/dev/null

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
cli() { local k=$1; shift; redis-cli -p "${port[$k]}" "$@"; }
info_has() { cli "$1" info persistence | tr -d '\r' | grep -q "^$2$"; }
wait_for() { while ! info_has "$1" "$2"; do sleep 0.02; done; }

start() { # start KIND: launches on its dir, waits until loaded; sets ready_s
  local k=$1 bin=/usr/bin/redis-server
  [ "$k" = cinnabar ] && bin="$root/bin/cinnabar-server"
  local t0; t0=$(now)
  "$bin" --port "${port[$k]}" --dir "$work/$k" --save "" --appendonly no --enable-debug-command yes >"$work/$k/server.log" 2>&1 &
  pid[$k]=$!
  until [ "$(cli "$k" ping 2>/dev/null)" = PONG ] && info_has "$k" loading:0; do sleep 0.02; done
  ready_s=$(elapsed "$t0")
}
stop() { cli "$1" shutdown nosave >/dev/null 2>&1 || true; wait "${pid[$1]}" 2>/dev/null || true; pid[$1]=""; }

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

p99() { # p99 KIND TEST -> p99 ms from redis-benchmark --csv
  redis-benchmark -p "${port[$1]}" -c 50 -n "$requests" -r 1000000 -t "$2" --csv 2>/dev/null \
    | awk -F'","' 'NR > 1 { gsub(/"/, "", $7); print $7 }' | tail -1
}

rewrite() { # rewrite KIND -> seconds until the rewrite is done
  local t; t=$(now); cli "$1" bgrewriteaof >/dev/null; sleep 0.05; wait_for "$1" aof_rewrite_in_progress:0; elapsed "$t"
}

record() { echo "$2" >>"$work/$1.$3"; } # record KIND VALUE METRIC
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

metrics=(save_s load_ready_s load_log_s bgrewriteaof_preamble_s bgrewriteaof_commands_s p99_set_ms p99_get_ms p99_set_bgsave_ms p99_get_bgsave_ms)
for k in redis cinnabar; do
  mkdir -p "$work/$k"
  start "$k"
  cli "$k" debug populate $((keys * 8 / 10)) >/dev/null
  gen $((keys / 20)) | cli "$k" --pipe >/dev/null
  echo "$k dbsize $(cli "$k" dbsize)" >&2
done

for _ in $(seq "$rounds"); do
  for k in redis cinnabar; do t=$(now); cli "$k" save >/dev/null; record "$k" "$(elapsed "$t")" save_s; done
done
echo "rdb bytes: redis $(stat -c %s "$work/redis/dump.rdb"), cinnabar $(stat -c %s "$work/cinnabar/dump.rdb")" >&2
for k in redis cinnabar; do stop "$k"; done
for i in $(seq "$rounds"); do
  for k in redis cinnabar; do
    start "$k"
    record "$k" "$ready_s" load_ready_s
    record "$k" "$(grep -o 'DB loaded from disk: [0-9.]*' "$work/$k/server.log" | awk '{print $5}')" load_log_s
    if [ "$i" -lt "$rounds" ]; then stop "$k"; fi
  done
done

for k in redis cinnabar; do cli "$k" config set appendonly yes >/dev/null; wait_for "$k" aof_rewrite_in_progress:0; done
for _ in $(seq "$rounds"); do
  for k in redis cinnabar; do record "$k" "$(rewrite "$k")" bgrewriteaof_preamble_s; done
done
for k in redis cinnabar; do cli "$k" config set aof-use-rdb-preamble no >/dev/null; done
for _ in $(seq "$rounds"); do
  for k in redis cinnabar; do record "$k" "$(rewrite "$k")" bgrewriteaof_commands_s; done
done
for k in redis cinnabar; do
  cli "$k" config set appendonly no >/dev/null
  redis-benchmark -p "${port[$k]}" -c 50 -n 50000 -r 1000000 -t set,get -q >/dev/null 2>&1 # warm-up
done

for _ in $(seq "$rounds"); do
  for k in redis cinnabar; do
    record "$k" "$(p99 "$k" set)" p99_set_ms
    record "$k" "$(p99 "$k" get)" p99_get_ms
    (while true; do cli "$k" bgsave >/dev/null 2>&1; sleep 0.05; wait_for "$k" rdb_bgsave_in_progress:0; done) &
    loop_pid=$!
    record "$k" "$(p99 "$k" set)" p99_set_bgsave_ms
    record "$k" "$(p99 "$k" get)" p99_get_bgsave_ms
    kill $loop_pid; wait $loop_pid 2>/dev/null || true; loop_pid=""
    wait_for "$k" rdb_bgsave_in_progress:0
  done
done

printf "%-26s %10s %10s %7s\n" "metric (median of $rounds)" redis cinnabar ratio
for m in "${metrics[@]}"; do
  r=$(median "$work/redis.$m"); c=$(median "$work/cinnabar.$m")
  printf "%-26s %10.3f %10.3f %7.2f\n" "$m" "$r" "$c" "$(echo "$c / $r" | bc -l)"
done
for k in redis cinnabar; do
  printf "%-26s %10.2f\n" "$k p99 bgsave/none" "$(echo "($(median "$work/$k.p99_set_bgsave_ms") + $(median "$work/$k.p99_get_bgsave_ms")) / ($(median "$work/$k.p99_set_ms") + $(median "$work/$k.p99_get_ms"))" | bc -l)"
done
