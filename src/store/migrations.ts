// Schema migrations, in code and in order. Each runs once, inside a transaction, and bumps
// PRAGMA user_version; never edit a migration that has shipped, add a new one.
export const migrations: readonly string[] = [
  `CREATE TABLE machines (
     id TEXT PRIMARY KEY,
     hostname TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL,
     boot_mac TEXT NOT NULL UNIQUE,
     arch TEXT NOT NULL,
     uuid TEXT,
     inventory TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL
   );
   CREATE TABLE interfaces (
     mac TEXT PRIMARY KEY,
     machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     driver TEXT NOT NULL,
     link INTEGER NOT NULL,
     speed_mbps INTEGER
   );
   CREATE INDEX interfaces_machine ON interfaces(machine_id);
   CREATE TABLE leases (
     mac TEXT PRIMARY KEY,
     ip TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL,
     expires_at INTEGER NOT NULL,
     hostname TEXT
   );
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     at INTEGER NOT NULL,
     mac TEXT NOT NULL,
     machine_id TEXT REFERENCES machines(id) ON DELETE CASCADE,
     type TEXT NOT NULL,
     detail TEXT NOT NULL DEFAULT ''
   );
   CREATE INDEX events_machine ON events(machine_id, id);
   CREATE INDEX events_mac ON events(mac, id);`,
  // 2: where relayed machines are plugged in (DHCP giaddr and option 82) and the zone and resource
  // pool a placement rule gave them; one row per MAC, the latest seen.
  `CREATE TABLE relay_info (
     mac TEXT PRIMARY KEY,
     giaddr TEXT,
     circuit_id TEXT,
     remote_id TEXT,
     zone TEXT,
     pool TEXT,
     seen_at INTEGER NOT NULL
   );`,
];
