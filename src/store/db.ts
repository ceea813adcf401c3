import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from '../errors.js';
import { migrations } from './migrations.js';
import { WalSync } from './wal-sync.js';

export type Db = Database.Database;

/** Opens (creating if needed) the SQLite store in dataDir, in WAL mode, and migrates it. */
export function openDatabase(dataDir: string): Db {
  makeDataDir(dataDir);
  const file = databaseFile(dataDir);
  keepPrivate(file);
  const db = openFile(file, false);
  db.pragma('journal_mode = WAL');
  // FULL: a commit is on disk before it returns (machines, scripts, tokens: every write but the
  // lease connection's, below, which waits for the disk off the event loop instead).
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

/**
 * A second connection to the same database for the DHCP server's lease writes and the machine
 * events' write-behind (events-repo.ts): synchronous=NORMAL, so a commit does not fsync;
 * `walSync.sync()` makes it durable off the event loop (wal-sync.ts).
 * Open it after openDatabase (which sets WAL mode and migrates). Its transactions never overlap the
 * main connection's: both live on the event loop's thread and every transaction is synchronous.
 */
export function openLeaseConnection(dataDir: string): { db: Db; walSync: WalSync } {
  const file = databaseFile(dataDir);
  const db = openFile(file, true);
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return { db, walSync: new WalSync(`${file}-wal`) };
}

/**
 * The data directory holds run tokens, operator user-data and power settings (security probe F11):
 * created 0700. An existing directory keeps the mode its operator gave it.
 */
export function makeDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (cause) {
    throw new StoreError(`cannot create data directory ${dataDir}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * The database files 0600 whatever the umask. SQLite creates `-wal` and `-shm` with the mode of the
 * database file, so the file is created here, empty (a valid empty database), before SQLite opens
 * it; files from older versions (0644) are tightened.
 */
function keepPrivate(file: string): void {
  try {
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    for (const path of [file, `${file}-wal`, `${file}-shm`]) if (existsSync(path)) tighten(path);
  } catch (cause) {
    throw new StoreError(`cannot make ${file} private (0600): ${(cause as Error).message}`, { cause });
  }
}

/** Only the owner (or root) may chmod; anyone else the operator let in opens the files as they are. */
function tighten(path: string): void {
  try {
    chmodSync(path, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
  }
}

function databaseFile(dataDir: string): string {
  return join(dataDir, 'netboot.db');
}

function openFile(file: string, fileMustExist: boolean): Db {
  try {
    return new Database(file, { fileMustExist });
  } catch (cause) {
    throw new StoreError(`cannot open database ${file}: ${(cause as Error).message}`, { cause });
  }
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > migrations.length) {
    throw new StoreError(`database schema version ${current} is newer than this netboot (${migrations.length}); upgrade netboot`);
  }
  if (current === migrations.length) return;
  // Foreign keys off while migrating: a table rebuild (migration 8) drops the old table, and with
  // them on that DROP is a DELETE that cascades into every child table (sqlite.org/foreignkeys.html
  // §5). The pragma is a no-op inside a transaction, so it is set around them; each migration checks
  // the keys before it commits instead.
  const enforced = db.pragma('foreign_keys', { simple: true }) === 1;
  db.pragma('foreign_keys = OFF');
  try {
    for (let version = current; version < migrations.length; version++) {
      db.transaction(() => {
        db.exec(migrations[version]!);
        const broken = db.pragma('foreign_key_check') as unknown[];
        if (broken.length > 0) throw new StoreError(`migration ${version + 1} would break ${broken.length} foreign key(s): ${JSON.stringify(broken.slice(0, 3))}`);
        db.pragma(`user_version = ${version + 1}`);
      })();
    }
  } finally {
    if (enforced) db.pragma('foreign_keys = ON');
  }
}
