// Sending a run of equal-sized datagrams in one system call with UDP_SEGMENT (native/udp-gso.c says
// why native code). Used for TFTP windows (RFC 7440); everything else sends through dgram.
//
// Where it cannot be used, the datagrams go through dgram one by one, so the result on the wire is
// the same: the addon was not built (build/ is made by `npm run build`), the socket's fd cannot be
// found (it lives in dgram's internal state, see socketFd), dgram still has sends queued (a direct
// send would overtake them), the socket buffer is full (EAGAIN: dgram queues instead), or the kernel
// refuses GSO on the route (EIO without checksum offload or with xfrm, EMSGSIZE when a segment does not
// fit the path MTU): then never again on that socket.
import type { Socket } from 'node:dgram';
import { constants } from 'node:os';
import { loadAddon } from './native-addon.js';

interface UdpGsoAddon {
  sendSegments(fd: number, buffers: readonly Buffer[], segmentSize: number): number;
}

/** UDP_MAX_SEGMENTS (include/linux/udp.h). */
export const maxSegments = 64;
/** The largest UDP payload in one IPv4 packet (65,535 - 20 - 8); IPv6 allows 8 bytes more. */
const maxPayload = 65_507;
const { EAGAIN } = constants.errno;

function errnoName(errno: number): string {
  return Object.entries(constants.errno).find(([, value]) => value === errno)?.[0] ?? `errno ${errno}`;
}

const loaded = loadAddon<UdpGsoAddon>('udp_gso');
const reportedErrnos = new Set<number>();

/**
 * The file descriptor behind a dgram socket, or undefined. Node 20 keeps it in the socket's internal
 * state (lib/internal/dgram.js kStateSymbol, described 'state symbol'): `socket._handle` reaches the
 * same object but prints a deprecation warning (DEP0112). test/udp-gso.test.ts fails if a Node
 * version moves it, rather than letting every window fall back quietly.
 */
export function socketFd(socket: Socket): number | undefined {
  const key = Object.getOwnPropertySymbols(socket).find((symbol) => symbol.description === 'state symbol');
  if (!key) return undefined;
  const state = (socket as unknown as Record<symbol, { handle?: { fd?: unknown } } | undefined>)[key];
  const fd = state?.handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Why GSO is off in this process, or undefined when the addon is loaded. */
export function gsoUnavailable(): string | undefined {
  return loaded.why;
}

/**
 * Sends datagrams in order on a connected socket, whole runs of equal size in one sendmsg(2) where
 * it can. `onDisabled` hears why GSO was given up on a socket, the first time in the process that
 * happens for that reason.
 */
export class SegmentSender {
  private disabled: boolean;

  constructor(private readonly socket: Socket, private readonly onDisabled?: (why: string) => void) {
    this.disabled = loaded.addon === undefined;
  }

  send(datagrams: readonly Buffer[]): void {
    let at = 0;
    while (at < datagrams.length) {
      const run = this.disabled ? 1 : this.runLength(datagrams, at);
      if (run === 1) this.socket.send(datagrams[at]!);
      else this.sendRun(datagrams.slice(at, at + run));
      at += run;
    }
  }

  /** Datagrams from `at` that can share one send: equal sizes, the last may be shorter. */
  private runLength(datagrams: readonly Buffer[], at: number): number {
    const size = datagrams[at]!.length;
    const limit = Math.min(maxSegments, Math.floor(maxPayload / size), datagrams.length - at);
    let run = 1;
    while (run < limit) {
      const next = datagrams[at + run]!.length;
      if (next > size) break;
      run++;
      if (next < size) break; // a shorter one ends the run
    }
    return run;
  }

  /** One sendmsg(2) for the run; through dgram when that cannot be done or fails. */
  private sendRun(run: Buffer[]): void {
    const fd = this.socket.getSendQueueCount() === 0 ? socketFd(this.socket) : undefined;
    const result = fd === undefined ? -EAGAIN : loaded.addon!.sendSegments(fd, run, run[0]!.length);
    if (result >= 0) return;
    if (-result !== EAGAIN) {
      this.disabled = true;
      // Once per errno and process: on a route without checksum offload every transfer would
      // otherwise warn. Each new socket still tries once, since another route may allow it.
      if (!reportedErrnos.has(-result)) {
        reportedErrnos.add(-result);
        this.onDisabled?.(`sendmsg with UDP_SEGMENT failed (${errnoName(-result)}): TFTP windows go out datagram by datagram on this route`);
      }
    }
    for (const datagram of run) this.socket.send(datagram);
  }
}
