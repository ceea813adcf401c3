#!/usr/bin/env bash
# Installs what netboot needs on a fresh Debian 12 machine, skipping what is already there:
# Debian packages (apt-get), npm packages from the lockfile (npm ci), and the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

# - qemu-system-x86, ipxe-qemu (NIC ROMs), ovmf: the lab and end-to-end VMs;
# - ipxe, shim-signed, grub-efi-amd64-signed: the loaders the appliance serves (config boot.loaders);
# - squashfs-tools, cpio, kmod, zstd, xz-utils, busybox-static: the boot image recipes;
# - curl, atftp, tftp-hpa: TFTP interop tests; atftpd: a TFTP benchmark reference (never started as a
#   service: see policy-rc.d below). tftpd-hpa conflicts with atftpd, so the benchmark unpacks it itself;
# - isc-dhcp-client, dhcpcd-base (dhcpcd without its service; busybox-static gives udhcpc): DHCP
#   interop tests, run only inside network namespaces the tests create;
# - dnsmasq-base (the binary only, no service): the stand-in site DHCP server that proxy-mode tests and
#   `netboot lab --dhcp proxy` start by PID in a lab namespace;
# - cloud-init: its `cloud-init schema` checks operator user-data and the tests' rendered documents.
#   It must never configure this host: /etc/cloud/cloud-init.disabled is written before the install;
# - mmdebstrap: builds images/debian (a Debian root from packages only, no root-owned state left behind);
# - build-essential, python3: compile better-sqlite3 when no prebuilt binary can be downloaded;
# - gdisk (sgdisk), dosfstools (mkfs.vfat): the deploy scripts' tests (test/deploy-scripts) partition
#   and format loop devices with the tools the installer environment runs;
# - openssh-client: the deploy tests and `lab --deploy` log in to the deployed VM (ssh, ssh-keygen).
# - ipmitool: the ipmi power driver runs it (IPMI 2.0 lanplus, as MAAS drives BMCs); freeipmi-tools:
#   the same BMCs from MAAS's own clients (ipmipower, ipmi-chassis-config), for comparing by hand;
#   openipmi: ipmi_sim, the real LAN BMC of test/interop/ipmi-power.test.ts and of the lab machine
#   behind a BMC (src/lab/bmc.ts, test/qemu/ipmi-power.test.ts);
# - python3-flask python3-requests python3-tenacity python3-bcrypt python3-webob python3-libvirt and
#   libvirt-daemon-system: run sushy-tools (vendored in ../shared/tools, no pip here), the Redfish BMC of
#   test/interop/redfish-power.test.ts, in front of a libvirtd that test starts by PID in a namespace
#   of its own. libvirtd must not run as a host service: policy-rc.d below, and disabled after.
debian_packages=(
  qemu-system-x86 ipxe-qemu ovmf ipxe shim-signed grub-efi-amd64-signed iproute2
  squashfs-tools cpio kmod zstd xz-utils busybox-static
  curl atftp tftp-hpa atftpd
  isc-dhcp-client dhcpcd-base dnsmasq-base cloud-init mmdebstrap
  build-essential python3 ca-certificates
  ndisc6 radvd
  gdisk dosfstools openssh-client
  ipmitool freeipmi-tools openipmi
  python3-flask python3-requests python3-tenacity python3-bcrypt python3-webob python3-libvirt libvirt-daemon-system
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
    # atftpd would start as a service on port 69 of every interface: forbid service
    # starts during the install (policy-rc.d exit 101), as container images do.
    # cloud-init.disabled keeps cloud-init's units from ever running on this host (cloud-init's own
    # switch, read by its systemd generator), whether or not the package is new.
    mkdir -p /etc/cloud && touch /etc/cloud/cloud-init.disabled
    created_policy=false
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=true
    fi
    install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
    # One transaction first; apt's resolver sometimes gives up on a large set that installs fine
    # one package at a time.
    install "${missing[@]}" || for pkg in "${missing[@]}"; do install "$pkg"; done
    $created_policy && rm -f /usr/sbin/policy-rc.d
    # ... and keep them from starting at the next boot where systemd runs.
    if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
      systemctl disable --now atftpd >/dev/null 2>&1 || true
      # radvd would advertise on the host's interfaces: the RA tests start it by PID in a namespace.
      systemctl disable --now radvd >/dev/null 2>&1 || true
      # libvirtd (and its sockets, which would start it on the first client) serve the whole host; the
      # Redfish test runs a private one in a namespace.
      systemctl disable --now libvirtd libvirtd.socket libvirtd-ro.socket libvirtd-admin.socket \
        virtlogd virtlogd.socket virtlockd virtlockd.socket libvirt-guests >/dev/null 2>&1 || true
      # openipmi's init script loads the IPMI drivers for the host's own BMC at boot: the tests run
      # ipmi_sim by PID instead.
      systemctl disable --now openipmi >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null; then
      update-rc.d openipmi disable >/dev/null 2>&1 || true
    fi
    # libvirt-daemon-system's default network would add a bridge and NAT rules at the next start.
    rm -f /etc/libvirt/qemu/networks/autostart/default.xml
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
