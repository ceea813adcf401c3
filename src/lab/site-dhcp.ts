// A stand-in for a site's own DHCP server, for proxy-mode labs: dnsmasq (Debian's dnsmasq-base) with
// an address range and no boot options, in a network namespace of its own that joins the lab bridge
// through a veth pair, like another host on the boot network. Its own host, not the appliance's
// namespace: dnsmasq on br0 would answer with the appliance's address as its server identifier
// (option 54), and a proxy must tell the site server's REQUESTs from its own by that identifier.
// Stopped by PID; its namespace (and with it the veth pair) is deleted on stop.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from '../errors.js';
import { Launched } from './launcher.js';
import { bridgeName, ip, type LabNetwork } from './netns.js';

export const dnsmasqBinary = '/usr/sbin/dnsmasq';

export interface SiteDhcpOptions {
  /** The lab whose bridge the site server joins. */
  readonly network: LabNetwork;
  /** The site server's address on the lab subnet, and the prefix length. */
  readonly address: string;
  readonly prefixLength: number;
  readonly range: { readonly start: string; readonly end: string };
  /** Lease file, PID file and log go here. */
  readonly dir: string;
  readonly onLine?: (line: string) => void;
}

export interface SiteLease { readonly mac: string; readonly ip: string }

export class SiteDhcp {
  private constructor(readonly namespace: string, readonly process: Launched, private readonly leaseFile: string) {}

  static async start(options: SiteDhcpOptions): Promise<SiteDhcp> {
    if (!existsSync(dnsmasqBinary)) throw new LabError(`${dnsmasqBinary} is missing: apt-get install dnsmasq-base`);
    // The owner PID stays the last part of the name, so reapStaleNamespaces() removes a leftover.
    const namespace = options.network.name.replace(/-(\d+)$/, '-site-$1');
    const leaseFile = join(options.dir, 'site-dhcp.leases');
    ip('netns', 'add', namespace);
    let dnsmasq: Launched | undefined;
    try {
      ip('-n', namespace, 'link', 'set', 'lo', 'up');
      ip('-n', options.network.name, 'link', 'add', 'site0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
      ip('-n', options.network.name, 'link', 'set', 'site0', 'master', bridgeName, 'up');
      ip('-n', namespace, 'addr', 'add', `${options.address}/${options.prefixLength}`, 'dev', 'eth0');
      ip('-n', namespace, 'link', 'set', 'eth0', 'up');
      const mask = prefixMask(options.prefixLength);
      dnsmasq = await Launched.start({
        name: 'site DHCP server (dnsmasq)',
        command: 'ip',
        args: ['netns', 'exec', namespace, dnsmasqBinary,
          '--no-daemon', '--conf-file=/dev/null', '--port=0', // DHCP only, no DNS, no config of the host's
          '--interface=eth0', '--bind-interfaces',
          `--dhcp-range=${options.range.start},${options.range.end},${mask},1h`,
          `--dhcp-leasefile=${leaseFile}`, `--pid-file=${join(options.dir, 'site-dhcp.pid')}`,
          '--log-dhcp', '--log-facility=-'],
        logFile: join(options.dir, 'site-dhcp.log'),
        ...(options.onLine ? { onLine: options.onLine } : {}),
      });
      await dnsmasq.waitFor(/DHCP, sockets bound exclusively to interface eth0/, 15_000, 'dnsmasq to listen');
      return new SiteDhcp(namespace, dnsmasq, leaseFile);
    } catch (error) {
      await dnsmasq?.stop(2000);
      deleteNamespace(namespace);
      throw error;
    }
  }

  /** What dnsmasq handed out (its lease file: expiry, MAC, address, hostname, client id per line). */
  leases(): SiteLease[] {
    if (!existsSync(this.leaseFile)) return [];
    return readFileSync(this.leaseFile, 'utf8').split('\n').filter(Boolean).map((line) => {
      const [, mac = '', ip = ''] = line.split(' ');
      return { mac: mac.toLowerCase(), ip };
    });
  }

  /** Stops dnsmasq (this PID only) and deletes its namespace. */
  async stop(): Promise<void> {
    await this.process.stop(2000);
    deleteNamespace(this.namespace);
  }
}

function prefixMask(prefixLength: number): string {
  const mask = (0xffffffff << (32 - prefixLength)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (mask >>> shift) & 0xff).join('.');
}

function deleteNamespace(name: string): void {
  try {
    ip('netns', 'del', name);
  } catch {
    // Already gone.
  }
}
