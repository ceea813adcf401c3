#!/usr/bin/env bash
# squashfs compression for a boot image's root: size, build time and the time to read every file
# back (what the booted machine pays in decompression), per compressor, from one built image, e.g.
#   bench/images/squashfs.sh                       # ~/.cache/netboot/images/debian
#   bench/images/squashfs.sh ~/.cache/netboot/images/micro zstd lz4
# Prints one row per compressor. The read pass runs on this host (KVM-class CPU); under TCG a guest
# decompresses several times slower, so weigh the read column against the fetch time of the size
# column (the whole squashfs crosses the boot network into RAM before the root is mounted).
# Root only (loop mounts). Uses only a temporary folder, removed at exit.
set -euo pipefail
export LC_ALL=C

die() { printf 'bench/images/squashfs.sh: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "run as root: the read pass loop-mounts each squashfs"
IMAGE_DIR=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot/images/debian}
shift || true
COMPRESSORS=("$@")
((${#COMPRESSORS[@]} > 0)) || COMPRESSORS=(zstd xz lz4 gzip)
SOURCE="$IMAGE_DIR/rootfs.squashfs"
[[ -f $SOURCE ]] || die "$SOURCE is missing: build the image first (netboot images build $(basename "$IMAGE_DIR"))"
for tool in unsquashfs mksquashfs tar; do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y squashfs-tools tar)"; done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/nb-squashfs-bench.XXXXXX")
MOUNTED=""
cleanup() {
  [[ -n $MOUNTED ]] && umount "$MOUNTED" 2>/dev/null
  rm -rf -- "$WORK"
}
trap cleanup EXIT

seconds_since() { awk -v s="$1" -v e="$(date +%s%N)" 'BEGIN { printf "%.1f", (e - s) / 1e9 }'; }

unsquashfs -q -no-progress -d "$WORK/tree" "$SOURCE" >/dev/null
printf 'tree: %s (%s MiB unpacked, %d files), %d cores\n' "$SOURCE" \
  "$(du -sm "$WORK/tree" | cut -f1)" "$(find "$WORK/tree" | wc -l)" "$(nproc)"
printf '%-6s %-8s %10s %10s %10s\n' comp block 'size MiB' 'build s' 'read s'
for comp in "${COMPRESSORS[@]}"; do
  opts=(-comp "$comp")
  block=128K
  # As images/debian/build.sh does: 1 MiB blocks where the compressor gains from them.
  if [[ $comp == zstd || $comp == xz ]]; then opts+=(-b 1M); block=1M; fi
  out="$WORK/$comp.squashfs"
  start=$(date +%s%N)
  mksquashfs "$WORK/tree" "$out" "${opts[@]}" -noappend -no-progress -quiet >/dev/null 2>&1 || die "mksquashfs -comp $comp failed"
  build=$(seconds_since "$start")
  mkdir -p "$WORK/mnt"
  mount -t squashfs -o ro,loop "$out" "$WORK/mnt"
  MOUNTED="$WORK/mnt"
  start=$(date +%s%N)
  tar -C "$WORK/mnt" -cf - . | cat >/dev/null # tar skips reading file data when writing to /dev/null
  read_s=$(seconds_since "$start")
  umount "$WORK/mnt"
  MOUNTED=""
  printf '%-6s %-8s %10.1f %10s %10s\n' "$comp" "$block" "$(awk -v b="$(stat -c %s "$out")" 'BEGIN { print b / 1048576 }')" "$build" "$read_s"
  rm -f -- "$out"
done
