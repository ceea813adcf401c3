// Client names -> paths through sanitize() only (STYLE.md §5), and the directory TftpFiles on a real
// temp folder: symlinks inside the root work, symlinks out of it, `..` and special files do not.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { bufferSource } from '../../src/tftp/buffer-source.js';
import { directoryFiles, sanitize } from '../../src/tftp/directory-files.js';
import type { TftpFiles, TftpSource } from '../../src/tftp/files.js';
import { tempDir } from '../support/fixtures.js';

describe('sanitize', () => {
  const cases: { name: string; want: string | null }[] = [
    { name: 'pxelinux.0', want: '/srv/tftp/pxelinux.0' },
    { name: 'efi/bootx64.efi', want: '/srv/tftp/efi/bootx64.efi' },
    { name: '/grub/grub.cfg', want: '/srv/tftp/grub/grub.cfg' },
    { name: '//grub//grub.cfg', want: '/srv/tftp/grub/grub.cfg' },
    { name: '\\boot\\x86\\wdsnbp.com', want: '/srv/tftp/boot/x86/wdsnbp.com' },
    { name: './a/./b', want: '/srv/tftp/a/b' },
    { name: 'a/../b', want: '/srv/tftp/b' },
    { name: '/etc/passwd', want: '/srv/tftp/etc/passwd' },
    { name: '../../etc/passwd', want: null },
    { name: 'a/../../etc/passwd', want: null },
    { name: '..\\..\\etc\\passwd', want: null },
    { name: '/../etc/passwd', want: null },
    { name: 'a\0b', want: null },
    { name: '', want: null },
    { name: '/', want: null },
    { name: 'a/..', want: null },
    { name: '...', want: '/srv/tftp/...' },
  ];
  test.each(cases)('$name -> $want', ({ name, want }) => {
    expect(sanitize('/srv/tftp', name)).toBe(want);
  });

  test('a relative root is resolved', () => {
    expect(sanitize('srv', 'x')).toBe(join(process.cwd(), 'srv', 'x'));
  });
});

async function readAll(source: TftpSource | null): Promise<string | null> {
  if (!source) return null;
  const text = (await source.read(0, source.size)).toString();
  await source.close();
  return text;
}

describe('directoryFiles', () => {
  let dir: ReturnType<typeof tempDir>;
  let outside: ReturnType<typeof tempDir>;
  let files: TftpFiles;
  const client = { address: '127.0.0.1', port: 1000 };
  const open = (name: string) => files.open(name, client);

  beforeEach(() => {
    dir = tempDir('nb-tftp-root-');
    outside = tempDir('nb-tftp-outside-');
    const root = join(dir.path, 'root');
    mkdirSync(join(root, 'grub'), { recursive: true });
    writeFileSync(join(root, 'grub', 'grub.cfg'), 'set timeout=0\n');
    writeFileSync(join(root, 'loader.efi'), '0123456789');
    writeFileSync(join(outside.path, 'secret'), 'secret');
    writeFileSync(join(dir.path, 'sibling-secret'), 'secret');
    symlinkSync('loader.efi', join(root, 'alias.efi'));
    symlinkSync(join(outside.path, 'secret'), join(root, 'escape'));
    symlinkSync('../sibling-secret', join(root, 'escape-relative'));
    symlinkSync(outside.path, join(root, 'escape-dir'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    files = directoryFiles(root);
  });

  afterEach(() => {
    dir.cleanup();
    outside.cleanup();
  });

  test('serves files by name, absolute or not', async () => {
    expect(await readAll(await open('loader.efi'))).toBe('0123456789');
    expect(await readAll(await open('/grub/grub.cfg'))).toBe('set timeout=0\n');
    expect(await readAll(await open('\\grub\\grub.cfg'))).toBe('set timeout=0\n');
  });

  test('reads by offset, short only at the end of the file', async () => {
    const source = (await open('loader.efi'))!;
    expect(source.size).toBe(10);
    expect((await source.read(3, 4)).toString()).toBe('3456');
    expect((await source.read(8, 4)).toString()).toBe('89');
    expect((await source.read(10, 4)).length).toBe(0);
    expect((await source.read(0, 0)).length).toBe(0);
    await source.close();
  });

  test('a symlink inside the root is followed', async () => {
    expect(await readAll(await open('alias.efi'))).toBe('0123456789');
  });

  test.each(['escape', 'escape-relative', 'escape-dir/secret', '../sibling-secret', '../../etc/passwd', '/etc/passwd'])(
    '%s is not served', async (name) => {
      expect(await open(name)).toBeNull();
    },
  );

  test.each(['missing.efi', 'grub', 'grub/grub.cfg/x', '/', ''])('%s: no such file', async (name) => {
    expect(await open(name)).toBeNull();
  });

  test('a FIFO is not served, and opening it does not hang', async () => {
    expect(await open('fifo')).toBeNull();
  });

  test('a root that is missing or not a directory serves nothing', async () => {
    await expect(directoryFiles(join(dir.path, 'nope')).open('x', client)).resolves.toBeNull();
    writeFileSync(join(dir.path, 'plain'), '');
    await expect(directoryFiles(join(dir.path, 'plain')).open('x', client)).resolves.toBeNull();
  });
});

test('bufferSource reads by offset', async () => {
  const source = bufferSource(Buffer.from('hello world'));
  expect(source.size).toBe(11);
  expect((await source.read(6, 100)).toString()).toBe('world');
  expect((await source.read(11, 5)).length).toBe(0);
  await source.close();
});
