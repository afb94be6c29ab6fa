#!/usr/bin/env bash
# Runs the cluster simulation at scale (tests/Cinnabar.Cluster.Tests, LargeClusterTests):
# N nodes added by MEET one by one, 50 masters sharing the slots, until every node knows every
# node and all agree on every slot; then the steady-state bus traffic per node per second over a
# window of simulated time. Checks: every node knows all N, none left in handshake, at most one
# inbound and one outbound link per peer, cluster_state ok everywhere.
# Usage: bench/cluster-sim.sh [NODES=1000] [WINDOW_MS=10000]
set -euo pipefail
cd "$(dirname "$0")/.."
nodes="${1:-1000}"
window="${2:-10000}"
dotnet build tests/Cinnabar.Cluster.Tests -c Release -v quiet -nologo >/dev/null
CINNABAR_SIM_NODES="$nodes" CINNABAR_SIM_WINDOW_MS="$window" \
  dotnet test tests/Cinnabar.Cluster.Tests -c Release --no-build \
  --filter "FullyQualifiedName~Large_cluster_converges_and_runs_without_pathologies" \
  --logger "console;verbosity=detailed" | grep -E "nodes:|Passed|Failed|error" || true
