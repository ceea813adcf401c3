# shellcheck shell=bash
# /usr/lib/netboot/deploy.sh: shell library of the deploy and erase scripts (deploy/builtin), which
# run in the Debian environment (images/debian) under bash. Sourced; defines functions and variables.
#
#   deploy_begin STEP [first]  set STEP, the traps, and (unless "first") refuse to run after a failed
#                              earlier step: "skipped: <step> failed"
#   fail REASON                REASON as the last stderr line (the appliance shows the first failed
#                              script's last stderr line), the failure marker, exit 1
#   local_disks                the disks a deploy or an erase may touch, one name per line
#   part_dev /dev/DISK N       the device of partition N (vda3, nvme0n1p3, loop0p3)
#   elapsed T0                 seconds since $EPOCHREALTIME was T0, two decimals
#
# State shared by the deploy steps (each is its own process): $STATE (DEPLOY_STATE_DIR, default
# /run/netboot-deploy): disk (the /dev path 10-select-disk chose), root and esp (partition devices),
# failed (the name of the first step that failed), target/ (the new root, mounted by 20-partition).
#
# NETBOOT_SYSROOT=<dir>: read <dir>/sys instead of /sys (tests).

# shellcheck source=inventory.sh
. "${NETBOOT_LIB:-/usr/lib/netboot}/inventory.sh" # readf, json_str, disks, disk_json; sets R

# The runner puts busybox first on PATH; these scripts need the real GNU and util-linux tools
# (tar --xattrs, dd oflag=seek_bytes, wipefs, sgdisk, curl, zstd), so Debian's own go first.
PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH LC_ALL=C
STATE=${DEPLOY_STATE_DIR:-/run/netboot-deploy}
TARGET=$STATE/target
STEP=deploy

fail() {
  printf '%s\n' "$*" >&2
  exit 1
}

# On any exit, the step's temporary folder $WORK goes. On any non-zero exit (fail, a timeout's SIGTERM, an unexpected error): mark the step failed so the
# later steps skip, and unmount everything under the target, whoever mounted it, so the failed run
# leaves no mount behind (the runner powers the machine off afterwards, but a test host stays up).
deploy_exit() {
  local rc=$?
  [ -n "${WORK:-}" ] && rm -rf "$WORK" # a step's temporary folder (30-write-image's fifos)
  if [ "$rc" != 0 ]; then
    mkdir -p "$STATE"
    [ -e "$STATE/failed" ] || echo "$STEP" >"$STATE/failed"
    deploy_umount_all
  fi
  exit "$rc"
}

deploy_umount_all() {
  local m
  # Deepest first: the bind mounts and the ESP before the root.
  for m in $(awk -v t="$TARGET" '$2 == t || index($2, t "/") == 1 { print $2 }' /proc/mounts | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
}

deploy_begin() { # deploy_begin STEP [first]
  STEP=$1
  trap deploy_exit EXIT
  trap 'echo "$STEP: timed out (SIGTERM)" >&2; exit 143' TERM
  trap 'echo "$STEP: interrupted" >&2; exit 130' INT
  if [ "${2:-}" != first ] && [ -e "$STATE/failed" ]; then
    # Not this step's failure: keep the marker naming the first one.
    echo "skipped: $(head -n 1 "$STATE/failed") failed" >&2
    exit 1
  fi
}

# local_disks: inventory.sh's disks, without those no deploy or erase should pick by itself:
#   removable (USB sticks, card readers: the medium the operator may have booted from), read-only,
#   empty (a card reader without a card), dm-* and md* (device-mapper and software RAID are built on
#   top of the real disks, which are listed themselves), nbd* (network block devices: not this
#   machine's disks) and eMMC boot/RPMB areas (mmcblk0boot0: firmware regions of mmcblk0).
local_disks() {
  local name d
  for name in $(disks); do
    d=$R/sys/block/$name
    case $name in dm-* | md* | nbd* | mmcblk*boot* | mmcblk*rpmb) continue ;; esac
    [ "$(readf "$d/removable")" = 1 ] && continue
    [ "$(readf "$d/ro")" = 1 ] && continue
    case $(readf "$d/size") in '' | 0) continue ;; esac
    echo "$name"
  done | sort
}

part_dev() { # part_dev /dev/DISK N: names ending in a digit take a "p" (nvme0n1p3, loop0p3)
  case $1 in *[0-9]) echo "$1p$2" ;; *) echo "$1$2" ;; esac
}

elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

mib() { echo $(($1 / 1048576)); }
