// Secrets at rest (BMC passwords, webhook header values): AES-256-GCM (NIST SP 800-38D) with a key
// the appliance generates on first start into <dataDir>/secret.key, mode 0600. A copy of the
// database alone (a backup, a bug report) then holds no usable credential; the key file is the one
// thing to guard, and to keep with backups that must restore power control.
// Sealed form: `nbsec:v1:` + base64url(12-byte random IV | 16-byte tag | ciphertext). GCM's tag makes a
// changed or truncated value fail to open instead of opening to garbage.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StoreError } from './errors.js';

const prefix = 'nbsec:v1:';
const keyBytes = 32;
const ivBytes = 12; // SP 800-38D §8.2: 96-bit IVs, random (§8.2.2) with far fewer than 2^32 seals per key
const tagBytes = 16;

export function secretKeyFile(dataDir: string): string {
  return join(dataDir, 'secret.key');
}

export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The data directory's key, created (0600, exclusively: two starting processes agree) when missing. */
  static forDataDir(dataDir: string): SecretBox {
    const file = secretKeyFile(dataDir);
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Written whole and synced under a temporary name, then linked into place: link() fails when the
    // key exists (two starting processes agree on one), and a power cut never leaves an empty key.
    const draft = `${file}.${process.pid}.tmp`;
    try {
      const fd = openSync(draft, 'w', 0o600);
      try {
        writeFileSync(fd, `${randomBytes(keyBytes).toString('hex')}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      chmodSync(draft, 0o600); // whatever the umask
      linkSync(draft, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot create ${file}: ${(err as Error).message}`, { cause: err });
    } finally {
      rmSync(draft, { force: true });
    }
    const key = Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
    if (key.length !== keyBytes) {
      throw new StoreError(`${file} is not a ${keyBytes}-byte hex key: restore it from a backup (without it the stored BMC passwords cannot be read)`);
    }
    return new SecretBox(key);
  }

  /** A box with a given key (tests). */
  static withKey(key: Buffer): SecretBox {
    if (key.length !== keyBytes) throw new StoreError(`a secret key is ${keyBytes} bytes`);
    return new SecretBox(key);
  }

  isSealed(text: string): boolean {
    return text.startsWith(prefix);
  }

  seal(plain: string): string {
    const iv = randomBytes(ivBytes);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return prefix + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  open(sealed: string): string {
    if (!this.isSealed(sealed)) throw new StoreError('not a sealed secret');
    const raw = Buffer.from(sealed.slice(prefix.length), 'base64url');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, ivBytes));
      decipher.setAuthTag(raw.subarray(ivBytes, ivBytes + tagBytes));
      return Buffer.concat([decipher.update(raw.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
    } catch (cause) {
      throw new StoreError('a stored secret cannot be opened with this data directory\'s secret.key (a different key, or a changed value): set the power settings again', { cause });
    }
  }
}
