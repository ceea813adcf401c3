#!/usr/bin/env bash
# TFTP throughput: netboot vs tftpd-hpa vs atftpd on 127.0.0.1 (see bench.ts for flags), e.g.
#   bench/tftp/bench.sh --size-mib 64 --concurrency 1,20
set -euo pipefail
cd "$(dirname "$0")/../.."
# netboot sends TFTP windows through the udp_gso addon (src/udp-gso.ts); without it the figures
# would be those of the per-datagram fallback.
if [[ ! -e build/Release/udp_gso.node ]]; then
  echo "==> npm run build:native (build/Release/udp_gso.node is missing)"
  npm run --silent build:native
fi
exec node node_modules/vite-node/vite-node.mjs bench/tftp/bench.ts -- "$@"
