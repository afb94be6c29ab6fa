#!/usr/bin/env bash
# BenchmarkDotNet micro-benchmarks of Cinnabar.Storage (bench/Cinnabar.Storage.Bench).
# Usage: bench/storage-micro.sh                         (all, short in-process runs)
#        bench/storage-micro.sh --filter '*SlotIndex*' --job medium
# Results land in BenchmarkDotNet.Artifacts/ under the current directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
exec dotnet run -c Release --project "$root/bench/Cinnabar.Storage.Bench" -- "$@"
