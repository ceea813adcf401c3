#!/usr/bin/env bash
# Installs what netboot needs on a fresh Debian 12 machine, skipping what is already there:
# Debian packages (apt-get), npm packages from the lockfile (npm ci), and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# QEMU + its iPXE NIC ROMs run the lab VMs; squashfs-tools, cpio, kmod, zstd, xz-utils and
# busybox-static build the boot images; build-essential and python3 compile better-sqlite3 when no
# prebuilt binary can be downloaded.
debian_packages=(
  qemu-system-x86 ipxe-qemu iproute2 squashfs-tools cpio kmod zstd xz-utils busybox-static
  build-essential python3 ca-certificates
)

missing=()
for pkg in "${debian_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
# The image recipes fetch Debian packages with apt-get download, which needs package lists.
lists_empty=false
[[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]] || lists_empty=true
if ((${#missing[@]} > 0)) || { $lists_empty && [[ $(id -u) -eq 0 ]]; }; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing Debian packages: ${missing[*]} — run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "==> apt-get update${missing[*]:+ && apt-get install ${missing[*]}}"
  apt-get update -qq
  if ((${#missing[@]} > 0)); then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

# npm ci only when the lockfile changed since our last install (a stamp of its hash in node_modules).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ "$(cat node_modules/.netboot-lock-sha256 2>/dev/null)" != "$lock_hash" ]]; then
  echo "==> npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.netboot-lock-sha256
fi

echo "==> npm run build"
npm run --silent build
