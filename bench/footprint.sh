#!/usr/bin/env bash
# Footprint at rest (issue 14): an idle Cinnabar node next to an idle redis-server 7.0, each
# standalone and with cluster-enabled yes (the seeds run six nodes on one host). After a settle
# time, samples RSS (VmRSS) and the CPU both use while nobody talks to them (utime+stime from
# /proc over the window), and prints ours/redis ratios. Nothing else should run meanwhile.
# Usage: bench/footprint.sh [settle-seconds=10] [window-seconds=60]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
settle="${1:-10}"
window="${2:-60}"
"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
hz=$(getconf CLK_TCK)

declare -A pid
start() { # start NAME KIND PORT [args...]: pid[NAME] is the server's pid
  local name="$1" kind="$2" port="$3"; shift 3
  mkdir -p "$dir/$port"
  local bin=redis-server
  [ "$kind" = cinnabar ] && bin="$root/bin/cinnabar-server"
  (cd "$dir/$port" && exec "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$port" "$@" >"$dir/$port/log" 2>&1) &
  pids+=($!)
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  pid[$name]=$(redis-cli -p "$port" info server | tr -d '\r' | sed -n 's/^process_id://p')
}

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$1/status"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

start cinnabar cinnabar 7601
start redis redis 7602
start cinnabar-cluster cinnabar 7603 --cluster-enabled yes
start redis-cluster redis 7604 --cluster-enabled yes
sleep "$settle"
declare -A t0
for k in "${!pid[@]}"; do t0[$k]=$(ticks "${pid[$k]}"); done
sleep "$window"
printf '%-18s %10s %10s\n' node "RSS MB" "CPU %"
declare -A rss cpu
for k in cinnabar redis cinnabar-cluster redis-cluster; do
  rss[$k]=$(rss_kb "${pid[$k]}")
  cpu[$k]=$(awk -v a="${t0[$k]}" -v b="$(ticks "${pid[$k]}")" -v hz="$hz" -v w="$window" 'BEGIN { printf "%.2f", (b - a) * 100 / hz / w }')
  printf '%-18s %10.1f %10s\n' "$k" "$(awk -v r="${rss[$k]}" 'BEGIN { print r / 1024 }')" "${cpu[$k]}"
done
for mode in "" -cluster; do
  awk -v a="${rss[cinnabar$mode]}" -v b="${rss[redis$mode]}" -v c="${cpu[cinnabar$mode]}" -v d="${cpu[redis$mode]}" -v m="${mode:-standalone}" \
    'BEGIN { printf "ours/redis %-10s RSS %.2fx  CPU %s%% vs %s%%\n", m, a / b, c, d }'
done
