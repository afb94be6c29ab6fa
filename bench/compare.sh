#!/usr/bin/env bash
# Side-by-side throughput and memory comparison of Cinnabar and redis-server on loopback.
# Usage: bench/compare.sh [requests=200000] [rounds=2]
# Alternates servers for each test, after a warm-up run, and prints ours/redis ratios.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
n="${1:-200000}"
rounds="${2:-2}"
cport=17001
rport=17002
tests="${TESTS:-set,get,incr,mset}"

"$root/bin/cinnabar-server" --version >/dev/null
dir="$(mktemp -d)"
"$root/bin/cinnabar-server" --port $cport --save "" --appendonly no --dir "$dir" >"$dir/cinnabar.log" 2>&1 &
cpid=$!
redis-server --port $rport --save "" --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
rpid=$!
trap 'kill $cpid $rpid 2>/dev/null; wait $cpid $rpid 2>/dev/null; rm -rf "$dir"' EXIT
for p in $cport $rport; do
  for _ in $(seq 100); do redis-cli -p $p ping >/dev/null 2>&1 && break; sleep 0.1; done
done

# rps PORT PIPELINE TEST -> requests per second
rps() {
  redis-benchmark -p "$1" -c 50 -n "$n" -P "$2" -t "$3" -q 2>/dev/null | tr '\r' '\n' \
    | grep -E "requests per second" | tail -1 | sed -E 's/.*: ([0-9.]+) requests per second.*/\1/'
}

echo "# warm-up"
for p in $cport $rport; do rps $p 16 "$tests" >/dev/null; rps $p 1 set >/dev/null; done

printf "%-8s %-4s %14s %14s %7s\n" test P cinnabar redis ratio
for P in 1 16; do
  for t in ${tests//,/ }; do
    c=0; r=0
    for _ in $(seq "$rounds"); do
      cv=$(rps $cport $P "$t"); rv=$(rps $rport $P "$t")
      c=$(echo "$c + $cv" | bc -l); r=$(echo "$r + $rv" | bc -l)
    done
    c=$(echo "$c / $rounds" | bc -l); r=$(echo "$r / $rounds" | bc -l)
    printf "%-8s %-4s %14.0f %14.0f %7.2f\n" "$t" "$P" "$c" "$r" "$(echo "$c / $r" | bc -l)"
  done
done

echo "# memory after redis-benchmark -t set -n 1000000 -r 1000000 -d 32"
for p in $cport $rport; do
  redis-cli -p $p flushall >/dev/null
  redis-benchmark -p $p -c 50 -n 1000000 -r 1000000 -d 32 -P 16 -t set -q >/dev/null 2>&1
done
sleep 2
crss=$(awk '/VmRSS/{print $2}' /proc/$cpid/status)
rrss=$(awk '/VmRSS/{print $2}' /proc/$rpid/status)
ckeys=$(redis-cli -p $cport dbsize); rkeys=$(redis-cli -p $rport dbsize)
printf "RSS KiB: cinnabar %s (%s keys), redis %s (%s keys), ratio %.2f\n" "$crss" "$ckeys" "$rrss" "$rkeys" "$(echo "$crss / $rrss" | bc -l)"
