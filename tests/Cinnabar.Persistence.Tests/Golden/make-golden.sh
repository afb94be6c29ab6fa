#!/usr/bin/env bash
# Regenerates the golden persistence files in this folder with Debian's redis-server 7.0:
#   <case>.rdb + <case>.expected           one RDB per type and encoding
#   aof-preamble/, aof-commands/ + .expected   multi-part AOF directories (aof-use-rdb-preamble yes / no)
# The .expected files are describe.py's rendering of what a fresh redis-server loads from each
# file; Cinnabar.Persistence.Tests (GoldenFileTests) and the integration tests (GoldenAofTests)
# check that Cinnabar loads the same. Run from anywhere: bash make-golden.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
redis-server --version | grep -q "v=7.0" || { echo "needs redis-server 7.0" >&2; exit 1; }
work="$(mktemp -d)"
port=7811
check=7812
pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start() { # start PORT DIR [args...]: a redis-server, waits until it answers
    local p=$1 d=$2; shift 2
    redis-server --port "$p" --dir "$d" --save "" --enable-debug-command yes --logfile "$d/log" "$@" &
    pids+=($!)
    for _ in $(seq 100); do redis-cli -p "$p" ping 2>/dev/null | grep -q PONG && return; sleep 0.1; done
    echo "redis-server did not start" >&2; exit 1
}
stop() { redis-cli -p "$1" shutdown nosave >/dev/null 2>&1 || true; sleep 0.3; }
r() { redis-cli -p $port "$@" >/dev/null; }

# describe DIR NAME [describe args]: loads DIR's data in a fresh redis-server and writes NAME.expected
describe() {
    local d=$1 name=$2; shift 2
    local extra=()
    [ -d "$d/appendonlydir" ] && extra=(--appendonly yes)
    start $check "$d" "${extra[@]}"
    python3 "$here/describe.py" $check "$@" > "$here/$name.expected"
    stop $check
}

save_case() { # save_case NAME: SAVE, copy the dump, describe it, reset the server
    local name=$1
    r SAVE
    cp "$work/main/dump.rdb" "$here/$name.rdb"
    rm -rf "$work/check"; mkdir -p "$work/check"; cp "$here/$name.rdb" "$work/check/dump.rdb"
    describe "$work/check" "$name"
    r FLUSHALL
    r FUNCTION FLUSH
}

mkdir -p "$work/main"
start $port "$work/main"

# strings: int, negative int, 64-bit int, embstr, raw (incompressible), LZF-compressed, int-looking raw
r SET s:int 12345
r SET s:neg -42
r SET s:big 1234567890123
r SET s:embstr hello
r SET s:raw "The quick brown fox jumps over the lazy dog; 0123456789!"
r SET s:lzf "$(printf 'x%.0s' $(seq 200))"
r SET s:zeros 007
save_case strings

# list: small (one listpack node) and one spanning several 8 KiB quicklist nodes
r RPUSH l:small a b c 1 2
args=(); for i in $(seq -w 1 250); do args+=("element-$i-padding-padding-padding"); done
r RPUSH l:big "${args[@]}"
save_case list-quicklist

r SADD set:ints 1 2 3 -5 100000
save_case set-intset
r SADD set:strs a b c 1
save_case set-hashtable

r HSET h:small f1 v1 f2 2
save_case hash-listpack
r HSET h:big f1 v1 f2 2 long "$(printf 'y%.0s' $(seq 100))"
save_case hash-hashtable

r ZADD z:small 1 a 2.5 b -inf c 0.5 d
save_case zset-listpack
r ZADD z:big 1 a -3 b inf c 2.5 "$(printf 'm%.0s' $(seq 70))"
save_case zset-skiplist

stream_data() {
    r XADD st 1-1 f v
    r XADD st 2-1 f v2
    r XADD st 3-1 other x f y
    r XADD st 4-1 f v4
    r XDEL st 4-1
    r XGROUP CREATE st g1 0
    r XGROUP CREATE st g2 '$'
    r XREADGROUP GROUP g1 alice COUNT 1 STREAMS st '>'
    r XREADGROUP GROUP g1 bob COUNT 2 STREAMS st '>'
    r XGROUP CREATECONSUMER st g1 carol
    r XADD st:empty 5-5 a b
    r XDEL st:empty 5-5
}
stream_data
save_case stream

# expiry: far-future TTLs, and one key already expired when saved (skipped at load)
r SET e:str v
r PEXPIREAT e:str 4102444800000
r HSET e:hash f v
r PEXPIREAT e:hash 4102444800123
r SET e:persist v
r DEBUG SET-ACTIVE-EXPIRE 0
r SET e:gone v PX 1
sleep 0.1
save_case expiry
r DEBUG SET-ACTIVE-EXPIRE 1

for db in 0 1 5 15; do r -n $db SET "k:db$db" "v$db"; done
r -n 5 RPUSH l:db5 x y
save_case multi-db

r FUNCTION LOAD "#!lua name=glib
redis.register_function('gf1', function() return 1 end)
redis.register_function{function_name='gf2', callback=function(keys, args) return #keys end, flags={'no-writes'}}"
r SET f:key v
save_case function

# AOF directories: a small data set of every type, a rewrite, then writes that land in the incr file.
aof_case() { # aof_case NAME PREAMBLE
    local name=$1 preamble=$2 d="$work/$1"
    mkdir -p "$d"
    start $check "$d" --appendonly yes --aof-use-rdb-preamble "$preamble"
    local save_port=$port; port=$check
    r SET a:str hello
    r SET a:int 42
    r SET a:ttl v
    r PEXPIREAT a:ttl 4102444800000
    r RPUSH a:list a b c
    r SADD a:set 1 2 3
    r HSET a:hash f v
    r ZADD a:zset 1 a 2.5 b
    stream_data
    r -n 3 SET a:db3 x
    r FUNCTION LOAD "#!lua name=alib
redis.register_function('af', function() return 1 end)"
    r BGREWRITEAOF
    for _ in $(seq 100); do redis-cli -p $check info persistence | grep -q aof_rewrite_in_progress:0 && break; sleep 0.1; done
    sleep 0.5
    redis-cli -p $check info persistence | grep -q aof_rewrite_in_progress:0
    r SET a:incr after-rewrite
    r INCR a:int
    r -n 3 DEL a:db3
    r XACK st g1 1-1
    port=$save_port
    stop $check
    rm -rf "$here/$name"; mkdir -p "$here/$name"
    cp -r "$d/appendonlydir" "$here/$name/"
    rm -rf "$work/check"; mkdir -p "$work/check"; cp -r "$d/appendonlydir" "$work/check/"
    # Consumers' seen-time is reset when an AOF is loaded (XCLAIM / CREATECONSUMER run at load time).
    describe "$work/check" "$name" --no-seen-time
}
stop $port
aof_case aof-preamble yes
aof_case aof-commands no
ls -la "$here"
