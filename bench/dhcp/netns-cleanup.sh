# Sourced by bench/*/bench.sh: the backstop for when bench.ts itself dies (SIGKILL, crash). Stops, by
# PID, only the processes still inside this run's namespaces (nb-bench-<role>-<PID of bench.sh>, see
# netns.ts), then deletes those namespaces. Nothing else is touched.
remove_bench_namespaces() {
  local owner=$1 ns pid
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^nb-bench-[a-z]+-${owner}\$" || true); do
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -TERM "$pid" 2>/dev/null || true; done
    sleep 0.5
    for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns delete "$ns" 2>/dev/null || true
  done
}
