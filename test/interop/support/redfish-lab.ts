// A real Redfish BMC for the interop tests: OpenStack sushy-tools (vendored in ../shared/tools, its
// VENDORED.md) with its libvirt driver, in front of a small QEMU/TCG domain (128 MiB, no disk) that
// a libvirtd of our own runs (recipe bmc.md 2.2, demo-redfish.sh). That libvirtd lives in a network
// namespace we create and in a private mount namespace with tmpfs over /run, /etc/libvirt and
// libvirt's state folders: its socket, its config (user root, no security driver) and the domain's
// definition never touch the host's, and a libvirtd of the host (if any) is not disturbed.
// sushy-tools reaches that socket by joining the mount namespace only (nsenter -m), so it listens
// on the host's 127.0.0.1. stop() destroys the domain, then ends every process in our namespace by
// PID and deletes the namespace.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reapStaleNamespaces } from '../../../src/lab/netns.js';
import { testPrefix } from './namespaces.js';

export const sushySource = fileURLToPath(new URL('../../../../shared/tools/sushy-tools', import.meta.url));
const python = '/usr/bin/python3'; // Debian's, where python3-flask and python3-libvirt are installed
export const domainName = 'nbtest-rf-node';
export const domainUuid = 'c0e0b0c0-0000-4000-8000-0000000000a1';

export interface RedfishLab {
  readonly url: string;
  readonly user: string;
  readonly password: string;
  /** PEM of the self-signed certificate sushy-tools serves (subjectAltName IP:127.0.0.1). */
  readonly certificate: string;
  /** virsh against our libvirtd. */
  virsh(...args: string[]): string;
  stop(): Promise<void>;
}

/** Why the lab cannot run here, or undefined. */
export function redfishLabMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (namespaces need root)';
  const need = ['/usr/sbin/libvirtd', '/usr/sbin/virtlogd', '/usr/bin/virsh', '/usr/bin/qemu-system-x86_64', '/usr/bin/unshare', '/usr/bin/nsenter', '/usr/bin/openssl', python];
  const absent = need.filter((path) => {
    try {
      accessSync(path, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (!existsSync(join(sushySource, 'sushy_tools'))) absent.push(`${sushySource} (sushy-tools, vendored in ../shared/tools)`);
  try {
    execFileSync(python, ['-c', 'import flask, libvirt, bcrypt, tenacity, webob, requests'], { stdio: 'ignore' });
  } catch {
    absent.push('python3-flask python3-libvirt python3-bcrypt python3-tenacity python3-webob python3-requests');
  }
  return absent.length === 0 ? undefined : `missing ${absent.join(', ')} (scripts/install-deps.sh)`;
}

async function freeTcpPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startRedfishLab(dir: string): Promise<RedfishLab> {
  reapStaleNamespaces(testPrefix);
  const ns = `${testPrefix}rf-${process.pid}`;
  execFileSync('ip', ['netns', 'add', ns]);
  const started: ChildProcess[] = [];
  let libvirtdPid: number | undefined;
  const virsh = (...args: string[]) => execFileSync('nsenter', ['-t', String(libvirtdPid), '-m', '-n', 'virsh', '-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = async () => {
    if (libvirtdPid !== undefined) {
      try {
        virsh('destroy', domainName);
      } catch {
        // not running
      }
    }
    for (const child of started.reverse()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    for (const pid of pidsIn(ns)) killQuietly(pid); // libvirtd, virtlogd, a QEMU left behind: all ours
    for (let i = 0; i < 50 && pidsIn(ns).length > 0; i++) await sleep(100);
    for (const pid of pidsIn(ns)) killQuietly(pid, 'SIGKILL');
    try {
      execFileSync('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  };
  try {
    // The namespace's init: private mounts, a root-run QEMU without a security driver, the two daemons.
    const inner = join(dir, 'inner.sh');
    writeFileSync(inner, [
      '#!/bin/bash',
      'for d in /run /etc/libvirt /var/lib/libvirt /var/log/libvirt /var/cache/libvirt; do mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 1; done',
      `printf 'user = "root"\\ngroup = "root"\\nsecurity_driver = "none"\\n' > /etc/libvirt/qemu.conf`,
      'ip link set lo up',
      `virtlogd >'${dir}/virtlogd.log' 2>&1 &`,
      `libvirtd >'${dir}/libvirtd.log' 2>&1 & echo $! > '${dir}/libvirtd.pid'`,
      'wait', '',
    ].join('\n'), { mode: 0o755 });
    started.push(spawn('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', inner], { stdio: 'ignore' }));
    for (let i = 0; i < 100 && libvirtdPid === undefined; i++) {
      await sleep(100);
      if (existsSync(join(dir, 'libvirtd.pid'))) libvirtdPid = Number(readFileSync(join(dir, 'libvirtd.pid'), 'utf8'));
    }
    if (libvirtdPid === undefined) throw new Error('libvirtd did not start in the test namespace');
    for (let i = 0; ; i++) {
      try {
        virsh('version');
        break;
      } catch (error) {
        if (i > 100) throw new Error(`libvirtd does not answer: ${readFileSync(join(dir, 'libvirtd.log'), 'utf8').slice(-500)}`, { cause: error });
        await sleep(100);
      }
    }
    writeFileSync(join(dir, 'node.xml'), domainXml(dir));
    virsh('define', join(dir, 'node.xml'));

    const user = 'admin';
    const password = 'Redfish-Pass-31';
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    // sushy-tools accepts bcrypt hashes only (VENDORED.md); rounds=4 keeps each request fast.
    const hash = execFileSync(python, ['-c', 'import bcrypt,sys;print(bcrypt.hashpw(sys.argv[1].encode(),bcrypt.gensalt(rounds=4)).decode())', password], { encoding: 'utf8' }).trim();
    writeFileSync(join(dir, 'htpasswd'), `${user}:${hash}\n`, { mode: 0o600 });
    const port = await freeTcpPort();
    writeFileSync(join(dir, 'emulator.conf'), [
      "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'",
      `SUSHY_EMULATOR_LISTEN_PORT = ${port}`,
      `SUSHY_EMULATOR_SSL_CERT = '${join(dir, 'cert.pem')}'`,
      `SUSHY_EMULATOR_SSL_KEY = '${join(dir, 'key.pem')}'`,
      `SUSHY_EMULATOR_AUTH_FILE = '${join(dir, 'htpasswd')}'`,
      "SUSHY_EMULATOR_LIBVIRT_URI = 'qemu:///system'",
      `SUSHY_EMULATOR_ALLOWED_INSTANCES = ['${domainUuid}']`, '',
    ].join('\n'));
    const sushy = spawn('nsenter', ['-t', String(libvirtdPid), '-m', '--', python, '-m', 'sushy_tools.emulator.main', '--config', join(dir, 'emulator.conf')], {
      cwd: sushySource, env: { ...process.env, PYTHONPATH: sushySource }, stdio: ['ignore', 'ignore', 'ignore'],
    });
    started.push(sushy);
    await waitForListener(port, 15_000);
    return { url: `https://127.0.0.1:${port}`, user, password, certificate: readFileSync(join(dir, 'cert.pem'), 'utf8'), virsh, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The smallest machine that shows a network boot: no disk, one e1000 NIC, SeaBIOS's debug port to a file. */
function domainXml(dir: string): string {
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${domainName}</name><uuid>${domainUuid}</uuid><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><features><acpi/></features>
  <devices>
    <interface type='ethernet'><mac address='52:54:00:14:00:a1'/><target dev='nbrftap0' managed='yes'/><model type='e1000'/></interface>
  </devices>
  <qemu:commandline><qemu:arg value='-chardev'/><qemu:arg value='file,id=dbg,path=${dir}/seabios.log'/>
    <qemu:arg value='-device'/><qemu:arg value='isa-debugcon,iobase=0x402,chardev=dbg'/></qemu:commandline>
</domain>
`;
}

async function waitForListener(port: number, timeoutMs: number): Promise<void> {
  const hex = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (readFileSync('/proc/net/tcp', 'utf8').split('\n').some((l) => l.includes(hex) && / 0A /.test(l))) return;
    await sleep(100);
  }
  throw new Error(`sushy-tools did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function pidsIn(ns: string): number[] {
  try {
    return execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(pid, signal);
  } catch {
    // gone already
  }
}
