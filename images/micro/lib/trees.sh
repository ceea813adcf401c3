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

# install_elf_closure TREE DEST BINARY...: copies BINARY... (absolute paths inside TREE, a folder of
# unpacked Debian packages) into DEST at the same paths, with every shared library they load and
# the dynamic loader. TREE's own loader lists what it would load (ld.so --list resolves the whole
# closure, DT_NEEDED of the libraries included) from TREE's library folders only, so nothing of the
# host's leaks in. Libraries go to their soname paths as regular files (the package's soname
# symlinks dereferenced); /lib64/ld-linux-x86-64.so.2 is the link every amd64 binary names (as in
# Debian's libc6).
install_elf_closure() {
  local tree=$1 dest=$2
  shift 2
  local loader="$tree/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" bin listing line path rel copied=()
  local libpath="$tree/lib/x86_64-linux-gnu:$tree/usr/lib/x86_64-linux-gnu"
  [[ -x $loader ]] || die "no dynamic loader at ${loader#"$tree"} in the unpacked packages (libc6)"
  local -A seen=()
  for bin in "$@"; do
    [[ -f $tree$bin ]] || die "$bin is not in the unpacked packages"
    install -D -m 0755 "$tree$bin" "$dest$bin"
    copied+=("$dest$bin")
    listing=$("$loader" --library-path "$libpath" --list "$tree$bin" 2>&1) || die "ld.so --list $bin failed: $listing"
    while read -r line; do
      case $line in
        linux-vdso.so.*) continue ;; # the kernel's, mapped into every process
        *' => not found') die "$bin needs ${line%% *}, which none of the fetched packages has" ;;
        *' => '"$tree"/*) path=${line#* => } && path=${path% (0x*} ;;
        *) die "unexpected line from ld.so --list $bin: $line" ;;
      esac
      rel=${path#"$tree"}
      [[ -z ${seen[$rel]:-} ]] || continue
      seen[$rel]=1
      install -D -m 0755 "$path" "$dest$rel"
      copied+=("$dest$rel")
    done <<<"$listing"
  done
  mkdir -p "$dest/lib64"
  ln -sfn /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$dest/lib64/ld-linux-x86-64.so.2"
  printf '      %s: %d files with its libraries and loader, %s\n' "$*" "${#copied[@]}" "$(du -shc "${copied[@]}" | tail -n 1 | cut -f1)"
}
