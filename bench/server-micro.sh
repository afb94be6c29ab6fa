#!/usr/bin/env bash
# BenchmarkDotNet micro-benchmarks of the command hot path (bench/Cinnabar.Server.Bench):
# parse, dispatch, execute and reply for GET/SET/INCR, with allocations per command.
# Usage: bench/server-micro.sh                          (all, short in-process runs)
#        bench/server-micro.sh --filter '*Get*' --job medium
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec dotnet run -c Release --project "$root/bench/Cinnabar.Server.Bench" -- "$@"
