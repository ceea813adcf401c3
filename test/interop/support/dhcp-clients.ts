// Real DHCP clients from Debian packages, each run in its own client namespace with its own pid,
// lease and script files in a temp folder: nothing under /etc, /run or /var/lib of the host is read
// or written, and the scripts never touch resolv.conf or the hostname (the UTS namespace is the
// host's). Every client runs in the foreground as our child, so it is signalled and stopped by PID.
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Launched } from '../../../src/lab/launcher.js';
import type { ClientNamespace } from './namespaces.js';

export interface DhcpClientKind {
  readonly name: string;
  readonly path: string;
  readonly debianPackage: string;
  /** Starts the client on ns.iface; it applies the address itself (or through our script). */
  start(ns: ClientNamespace, dir: string): Promise<RunningClient>;
}

export interface RunningClient {
  readonly process: Launched;
  renew(): Promise<void>;
  release(): Promise<void>;
  stop(): Promise<void>;
}

const scriptPath = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin';

function writeScript(path: string, body: string): string {
  writeFileSync(path, `#!/bin/sh\n${scriptPath}\necho "$*" "$reason" >> "${path}.calls"\n${body}\nexit 0\n`);
  chmodSync(path, 0o755);
  return path;
}

function launch(ns: ClientNamespace, dir: string, name: string, command: string, args: string[]): Promise<Launched> {
  const argv = ns.exec(command, args);
  return Launched.start({ name, command: argv.command, args: argv.args, logFile: join(dir, `${name}.log`) });
}

/** Sends `signal` to the client; only this PID, which we started. */
function signal(process_: Launched, name: NodeJS.Signals): void {
  if (!process_.running) throw new Error(`the client (PID ${process_.pid}) has exited; its output:\n${process_.tail()}`);
  process.kill(process_.pid, name);
}

/**
 * ISC dhclient. It has no renew signal: "renew" is a second run on the same lease file, which starts
 * in INIT-REBOOT (RFC 2131 §3.2: REQUEST with option 50, no server id) and extends the lease.
 * `-r` in a run of its own sends the RELEASE; its pid file is a fresh path, so it signals nothing.
 */
export const dhclient: DhcpClientKind = {
  name: 'dhclient', path: '/usr/sbin/dhclient', debianPackage: 'isc-dhcp-client',
  async start(ns, base) {
    const binary = this.path;
    const dir = join(base, 'dhclient');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'dhclient.conf'), ''); // not /etc/dhcp/dhclient.conf
    writeFileSync(join(dir, 'dhclient.leases'), ''); // -lf must exist (dhclient takes its realpath)
    const script = writeScript(join(dir, 'script'), `case "$reason" in
  BOUND|RENEW|REBIND|REBOOT) ip -4 addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" ;;
esac`);
    const common = (pidFile: string) => ['-4', '-v', '-cf', join(dir, 'dhclient.conf'), '-pf', pidFile, '-lf', join(dir, 'dhclient.leases'), '-sf', script];
    let run = 0;
    const foreground = () => launch(ns, dir, `dhclient-${run++}`, binary, [...common(join(dir, 'dhclient.pid')), '-d', '-1', ns.iface]);
    let current = await foreground();
    return {
      get process() { return current; },
      async renew() {
        await current.stop(5000);
        current = await foreground();
      },
      async release() {
        await current.stop(5000);
        const argv = ns.exec(binary, [...common(join(dir, 'release.pid')), '-r', ns.iface]);
        await runToEnd(argv.command, argv.args, 20_000);
      },
      stop: () => current.stop(5000).then(() => undefined),
    };
  },
};

/** busybox udhcpc: SIGUSR1 renews (a unicast REQUEST, RENEWING), SIGUSR2 releases (udhcpc(8)). */
export const udhcpc: DhcpClientKind = {
  name: 'udhcpc', path: '/usr/bin/busybox', debianPackage: 'busybox-static',
  async start(ns, base) {
    const dir = join(base, 'udhcpc');
    mkdirSync(dir, { recursive: true });
    // udhcpc configures nothing itself: the script applies what it got ($ip, $mask as a prefix length).
    const script = writeScript(join(dir, 'script'), `case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew) ip -4 addr replace "$ip/$mask" dev "$interface" ;;
esac`);
    const child = await launch(ns, dir, 'udhcpc', this.path, [
      'udhcpc', '-f', '-i', ns.iface, '-s', script, '-p', join(dir, 'udhcpc.pid'), '-t', '10', '-T', '1', '-A', '1',
    ]);
    return {
      process: child,
      renew: async () => signal(child, 'SIGUSR1'),
      release: async () => signal(child, 'SIGUSR2'),
      stop: () => child.stop(5000).then(() => undefined),
    };
  },
};

/**
 * dhcpcd 9 has no options for its run and state folders (/run/dhcpcd, /var/lib/dhcpcd), so it runs
 * with our folders bind-mounted over them, in the private mount namespace `ip netns exec` gives each
 * command (mounts there do not propagate to the host; -n keeps mount off /run/mount/utab). It
 * configures the address itself; our -c script replaces the hooks (resolv.conf, hostname).
 * `dhcpcd -N` and `dhcpcd -k` only signal the PID in the pid file, SIGUSR1 (renew) and SIGALRM
 * (release); we send those to our PID directly. -A -L: no ARP probe (seconds) and no IPv4LL.
 */
export const dhcpcd: DhcpClientKind = {
  name: 'dhcpcd', path: '/usr/sbin/dhcpcd', debianPackage: 'dhcpcd-base',
  async start(ns, base) {
    const dir = join(base, 'dhcpcd');
    for (const sub of ['run', 'state']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'dhcpcd.conf'), '');
    const script = writeScript(join(dir, 'script'), ':');
    const child = await launch(ns, dir, 'dhcpcd', '/bin/sh', [
      '-c', 'mount -n --bind "$1/run" /run && mount -n --bind "$1/state" /var/lib/dhcpcd && shift && exec "$@"', 'sh', dir,
      this.path, '-B', '-d', '-4', '-A', '-L', '-f', join(dir, 'dhcpcd.conf'), '-c', script, ns.iface,
    ]);
    return {
      process: child,
      renew: async () => signal(child, 'SIGUSR1'),
      release: async () => signal(child, 'SIGALRM'),
      stop: () => child.stop(5000).then(() => undefined),
    };
  },
};

export const allClients: readonly DhcpClientKind[] = [dhclient, udhcpc, dhcpcd];

function runToEnd(command: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    // execFile kills only this child (by its PID) when the timeout passes.
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}
