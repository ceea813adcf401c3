# shellcheck shell=bash
# Helpers sourced by build.sh: fill the initrd and rootfs trees and pack them. They use die and WORK
# from build.sh and run under its `set -euo pipefail`.

# collect_modules KTREE KVER DEST MODULE...
# Copies MODULE... and everything they need into DEST/lib/modules/KVER and writes the load order to
# DEST/etc/netboot/modules.load (one path per line, relative to the module folder, dependencies
# first). /init insmods that list in order, so it needs neither modules.dep parsing nor softdep
# support from busybox's modprobe (which has none); modules.dep is still generated so that
# `modprobe` works at an initrd shell and for the kernel's request_module().
collect_modules() {
  local ktree=$1 kver=$2 dest=$3
  shift 3
  local mdir="$ktree/lib/modules/$kver" out="$dest/lib/modules/$kver"
  local confdir="$WORK/empty-modprobe.d"
  mkdir -p "$confdir" "$out" "$dest/etc/netboot"
  # The package ships no modules.dep: its postinst runs depmod. Make one for the unpacked tree.
  depmod -b "$ktree" "$kver"

  local -A seen=()
  local order=() m deps kind path rel
  for m in "$@"; do
    # kmod's --show-depends prints "insmod <path>" per module in load order, softdeps included
    # (sd_mod -> crc-t10dif -> "pre: crct10dif"), or "builtin <name>". -C points at an empty
    # folder so the host's /etc/modprobe.d (blacklists, install hooks) cannot leak into the image.
    deps=$(modprobe -C "$confdir" -d "$ktree" -S "$kver" --show-depends "$m" 2>&1) \
      || die "kernel module $m not found in $KERNEL_PKG: $deps"
    while read -r kind path _; do
      case $kind in
        builtin) printf '      %s is built into the kernel\n' "$path" ;;
        insmod)
          rel=${path#"$mdir"/}
          [[ $rel != /* ]] || die "unexpected module path from modprobe: $path"
          [[ -z ${seen[$rel]:-} ]] || continue
          seen[$rel]=1
          order+=("$rel")
          ;;
        *) die "unexpected output from modprobe --show-depends $m: $kind $path" ;;
      esac
    done <<<"$deps"
  done

  : >"$dest/etc/netboot/modules.load"
  for rel in "${order[@]}"; do
    install -D -m 0644 "$mdir/$rel" "$out/$rel"
    # Debian 12 ships plain .ko files; later kernels compress them. busybox insmod cannot read
    # compressed modules, so unpack them here (needs xz-utils / zstd on the host only then).
    case $rel in
      *.ko.xz) xz -d "$out/$rel" || die "cannot unpack $rel: apt-get install -y xz-utils" ;;
      *.ko.zst) zstd -q -d --rm "$out/$rel" || die "cannot unpack $rel: apt-get install -y zstd" ;;
      *.ko.gz) gzip -d "$out/$rel" ;;
    esac
    printf '%s\n' "${rel%.ko*}.ko" >>"$dest/etc/netboot/modules.load"
  done
  for f in modules.order modules.builtin modules.builtin.modinfo; do
    [[ -f $mdir/$f ]] && cp -- "$mdir/$f" "$out/$f"
  done
  depmod -b "$dest" "$kver"
  printf '      %d modules, %s\n' "${#order[@]}" "$(du -sh "$out" | cut -f1)"
}

# install_busybox BUSYBOX DEST: busybox at DEST/bin/busybox plus a symlink per applet, at the paths
# `busybox --list-full` gives (what `busybox --install -s` would do on the target).
install_busybox() {
  local bb=$1 dest=$2 p
  install -D -m 0755 "$bb" "$dest/bin/busybox"
  mkdir -p "$dest"/{bin,sbin,usr/bin,usr/sbin}
  while read -r p; do
    [[ -e $dest/$p || -L $dest/$p ]] && continue
    mkdir -p "$dest/${p%/*}"
    ln -s /bin/busybox "$dest/$p"
  done < <("$bb" --list-full)
}

# stamp TREE EPOCH: one mtime for every file, so archives do not depend on when they were built.
stamp() {
  find "$1" -exec touch -h -d "@$2" {} +
}

# make_cpio TREE EPOCH > initrd.img: newc cpio (the only format the kernel unpacks), gzip, which
# every kernel can decompress (CONFIG_RD_GZIP). Owners are forced to root so the build needs no root.
make_cpio() {
  stamp "$1" "$2"
  (cd "$1" && find . -print0 | sort -z | cpio --null --create --format=newc --reproducible --owner=0:0 --quiet) \
    | gzip -9 -n
}

# make_squashfs TREE EPOCH OUT: xz, which Debian's squashfs module has built in (SQUASHFS_XZ=y) and
# which gives the smallest download. -all-root: owned by root whoever builds; -no-xattrs: no host
# labels (security.selinux ...) leak into the image.
make_squashfs() {
  stamp "$1" "$2"
  SOURCE_DATE_EPOCH=$2 mksquashfs "$1" "$3" -comp xz -noappend -all-root -no-xattrs -no-progress -quiet >/dev/null
}
