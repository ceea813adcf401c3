# shellcheck shell=bash
# Output helpers sourced by the image recipes (micro/build.sh, debian/build.sh): the host-tool check,
# the temporary output folder removed on any exit, manifest file entries and the atomic publish.
# They use die from build.sh and run under its `set -euo pipefail`.

# require_tools COMMAND:PACKAGE...: dies naming the Debian packages that provide the missing commands.
require_tools() {
  local pair missing=()
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) \
    || die "missing host tools; install them with: apt-get install -y $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
}

# init_output OUTDIR: the recipe fills TMP_OUT (OUTDIR.tmp.<pid>) and its scratch folder WORK (set
# later); both are removed at exit, whether the build succeeds, fails or is interrupted.
init_output() {
  TMP_OUT="$1.tmp.$$"
  WORK=""
  trap cleanup_output EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
cleanup_output() {
  [[ -n $WORK ]] && rm -rf -- "$WORK"
  [[ -d $TMP_OUT ]] && rm -rf -- "$TMP_OUT"
  return 0
}

# file_json NAME: the manifest entry of TMP_OUT/NAME (path, size, sha256).
file_json() {
  printf '{ "path": "%s", "size": %d, "sha256": "%s" }' "$1" "$(stat -c %s "$TMP_OUT/$1")" \
    "$(sha256sum <"$TMP_OUT/$1" | cut -d' ' -f1)"
}

# seconds_since START_NS: seconds elapsed since START_NS (date +%s%N), one decimal.
seconds_since() {
  awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'
}

# publish_output OUTDIR: TMP_OUT becomes OUTDIR. Two renames: coreutils 9.1 (Debian 12) has no
# `mv --exchange`. Readers that open OUTDIR between them find no image for a moment; files already
# open stay readable after the old folder is removed.
publish_output() {
  if [[ -e $1 ]]; then
    mv -T -- "$1" "$1.old.$$"
  fi
  mv -T -- "$TMP_OUT" "$1"
  rm -rf -- "$1.old.$$"
}
