#!/usr/bin/env bash
# Capture real TFTP traffic from OVMF's native UEFI PXE client (OVMF 2022.11 in Debian 12, QEMU 7.2,
# virtio-net without an option ROM, so the firmware's own PXE code runs, not iPXE: FACTS.md) against
# netboot's TFTP server, inside a private network namespace: nothing touches this machine's interfaces.
#
#   capture.sh OUT.pcap SECONDS
#
# busybox udhcpd hands out an address, next-server 10.213.8.1 and boot file snponly.efi (plain
# DHCP: OVMF boots from the BOOTP file field without option 60); test/tftp/tools/run-server.ts
# serves a copy of Debian's snponly.efi. Run as root from the repository root. Everything this script
# starts is killed by PID and the namespace is deleted on any exit.
set -euo pipefail

out=${1:?usage: capture.sh OUT.pcap SECONDS}
seconds=${2:?usage: capture.sh OUT.pcap SECONDS}
for f in /usr/share/OVMF/OVMF_CODE_4M.fd /usr/share/OVMF/OVMF_VARS_4M.fd /usr/lib/ipxe/snponly.efi; do
  [[ -r "$f" ]] || { echo "capture.sh: $f is missing (Debian packages ovmf, ipxe)" >&2; exit 1; }
done

ns="nbtftpcap-$$"
work=$(mktemp -d)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work/root" "$work/vars.fd"
  echo "logs kept in $work" >&2
}
trap cleanup EXIT INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up
# forward_delay 0 and STP off: otherwise the bridge drops the first DISCOVERs while "learning" (FACTS.md).
ip -n "$ns" link add br0 type bridge forward_delay 0 stp_state 0
ip -n "$ns" tuntap add tap0 mode tap
ip -n "$ns" link set tap0 master br0
ip -n "$ns" link set tap0 up
ip -n "$ns" link set br0 up
ip -n "$ns" addr add 10.213.8.1/24 dev br0

mkdir -p "$work/root"
cp /usr/lib/ipxe/snponly.efi "$work/root/"
cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
cat >"$work/udhcpd.conf" <<CONF
start 10.213.8.100
end 10.213.8.110
interface br0
lease_file $work/udhcpd.leases
siaddr 10.213.8.1
boot_file snponly.efi
option subnet 255.255.255.0
option lease 600
CONF
: >"$work/udhcpd.leases"

# TFTP uses an ephemeral port per transfer (RFC 1350 §4): capture all UDP except DHCP.
# Write to stdout, not -w FILE: tcpdump drops privileges to its own user before opening FILE.
ip netns exec "$ns" tcpdump -i br0 -n -U -w - 'udp and not port 67 and not port 68' >"$out" 2>"$work/tcpdump.log" &
pids+=($!)
ip netns exec "$ns" busybox udhcpd -f "$work/udhcpd.conf" >"$work/udhcpd.log" 2>&1 &
pids+=($!)
ip netns exec "$ns" node node_modules/vite-node/vite-node.mjs test/tftp/tools/run-server.ts "$work/root" 10.213.8.1 69 \
  >"$work/tftp.log" 2>&1 &
pids+=($!)
sleep 3

ip netns exec "$ns" qemu-system-x86_64 -accel tcg -m 512 -nographic -no-reboot \
  -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
  -drive if=pflash,format=raw,file="$work/vars.fd" \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
  -device virtio-net-pci,netdev=n0,mac=52:54:00:12:34:57,romfile= \
  </dev/null >"$work/qemu.log" 2>&1 &
pids+=($!)

sleep "$seconds"
