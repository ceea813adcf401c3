#!/usr/bin/env bash
# DHCP lease throughput: netboot vs ISC Kea (kea-dhcp4) in private network namespaces (see bench.ts
# for flags), e.g.
#   bench/dhcp/bench.sh --leases 10000 --concurrency 64 --servers netboot,kea --repeat 1
# Root only (namespaces, port 67). Installs kea-dhcp4-server if missing (never started as a service)
# and rebuilds dist/ when a source file is newer than it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $(id -u) -ne 0 ]]; then
  echo "bench/dhcp: run as root: it creates network namespaces and binds port 67 inside them" >&2
  exit 1
fi

# Namespaces are named nb-bench-<role>-$$; bench.ts removes them and stops what it started. This
# trap is the backstop for when bench.ts itself dies (SIGKILL, crash): it stops, by PID, only the
# processes still inside those namespaces, then deletes them and bench.ts's work folder (unless --keep
# was given). Nothing else is touched.
source bench/dhcp/netns-cleanup.sh
cleanup() {
  remove_bench_namespaces $$
  $keep || rm -rf "${TMPDIR:-/tmp}"/nb-dhcp-bench-$$-*
  if $created_policy; then rm -f /usr/sbin/policy-rc.d; fi
}

created_policy=false
servers=netboot,kea
keep=false
prev=''
for arg in "$@"; do
  [[ $prev == --servers ]] && servers=$arg
  [[ $arg == --keep ]] && keep=true
  prev=$arg
done
trap cleanup EXIT

# ISC Kea from Debian. Its postinst would start kea-dhcp4-server on every interface of the host:
# forbid service starts during the install (policy-rc.d exit 101, as scripts/install-deps.sh does)
# and disable the unit where systemd runs. bench.ts only ever runs kea-dhcp4 inside its namespace.
if [[ ,$servers, == *,kea,* ]] && [[ ! -x /usr/sbin/kea-dhcp4 ]]; then
  echo "==> apt-get install kea-dhcp4-server (a benchmark reference; its service is not started)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=true
  fi
  status=0
  { [[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]] || apt-get update -qq; } &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kea-dhcp4-server >/dev/null || status=$?
  if $created_policy; then rm -f /usr/sbin/policy-rc.d && created_policy=false; fi
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now kea-dhcp4-server >/dev/null 2>&1 || true
  fi
  if ((status != 0)); then
    echo "bench/dhcp: installing kea-dhcp4-server failed (apt-get exit $status)" >&2
    exit 1
  fi
fi

# bin/netboot.js runs dist/: rebuild it when any source is newer. tsc emits even when it reports type
# errors (another change may be half-done in src/), so a failed check warns instead of stopping.
if [[ ,$servers, == *,netboot,* ]]; then
  if [[ ! -e dist/cli/main.js ]] || [[ -n "$(find src -name '*.ts' -newer dist/cli/main.js -print -quit)" ]]; then
    echo "==> npm run build (dist/ is older than src/)"
    if ! npm run --silent build; then
      [[ -e dist/cli/main.js ]] || { echo "bench/dhcp: npm run build produced no dist/cli/main.js" >&2; exit 1; }
      echo "bench/dhcp: WARNING: npm run build reported errors; benchmarking the JavaScript it emitted" >&2
    fi
  fi
fi

status=0
node node_modules/vite-node/vite-node.mjs bench/dhcp/bench.ts -- --tag "$$" "$@" || status=$?
exit $status
