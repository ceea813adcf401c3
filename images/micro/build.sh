#!/usr/bin/env bash
# images/micro/build.sh OUTDIR
#
# Builds the "micro" enlistment image from Debian packages only: the kernel that linux-image-amd64
# points at, busybox-static, and ipmitool with the shared libraries it loads (commissioning's BMC
# setup, commissioning/builtin/30-bmc-config). Nothing is installed on the host: packages are
# fetched with `apt-get download` into a cache and unpacked with `dpkg-deb -x`.
#
# OUTDIR gets vmlinuz, initrd.img (gzip newc cpio: busybox + /init + the few modules needed to reach
# the network and mount the root), rootfs.squashfs (xz: busybox, /usr/lib/netboot/{enlist-agent,
# runner,inventory.sh}, /usr/bin/ipmitool with its libraries and the dynamic loader, and the IPMI and
# USB host modules the commissioning scripts load) and manifest.json. OUTDIR is built as
# OUTDIR.tmp.<pid> and renamed into place only when complete.
#
# Host packages (Debian 12): apt, dpkg, coreutils, findutils, gzip (all essential/priority required)
# plus kmod, cpio, squashfs-tools. The host must be amd64 (the build runs the fetched busybox).
#
# Environment:
#   NETBOOT_CACHE_DIR   .deb cache in $NETBOOT_CACHE_DIR/debs
#                       (default ${XDG_CACHE_HOME:-$HOME/.cache}/netboot/debs); reused across builds.
#   SOURCE_DATE_EPOCH   timestamp for every file in the initrd and squashfs (default 0), so the same
#                       recipe and packages give byte-identical files, hence the same content ids.
#   TMPDIR              where packages are unpacked (~500 MB while building).
#
# The package lists must be present: this script never runs `apt-get update` itself (that would change
# the host's apt state behind the operator's back); it says so and stops when they are missing.
#
# recipeSha256 (also computed by src/images/build.ts, keep the two identical): for every regular file
# under this recipe folder, sorted by relative path in byte order, the line "<sha256 hex>  <path>\n" as
# printed by sha256sum; the recipe hash is the sha256 of those lines concatenated. File names must not
# contain backslashes or newlines (sha256sum would escape them).
set -euo pipefail
export LC_ALL=C
# Non-root shells on Debian have no /usr/sbin in PATH, where depmod and mksquashfs live.
export PATH="$PATH:/usr/sbin:/sbin"

readonly STEPS=8
readonly KERNEL_META=linux-image-amd64
# Modules the initrd loads, in this order. kmod resolves their dependencies (and softdeps) below.
# NICs QEMU and common hardware offer; virtio/ATA/AHCI + sd_mod so attached disks show up in the
# inventory; squashfs + loop + overlay to mount the root; af_packet for udhcpc's raw socket
# (built in on Debian 12, then skipped).
readonly MODULES=(e1000 e1000e virtio_net virtio_pci virtio_blk ata_piix ahci sd_mod squashfs loop overlay af_packet)
# Modules in the root for commissioning scripts to modprobe (commissioning/builtin): the IPMI system
# interface and its /dev/ipmiN node (20-bmc), USB host controllers so USB devices enumerate
# (10-pci-usb). Enlistment never loads them.
readonly ROOT_MODULES=(ipmi_si ipmi_devintf xhci_pci ehci_pci ohci_pci uhci_hcd)
# ipmitool (30-bmc-config creates the appliance's BMC user in-band, as MAAS does with it) and the
# packages holding the libraries it links: its Depends, and theirs, minus what the binary never
# loads (freeipmi-common, readline-common: configuration and data files). The loader itself decides
# what is copied (install_elf_closure); a library in none of these packages stops the build.
readonly IPMI_BINARIES=(/usr/bin/ipmitool)
readonly IPMI_PACKAGES=(ipmitool libc6 libfreeipmi17 libreadline8 libtinfo6 libssl3 libgcrypt20 libgpg-error0)

step() { printf '[%d/%d] %s\n' "$1" "$STEPS" "$2"; }
die() { printf 'micro/build.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: build.sh OUTDIR (the image folder to create, e.g. ~/.cache/netboot/images/micro)"
RECIPE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUTDIR=$(realpath -m -- "$1")
DEB_DIR=${NETBOOT_CACHE_DIR:+$NETBOOT_CACHE_DIR/debs}
DEB_DIR=${DEB_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/netboot/debs}
EPOCH=${SOURCE_DATE_EPOCH:-0}
START_NS=$(date +%s%N)

# shellcheck source=lib/output.sh
source "$RECIPE_DIR/lib/output.sh"
init_output "$OUTDIR"

# --- 1. host tools --------------------------------------------------------------------------------
step 1 "checking host tools"
require_tools apt-get:apt apt-cache:apt dpkg-deb:dpkg depmod:kmod modprobe:kmod cpio:cpio gzip:gzip \
  mksquashfs:squashfs-tools sha256sum:coreutils realpath:coreutils find:findutils
# busybox's modprobe has no -d/-S/--show-depends; we need kmod's.
modprobe --version 2>/dev/null | grep -q kmod || die "modprobe is not kmod's; install it with: apt-get install -y kmod"
[[ $(dpkg --print-architecture 2>/dev/null || uname -m) =~ ^(amd64|x86_64)$ ]] \
  || die "this recipe builds amd64 images and runs the fetched busybox; build on an amd64 host"

mkdir -p -- "$(dirname -- "$OUTDIR")" "$DEB_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/netboot-micro.XXXXXX")
mkdir -- "$TMP_OUT"

# --- 2. resolve packages --------------------------------------------------------------------------
step 2 "resolving packages ($KERNEL_META, busybox-static, ${IPMI_PACKAGES[*]})"
if ! apt-cache show --no-all-versions "$KERNEL_META" >/dev/null 2>&1; then
  die "apt knows no package $KERNEL_META: the package lists are empty or stale. Run: apt-get update (as root), then build again"
fi
# linux-image-amd64 is a metapackage; its Depends names the real, versioned kernel package.
KERNEL_PKG=$(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
  --no-enhances "$KERNEL_META" | awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[[ -n $KERNEL_PKG ]] || die "could not find the kernel package $KERNEL_META depends on (apt-cache depends $KERNEL_META)"
KVER=${KERNEL_PKG#linux-image-}

# pkg_field PKG FIELD: a field of the candidate version's stanza.
pkg_field() { apt-cache show --no-all-versions "$1" | awk -v f="$2:" '$1 == f { print $2; exit }'; }

declare -A DEB_FILE DEB_VERSION
# --- 3. download ----------------------------------------------------------------------------------
step 3 "downloading packages into $DEB_DIR"
for pkg in "$KERNEL_PKG" busybox-static "${IPMI_PACKAGES[@]}"; do
  version=$(pkg_field "$pkg" Version)
  arch=$(pkg_field "$pkg" Architecture)
  sha=$(pkg_field "$pkg" SHA256)
  [[ -n $version && -n $sha ]] || die "apt-cache show $pkg gave no Version/SHA256; run: apt-get update"
  # apt-get download names files <pkg>_<version with ':' as %3a>_<arch>.deb.
  file="$DEB_DIR/${pkg}_${version//:/%3a}_${arch}.deb"
  if [[ -f $file ]] && [[ $(sha256sum <"$file" | cut -d' ' -f1) == "$sha" ]]; then
    printf '      %s %s (cached)\n' "$pkg" "$version"
  else
    rm -f -- "$file"
    printf '      %s %s (downloading)\n' "$pkg" "$version"
    # As root, apt drops to the _apt user to download and warns when that user cannot write the
    # cache (e.g. under /root); downloading as root here is what apt would fall back to anyway.
    sandbox=()
    ((EUID == 0)) && sandbox=(-o APT::Sandbox::User=root)
    (cd "$DEB_DIR" && apt-get -q "${sandbox[@]}" download "$pkg=$version" >&2) \
      || die "apt-get download $pkg=$version failed (network? run apt-get update if the version is gone)"
    [[ -f $file ]] || die "apt-get download did not produce $file"
    [[ $(sha256sum <"$file" | cut -d' ' -f1) == "$sha" ]] \
      || { rm -f -- "$file"; die "$file does not match the SHA256 in the apt lists; build again"; }
  fi
  DEB_FILE[$pkg]=$file
  DEB_VERSION[$pkg]=$version
done

# --- 4. extract -----------------------------------------------------------------------------------
step 4 "extracting $KERNEL_PKG, busybox-static and ipmitool"
dpkg-deb -x "${DEB_FILE[$KERNEL_PKG]}" "$WORK/kernel"
dpkg-deb -x "${DEB_FILE[busybox-static]}" "$WORK/busybox"
for pkg in "${IPMI_PACKAGES[@]}"; do dpkg-deb -x "${DEB_FILE[$pkg]}" "$WORK/ipmitool"; done
KTREE="$WORK/kernel"
[[ -f $KTREE/boot/vmlinuz-$KVER ]] || die "$KERNEL_PKG has no boot/vmlinuz-$KVER"
[[ -d $KTREE/lib/modules/$KVER ]] || die "$KERNEL_PKG has no lib/modules/$KVER"
BUSYBOX="$WORK/busybox/bin/busybox"
"$BUSYBOX" true 2>/dev/null || die "the busybox from busybox-static does not run on this host"
cp -- "$KTREE/boot/vmlinuz-$KVER" "$TMP_OUT/vmlinuz"

source "$RECIPE_DIR/lib/trees.sh"

# --- 5. modules -----------------------------------------------------------------------------------
step 5 "extracting kernel modules (${MODULES[*]})"
INITRD="$WORK/initrd"
collect_modules "$KTREE" "$KVER" "$INITRD" "${MODULES[@]}"

# --- 6. initrd ------------------------------------------------------------------------------------
step 6 "building initrd.img"
install_busybox "$BUSYBOX" "$INITRD"
install -D -m 0755 "$RECIPE_DIR/initrd/init" "$INITRD/init"
install -D -m 0755 "$RECIPE_DIR/initrd/udhcpc.script" "$INITRD/etc/netboot/udhcpc.script"
mkdir -p "$INITRD"/{dev,proc,sys,run,tmp,newroot}
chmod 1777 "$INITRD/tmp"
make_cpio "$INITRD" "$EPOCH" >"$TMP_OUT/initrd.img"

# --- 7. rootfs ------------------------------------------------------------------------------------
step 7 "building rootfs.squashfs"
ROOTFS="$WORK/rootfs"
install_busybox "$BUSYBOX" "$ROOTFS"
install -D -m 0755 "$RECIPE_DIR/rootfs/enlist-agent" "$ROOTFS/usr/lib/netboot/enlist-agent"
install -D -m 0755 "$RECIPE_DIR/rootfs/runner" "$ROOTFS/usr/lib/netboot/runner"
install -D -m 0644 "$RECIPE_DIR/rootfs/inventory.sh" "$ROOTFS/usr/lib/netboot/inventory.sh"
printf '      root modules: %s\n' "${ROOT_MODULES[*]}"
collect_modules "$KTREE" "$KVER" "$ROOTFS" "${ROOT_MODULES[@]}"
install_elf_closure "$WORK/ipmitool" "$ROOTFS" "${IPMI_BINARIES[@]}"
# Run it inside the built root: chrooted as root (the binary's own /lib64 loader path, the loader's
# default search path), else through the root's loader with its library folders named.
if ((EUID == 0)); then
  check=("$BUSYBOX" chroot "$ROOTFS" /usr/bin/ipmitool -V)
else
  check=("$ROOTFS/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path
    "$ROOTFS/lib/x86_64-linux-gnu:$ROOTFS/usr/lib/x86_64-linux-gnu" "$ROOTFS/usr/bin/ipmitool" -V)
fi
version=$("${check[@]}" 2>&1) || die "ipmitool does not run in the built root: $(printf '%s' "$version" | head -n 2)"
printf '      %s runs in the root\n' "$version"
# Loaded on demand with modprobe (modules.dep), never in a fixed order at boot.
rm -f -- "$ROOTFS/etc/netboot/modules.load"
rmdir -- "$ROOTFS/etc/netboot"
# Mount points the initrd moves /proc, /sys, /dev and /run onto; the squashfs itself is read-only.
mkdir -p "$ROOTFS"/{dev,proc,sys,run,tmp,root,etc}
chmod 1777 "$ROOTFS/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$ROOTFS/etc/passwd"
printf 'root:x:0:\n' >"$ROOTFS/etc/group"
make_squashfs "$ROOTFS" "$EPOCH" "$TMP_OUT/rootfs.squashfs"

# --- 8. manifest + atomic rename ------------------------------------------------------------------
step 8 "writing manifest and $OUTDIR"
RECIPE_SHA=$(bash "$RECIPE_DIR/lib/recipe-hash.sh" "$RECIPE_DIR")
SECONDS_TOTAL=$(seconds_since "$START_NS")
cat >"$TMP_OUT/manifest.json" <<EOF
{
  "name": "micro",
  "version": "$KVER",
  "arch": "x86_64",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
  "recipeSha256": "$RECIPE_SHA",
  "packages": [
    { "name": "$KERNEL_PKG", "version": "${DEB_VERSION[$KERNEL_PKG]}" },
    { "name": "busybox-static", "version": "${DEB_VERSION[busybox-static]}" }$(
      for pkg in "${IPMI_PACKAGES[@]}"; do printf ',\n    { "name": "%s", "version": "%s" }' "$pkg" "${DEB_VERSION[$pkg]}"; done)
  ],
  "files": {
    "kernel": $(file_json vmlinuz),
    "initrd": $(file_json initrd.img),
    "rootfs": $(file_json rootfs.squashfs)
  },
  "buildSeconds": $SECONDS_TOTAL
}
EOF
publish_output "$OUTDIR"
printf 'built micro %s in %s s: %s\n' "$KVER" "$SECONDS_TOTAL" "$OUTDIR"
