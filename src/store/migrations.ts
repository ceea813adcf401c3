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
  // 3: the life-cycle (issue 5): operator fields and run state on machines; zones, pools, tags,
  // commissioning/testing scripts, their runs and results. Zones and pools are checked by the service
  // (SQLite cannot add a column with both a REFERENCES clause and a default).
  `ALTER TABLE machines ADD COLUMN locked INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE machines ADD COLUMN notes TEXT NOT NULL DEFAULT '';
   ALTER TABLE machines ADD COLUMN zone TEXT NOT NULL DEFAULT 'default';
   ALTER TABLE machines ADD COLUMN pool TEXT NOT NULL DEFAULT 'default';
   ALTER TABLE machines ADD COLUMN power TEXT NOT NULL DEFAULT '{"type":"manual"}';
   ALTER TABLE machines ADD COLUMN boot_purpose TEXT;
   ALTER TABLE machines ADD COLUMN token TEXT;
   ALTER TABLE machines ADD COLUMN run_id INTEGER;
   ALTER TABLE machines ADD COLUMN skip_tests INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE machines ADD COLUMN commissioned INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE machines ADD COLUMN before_rescue TEXT;
   ALTER TABLE machines ADD COLUMN status_message TEXT NOT NULL DEFAULT '';
   ALTER TABLE machines ADD COLUMN timer TEXT;
   ALTER TABLE machines ADD COLUMN timer_deadline INTEGER;
   CREATE UNIQUE INDEX machines_token ON machines(token);
   CREATE TABLE zones (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '');
   CREATE TABLE pools (name TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '');
   INSERT INTO zones (name, description) VALUES ('default', 'the zone of machines not placed elsewhere');
   INSERT INTO pools (name, description) VALUES ('default', 'the pool of machines not placed elsewhere');
   CREATE TABLE tags (
     name TEXT PRIMARY KEY,
     definition TEXT NOT NULL DEFAULT '',
     comment TEXT NOT NULL DEFAULT ''
   );
   CREATE TABLE machine_tags (
     machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
     tag TEXT NOT NULL REFERENCES tags(name) ON DELETE CASCADE,
     PRIMARY KEY (machine_id, tag)
   );
   CREATE TABLE scripts (
     name TEXT PRIMARY KEY,
     kind TEXT NOT NULL,
     description TEXT NOT NULL DEFAULT '',
     timeout_s INTEGER NOT NULL,
     parameters TEXT NOT NULL DEFAULT '{}',
     tags TEXT NOT NULL DEFAULT '[]',
     content BLOB NOT NULL,
     created_at INTEGER NOT NULL
   );
   CREATE TABLE script_runs (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
     phase TEXT NOT NULL,
     scripts TEXT NOT NULL,
     status TEXT NOT NULL,
     started_at INTEGER NOT NULL,
     finished_at INTEGER
   );
   CREATE INDEX script_runs_machine ON script_runs(machine_id, id);
   CREATE TABLE script_results (
     run_id INTEGER NOT NULL REFERENCES script_runs(id) ON DELETE CASCADE,
     name TEXT NOT NULL,
     exit_code INTEGER NOT NULL,
     timed_out INTEGER NOT NULL,
     duration_ms INTEGER NOT NULL,
     stdout BLOB NOT NULL,
     stderr BLOB NOT NULL,
     files TEXT NOT NULL,
     at INTEGER NOT NULL,
     PRIMARY KEY (run_id, name)
   );`,
  // 4: cloud-init (issue 6): the operator's own user-data per machine, merged into ours at boot.
  `ALTER TABLE machines ADD COLUMN user_data TEXT NOT NULL DEFAULT '';`,
  // 5: structured event fields (code review 2026-12 item 9): a JSON object, NULL when an event has none
  // (most DHCP packet events), so old rows need no rewrite.
  `ALTER TABLE events ADD COLUMN data TEXT;`,
  // 6: deployment (issue 13): the operator's deploy options (JSON, src/machines/model.ts Deployment)
  // and the erase mode of a release --erase.
  `ALTER TABLE machines ADD COLUMN deployment TEXT;
   ALTER TABLE machines ADD COLUMN erase_mode TEXT;`,
  // 7: BMC power (issue 14): the last power state read from the machine's driver ('on', 'off',
  // 'unknown', or 'error' with the reason) and when, written by the poll and by power actions.
  `ALTER TABLE machines ADD COLUMN power_state TEXT NOT NULL DEFAULT 'unknown';
   ALTER TABLE machines ADD COLUMN power_error TEXT NOT NULL DEFAULT '';
   ALTER TABLE machines ADD COLUMN power_checked_at INTEGER;`,
  // 8: machines added by their BMC (issue 14) have no boot MAC until they enlist: boot_mac loses NOT
  // NULL (UNIQUE stays; SQLite's UNIQUE allows many NULLs). SQLite cannot drop a NOT NULL in place:
  // the table is rebuilt (sqlite.org/lang_altertable.html "Making Other Kinds Of Table Schema
  // Changes"), which is why migrate() runs with foreign keys off and checks them before committing.
  `CREATE TABLE machines_new (
     id TEXT PRIMARY KEY,
     hostname TEXT NOT NULL UNIQUE,
     state TEXT NOT NULL,
     boot_mac TEXT UNIQUE,
     arch TEXT NOT NULL,
     uuid TEXT,
     inventory TEXT,
     created_at INTEGER NOT NULL,
     updated_at INTEGER NOT NULL,
     locked INTEGER NOT NULL DEFAULT 0,
     notes TEXT NOT NULL DEFAULT '',
     zone TEXT NOT NULL DEFAULT 'default',
     pool TEXT NOT NULL DEFAULT 'default',
     power TEXT NOT NULL DEFAULT '{"type":"manual"}',
     boot_purpose TEXT,
     token TEXT,
     run_id INTEGER,
     skip_tests INTEGER NOT NULL DEFAULT 0,
     commissioned INTEGER NOT NULL DEFAULT 0,
     before_rescue TEXT,
     status_message TEXT NOT NULL DEFAULT '',
     timer TEXT,
     timer_deadline INTEGER,
     user_data TEXT NOT NULL DEFAULT '',
     deployment TEXT,
     erase_mode TEXT,
     power_state TEXT NOT NULL DEFAULT 'unknown',
     power_error TEXT NOT NULL DEFAULT '',
     power_checked_at INTEGER
   );
   INSERT INTO machines_new SELECT id, hostname, state, boot_mac, arch, uuid, inventory, created_at, updated_at,
     locked, notes, zone, pool, power, boot_purpose, token, run_id, skip_tests, commissioned, before_rescue,
     status_message, timer, timer_deadline, user_data, deployment, erase_mode, power_state, power_error,
     power_checked_at FROM machines;
   DROP TABLE machines;
   ALTER TABLE machines_new RENAME TO machines;
   CREATE UNIQUE INDEX machines_token ON machines(token);`,
];
