# shellcheck shell=sh
# /usr/lib/netboot/inventory.sh: shell library of the micro root (busybox sh), sourced by the
# enlist agent and by the built-in commissioning scripts (commissioning/builtin/00-inventory ...).
# Defines functions and a few variables only; running it does nothing else.
#
#   inventory BOOT_MAC      the hardware inventory JSON the enlist API validates
#                           (src/machines/inventory.ts) on stdout
#   inventory_wait_links    bring every NIC up and wait up to 3 s for carrier, so "link" and
#                           "speedMbps" mean something (does nothing under a fake NETBOOT_SYSROOT)
#   json_str, json_num, readf, nics, memory_bytes   building blocks
#
# NETBOOT_SYSROOT=<dir>: read <dir>/sys and <dir>/proc instead of /sys and /proc (tests).

R=${NETBOOT_SYSROOT:-}

# json_str VALUE: VALUE as a JSON string (RFC 8259 §7): quotes and backslashes escaped; valid UTF-8
# sequences kept; any other byte (firmware strings are sometimes Latin-1) becomes \u00XX, so the
# document is always valid UTF-8 JSON. Control characters (C0, DEL, and bytes that would be C1 as
# Latin-1) become U+FFFD: the appliance refuses them in any text a machine reports (a terminal would
# run them: security probe F7). busybox awk works on bytes.
json_str() {
  JV=$1 awk 'BEGIN {
    for (k = 1; k < 256; k++) ord[sprintf("%c", k)] = k
    s = ENVIRON["JV"]; n = length(s); out = "\""
    for (i = 1; i <= n; i++) {
      c = substr(s, i, 1); b = ord[c]
      if (c == "\"") out = out "\\\""
      else if (c == "\\") out = out "\\\\"
      else if (b < 32 || b == 127) out = out "\\ufffd"
      else if (b < 128) out = out c
      else {
        # Length of a well-formed UTF-8 sequence led by b (0: not a lead byte).
        len = (b >= 194 && b <= 223) ? 2 : (b >= 224 && b <= 239) ? 3 : (b >= 240 && b <= 244) ? 4 : 0
        ok = len > 0 && i + len - 1 <= n
        for (j = 1; ok && j < len; j++) { t = ord[substr(s, i + j, 1)]; if (t < 128 || t > 191) ok = 0 }
        if (ok) { out = out substr(s, i, len); i += len - 1 }
        else if (b < 160) out = out "\\ufffd"
        else out = out sprintf("\\u%04x", b)
      }
    }
    printf "%s\"", out
  }'
}

# json_num VALUE [DEFAULT]: VALUE if it is a non-negative integer, else DEFAULT (null).
json_num() {
  case $1 in '' | *[!0-9]*) printf '%s' "${2:-null}" ;; *) printf '%s' "$1" ;; esac
}

# readf FILE: first line of FILE without surrounding blanks (ATA models are space-padded), or "".
readf() {
  [ -r "$1" ] || return 0
  head -n 1 "$1" 2>/dev/null | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

# Physical Ethernet NICs only: lo, bridges, taps and tunnels have no device link; other link types
# (type != 1 = ARPHRD_ETHER, e.g. InfiniBand's 20-byte addresses) do not fit the "mac" field.
nics() {
  for d in "$R"/sys/class/net/*; do
    [ -e "$d/device" ] || continue
    t=$(readf "$d/type")
    [ -z "$t" ] || [ "$t" = 1 ] || continue
    echo "${d##*/}"
  done
}

inventory_wait_links() {
  [ -z "$R" ] || return 0
  for n in $(nics); do ip link set "$n" up 2>/dev/null; done
  i=0
  while [ $i -lt 12 ]; do
    down=0
    for n in $(nics); do [ "$(readf "/sys/class/net/$n/carrier")" = 1 ] || down=1; done
    [ $down = 0 ] && break
    sleep 0.25
    i=$((i + 1))
  done
}

memory_bytes() {
  # "System RAM" ranges at the top level of /proc/iomem add up to about what QEMU -m gives (minus
  # firmware holes); MemTotal is lower still (kernel code and reservations are subtracted). Non-root
  # readers see zeroed addresses: then MemTotal.
  total=0
  if [ -r "$R/proc/iomem" ]; then
    while IFS= read -r line; do
      case $line in
        [0-9a-f]*" : System RAM")
          range=${line%% *}
          total=$((total + 0x${range#*-} - 0x${range%-*} + 1)) ;;
      esac
    done <"$R/proc/iomem"
  fi
  if [ "$total" -le 1 ]; then
    kb=$(awk '$1 == "MemTotal:" { print $2 }' "$R/proc/meminfo" 2>/dev/null)
    total=$(($(json_num "$kb" 0) * 1024))
  fi
  echo "$total"
}

nic_json() { # nic_json NAME
  d="$R/sys/class/net/$1"
  driver=""
  [ -L "$d/device/driver" ] && driver=$(basename "$(readlink "$d/device/driver")")
  link=false
  [ "$(readf "$d/carrier")" = 1 ] && link=true
  # speed is -1 (or unreadable) when the link is down or the driver does not know.
  speed=$(json_num "$(readf "$d/speed")")
  [ "$speed" = 0 ] && speed=null
  printf '{ "name": %s, "mac": %s, "driver": %s, "link": %s, "speedMbps": %s }' \
    "$(json_str "$1")" "$(json_str "$(readf "$d/address")")" "$(json_str "$driver")" "$link" "$speed"
}

disk_serial() { # disk_serial NAME: NVMe/virtio attribute, else SCSI VPD page 0x80 (libata emulates it)
  d="$R/sys/block/$1"
  for f in "$d/device/serial" "$d/serial"; do
    [ -r "$f" ] && { readf "$f"; return; }
  done
  # VPD page 0x80: 4-byte header, then the (space-padded) serial number.
  [ -r "$d/device/vpd_pg80" ] && tail -c +5 "$d/device/vpd_pg80" | tr -d '\000' | sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

disk_json() { # disk_json NAME
  d="$R/sys/block/$1"
  sectors=$(json_num "$(readf "$d/size")" 0) # always in 512-byte units, whatever the block size
  rot=false
  [ "$(readf "$d/queue/rotational")" = 1 ] && rot=true
  printf '{ "name": %s, "sizeBytes": %s, "model": %s, "serial": %s, "rotational": %s }' \
    "$(json_str "$1")" "$((sectors * 512))" "$(json_str "$(readf "$d/device/model")")" \
    "$(json_str "$(disk_serial "$1")")" "$rot"
}

# disks: block devices that are disks (not loop, RAM, optical, zram or floppy devices: QEMU's i440FX
# has a floppy controller, whose fd0 reads fail with ENXIO when no diskette is in), one name per line.
disks() {
  for d in "$R"/sys/block/*; do
    [ -e "$d" ] || continue
    case ${d##*/} in loop* | ram* | sr* | zram* | fd*) continue ;; esac
    echo "${d##*/}"
  done
}

inventory() { # inventory BOOT_MAC: the JSON document on stdout
  sep=""
  printf '{\n  "bootMac": %s,\n' "$(json_str "$1")"
  printf '  "arch": %s,\n  "kernel": %s,\n' "$(json_str "$(uname -m)")" "$(json_str "$(uname -r)")"
  # How the firmware booted this kernel: EFI exposes /sys/firmware/efi. The BMC's next network boot
  # asks for the same mode (IPMI boot flags "EFI boot", Redfish BootSourceOverrideMode).
  fw=bios
  [ -d "$R/sys/firmware/efi" ] && fw=uefi
  printf '  "firmware": "%s",\n' "$fw"
  count=$(grep -c '^processor' "$R/proc/cpuinfo" 2>/dev/null)
  model=$(sed -n 's/^model name[[:space:]]*: *//p' "$R/proc/cpuinfo" 2>/dev/null | head -n 1)
  printf '  "cpu": { "count": %s, "model": %s },\n' "$(json_num "$count" 0)" "$(json_str "$model")"
  printf '  "memoryBytes": %s,\n' "$(memory_bytes)"
  printf '  "nics": ['
  for n in $(nics); do printf '%s\n    %s' "$sep" "$(nic_json "$n")"; sep=,; done
  printf '%s],\n  "disks": [' "${sep:+
  }"
  sep=""
  for d in $(disks); do
    printf '%s\n    %s' "$sep" "$(disk_json "$d")"
    sep=,
  done
  printf '%s],\n' "${sep:+
  }"
  i="$R/sys/class/dmi/id"
  printf '  "dmi": { "vendor": %s, "product": %s, "serial": %s, "uuid": %s }' \
    "$(json_str "$(readf "$i/sys_vendor")")" "$(json_str "$(readf "$i/product_name")")" \
    "$(json_str "$(readf "$i/product_serial")")" "$(json_str "$(readf "$i/product_uuid")")"
  bmc=$(bmc_lan)
  [ -n "$bmc" ] && printf ',\n  "bmc": %s' "$bmc"
  printf '\n}\n'
}

# bmc_lan: the BMC's LAN address and MAC as seen in-band, as JSON ({ "address": ..., "mac": ... }),
# or nothing: no /dev/ipmi0 (ipmi_si found no BMC, or was not loaded), no ipmitool, or no LAN
# channel with an address. A machine added by its BMC alone is matched to its record by this address
# when it enlists. IPMITOOL=<command> reaches a BMC another way (tests: ipmitool over LAN). The first
# channel whose `lan print` gives an IPv4 address wins (BMCs use 1 to 11); each call is bounded, and
# a BMC that does not answer at all stops the search.
bmc_lan() {
  if [ -z "${IPMITOOL:-}" ]; then
    [ -e "$R/dev/ipmi0" ] && command -v ipmitool >/dev/null 2>&1 || return 0
  fi
  c=1
  while [ $c -le 11 ]; do
    # shellcheck disable=SC2086 # IPMITOOL is a command with its options, split on purpose
    lan=$(timeout 10 ${IPMITOOL:-ipmitool -I open} lan print $c 2>&1)
    [ -n "$lan" ] || return 0
    address=$(printf '%s\n' "$lan" | sed -n 's/^IP Address *: *\([0-9.]*\)$/\1/p' | head -n 1)
    case $address in
      '' | 0.0.0.0 | *[!0-9.]* ) ;;
      *.*.*.*)
        mac=$(printf '%s\n' "$lan" | sed -n 's/^MAC Address *: *\([0-9a-fA-F:]*\)$/\1/p' | head -n 1 | tr 'A-F' 'a-f')
        case $mac in ??:??:??:??:??:??) printf '{ "address": "%s", "mac": "%s" }' "$address" "$mac" ;; *) printf '{ "address": "%s" }' "$address" ;; esac
        return 0 ;;
    esac
    c=$((c + 1))
  done
}
