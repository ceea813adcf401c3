#!/usr/bin/env bash
# A tiny real recipe for test/images/build.test.ts, copied to images/fake/build.sh in a temp folder.
# Writes an image the way images/micro/build.sh does (work folder, manifest last, rename) with the same
# recipe hash pipeline. RUNS_FILE counts runs; FAIL=1 fails with 30 stderr lines; SLOW=<file> writes
# its pid and its child's pid and sleeps.
set -euo pipefail
out=$1
recipe=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
echo "[1/2] writing files"
echo run >>"$RUNS_FILE"
if [[ -n ${FAIL:-} ]]; then
  for i in $(seq 1 30); do echo "stderr line $i" >&2; done
  exit 3
fi
if [[ -n ${SLOW:-} ]]; then
  echo "$$" >"$SLOW"
  sleep 30 &
  echo "$!" >"$SLOW.child"
  wait
fi
tmp="$out.tmp.$$"
mkdir -p "$tmp"
printf 'kernel %s' "$(cat "$recipe/version")" >"$tmp/vmlinuz"
printf 'initrd' >"$tmp/initrd.img"
hash=$(cd "$recipe" && find . -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 -r sha256sum -- | sha256sum | cut -d' ' -f1)
f() { printf '{ "path": "%s", "size": %d, "sha256": "%s" }' "$1" "$(stat -c %s "$tmp/$1")" "$(sha256sum <"$tmp/$1" | cut -d' ' -f1)"; }
cat >"$tmp/manifest.json" <<EOF
{ "name": "fake", "version": "$(cat "$recipe/version")", "arch": "x86_64", "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "recipeSha256": "$hash", "files": { "kernel": $(f vmlinuz), "initrd": $(f initrd.img) }, "buildSeconds": 0.1 }
EOF
rm -rf "$out"
mv -T "$tmp" "$out"
echo "[2/2] done"
