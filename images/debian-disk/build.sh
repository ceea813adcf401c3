#!/usr/bin/env bash
# netboot "debian-disk" image recipe: the deployable Debian 12 root filesystem, written to a machine's
# disk by the installer (issue 13, "Deploy to disk"). Unlike the other images it is never netbooted.
#
#   images/debian-disk/build.sh OUTDIR
#
# OUTDIR gets root.tar.zst (the whole root, extracted by the installer onto a fresh ext4 partition),
# localboot.efi (the UEFI local-boot handoff, see localboot.cfg) and manifest.json ("kind": "disk",
# rootBytes = the tree's installed size, which the installer checks against the disk).
#
# Why a tarball and not a raw disk image (shared/recipes/deploy.md §0, §1.3): the same size compressed
# (216 vs 220 MiB at zstd -3), no dependency on the disk size (no GPT backup fix, growpart, resize2fs),
# 0.8 GB written instead of the whole image, and new filesystem UUIDs on every machine.
#
# zstd level (NETBOOT_DISK_ZSTD_LEVEL, default 3): the recipe measured -3 at 216 MiB in 5 s and -19 at
# 163 MiB in 8 min on 2 shared cores; -3 keeps the build at a few minutes, -19 suits a published image.
#
# Host packages (Debian 12): mmdebstrap, zstd, tar; network: the Debian archive. GRUB is not needed on
# the host: localboot.efi is made by the tree's own grub-mkstandalone, run in a chroot.
set -euo pipefail
export LC_ALL=C

readonly SUITE=bookworm
readonly MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)
# The recipe's package set (deploy.md §1, §1.1 says why each is there):
# - grub-pc-bin + grub-efi-amd64-bin + grub2-common, not the grub-pc / grub-efi-amd64 meta packages,
#   which conflict: one disk boots both BIOS and UEFI;
# - grub-efi-amd64-signed + shim-signed: grub-install --removable then installs the Secure Boot chain;
# - ifupdown + isc-dhcp-client: cloud-init 22.4 renders ENI first, and dhclient writes resolv.conf;
# - dosfstools: fsck.vfat for /boot/efi at boot; initramfs-tools + zstd: the installed OS's initrd.
readonly PACKAGES=(
  linux-image-amd64 initramfs-tools zstd systemd systemd-sysv udev dbus systemd-timesyncd
  cloud-init cloud-guest-utils openssh-server sudo ifupdown isc-dhcp-client
  grub2-common grub-pc-bin grub-efi-amd64-bin grub-efi-amd64-signed shim-signed dosfstools
  curl ca-certificates iproute2 netbase iputils-ping less
)
# Units a deployed server should not run on its own: unattended apt at random times (the user's
# cloud-init decides about upgrades).
readonly MASKED_UNITS=(apt-daily.timer apt-daily-upgrade.timer)
# localboot.efi: only the modules its config uses (without --install-modules it is 10 MiB, not 7.5).
readonly LOCALBOOT_INSTALL_MODULES="part_gpt fat chain search search_fs_file search_fs_uuid search_label echo sleep normal configfile test"
readonly LOCALBOOT_MODULES="part_gpt fat chain search_fs_file"
readonly STEPS=6
ZLEVEL=${NETBOOT_DISK_ZSTD_LEVEL:-3}

step() { printf '[%d/%d] %s\n' "$1" "$STEPS" "$2"; }
die() { printf 'debian-disk/build.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: build.sh OUTDIR (the image folder to create, e.g. ~/.cache/netboot/images/debian-disk)"
[[ $ZLEVEL =~ ^[0-9]+$ ]] && ((ZLEVEL >= 1 && ZLEVEL <= 19)) || die "NETBOOT_DISK_ZSTD_LEVEL=$ZLEVEL: use a zstd level from 1 to 19"
RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MICRO_DIR=$(cd "$RECIPE_DIR/../micro" && pwd)
OUTDIR=$(realpath -m -- "$1")
CACHE_ROOT=${NETBOOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot}
# The debian recipe's download cache: both trees share most packages (kernel, systemd, cloud-init).
DEB_CACHE="$CACHE_ROOT/debian-debs"
START_NS=$(date +%s%N)

# shellcheck source=../micro/lib/output.sh
source "$MICRO_DIR/lib/output.sh"
init_output "$OUTDIR"

# --- 1. host tools --------------------------------------------------------------------------------
step 1 "checking host tools"
require_tools mmdebstrap:mmdebstrap zstd:zstd tar:tar sha256sum:coreutils du:coreutils
[[ $(id -u) -eq 0 ]] || die "the Debian tree is built as root (mmdebstrap --mode=root, real file owners): run as root"
mkdir -p -- "$(dirname -- "$OUTDIR")" "$DEB_CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/netboot-debian-disk.XXXXXX")
mkdir -- "$TMP_OUT"
ROOT="$WORK/root"

# --- 2. the Debian tree ---------------------------------------------------------------------------
step 2 "mmdebstrap $SUITE minbase + ${#PACKAGES[@]} packages (downloads cached in $DEB_CACHE)"
# - merged-usr hook: a merged /usr without the usrmerge package, which drags in perl;
# - unlike the debian image, the kernel's initramfs-tools hook stays: the installed OS boots its own
#   initrd from the disk;
# - documentation, man pages and translations are left out (locale.alias stays: glibc reads it).
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in $DEB_CACHE /var/cache/apt/archives/" \
  --customize-hook="sync-out /var/cache/apt/archives $DEB_CACHE" \
  --quiet \
  "$SUITE" "$ROOT" "${MIRRORS[@]}" \
  || die "mmdebstrap failed (is deb.debian.org reachable? see its output above)"
KERNEL=$(find "$ROOT/boot" -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' | sort -V | tail -n 1)
[[ -n $KERNEL ]] || die "the tree has no /boot/vmlinuz-*: did linux-image-amd64 install?"
KVER=${KERNEL#vmlinuz-}
printf '      kernel %s, %s packages\n' "$KVER" "$(chroot "$ROOT" dpkg-query -W -f='.\n' | wc -l)"

# --- 3. make the tree a template, not a machine ---------------------------------------------------
step 3 "removing per-machine state, configuring cloud-init and GRUB"
printf 'debian\n' >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
# An empty machine-id: systemd makes one on first boot, so every deployed machine has its own.
: >"$ROOT/etc/machine-id"
rm -f -- "$ROOT/var/lib/dbus/machine-id"
# openssh-server's postinst made host keys at build time: every machine would share them. cloud-init
# (cc_ssh) generates new ones on first boot and phones the ed25519 key home (deploy.md §1.1).
rm -f -- "$ROOT"/etc/ssh/ssh_host_*
# The build host's resolver must not leak into machines; dhclient writes it on first boot. 0644:
# mmdebstrap leaves the file it copied from the host executable.
: >"$ROOT/etc/resolv.conf"
chmod 0644 "$ROOT/etc/resolv.conf"
# No cloud-init instance may be left from the build, or first boot would not be a new instance.
rm -rf -- "$ROOT"/var/lib/cloud/* "$ROOT"/var/log/cloud-init*
for unit in "${MASKED_UNITS[@]}"; do ln -sfn /dev/null "$ROOT/etc/systemd/system/$unit"; done
# REQUIRED: with Debian's default en_US.UTF-8, cloud-init 22.4 runs update-locale before locale-gen,
# update-locale exits 255, and first boot ends in "status: error" (deploy.md §1.1, run R1).
# C.UTF-8 is built into glibc.
printf 'LANG=C.UTF-8\n' >"$ROOT/etc/default/locale"
install -D -m 0644 /dev/stdin "$ROOT/etc/cloud/cloud.cfg.d/01-deploy-image.cfg" <<'CFG'
# netboot debian-disk: cloud-init 22.4 runs update-locale BEFORE locale-gen, so the default
# en_US.UTF-8 fails (status: error, cloud-config.service failed). C.UTF-8 is built in.
locale: C.UTF-8
CFG
# A serial console next to the screen: servers and QEMU test runs are read through ttyS0.
install -D -m 0644 /dev/stdin "$ROOT/etc/default/grub.d/50-netboot.cfg" <<'CFG'
GRUB_TIMEOUT=1
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
CFG
rm -rf -- "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/* \
  "$ROOT"/tmp/* "$ROOT"/var/log/*.log "$ROOT"/usr/share/doc/*/changelog*

# --- 4. checks ------------------------------------------------------------------------------------
step 4 "checking the tree"
[[ -x $ROOT/usr/bin/cloud-init ]] || die "the tree has no cloud-init"
[[ -d $ROOT/usr/lib/grub/i386-pc && -d $ROOT/usr/lib/grub/x86_64-efi ]] \
  || die "the tree lacks GRUB's BIOS or UEFI modules (grub-pc-bin, grub-efi-amd64-bin)"
compgen -G "$ROOT/usr/lib/shim/shimx64.efi.signed*" >/dev/null || die "the tree has no signed shim (shim-signed)"
[[ -z $(find "$ROOT/etc/ssh" -name 'ssh_host_*' -print -quit) ]] || die "build-time ssh host keys are left in the tree"

# --- 5. localboot.efi and root.tar.zst ------------------------------------------------------------
step 5 "building localboot.efi and root.tar.zst (zstd -$ZLEVEL)"
# The tree's own grub-mkstandalone (grub-efi-amd64-bin): the host has no x86_64-efi GRUB modules.
# Its input and output pass through the tree's /tmp, which is emptied again before the tarball.
install -m 0644 "$RECIPE_DIR/localboot.cfg" "$ROOT/tmp/localboot.cfg"
chroot "$ROOT" grub-mkstandalone -O x86_64-efi --install-modules="$LOCALBOOT_INSTALL_MODULES" \
  --modules="$LOCALBOOT_MODULES" -o /tmp/localboot.efi "boot/grub/grub.cfg=/tmp/localboot.cfg" \
  || die "grub-mkstandalone failed in the tree"
mv -- "$ROOT/tmp/localboot.efi" "$TMP_OUT/localboot.efi"
rm -f -- "$ROOT/tmp/localboot.cfg"
[[ $(head -c 2 "$TMP_OUT/localboot.efi") == MZ ]] || die "localboot.efi is not a PE file"
# Apparent size of every file: the installer refuses a disk whose root partition is smaller.
ROOT_BYTES=$(du -sb -- "$ROOT" | cut -f1)
tar_start=$(date +%s)
# --numeric-owner: the target's passwd is the tree's own, not the host's; --xattrs-include='*' keeps
# security.capability (ping's cap_net_raw), which GNU tar drops otherwise (deploy.md §1.1).
tar --numeric-owner --xattrs --xattrs-include='*' --acls -C "$ROOT" -cf - . \
  | zstd -q -T0 "-$ZLEVEL" -o "$TMP_OUT/root.tar.zst" || die "tar | zstd failed"
TAR_SECONDS=$(($(date +%s) - tar_start))
printf '      root.tar.zst %s MiB in %d s (tree %s MiB)\n' "$(($(stat -c %s "$TMP_OUT/root.tar.zst") / 1048576))" \
  "$TAR_SECONDS" "$((ROOT_BYTES / 1048576))"

# --- 6. manifest + atomic rename ------------------------------------------------------------------
step 6 "writing manifest and $OUTDIR"
RECIPE_SHA=$(bash "$MICRO_DIR/lib/recipe-hash.sh" "$RECIPE_DIR")
pkg_json() {
  chroot "$ROOT" dpkg-query -W -f='${Package} ${Version}\n' "$@" | awk '{ printf "%s{ \"name\": \"%s\", \"version\": \"%s\" }", sep, $1, $2; sep = ", " }'
}
SECONDS_TOTAL=$(seconds_since "$START_NS")
cat >"$TMP_OUT/manifest.json" <<JSON
{
  "name": "debian-disk",
  "kind": "disk",
  "version": "$SUITE-$KVER",
  "arch": "x86_64",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "recipeSha256": "$RECIPE_SHA",
  "format": "tar.zst",
  "rootBytes": $ROOT_BYTES,
  "packages": [ $(pkg_json "linux-image-$KVER" systemd cloud-init grub2-common shim-signed openssh-server) ],
  "files": {
    "root": $(file_json root.tar.zst),
    "localboot": $(file_json localboot.efi)
  },
  "buildSeconds": $SECONDS_TOTAL
}
JSON
publish_output "$OUTDIR"
printf '      %s: root.tar.zst %s, localboot.efi %s, rootBytes %s, %s s\n' "$OUTDIR" \
  "$(du -h "$OUTDIR/root.tar.zst" | cut -f1)" "$(du -h "$OUTDIR/localboot.efi" | cut -f1)" "$ROOT_BYTES" "$SECONDS_TOTAL"
