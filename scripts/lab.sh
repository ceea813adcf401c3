#!/usr/bin/env bash
# README command 1: the lab demo. Installs what is missing, then boots a QEMU VM through enlistment.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
exec node bin/netboot.js lab "$@"
