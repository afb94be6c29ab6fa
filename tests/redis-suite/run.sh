#!/usr/bin/env bash
# Runs Redis 7.0.15's own test suite (tests/unit, tests/integration) against Cinnabar.
# The suite is downloaded once from Debian's archive (redis_7.0.15.orig.tar.gz) into a cache
# outside the repo; its src/redis-server is pointed at bin/cinnabar-server, and redis-cli,
# redis-benchmark and redis-check-* at Debian's binaries, so the harness starts Cinnabar
# wherever it would start Redis.
# Usage: tests/redis-suite/run.sh [--list FILE] [unit ...] [-- extra runtest args]
#   tests/redis-suite/run.sh unit/type/incr unit/type/hash
#   tests/redis-suite/run.sh --list tests/redis-suite/passing.txt
# Prints one summary line per unit and "N passed, N failed" (test cases) at the end.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${CINNABAR_SUITE_CACHE:-$HOME/.cache/cinnabar}"
suite="$cache/redis-7.0.15"
url="http://deb.debian.org/debian/pool/main/r/redis/redis_7.0.15.orig.tar.gz"

if [ ! -f "$suite/tests/test_helper.tcl" ]; then
  mkdir -p "$cache"
  curl -fsSL --retry 3 -o "$cache/redis.tgz" "$url" || { echo "cannot download $url"; exit 2; }
  tar xzf "$cache/redis.tgz" -C "$cache" && rm -f "$cache/redis.tgz"
fi
command -v tclsh >/dev/null || { echo "tclsh is required (apt-get install tcl)"; exit 2; }
# Each checkout runs its own copy of the suite: the copy's src/redis-server points at this
# checkout's server, and its tests/tmp is its own, so runs from several checkouts never mix.
pristine="$suite"
suite="$cache/run-$(printf '%s' "$root" | md5sum | cut -c1-12)"
if [ ! -f "$suite/tests/test_helper.tcl" ]; then
  rm -rf "$suite.tmp" && cp -a "$pristine" "$suite.tmp" && rm -rf "$suite.tmp/tests/tmp" "$suite.tmp/src/redis-server" && mv "$suite.tmp" "$suite"
fi
mkdir -p "$suite/src"
rm -f "$suite/src/redis-server"
printf '#!/bin/sh\nexec "%s/bin/cinnabar-server" "$@"\n' "$root" >"$suite/src/redis-server"
chmod +x "$suite/src/redis-server"
for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do ln -sf "$(command -v $t)" "$suite/src/$t"; done
"$root/bin/cinnabar-server" --version >/dev/null

units=()
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --list) while read -r line; do line="${line%%#*}"; [ -n "${line// }" ] && units+=($line); done <"$2"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) units+=("$1"); shift ;;
  esac
done

logs="${SUITE_LOGS:-$root/TestResults/redis-suite}"
mkdir -p "$logs"
passed=0 failed=0
cd "$suite"
run_unit() {
  # A random port range per run, so that concurrent runs (and their +10000 bus ports) don't collide.
  base=$((21000 + (RANDOM % 16) * 500))
  # skip.txt: tests that need Redis internals Cinnabar has no equivalent for (see the file).
  timeout 900 ./runtest --single "$1" --clients 1 --timeout 120 --baseport $base --portcount 500 \
    --skipfile "$root/tests/redis-suite/skip.txt" "${extra[@]}" >"$2" 2>&1
}
for u in "${units[@]}"; do
  log="$logs/$(echo "$u" | tr / _).log"
  run_unit "$u" "$log"
  rc=$?
  if [ "$rc" -ne 0 ] && [ "${SUITE_RETRY:-0}" = 1 ]; then
    # One more run of a failing unit; its first log is kept next to it.
    mv "$log" "$log.first"
    echo "$u failed; running it once more (first log: $log.first)"
    run_unit "$u" "$log"
    rc=$?
  fi
  # Result lines start with "[" and a colour code: [ok]: name, [err]: name, [exception]: ...
  ok=$(grep -acE '^\[.{0,12}ok.{0,5}\]: ' "$log" || true)
  err=$(grep -acE '^\[.{0,12}(err|TIMEOUT).{0,5}\]' "$log" || true)
  exc=$(grep -acE '^\[.{0,12}exception.{0,5}\]' "$log" || true)
  err=$((err + exc))
  [ "$rc" -ne 0 ] && [ "$err" -eq 0 ] && err=1   # an exception or a timeout
  passed=$((passed + ok)); failed=$((failed + err))
  printf '%-40s ok=%-4s err=%-3s exception=%s rc=%s\n' "$u" "$ok" "$err" "$exc" "$rc"
  grep -aE '^\[.{0,12}(err|exception|TIMEOUT).{0,5}\]' "$log" | head -20 | sed 's/^/    /'
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
