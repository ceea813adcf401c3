// One authentication seam for the boot side (untrusted network): every callback, seed document and
// token-bearing boot script goes through here. A run token names one machine and one run; where the
// appliance runs DHCP it also knows which MAC holds each address (a lease in full mode, the address the
// proxy heard a PXE client use in proxy mode), so a token is honoured only from the machine's own
// address. This stops a host on the boot network that knows a MAC (every DHCP broadcast shows them)
// from fetching the machine's boot script, reading its user-data or answering for it
// (../shared/research/security-probe-2026-12.md F2). It does not stop a host that spoofs the MAC
// and the address at layer 2: the boot network must be isolated (README "Threat model").
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import type { EventSink } from './boot.js';
import type { Machine } from './model.js';
import { eventKey } from './boot.js';

/** Which MAC holds this address; undefined when none is known. */
export interface LeaseLookup {
  macOf(address: string): string | undefined;
}

export interface BootAuthDeps {
  readonly machines: { byToken(token: string): Machine | undefined; byMac(mac: string): Machine | undefined };
  readonly events: EventSink;
  /**
   * Where addresses come from. Undefined: the appliance runs no DHCP of its own and cannot bind a
   * token to an address; tokens are then honoured from any address (said at start, README).
   */
  readonly leases?: LeaseLookup;
}

export class BootAuth {
  constructor(private readonly deps: BootAuthDeps) {}

  /** True when tokens are bound to the lease holder's address. */
  get binding(): boolean {
    return this.deps.leases !== undefined;
  }

  /** The MAC the boot side may attribute a request from this address to (the lease holder). */
  macOf(address: string): string | undefined {
    return this.deps.leases?.macOf(plainIpv4(address));
  }

  /**
   * Whether a request from this address may be treated as the machine itself: its address is leased
   * to one of the machine's own MACs. Always true when binding is off.
   */
  isMachineAddress(machine: Machine, address: string): boolean {
    if (!this.deps.leases) return true;
    const holder = this.macOf(address);
    if (holder === undefined) return false;
    return holder === machine.bootMac || this.deps.machines.byMac(holder)?.id === machine.id;
  }

  /**
   * The machine a run token names, when the request comes from that machine's address. A refusal for
   * the wrong address goes on the machine's timeline: someone else has its token.
   */
  authenticate(token: string, address: string, what: string): Machine {
    const machine = this.deps.machines.byToken(token);
    if (!machine) throw new UnauthorizedError('unknown or expired token: tokens rotate with every run');
    this.requireMachineAddress(machine, address, what);
    return machine;
  }

  /** authenticate() as a yes or no, for routes that answer a refusal in their own way. */
  mayUseToken(token: string, address: string, what: string): boolean {
    try {
      this.authenticate(token, address, what);
      return true;
    } catch (error) {
      if (error instanceof ForbiddenError || error instanceof UnauthorizedError) return false;
      throw error;
    }
  }

  /** Throws (and records the attempt) when the address is not the machine's own. */
  requireMachineAddress(machine: Machine, address: string, what: string): void {
    if (this.isMachineAddress(machine, address)) return;
    const holder = this.macOf(address);
    const ip = plainIpv4(address);
    this.deps.events.record({
      ...eventKey(machine), type: 'token-refused',
      detail: `${what} asked from ${ip}, which ${holder ? `is leased to ${holder}` : 'holds no lease'}`,
    });
    throw new ForbiddenError(`${what} of machine ${machine.id} is served only to the address leased to that machine, not to ${ip}`);
  }
}

/** ::ffff:10.0.0.5 (an IPv4 peer of a dual-stack socket) -> 10.0.0.5. */
export function plainIpv4(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
