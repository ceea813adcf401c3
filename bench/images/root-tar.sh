#!/usr/bin/env bash
# zstd level for a disk image's root.tar.zst: size, compression time on this host and decompression
# time, per level, from one built image, e.g.
#   bench/images/root-tar.sh                                     # ~/.cache/netboot/images/debian-disk
#   bench/images/root-tar.sh ~/.cache/netboot/images/debian-disk 1 3 9
# The deployed machine pays the size over the boot network and the decompression in its installer,
# where 30-write-image streams curl | zstd -d | tar (a TCG guest decompresses several times slower
# than this host: weigh the decompress column by that, and bench/deploy's write MiB/s is the
# end-to-end figure). Compression uses every core (-T0), as images/debian-disk/build.sh does.
# Uses only a temporary folder, removed at exit.
set -euo pipefail
export LC_ALL=C

die() { printf 'bench/images/root-tar.sh: error: %s\n' "$*" >&2; exit 1; }
IMAGE_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot/images/debian-disk}
shift || true
LEVELS=("$@")
((${#LEVELS[@]} > 0)) || LEVELS=(1 3 9 19)
SOURCE="$IMAGE_DIR/root.tar.zst"
[[ -f $SOURCE ]] || die "$SOURCE is missing: build the image first (netboot images build $(basename "$IMAGE_DIR"))"
command -v zstd >/dev/null || die "zstd is missing (apt-get install -y zstd)"
for level in "${LEVELS[@]}"; do [[ $level =~ ^[0-9]+$ ]] && ((level >= 1 && level <= 19)) || die "level $level: use 1 to 19"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nb-root-tar-bench.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
seconds_since() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f", b / 1048576 }'; }

zstd -q -d -c "$SOURCE" > "$WORK/root.tar"
printf 'tar: %s (%s MiB uncompressed), %d cores\n' "$SOURCE" "$(mib "$WORK/root.tar")" "$(nproc)"
printf '%-6s %10s %12s %14s\n' level 'size MiB' 'compress s' 'decompress s'
for level in "${LEVELS[@]}"; do
  out="$WORK/root-$level.tar.zst"
  start=$(date +%s%N)
  zstd -q -T0 "-$level" -c "$WORK/root.tar" > "$out"
  compress=$(seconds_since "$start")
  start=$(date +%s%N)
  zstd -q -d -c "$out" > /dev/null
  decompress=$(seconds_since "$start")
  printf '%-6s %10s %12s %14s\n' "-$level" "$(mib "$out")" "$compress" "$decompress"
  rm -f -- "$out"
done
