#!/usr/bin/env bash
# README command 2: every check, fast to real: lint, type check, unit and integration tests, then the
# end-to-end QEMU boots (test/qemu, run one file at a time: two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "==> lint";       npx eslint --max-warnings 0 .
echo "==> typecheck";  npx tsc -p tsconfig.json --noEmit
echo "==> tests";      npx vitest run --exclude 'test/qemu/**'
echo "==> end-to-end"; npx vitest run test/qemu --no-file-parallelism
