// A DHCP load client for many MACs. The DHCP logic (src/dhcp/codec, retries, bookkeeping) runs in
// the test process; the packets go through a relay process in the client namespace, because a socket
// belongs to the namespace of the process that opens it and Node cannot enter another one. The relay
// is a dozen lines of plain Node: stdin hex lines out to 255.255.255.255:67, every datagram on port
// 68 back as a hex line. The server answers requests without ciaddr by broadcast (reply.ts), so one
// relay hears the replies for every MAC.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import {
  BootOp, BROADCAST_FLAG, decodeDhcp, encodeDhcp, formatHexColons, MessageType, ZERO_ADDRESS,
  type DhcpOptions, type DhcpPacket,
} from '../../../src/dhcp/codec/index.js';
import { clientPacket } from '../../dhcp/fakes.js';
import type { ClientNamespace } from './namespaces.js';

const relayScript = `
const socket = require('node:dgram').createSocket('udp4');
socket.on('message', (m) => process.stdout.write(m.toString('hex') + '\\n'));
socket.bind(68, '0.0.0.0', () => {
  socket.setBroadcast(true);
  require('node:readline').createInterface({ input: process.stdin })
    .on('line', (l) => socket.send(Buffer.from(l, 'hex'), 67, '255.255.255.255', (e) => e && console.error(e.message)))
    .on('close', () => process.exit(0));
  process.stdout.write('ready\\n');
});`;

export interface Ack { readonly mac: string; readonly ip: string }

export class DhcpLoadClient {
  /** Every ACK that granted an address, in arrival order, whatever transaction it answered. */
  readonly acks: Ack[] = [];
  private readonly waiters = new Map<number, (reply: DhcpPacket) => void>();
  private xid = (Math.random() * 0x7fffffff) >>> 0;
  private ackListener: (ack: Ack) => void = () => undefined;
  /** Set by stop(): transactions still retrying end at once instead of writing to a closed relay. */
  private stopped = false;

  private constructor(private readonly relay: ChildProcess, readonly pid: number) {
    createInterface({ input: relay.stdout! }).on('line', (line) => this.onLine(line));
    // A relay that died fails the test through its unanswered transactions, not an EPIPE thrown here.
    relay.stdin!.on('error', () => undefined);
    relay.once('exit', () => {
      this.stopped = true;
    });
  }

  /** Starts the relay in `ns` (which needs a route for 255.255.255.255: routeBroadcast). */
  static async start(ns: ClientNamespace, timeoutMs = 10_000): Promise<DhcpLoadClient> {
    const { command, args } = ns.exec(process.execPath, ['-e', relayScript]);
    const relay = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the DHCP relay in ${ns.name} did not start in ${timeoutMs} ms`)), timeoutMs);
      relay.once('error', reject);
      relay.once('exit', (code) => reject(new Error(`the DHCP relay in ${ns.name} exited (${code})`)));
      relay.stdout!.once('data', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    try {
      await ready;
    } catch (error) {
      if (relay.exitCode === null) relay.kill('SIGKILL');
      throw error;
    }
    return new DhcpLoadClient(relay, relay.pid!);
  }

  /** Called synchronously on each ACK, before any transaction sees it (the test kills the server there). */
  onAck(listener: (ack: Ack) => void): void {
    this.ackListener = listener;
  }

  /** DORA for every MAC, `concurrency` at a time, each retried until ACKed or past the deadline. */
  async acquireAll(macs: readonly string[], options: { concurrency: number; retryMs: number; deadline: number }): Promise<Map<string, string>> {
    const granted = new Map<string, string>();
    await forEachBounded(macs, options.concurrency, async (mac) => {
      const ip = await this.dora(mac, options.retryMs, options.deadline);
      if (ip !== undefined) granted.set(mac, ip);
    });
    return granted;
  }

  private async dora(mac: string, retryMs: number, deadline: number): Promise<string | undefined> {
    while (Date.now() < deadline && !this.stopped) {
      const offer = await this.exchange(mac, { messageType: MessageType.discover }, retryMs);
      if (offer?.options.messageType !== MessageType.offer) continue;
      const ack = await this.exchange(mac, {
        messageType: MessageType.request, requestedAddress: offer.yiaddr, serverId: offer.options.serverId!,
      }, retryMs);
      if (ack?.options.messageType === MessageType.ack) return ack.yiaddr;
      // No answer (the server is down) or a NAK: start over from DISCOVER, as RFC 2131 §3.1 clients do.
    }
    return undefined;
  }

  /** One request, retried until a reply or the deadline; undefined when none came. */
  async ask(mac: string, options: DhcpOptions, retryMs: number, deadline: number): Promise<DhcpPacket | undefined> {
    while (Date.now() < deadline && !this.stopped) {
      const reply = await this.exchange(mac, options, retryMs);
      if (reply) return reply;
    }
    return undefined;
  }

  /** Sends one request with a fresh xid; resolves with the first reply to it, or undefined after timeoutMs. */
  private exchange(mac: string, options: DhcpOptions, timeoutMs: number): Promise<DhcpPacket | undefined> {
    if (this.stopped) return Promise.resolve(undefined);
    this.xid = (this.xid + 1) >>> 0;
    const xid = this.xid;
    // BROADCAST_FLAG: the fake MACs cannot answer ARP, so no reply may be unicast to them.
    const packet = clientPacket(mac, options, { xid, flags: BROADCAST_FLAG });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(xid);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.set(xid, (reply) => {
        clearTimeout(timer);
        this.waiters.delete(xid);
        resolve(reply);
      });
      this.relay.stdin!.write(`${encodeDhcp(packet).toString('hex')}\n`);
    });
  }

  private onLine(line: string): void {
    let reply: DhcpPacket;
    try {
      reply = decodeDhcp(Buffer.from(line, 'hex'));
    } catch {
      return; // not a DHCP packet: nothing of ours
    }
    if (reply.op !== BootOp.reply) return;
    if (reply.options.messageType === MessageType.ack && reply.yiaddr !== ZERO_ADDRESS) {
      const ack = { mac: formatHexColons(reply.chaddr.subarray(0, 6)), ip: reply.yiaddr };
      this.acks.push(ack);
      this.ackListener(ack);
    }
    this.waiters.get(reply.xid)?.(reply);
  }

  /** Closes the relay's stdin (it exits), then SIGKILL by its PID if it lingers. */
  async stop(graceMs = 2000): Promise<void> {
    this.stopped = true;
    if (this.relay.exitCode !== null || this.relay.signalCode !== null) return;
    const exited = new Promise((resolve) => this.relay.once('exit', resolve));
    this.relay.stdin!.end();
    const timer = setTimeout(() => this.relay.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** Runs `fn` over `items`, at most `limit` at once. */
export async function forEachBounded<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
