#!/usr/bin/env bash
# Runs Redis 7.0.15's own test suite (tests/unit, tests/integration) against Cinnabar.
# The suite is downloaded once from Debian's archive (redis_7.0.15.orig.tar.gz) into a cache
# outside the repo; its src/redis-server is pointed at bin/cinnabar-server, and redis-cli,
# redis-benchmark and redis-check-* at Debian's binaries, so the harness starts Cinnabar
# wherever it would start Redis.
# Usage: tests/redis-suite/run.sh [--list FILE] [--jobs N] [--external] [unit ...] [-- extra runtest args]
#   A unit named cluster/NN-name is a file of the cluster runner (tests/cluster, runtest-cluster):
#   those run together in one invocation (it spawns its 20 nodes once, from port 30000) after the others.
#   A unit named sentinel/NN-name is a file of the sentinel runner (tests/sentinel, runtest-sentinel):
#   those run together in one invocation too (5 sentinels from port 20000, 5 servers from 30000),
#   last. The suite copy's src/redis-sentinel is bin/cinnabar-sentinel (cinnabar-server --sentinel).
#   SENTINEL_SUITE_REAL=1 runs the sentinel units against Debian's real redis-sentinel and
#   redis-server instead (apt-get install redis-sentinel), to check the harness or compare.
#   tests/redis-suite/run.sh unit/type/incr unit/type/hash
#   tests/redis-suite/run.sh --list tests/redis-suite/ci-units.txt --jobs 2
#   tests/redis-suite/run.sh sentinel/00-base sentinel/13-info-command
#   --jobs N     runs units in N parallel lanes, each in its own port range
#   --external   starts ONE Cinnabar server and runs every unit against it (the harness's
#                --host/--port mode, as Redis's CI tests an external server), instead of the
#                harness starting servers of its own
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
# Each checkout, and each parallel lane of it, runs its own copy of the suite: the copy's
# src/redis-server points at this checkout's server, and its tests/tmp is its own (the harness
# empties tests/tmp when it starts), so concurrent runs never see each other's files.
pristine="$suite"
# take_suite_copy: sets SUITE_DIR to a copy of the suite nobody else uses (the first free slot,
# held by a lock for this shell's lifetime), making it when missing.
take_suite_copy() {
  local slot dir
  for slot in $(seq 0 63); do
    dir="$cache/run-$(printf '%s' "$root" | md5sum | cut -c1-12)-$slot"
    exec {lockfd}>"$dir.lock"
    if flock -n "$lockfd"; then
      if [ ! -f "$dir/tests/test_helper.tcl" ]; then
        rm -rf "$dir.tmp" && cp -a "$pristine" "$dir.tmp" && rm -rf "$dir.tmp/tests/tmp" "$dir.tmp/src/redis-server" "$dir.tmp/src/redis-sentinel" && mv "$dir.tmp" "$dir"
      fi
      mkdir -p "$dir/src" "$dir/tests/tmp"
      rm -f "$dir/src/redis-server"
      printf '#!/bin/sh\nCINNABAR_EXEC_NAME="$0" exec "%s/bin/cinnabar-server" "$@"\n' "$root" >"$dir/src/redis-server"
      chmod +x "$dir/src/redis-server"
      rm -f "$dir/src/redis-sentinel"
      printf '#!/bin/sh\nexec "%s/bin/cinnabar-sentinel" "$@"\n' "$root" >"$dir/src/redis-sentinel"
      chmod +x "$dir/src/redis-sentinel"
      for t in redis-cli redis-benchmark redis-check-aof redis-check-rdb; do ln -sf "$(command -v $t)" "$dir/src/$t"; done
      SUITE_DIR="$dir"
      return 0
    fi
    exec {lockfd}>&-
  done
  echo "no free suite copy" >&2
  return 1
}
units=()
extra=()
jobs=1
external=0
while [ $# -gt 0 ]; do
  case "$1" in
    --list) while read -r line; do line="${line%%#*}"; [ -n "${line// }" ] && units+=($line); done <"$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --external) external=1; shift ;;
    --) shift; extra=("$@"); break ;;
    *) units+=("$1"); shift ;;
  esac
done

cluster_units=()
sentinel_units=()
plain_units=()
for u in "${units[@]}"; do
  case "$u" in
    cluster/*) cluster_units+=("$u") ;;
    sentinel/*) sentinel_units+=("$u") ;;
    *) plain_units+=("$u") ;;
  esac
done
units=("${plain_units[@]}")
# Build the server once up front (the launcher builds when stale) so units never race to build it;
# not needed when only sentinel units run against real Redis (SENTINEL_SUITE_REAL=1).
if [ ${#units[@]} -gt 0 ] || [ ${#cluster_units[@]} -gt 0 ] || [ "${SENTINEL_SUITE_REAL:-0}" != 1 ]; then
  "$root/bin/cinnabar-server" --version >/dev/null
fi

logs="${SUITE_LOGS:-$root/TestResults/redis-suite}"
mkdir -p "$logs"
ext_pid=""
[ "$external" = 1 ] && jobs=1   # one shared server: units run one after another
ext_port=""
if [ "$external" = 1 ]; then
  # One long-running server, configured as Redis's CI configures its external server.
  ext_port=$((45000 + RANDOM % 5000))
  ext_dir="$(mktemp -d /tmp/cinnabar-suite-ext.XXXXXX)"
  "$root/bin/cinnabar-server" --port "$ext_port" --bind 127.0.0.1 --dir "$ext_dir" --save "" \
    --enable-debug-command yes --enable-protected-configs yes --enable-module-command yes \
    >"$logs/external-server.log" 2>&1 &
  ext_pid=$!
  trap 'kill "$ext_pid" 2>/dev/null; wait "$ext_pid" 2>/dev/null; rm -rf "$ext_dir"' EXIT
  for _ in $(seq 600); do
    redis-cli -p "$ext_port" ping 2>/dev/null | grep -q PONG && break
    sleep 0.2
  done
fi

# run_unit UNIT LOG LANE: one unit, in the lane's own port range (lanes never collide; the
# random offset keeps concurrent runs from other checkouts apart too).
run_unit() {
  local target=() rc attempt
  [ "$external" = 1 ] && target=(--host 127.0.0.1 --port "$ext_port")
  # skip.txt: tests that need Redis internals Cinnabar has no equivalent for (see the file).
  cd "$SUITE_DIR" || return 1
  # The harness's own listening port can be taken by a concurrent run between its check and its
  # bind ("couldn't open socket"): that run never started, so try again in another range.
  for attempt in 1 2 3; do
    local base=$((21000 + $3 * 4000 + (RANDOM % 8) * 500))
    timeout 900 ./runtest --single "$1" --clients 1 --timeout 120 --baseport $base --portcount 500 \
      "${target[@]}" --skipfile "$root/tests/redis-suite/skip.txt" "${extra[@]}" >"$2" 2>&1
    rc=$?
    grep -aq "^couldn't open socket" "$2" || break
  done
  return $rc
}

# run_and_score UNIT LANE: writes "ok err exc rc" to the unit's .score file.
run_and_score() {
  local u="$1" lane="$2" prefix=""
  [ "$external" = 1 ] && prefix="external_"
  local log="$logs/$prefix$(echo "$u" | tr / _).log"
  run_unit "$u" "$log" "$lane"
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "${SUITE_RETRY:-0}" = 1 ]; then
    # One more run of a failing unit; its first log is kept next to it.
    mv "$log" "$log.first"
    run_unit "$u" "$log" "$lane"
    rc=$?
  fi
  # Result lines start with "[" and a colour code: [ok]: name, [err]: name, [exception]: ...
  local ok err exc
  ok=$(grep -acE '^\[.{0,12}ok.{0,5}\]: ' "$log" || true)
  err=$(grep -acE '^\[.{0,12}(err|TIMEOUT).{0,5}\]' "$log" || true)
  exc=$(grep -acE '^\[.{0,12}exception.{0,5}\]' "$log" || true)
  echo "$ok $err $exc $rc" >"$log.score"
}

# Lanes take the next unit from one shared queue (a counter under a lock) as they become free,
# so a long unit does not hold back the units dealt to its lane; list long units first.
queue="$(mktemp /tmp/cinnabar-suite-queue.XXXXXX)"
echo 0 >"$queue"
next_unit() {
  local fd i
  exec {fd}>>"$queue.lock"
  flock "$fd"
  i=$(cat "$queue")
  echo $((i + 1)) >"$queue"
  exec {fd}>&-
  echo "$i"
}
for lane in $(seq 0 $((jobs - 1))); do
  (
    take_suite_copy || exit 1
    while i=$(next_unit) && [ "$i" -lt "${#units[@]}" ]; do
      run_and_score "${units[$i]}" "$lane"
    done
  ) &
done
wait $(jobs -p | grep -v "^${ext_pid}$")
rm -f "$queue" "$queue.lock"

# run_cluster_runner DIR UNIT...: one runner process for the units, its log and rc in DIR, scored.
run_cluster_runner() {
  local out="$1"; shift
  mkdir -p "$out"
  (
    take_suite_copy || exit 1
    cd "$SUITE_DIR" || exit 1
    rm -rf tests/cluster/tests tests/cluster/tmp && cp -a "$pristine/tests/cluster/tests" tests/cluster/ && mkdir -p tests/cluster/tmp
    python3 "$root/tests/redis-suite/cluster-skip.py" "$root/tests/redis-suite/skip.txt" tests/cluster/tests
    args=()
    for u in "$@"; do args+=(--single "${u#cluster/}"); done
    # The runner's ports (clients 30000+, cluster bus 40000+) lie inside Linux's ephemeral range:
    # a connection opened while a node is down can take its port, and the restarted node then
    # exits with "Address already in use". Reserve them for the run when we may (root, own netns).
    reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
    old_reserved="$(cat "$reserved" 2>/dev/null)"
    echo "${old_reserved:+$old_reserved,}30000-30099,40000-40099" 2>/dev/null >"$reserved" || true
    timeout 2400 tclsh tests/cluster/run.tcl "${args[@]}" >"$out/cluster-runner.log" 2>&1
    echo $? >"$out/cluster-runner.rc"
    echo "$old_reserved" 2>/dev/null >"$reserved" || true
  )
  python3 "$root/tests/redis-suite/cluster-skip.py" --score "$out/cluster-runner.log" "$@"
  # When the runner stops early (an aborted unit), its last lines say why: show them in CI's output.
  if [ "$(cat "$out/cluster-runner.rc" 2>/dev/null)" != 0 ]; then
    echo "cluster runner exited with rc=$(cat "$out/cluster-runner.rc" 2>/dev/null); its last lines:"
    tail -40 "$out/cluster-runner.log" | sed 's/^/    /'
  fi
}

# run_sentinel_runner DIR UNIT...: like run_cluster_runner, for the sentinel runner (tests/sentinel):
# one runner process for the units, its log and rc in DIR (sentinel-runner.log/.rc), scored.
run_sentinel_runner() {
  local out="$1"; shift
  mkdir -p "$out"
  (
    take_suite_copy || exit 1
    cd "$SUITE_DIR" || exit 1
    if [ "${SENTINEL_SUITE_REAL:-0}" = 1 ]; then
      # Debian's real binaries, for checking the harness (and comparing with Cinnabar).
      printf '#!/bin/sh\nexec /usr/bin/redis-server "$@"\n' >src/redis-server
      printf '#!/bin/sh\nexec /usr/bin/redis-sentinel "$@"\n' >src/redis-sentinel
    fi
    rm -rf tests/sentinel/tests tests/sentinel/tmp && cp -a "$pristine/tests/sentinel/tests" tests/sentinel/ && mkdir -p tests/sentinel/tmp
    python3 "$root/tests/redis-suite/cluster-skip.py" "$root/tests/redis-suite/skip.txt" tests/sentinel/tests
    args=()
    for u in "$@"; do args+=(--single "${u#sentinel/}"); done
    # Sentinels take ports 20000+ and servers 30000+ (instances.tcl; each checked together with
    # port+10000). Reserve them against ephemeral use for the run when we may, as for the cluster.
    reserved=/proc/sys/net/ipv4/ip_local_reserved_ports
    old_reserved="$(cat "$reserved" 2>/dev/null)"
    echo "${old_reserved:+$old_reserved,}20000-20099,30000-30099,40000-40099" 2>/dev/null >"$reserved" || true
    timeout 2400 tclsh tests/sentinel/run.tcl "${args[@]}" >"$out/sentinel-runner.log" 2>&1
    echo $? >"$out/sentinel-runner.rc"
    echo "$old_reserved" 2>/dev/null >"$reserved" || true
    # Back to this checkout's servers (take_suite_copy writes them again anyway).
    printf '#!/bin/sh\nexec "%s/bin/cinnabar-server" "$@"\n' "$root" >src/redis-server
    printf '#!/bin/sh\nexec "%s/bin/cinnabar-sentinel" "$@"\n' "$root" >src/redis-sentinel
  )
  python3 "$root/tests/redis-suite/cluster-skip.py" --score "$out/sentinel-runner.log" "$@"
  if [ "$(cat "$out/sentinel-runner.rc" 2>/dev/null)" != 0 ]; then
    echo "sentinel runner exited with rc=$(cat "$out/sentinel-runner.rc" 2>/dev/null); its last lines:"
    tail -40 "$out/sentinel-runner.log" | sed 's/^/    /'
  fi
}

# run_with_retry KIND UNIT...: the units of one runner (cluster or sentinel) in one run of
# run_KIND_runner. With SUITE_RETRY=1 the units that failed run once more, in a fresh runner
# (every unit starts by resetting all instances; a unit left broken by its predecessor fails every
# later one too); their first logs are kept as .first.
run_with_retry() {
  local kind="$1"; shift
  "run_${kind}_runner" "$logs" "$@"
  [ "${SUITE_RETRY:-0}" = 1 ] || return 0
  local again=() u log ok err exc rc
  for u in "$@"; do
    read -r ok err exc rc <"$logs/$(echo "$u" | tr / _).log.score" 2>/dev/null || rc=1
    [ "${rc:-1}" -ne 0 ] && again+=("$u")
  done
  [ ${#again[@]} -gt 0 ] || return 0
  echo "$kind units failed; running them once more: ${again[*]}"
  "run_${kind}_runner" "$logs/$kind-retry" "${again[@]}"
  for u in "${again[@]}"; do
    log="$logs/$(echo "$u" | tr / _).log"
    mv "$log" "$log.first"
    cp "$logs/$kind-retry/$(basename "$log")" "$log"
    cp "$logs/$kind-retry/$(basename "$log").score" "$log.score"
  done
}

# The cluster and sentinel runners' files, each in one run. Tests named in skip.txt are turned
# into no-ops in the runner's private copy (the runners have no skip list of their own).
if [ "$external" = 0 ]; then
  [ ${#cluster_units[@]} -gt 0 ] && run_with_retry cluster "${cluster_units[@]}"
  [ ${#sentinel_units[@]} -gt 0 ] && run_with_retry sentinel "${sentinel_units[@]}"
fi

passed=0 failed=0
for u in "${units[@]}" "${cluster_units[@]}" "${sentinel_units[@]}"; do
  prefix=""
  [ "$external" = 1 ] && prefix="external_"
  log="$logs/$prefix$(echo "$u" | tr / _).log"
  read -r ok err exc rc <"$log.score" 2>/dev/null || { ok=0; err=0; exc=0; rc=1; }
  err=$((err + exc))
  [ "$rc" -ne 0 ] && [ "$err" -eq 0 ] && err=1   # an exception or a timeout
  passed=$((passed + ok)); failed=$((failed + err))
  [ -f "$log.first" ] && echo "$u failed once; ran it again (first log: $log.first)"
  printf '%-40s ok=%-4s err=%-3s exception=%s rc=%s\n' "$u" "$ok" "$err" "$exc" "$rc"
  grep -aE '^\[.{0,12}(err|exception|TIMEOUT).{0,5}\]' "$log" | head -20 | sed 's/^/    /'
done
if [ -n "$ext_pid" ] && ! kill -0 "$ext_pid" 2>/dev/null; then
  echo "the external server died during the run (see $logs/external-server.log)"
  failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
