// One appliance per data directory (security probe F10): two would allocate from the same lease
// table with separate OFFER holds in memory, and both would run the life-cycle timers.
//
// The lock is an exclusive SQLite lock on <dataDir>/netboot.lock, held for the life of the process.
// SQLite takes it with fcntl(F_SETLK), which the kernel releases when the process ends, however it
// ends (SIGKILL, OOM, power loss): nothing is left stale, so there is no pid to check for liveness or
// reuse after a reboot, as a pid file would need. Node has no flock(2); the npm packages that offer
// one (fs-ext) are native addons of their own, and proper-lockfile uses mkdir plus mtime, which
// survives the process. better-sqlite3 is already here. The holder writes its pid beside the lock,
// only so that the process refused can name it.
import Database from 'better-sqlite3';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDirLockedError, StoreError } from '../errors.js';
import { makeDataDir } from './db.js';

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  makeDataDir(dataDir);
  const lockFile = join(dataDir, 'netboot.lock');
  const pidFile = join(dataDir, 'netboot.pid');
  let db: Database.Database;
  try {
    db = new Database(lockFile, { timeout: 0 }); // timeout 0: refuse at once rather than wait 5 s
  } catch (cause) {
    throw new StoreError(`cannot open the lock file ${lockFile}: ${(cause as Error).message}`, { cause });
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE'); // never committed: the lock lasts until release() or the process's end
  } catch (cause) {
    db.close();
    if ((cause as { code?: string }).code !== 'SQLITE_BUSY') throw new StoreError(`cannot lock ${lockFile}: ${(cause as Error).message}`, { cause });
    throw new DataDirLockedError(`data directory ${dataDir} is in use by ${holder(pidFile)}: stop it first, or give this one its own dataDir (--data-dir)`, { cause });
  }
  writeFileSync(pidFile, `${process.pid}\n`, { mode: 0o600 });
  return {
    release: () => {
      if (!db.open) return;
      rmSync(pidFile, { force: true });
      db.close(); // ends the transaction and drops the lock
    },
  };
}

function holder(pidFile: string): string {
  try {
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
    if (Number.isInteger(pid)) return `another netboot (pid ${pid})`;
  } catch {
    // the holder has not written it yet, or removed it while stopping
  }
  return 'another netboot';
}
