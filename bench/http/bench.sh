#!/usr/bin/env bash
# HTTP file serving: netboot's file route vs nginx (sendfile) in private network namespaces (see
# bench.ts for flags), e.g.
#   bench/http/bench.sh --size-mib 256 --repeat 3 --connections 1,16,64
# Root only (namespaces). Needs nginx and wrk: as root it installs nginx-light and wrk when they are
# missing, with service starts forbidden (policy-rc.d exit 101, as scripts/install-deps.sh does), so
# no nginx ever runs as the host's service; bench.ts starts its own inside the namespace.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ $(id -u) -ne 0 ]]; then
  echo "bench/http: run as root: it creates network namespaces (and needs: apt-get install nginx-light wrk)" >&2
  exit 1
fi

# Namespaces are named nb-bench-<role>-$$; bench.ts removes them and stops what it started. This trap
# is the backstop for when bench.ts itself dies (SIGKILL, crash): it stops, by PID, only the processes
# still inside those namespaces, then deletes them and bench.ts's work folder. Nothing else is touched.
created_policy=false
source bench/dhcp/netns-cleanup.sh
cleanup() {
  remove_bench_namespaces $$
  rm -rf /dev/shm/nb-http-bench-$$-* "${TMPDIR:-/tmp}"/nb-http-bench-$$-*
  if $created_policy; then rm -f /usr/sbin/policy-rc.d; fi
}
trap cleanup EXIT

if [[ ! -x /usr/sbin/nginx ]] || ! command -v wrk >/dev/null; then
  echo "==> apt-get install nginx-light wrk (benchmark references; nginx's service is not started)"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=true
  fi
  status=0
  { [[ -n "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -print -quit 2>/dev/null)" ]] || apt-get update -qq; } &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light wrk >/dev/null || status=$?
  if $created_policy; then rm -f /usr/sbin/policy-rc.d && created_policy=false; fi
  if command -v systemctl >/dev/null && [[ -d /run/systemd/system ]]; then
    systemctl disable --now nginx >/dev/null 2>&1 || true
  fi
  if ((status != 0)); then
    echo "bench/http: installing nginx-light and wrk failed (apt-get exit $status): apt-get install nginx-light wrk" >&2
    exit 1
  fi
fi

# netboot's body goes out by sendfile(2) through the sendfile addon (native/sendfile.c); without it
# the bench would measure the fallback stream (the run says which it used).
if [[ ! -e build/Release/sendfile.node ]]; then
  echo "==> npm run build:native (build/Release/sendfile.node is missing)"
  npm run --silent build:native
fi

status=0
node node_modules/vite-node/vite-node.mjs bench/http/bench.ts -- --tag "$$" "$@" || status=$?
exit $status
