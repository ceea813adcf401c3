#!/usr/bin/env bash
# netboot "debian" image recipe: a Debian 12 ephemeral environment with systemd and real cloud-init,
# for commissioning and testing through cloud-init (config images.commission: debian).
#
#   images/debian/build.sh OUTDIR
#
# OUTDIR gets vmlinuz (the tree's own kernel), initrd.img (the micro image's busybox initrd: DHCP on
# the boot NIC, the squashfs fetched over HTTP into RAM, mounted under a tmpfs overlay, switch_root to
# netboot.init=/sbin/init), rootfs.squashfs (mmdebstrap --variant=minbase of bookworm with systemd,
# cloud-init and the commissioning runner) and manifest.json ("environment": "cloud-init").
#
# Why the micro initrd and not initramfs-tools or live-boot: it already does exactly the HTTP root this
# needs (FACTS.md measured initramfs-tools' boot script as the fastest of three, live-boot ~25 s slower
# under TCG), is ~2 MB instead of ~22 MB, and keeps one root-over-HTTP code path for both images.
#
# squashfs compression (NETBOOT_SQUASHFS_COMP, default zstd), measured by bench/images/squashfs.sh on
# this tree (README, "cloud-init and the debian image"): zstd -b 1M 112 MiB, xz -b 1M 93 MiB but 7x
# slower to read back, lz4 193 MiB.
#
# Host packages (Debian 12): mmdebstrap, squashfs-tools, cpio, kmod, gzip; network: the Debian archive.
set -euo pipefail
export LC_ALL=C

readonly SUITE=bookworm
readonly MIRRORS=(
  "deb http://deb.debian.org/debian $SUITE main"
  "deb http://deb.debian.org/debian $SUITE-updates main"
  "deb http://deb.debian.org/debian-security $SUITE-security main"
)
# FACTS.md's package set for a systemd + cloud-init environment, plus what the commissioning scripts
# (commissioning/builtin) and the runner use: busybox-static (the runner's shell and tools, as in the
# micro image), kmod for modprobe, pciutils/usbutils for 10-pci-usb, ipmitool for 30-bmc-config (the
# BMC user the appliance powers the machine through; its Recommends, openipmi, is not installed).
# The deploy installer and erase run here too (shared/recipes/deploy.md §1.1, §2, §5): gdisk (sgdisk),
# dosfstools (mkfs.vfat for the ESP) and zstd (the root.tar.zst stream); nvme-cli and hdparm for the
# secure erase of NVMe and ATA disks; e2fsprogs (mkfs.ext4) and util-linux (wipefs, blkdiscard, sfdisk,
# partx, blockdev) are Priority: required and come with minbase. openssh-server is rescue mode's sshd.
readonly PACKAGES=(
  linux-image-amd64 usr-is-merged systemd systemd-sysv udev dbus cloud-init curl ca-certificates
  iproute2 netbase pciutils usbutils kmod busybox-static ipmitool
  gdisk dosfstools zstd nvme-cli hdparm openssh-server
)
# Installer commands checked in step 6: a missing one fails the build, not a deployment.
readonly INSTALLER_TOOLS=(sgdisk mkfs.vfat mkfs.ext4 zstd tar curl wipefs blkdiscard sfdisk partx blockdev nvme hdparm sshd)
# Kernel modules the installer loads (ESP: vfat + its code pages; root: ext4; disks: nvme, ahci):
# checked in step 6 so that UNUSED_MODULE_TREES never drops one.
readonly INSTALLER_MODULES=(vfat nls_cp437 nls_iso8859_1 nls_ascii ext4 nvme ahci)
# Same modules as the micro initrd: NIC, disk and the filesystems the root needs.
readonly MODULES=(e1000 e1000e virtio_net virtio_pci virtio_blk ata_piix ahci sd_mod squashfs loop overlay af_packet)
# Kernel module trees a server's commissioning never loads (graphics, sound, media, wireless,
# industrial I/O, staging, self-tests): ~120 MiB of the 384 MiB of modules, a quarter of the
# squashfs, fetched into RAM at every boot. lspci still lists GPUs without their drivers.
readonly UNUSED_MODULE_TREES=(
  kernel/drivers/gpu kernel/drivers/media kernel/sound kernel/drivers/net/wireless kernel/drivers/iio
  kernel/drivers/staging kernel/drivers/comedi kernel/lib/test_*.ko
)
# Units that only cost boot time in an environment that lives for minutes.
readonly MASKED_UNITS=(
  apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer
  systemd-timesyncd.service getty@tty1.service
)
readonly STEPS=7
COMP=${NETBOOT_SQUASHFS_COMP:-zstd}

step() { printf '[%d/%d] %s\n' "$1" "$STEPS" "$2"; }
die() { printf 'debian/build.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: build.sh OUTDIR (the image folder to create, e.g. ~/.cache/netboot/images/debian)"
RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MICRO_DIR=$(cd "$RECIPE_DIR/../micro" && pwd)
OUTDIR=$(realpath -m -- "$1")
CACHE_ROOT=${NETBOOT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot}
DEB_CACHE="$CACHE_ROOT/debian-debs"
START_NS=$(date +%s%N)
case $COMP in zstd | xz | lz4 | gzip) ;; *) die "NETBOOT_SQUASHFS_COMP=$COMP: use zstd, xz, lz4 or gzip" ;; esac

# shellcheck source=../micro/lib/output.sh
source "$MICRO_DIR/lib/output.sh"
init_output "$OUTDIR"

# --- 1. host tools --------------------------------------------------------------------------------
step 1 "checking host tools"
require_tools mmdebstrap:mmdebstrap mksquashfs:squashfs-tools cpio:cpio gzip:gzip depmod:kmod modprobe:kmod \
  sha256sum:coreutils find:findutils
[[ $(id -u) -eq 0 ]] || die "the Debian tree is built as root (mmdebstrap --mode=root, real file owners): run as root"
modprobe --version 2>/dev/null | grep -q kmod || die "modprobe is not kmod's; install it with: apt-get install -y kmod"
mkdir -p -- "$(dirname -- "$OUTDIR")" "$DEB_CACHE"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/netboot-debian.XXXXXX")
mkdir -- "$TMP_OUT"
ROOT="$WORK/root"

# --- 2. the Debian tree ---------------------------------------------------------------------------
step 2 "mmdebstrap $SUITE minbase + ${#PACKAGES[@]} packages (downloads cached in $DEB_CACHE)"
# - merged-usr hook: a merged /usr without the usrmerge package, which drags in perl (FACTS.md);
# - the kernel's postinst hook that builds an initramfs-tools initrd is never installed: we boot the
#   micro initrd, so that initrd would be ~30 s of build time and 20 MB of dead weight;
# - documentation, man pages and translations are left out of an environment nobody logs into.
mmdebstrap --mode=root --variant=minbase --format=directory \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
  --dpkgopt='path-exclude=/etc/kernel/postinst.d/initramfs-tools' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --aptopt='APT::Install-Recommends "false"' \
  --skip=essential/unlink \
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

# --- 3. configure the environment -----------------------------------------------------------------
step 3 "configuring cloud-init, systemd and the netboot runner"
# An empty machine-id: systemd makes a fresh one at every boot (each boot is a new machine to it).
: >"$ROOT/etc/machine-id"
rm -f -- "$ROOT/var/lib/dbus/machine-id"
# openssh-server's postinst made host keys at build time, which every machine booting this image would
# share: cloud-init (cc_ssh) generates each boot's own before ssh.service starts (deploy.md §1.1).
rm -f -- "$ROOT"/etc/ssh/ssh_host_*
install -D -m 0644 "$RECIPE_DIR/rootfs/90-netboot.cfg" "$ROOT/etc/cloud/cloud.cfg.d/90-netboot.cfg"
install -D -m 0644 "$RECIPE_DIR/rootfs/netboot-finished.service" "$ROOT/etc/systemd/system/netboot-finished.service"
mkdir -p "$ROOT/etc/systemd/system/multi-user.target.wants"
ln -sfn ../netboot-finished.service "$ROOT/etc/systemd/system/multi-user.target.wants/netboot-finished.service"
for unit in "${MASKED_UNITS[@]}"; do ln -sfn /dev/null "$ROOT/etc/systemd/system/$unit"; done
printf 'netboot\n' >"$ROOT/etc/hostname"
: >"$ROOT/etc/fstab"
# The commissioning runner and its inventory library, as in the micro image; the runner and the
# scripts are written for busybox, whose applets go first on the runner's PATH ($LIBDIR/bin).
install -D -m 0755 "$MICRO_DIR/rootfs/runner" "$ROOT/usr/lib/netboot/runner"
install -D -m 0644 "$MICRO_DIR/rootfs/inventory.sh" "$ROOT/usr/lib/netboot/inventory.sh"
install -D -m 0644 "$MICRO_DIR/rootfs/deploy.sh" "$ROOT/usr/lib/netboot/deploy.sh"
mkdir -p "$ROOT/usr/lib/netboot/bin"
while read -r applet; do
  ln -sfn /bin/busybox "$ROOT/usr/lib/netboot/bin/$applet"
done < <(chroot "$ROOT" /bin/busybox --list)
cp -- "$ROOT/boot/$KERNEL" "$TMP_OUT/vmlinuz"

# --- 4. initrd (the micro image's) ----------------------------------------------------------------
step 4 "building initrd.img (micro's /init, modules of $KVER)"
# shellcheck source=../micro/lib/trees.sh
source "$MICRO_DIR/lib/trees.sh"
KERNEL_PKG="linux-image-$KVER" # named in collect_modules' errors
INITRD="$WORK/initrd"
collect_modules "$ROOT" "$KVER" "$INITRD" "${MODULES[@]}"
install_busybox "$ROOT/bin/busybox" "$INITRD"
install -D -m 0755 "$MICRO_DIR/initrd/init" "$INITRD/init"
install -D -m 0755 "$MICRO_DIR/initrd/udhcpc.script" "$INITRD/etc/netboot/udhcpc.script"
mkdir -p "$INITRD"/{dev,proc,sys,run,tmp,newroot}
chmod 1777 "$INITRD/tmp"
make_cpio "$INITRD" "${SOURCE_DATE_EPOCH:-0}" >"$TMP_OUT/initrd.img"

# --- 5. squashfs ----------------------------------------------------------------------------------
step 5 "building rootfs.squashfs ($COMP)"
# shellcheck disable=SC2086 # the globs expand inside the module tree
(cd "$ROOT/usr/lib/modules/$KVER" && rm -rf -- ${UNUSED_MODULE_TREES[*]})
depmod -b "$ROOT" "$KVER" || die "depmod failed for $KVER"
rm -rf -- "$ROOT"/boot/* "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/* "$ROOT"/tmp/* "$ROOT"/var/log/*.log
# Real owners (systemd-journal, messagebus ...) stay: unlike micro's, this tree is not all root's.
# -b 1M: bigger blocks compress better and the image is read whole into RAM anyway.
comp_opts=(-comp "$COMP")
[[ $COMP == zstd || $COMP == xz ]] && comp_opts+=(-b 1M)
squash_start=$(date +%s)
mksquashfs "$ROOT" "$TMP_OUT/rootfs.squashfs" "${comp_opts[@]}" -noappend -no-progress -quiet >/dev/null \
  || die "mksquashfs failed"
printf '      %s MiB in %d s\n' "$(( $(stat -c %s "$TMP_OUT/rootfs.squashfs") / 1048576 ))" "$(( $(date +%s) - squash_start ))"

# --- 6. checks ------------------------------------------------------------------------------------
step 6 "checking the tree"
[[ -x $ROOT/sbin/init || -L $ROOT/sbin/init ]] || die "the tree has no /sbin/init (systemd-sysv)"
[[ -x $ROOT/usr/bin/cloud-init ]] || die "the tree has no cloud-init"
for tool in "${INSTALLER_TOOLS[@]}"; do
  chroot "$ROOT" sh -c 'command -v "$1"' sh "$tool" >/dev/null || die "the tree has no $tool, which the deploy installer needs"
done
chroot "$ROOT" ipmitool -V >/dev/null 2>&1 || die "ipmitool does not run in the tree: 30-bmc-config needs it"
for module in "${INSTALLER_MODULES[@]}"; do
  # Built in (modules.builtin) counts too: modprobe succeeds on those.
  modprobe -S "$KVER" -d "$ROOT" -n "$module" 2>/dev/null \
    || die "kernel module $module is missing from the tree (removed by UNUSED_MODULE_TREES?): the installer needs it"
done
[[ -z $(find "$ROOT/etc/ssh" -name 'ssh_host_*' -print -quit) ]] || die "build-time ssh host keys are left in the tree"

# --- 7. manifest + atomic rename ------------------------------------------------------------------
step 7 "writing manifest and $OUTDIR"
RECIPE_SHA=$(bash "$MICRO_DIR/lib/recipe-hash.sh" "$RECIPE_DIR")
pkg_json() {
  chroot "$ROOT" dpkg-query -W -f='${Package} ${Version}\n' "$@" | awk '{ printf "%s{ \"name\": \"%s\", \"version\": \"%s\" }", sep, $1, $2; sep = ", " }'
}
SECONDS_TOTAL=$(seconds_since "$START_NS")
cat >"$TMP_OUT/manifest.json" <<JSON
{
  "name": "debian",
  "version": "$SUITE-$KVER",
  "arch": "x86_64",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "recipeSha256": "$RECIPE_SHA",
  "environment": "cloud-init",
  "packages": [ $(pkg_json "linux-image-$KVER" systemd cloud-init busybox-static) ],
  "files": {
    "kernel": $(file_json vmlinuz),
    "initrd": $(file_json initrd.img),
    "rootfs": $(file_json rootfs.squashfs)
  },
  "buildSeconds": $SECONDS_TOTAL
}
JSON
publish_output "$OUTDIR"
printf '      %s: vmlinuz %s, initrd.img %s, rootfs.squashfs %s, %s s\n' "$OUTDIR" \
  "$(du -h "$OUTDIR/vmlinuz" | cut -f1)" "$(du -h "$OUTDIR/initrd.img" | cut -f1)" "$(du -h "$OUTDIR/rootfs.squashfs" | cut -f1)" "$SECONDS_TOTAL"
