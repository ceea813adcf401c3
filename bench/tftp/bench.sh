#!/usr/bin/env bash
# TFTP throughput: netboot vs tftpd-hpa vs atftpd on 127.0.0.1 (see bench.ts for flags), e.g.
#   bench/tftp/bench.sh --size-mib 64 --concurrency 1,20
set -euo pipefail
cd "$(dirname "$0")/../.."
exec node node_modules/vite-node/vite-node.mjs bench/tftp/bench.ts -- "$@"
