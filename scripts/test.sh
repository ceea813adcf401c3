#!/usr/bin/env bash
# README command 2: every check, fast to real: lint, type check, unit and integration tests, then the
# end-to-end QEMU boots (test/qemu, one file at a time: two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT
echo "==> lint";       npx eslint --max-warnings 0 .
echo "==> typecheck";  npx tsc -p tsconfig.json --noEmit
status=0
echo "==> tests"
npx vitest run --exclude 'test/qemu/**' --reporter=default --reporter=json --outputFile.json="$reports/unit.json" || status=1
echo "==> end-to-end"
npx vitest run test/qemu --no-file-parallelism --reporter=default --reporter=json --outputFile.json="$reports/e2e.json" || status=1
# One plain closing line over both runs, for CI logs.
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    if (!fs.existsSync(f)) { failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$reports/unit.json" "$reports/e2e.json"
exit "$status"
