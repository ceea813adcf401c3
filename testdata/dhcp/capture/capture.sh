#!/usr/bin/env bash
# Capture real DHCP traffic from QEMU's iPXE option ROM (SeaBIOS + e1000, iPXE 1.0.0+git-20190125 in
# Debian 12) inside a private network namespace, so nothing touches this machine's real interfaces.
#
#   capture.sh OUT.pcap SECONDS [SERVER COMMAND...]
#
# Without a server command the ROM DISCOVERs into silence (it retries with growing timeouts, RFC 2131
# §4.1). With one, the command is started inside the namespace first (it must serve DHCP on
# 10.213.7.1, the bridge address) and the whole DISCOVER/OFFER/REQUEST/ACK exchange is captured.
# Everything this script starts is killed by PID and the namespace is deleted on any exit.
set -euo pipefail

out=${1:?usage: capture.sh OUT.pcap SECONDS [SERVER COMMAND...]}
seconds=${2:?usage: capture.sh OUT.pcap SECONDS [SERVER COMMAND...]}
shift 2

ns="nbcap-$$"
qemu_pid=''
tcpdump_pid=''
server_pid=''
log_dir=$(mktemp -d)

cleanup() {
  for pid in "$qemu_pid" "$server_pid" "$tcpdump_pid"; do
    if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; fi
  done
  for pid in "$qemu_pid" "$server_pid" "$tcpdump_pid"; do
    if [[ -n "$pid" ]]; then wait "$pid" 2>/dev/null || true; fi
  done
  ip netns del "$ns" 2>/dev/null || true
  echo "logs kept in $log_dir" >&2
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
ip -n "$ns" addr add 10.213.7.1/24 dev br0

# Write to stdout, not -w FILE: tcpdump drops privileges to its own user before opening FILE.
ip netns exec "$ns" tcpdump -i br0 -n -U -w - 'port 67 or port 68' >"$out" 2>"$log_dir/tcpdump.log" &
tcpdump_pid=$!

if [[ $# -gt 0 ]]; then
  ip netns exec "$ns" "$@" >"$log_dir/server.log" 2>&1 &
  server_pid=$!
  sleep 3
fi

ip netns exec "$ns" qemu-system-x86_64 -accel tcg -m 256 -nographic -no-reboot \
  -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
  -device e1000,netdev=n0,mac=52:54:00:12:34:56 \
  -uuid 8c3e6a4e-1b2f-4a6d-9c1e-0123456789ab -boot n \
  </dev/null >"$log_dir/qemu.log" 2>&1 &
qemu_pid=$!

sleep "$seconds"
