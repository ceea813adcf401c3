// A Map kept as a bounded most-recently-used table: what the boot side remembers per MAC or per
// address must not grow with whatever a host on the boot network makes up (probe F4).

/** Sets `key` as the most recent entry; past `max` entries the least recent one goes. */
export function setMostRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key); // re-inserted last: a Map iterates in insertion order, which is the eviction order
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value!);
}
