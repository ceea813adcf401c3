#!/usr/bin/env bash
# Deploy benchmark under TCG: per-phase times of a real deployment, one VM and several at once, and
# the erase modes (see bench.ts), e.g.
#   bench/deploy/bench.sh                     # 1 VM then 2 at once; erase quick, full, secure
#   bench/deploy/bench.sh --vms 1 --erase quick
# Root (the lab's network namespace, taps and VMs); ~40 min on 2 cores. Builds the images it needs.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ $(id -u) -eq 0 ]] || { echo "bench/deploy/bench.sh: run as root (the lab creates a network namespace)" >&2; exit 1; }
[[ -e dist/cli/main.js ]] || npm run --silent build
exec node node_modules/vite-node/vite-node.mjs bench/deploy/bench.ts -- "$@"
