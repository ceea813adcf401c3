// The DHCP load generator, run by bench.ts inside the client namespace (compiled by bench.ts, run
// with plain node):
//   node loadgen.js --leases 10000 --concurrency 64 --timeout-ms 2000 --retries 3 --deadline-s 300
//                   --ready-timeout-s 30 --out result.json [--probe-only]
// First a readiness probe: DISCOVERs from one extra MAC until an OFFER arrives (bounded). Then N full
// DORA exchanges (RFC 2131 §3.1: DISCOVER -> OFFER -> REQUEST in SELECTING state, with option 54 and
// option 50 -> ACK), each from its own random locally administered MAC, at most C at a time. A step
// that gets no answer within the timeout is sent again (same packet, same xid), at most `retries`
// times; then the exchange counts as a timeout. Nothing runs past the global deadline.
//
// One UDP socket on 0.0.0.0:68; every request sets the BROADCAST flag (RFC 2131 §4.1), so servers
// answer to 255.255.255.255:68 and no server needs to unicast to a MAC that has no address yet.
// Replies are matched to exchanges by xid and chaddr.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import {
  BootOp, BROADCAST_FLAG, decodeDhcp, encodeDhcp, HTYPE_ETHERNET, Layout, MessageType,
  type DhcpOptions, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';

export interface LoadResult {
  readonly ok: boolean;
  readonly error?: string;
  readonly probeMs: number;
  readonly wallMs: number;
  readonly completed: number;
  readonly naks: number;
  readonly timeouts: number;
  /** Exchanges not finished (or never started) when the global deadline passed. */
  readonly unfinished: number;
  /** ACKs whose yiaddr differs from the offered/requested address, or OFFERs without option 54. */
  readonly malformed: number;
  readonly retransmissions: number;
  /** CPU seconds the load generator itself used during the run: near wallMs, it was the bottleneck. */
  readonly clientCpuSeconds: number;
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number; readonly mean: number };
  /** [mac, ip] of every ACK. */
  readonly acked: ReadonlyArray<readonly [string, string]>;
}

interface Options {
  leases: number;
  concurrency: number;
  timeoutMs: number;
  retries: number;
  deadlineMs: number;
  readyTimeoutMs: number;
  out: string;
  /** Only wait until the server answers (the readiness check), then exit. */
  probeOnly: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const value = (name: string, fallback?: string): string => {
    const at = argv.indexOf(`--${name}`);
    const v = at >= 0 ? argv[at + 1] : fallback;
    if (v === undefined) throw new Error(`loadgen: --${name} is required`);
    return v;
  };
  const positive = (name: string, fallback: string): number => {
    const n = Number(value(name, fallback));
    if (!Number.isFinite(n) || n < 0) throw new Error(`loadgen: --${name} must be a number >= 0`);
    return n;
  };
  return {
    leases: positive('leases', '10000'),
    concurrency: Math.max(1, positive('concurrency', '64')),
    timeoutMs: positive('timeout-ms', '2000'),
    retries: positive('retries', '3'),
    deadlineMs: positive('deadline-s', '300') * 1000,
    readyTimeoutMs: positive('ready-timeout-s', '30') * 1000,
    out: value('out'),
    probeOnly: argv.includes('--probe-only'),
  };
}

type Step = 'offer' | 'ack';

interface Exchange {
  readonly mac: Buffer;
  readonly macText: string;
  readonly xid: number;
  readonly startedAt: number;
  step: Step;
  sends: number;
  packet: Buffer;
  offered?: string;
  timer?: NodeJS.Timeout;
}

/** Parameter request list of a typical Linux client: mask, router, DNS, domain, lease time, server id. */
const PARAMETERS = [1, 3, 6, 15, 51, 54];

function encodeRequest(mac: Uint8Array, xid: number, options: DhcpOptions): Buffer {
  const packet: DhcpPacket = {
    op: BootOp.request, htype: HTYPE_ETHERNET, hops: 0, xid, secs: 0, flags: BROADCAST_FLAG,
    ciaddr: '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr: mac, sname: '', file: '', options,
  };
  return encodeDhcp(packet);
}

/** Offset of the value of option `code` in an encoded packet (a TLV walk from Layout.options). */
function optionValueOffset(bytes: Buffer, code: number): number {
  for (let at = Layout.options; at < bytes.length - 1;) {
    if (bytes[at] === code) return at + 2;
    if (bytes[at] === 0) at++;
    else if (bytes[at] === 255) break;
    else at += 2 + bytes[at + 1]!;
  }
  throw new Error(`option ${code} not found in the template`);
}

/**
 * Requests are encoded by the codec once, as templates, then copied with xid, chaddr and the two
 * addresses patched in: encodeDhcp costs ~20 µs a packet, which at Kea's rates would make the client
 * a bottleneck of the measurement.
 */
const templates = (() => {
  const zeroMac = new Uint8Array(6);
  const discover = encodeRequest(zeroMac, 0, { messageType: MessageType.discover, parameterRequestList: PARAMETERS });
  const selecting = encodeRequest(zeroMac, 0, {
    messageType: MessageType.request, serverId: '0.0.0.0', requestedAddress: '0.0.0.0', parameterRequestList: PARAMETERS,
  });
  return { discover, selecting, serverId: optionValueOffset(selecting, 54), requested: optionValueOffset(selecting, 50) };
})();

function fromTemplate(template: Buffer, mac: Buffer, xid: number): Buffer {
  const bytes = Buffer.from(template);
  bytes.writeUInt32BE(xid, Layout.xid);
  mac.copy(bytes, Layout.chaddr);
  return bytes;
}

function discoverPacket(mac: Buffer, xid: number): Buffer {
  return fromTemplate(templates.discover, mac, xid);
}

/** SELECTING-state REQUEST (RFC 2131 §4.3.2): option 54 = the offering server, option 50 = its yiaddr. */
function selectingPacket(mac: Buffer, xid: number, serverId: Buffer, address: Buffer): Buffer {
  const bytes = fromTemplate(templates.selecting, mac, xid);
  serverId.copy(bytes, templates.serverId);
  address.copy(bytes, templates.requested);
  return bytes;
}

const ipv4 = (text: string): Buffer => Buffer.from(text.split('.').map(Number));
const macText = (mac: Buffer): string => [...mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
const key = (xid: number, mac: string): string => `${xid}/${mac}`;

/** Distinct random unicast, locally administered MACs (first octet: bit 1 set, bit 0 clear). */
function randomMacs(count: number): Buffer[] {
  const seen = new Set<string>();
  const macs: Buffer[] = [];
  while (macs.length < count) {
    const mac = randomBytes(6);
    mac[0] = (mac[0]! & 0xfc) | 0x02;
    const text = macText(mac);
    if (seen.has(text)) continue;
    seen.add(text);
    macs.push(mac);
  }
  return macs;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function bindClientSocket(): Promise<Socket> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(68, '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.setBroadcast(true);
  socket.setRecvBufferSize(4 * 1024 * 1024);
  return socket;
}

/** Cheap header check before decoding: a BOOTREPLY with an Ethernet chaddr, keyed by xid/chaddr. */
function replyKey(bytes: Buffer): string | undefined {
  if (bytes.length < Layout.options || bytes[Layout.op] !== BootOp.reply || bytes[Layout.hlen] !== 6) return undefined;
  return key(bytes.readUInt32BE(Layout.xid), macText(bytes.subarray(Layout.chaddr, Layout.chaddr + 6)));
}

async function probe(socket: Socket, opts: Options): Promise<number> {
  const started = performance.now();
  const [mac] = randomMacs(1);
  const xid = randomBytes(4).readUInt32BE(0);
  const wanted = key(xid, macText(mac!));
  const discover = discoverPacket(mac!, xid);
  await new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onMessage = (bytes: Buffer): void => {
      if (replyKey(bytes) !== wanted) return;
      clearTimeout(timer);
      socket.off('message', onMessage);
      resolve();
    };
    socket.on('message', onMessage);
    const tick = (): void => {
      if (performance.now() - started > opts.readyTimeoutMs) {
        socket.off('message', onMessage);
        reject(new Error(`no OFFER to the readiness probe within ${opts.readyTimeoutMs} ms`));
        return;
      }
      socket.send(discover, 67, '255.255.255.255');
      timer = setTimeout(tick, 250);
    };
    tick();
  });
  return performance.now() - started;
}

async function run(socket: Socket, opts: Options): Promise<Omit<LoadResult, 'ok' | 'probeMs'>> {
  const macs = randomMacs(opts.leases);
  const pending = new Map<string, Exchange>();
  const latencies: number[] = [];
  const acked: Array<[string, string]> = [];
  let next = 0;
  let naks = 0;
  let timeouts = 0;
  let malformed = 0;
  let retransmissions = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let finish: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const send = (ex: Exchange): void => {
    ex.sends++;
    socket.send(ex.packet, 67, '255.255.255.255');
    ex.timer = setTimeout(() => onTimeout(ex), opts.timeoutMs);
  };
  const end = (ex: Exchange): void => {
    clearTimeout(ex.timer);
    pending.delete(key(ex.xid, ex.macText));
    startNext();
  };
  const onTimeout = (ex: Exchange): void => {
    if (ex.sends <= opts.retries) {
      retransmissions++;
      send(ex);
      return;
    }
    timeouts++;
    end(ex);
  };
  const startNext = (): void => {
    while (pending.size < opts.concurrency && next < macs.length) {
      const mac = macs[next++]!;
      let xid = randomBytes(4).readUInt32BE(0);
      const text = macText(mac);
      while (pending.has(key(xid, text))) xid = (xid + 1) >>> 0;
      const ex: Exchange = {
        mac, macText: text, xid, startedAt: performance.now(), step: 'offer', sends: 0,
        packet: discoverPacket(mac, xid),
      };
      pending.set(key(xid, text), ex);
      send(ex);
    }
    if (pending.size === 0 && next >= macs.length) finish();
  };

  socket.on('message', (bytes: Buffer) => {
    const k = replyKey(bytes);
    const ex = k === undefined ? undefined : pending.get(k);
    if (!ex) return; // the probe's late OFFERs, retransmission duplicates, finished exchanges
    let reply: DhcpPacket;
    try {
      reply = decodeDhcp(bytes);
    } catch {
      return;
    }
    const type = reply.options.messageType;
    if (ex.step === 'offer' && type === MessageType.offer) {
      const serverId = reply.options.serverId;
      if (serverId === undefined) {
        malformed++;
        end(ex);
        return;
      }
      clearTimeout(ex.timer);
      ex.step = 'ack';
      ex.sends = 0;
      ex.offered = reply.yiaddr;
      ex.packet = selectingPacket(ex.mac, ex.xid, ipv4(serverId), bytes.subarray(Layout.yiaddr, Layout.yiaddr + 4));
      send(ex);
    } else if (ex.step === 'ack' && type === MessageType.ack) {
      if (reply.yiaddr !== ex.offered) malformed++;
      else {
        latencies.push(performance.now() - ex.startedAt);
        acked.push([ex.macText, reply.yiaddr]);
      }
      end(ex);
    } else if (ex.step === 'ack' && type === MessageType.nak) {
      naks++;
      end(ex);
    }
  });

  const deadline = setTimeout(finish, opts.deadlineMs);
  startNext();
  await done;
  clearTimeout(deadline);
  const wallMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuStarted);
  for (const ex of pending.values()) clearTimeout(ex.timer);
  const unfinished = pending.size + (macs.length - next);
  latencies.sort((a, b) => a - b);
  const mean = latencies.reduce((sum, l) => sum + l, 0) / Math.max(1, latencies.length);
  return {
    wallMs, completed: acked.length, naks, timeouts, unfinished, malformed, retransmissions, acked,
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? Number.NaN, mean },
  };
}

function empty(opts: Options): LoadResult {
  return {
    ok: false, probeMs: Number.NaN, wallMs: 0, completed: 0, naks: 0, timeouts: 0, unfinished: opts.leases,
    malformed: 0, retransmissions: 0, clientCpuSeconds: 0, acked: [], latencyMs: { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, mean: Number.NaN },
  };
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const socket = await bindClientSocket();
  let result: LoadResult;
  try {
    const probeMs = await probe(socket, opts);
    result = opts.probeOnly ? { ...empty(opts), ok: true, probeMs, unfinished: 0 } : { ok: true, probeMs, ...(await run(socket, opts)) };
  } catch (err) {
    result = { ...empty(opts), error: (err as Error).message };
  } finally {
    socket.close();
  }
  writeFileSync(opts.out, JSON.stringify(result));
}

await main();
