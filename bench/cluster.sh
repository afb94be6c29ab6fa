#!/usr/bin/env bash
# Cluster throughput, side by side on this machine:
#  1. redis-benchmark --cluster -t set,get -P 16 against a 3-master Cinnabar cluster and a
#     3-master redis-server 7.0 cluster (alternating, after a warm-up): ours/redis ratio.
#  2. One Cinnabar node with cluster-enabled yes owning all slots vs the same node standalone.
# Usage: bench/cluster.sh [requests=300000] [rounds=3]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-300000}"
rounds="${2:-3}"
"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

start() { # start KIND PORT [args...]
  local kind="$1" port="$2"; shift 2
  mkdir -p "$dir/$port"
  local bin=redis-server
  [ "$kind" = cinnabar ] && bin="$root/bin/cinnabar-server"
  (cd "$dir/$port" && exec "$bin" --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir/$port" "$@" >"$dir/$port/log" 2>&1) &
  pids+=($!)
  for _ in $(seq 300); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.1; done
  echo "node $port did not start" >&2; exit 1
}

make_cluster() { # make_cluster KIND BASEPORT
  local kind="$1" base="$2" nodes=()
  for i in 0 1 2; do start "$kind" $((base + i)) --cluster-enabled yes; nodes+=("127.0.0.1:$((base + i))"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-yes >/dev/null
  for _ in $(seq 300); do
    ok=1
    for i in 0 1 2; do redis-cli -p $((base + i)) cluster info | grep -q cluster_state:ok || ok=0; done
    [ "$ok" = 1 ] && return; sleep 0.2
  done
  echo "cluster $base never became ok" >&2; exit 1
}

rps() { # rps PORT EXTRA-ARGS...
  local port="$1"; shift
  redis-benchmark -p "$port" -c 50 -n "$n" -q "$@" 2>/dev/null | tr '\r' '\n' \
    | grep -E "requests per second" | awk -F': ' '{print $2}' | awk '{s+=$1} END {print s/NR}'
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

make_cluster cinnabar 18101
make_cluster redis 18201
echo "# 3-master clusters, redis-benchmark --cluster -t set,get -P 16 (median of $rounds, alternating)"
for p in 18101 18201; do rps $p --cluster -t set,get -P 16 >/dev/null; done
cs=(); rs=()
for _ in $(seq "$rounds"); do
  cs+=("$(rps 18101 --cluster -t set,get -P 16)"); rs+=("$(rps 18201 --cluster -t set,get -P 16)")
done
c=$(printf '%s\n' "${cs[@]}" | median); r=$(printf '%s\n' "${rs[@]}" | median)
printf "cluster set+get P16: cinnabar %.0f  redis %.0f  ratio %.2f\n" "$c" "$r" "$(echo "$c / $r" | bc -l)"

start cinnabar 18301 --cluster-enabled yes
redis-cli -p 18301 cluster addslotsrange 0 16383 >/dev/null
for _ in $(seq 100); do redis-cli -p 18301 cluster info | grep -q cluster_state:ok && break; sleep 0.2; done
start cinnabar 18302
echo "# one Cinnabar node: cluster-enabled yes (all slots) vs standalone, -t set,get (median of $rounds, alternating)"
for P in 1 16; do
  rps 18301 -t set,get -P $P >/dev/null; rps 18302 -t set,get -P $P >/dev/null
  cs=(); ss=()
  for _ in $(seq "$rounds"); do cs+=("$(rps 18301 -t set,get -P $P)"); ss+=("$(rps 18302 -t set,get -P $P)"); done
  c=$(printf '%s\n' "${cs[@]}" | median); s=$(printf '%s\n' "${ss[@]}" | median)
  printf "P%-3s cluster-enabled %.0f  standalone %.0f  ratio %.3f\n" "$P" "$c" "$s" "$(echo "$c / $s" | bc -l)"
done
