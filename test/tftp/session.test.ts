// The transfer state machine, pure and table-driven (STYLE.md §12): each case is a script of events
// and, after each event, the datagrams the session sends (summarised) and how it ended, if it did.
import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import { decodeTftp, Opcode, type TftpOption } from '../../src/tftp/codec/index.js';
import { ReadSession, type ReadRequest, type SessionEnd, type SessionParameters, type Step } from '../../src/tftp/session.js';

/** Drives a session with a fake clock and an in-memory file; reads are served at once unless manual. */
class Harness {
  readonly session: ReadSession;
  now = 1_000_000;
  deadline: number | null = null;
  end: SessionEnd | null = null;
  readonly reads: ReadRequest[] = [];
  private pending: ReadRequest | null = null;

  constructor(readonly params: SessionParameters, readonly file: Buffer, private readonly manualReads = false) {
    this.session = new ReadSession(params);
  }

  /** Runs one scripted event; returns the datagrams sent because of it, summarised. */
  run(event: string): string[] {
    const [verb, arg] = event.split(' ');
    switch (verb) {
      case 'start': return this.apply(this.session.start(this.now));
      case 'ack': return this.apply(this.session.onAck(Number(arg), this.now));
      case 'error': return this.apply(this.session.onError(Number(arg), 'User aborted the transfer'));
      case 'illegal': return this.apply(this.session.onIllegal(arg!));
      case 'abort': return this.apply(this.session.abort('server shutting down'));
      case 'read': return this.serve();
      case 'wait': // the clock moves; the timer fires early (transfer.ts then re-arms)
        this.now += Number(arg);
        return this.apply(this.session.onTimeout(this.now));
      case 'timeout':
        if (this.deadline === null) throw new Error('no deadline to wait for');
        this.now = this.deadline;
        return this.apply(this.session.onTimeout(this.now));
      default: throw new Error(`unknown event ${event}`);
    }
  }

  private apply(step: Step): string[] {
    this.deadline = step.deadline;
    if (step.end) this.end = step.end;
    const sent = step.send.map(summary);
    if (step.read) {
      this.reads.push(step.read);
      this.pending = step.read;
      if (!this.manualReads) sent.push(...this.serve());
    }
    return sent;
  }

  private serve(): string[] {
    const read = this.pending;
    if (!read) throw new Error('no read pending');
    this.pending = null;
    return this.apply(this.session.onRead(read.position, this.file.subarray(read.position, read.position + read.length), this.now));
  }
}

function summary(datagram: Buffer): string {
  const p = decodeTftp(datagram);
  switch (p.opcode) {
    case Opcode.data: return `DATA ${p.block}:${p.data.length}`;
    case Opcode.oack: return `OACK ${p.options.map((o) => `${o.name}=${o.value}`).join(' ')}`;
    case Opcode.error: return `ERROR ${p.code} ${p.message}`;
    default: return `opcode ${p.opcode}`;
  }
}

const file = (size: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * 7) & 0xff));
const oack = (...pairs: [string, string][]): TftpOption[] => pairs.map(([name, value]) => ({ name, value }));
const base = { blksize: 512, windowsize: 1, timeoutMs: 1000, retries: 5, oack: null };

interface Case {
  name: string;
  params: Partial<SessionParameters> & { size: number };
  /** A file of another length than params.size: the file changed after it was opened. */
  fileSize?: number;
  manualReads?: boolean;
  /** [event, datagrams sent because of it, how it ended (if it did, at that event)] */
  script: [string, string[], (Partial<SessionEnd> | undefined)?][];
}

const cases: Case[] = [
  {
    name: 'plain RFC 1350 transfer',
    params: { size: 1000 },
    script: [['start', ['DATA 1:512']], ['ack 1', ['DATA 2:488']], ['ack 2', [], { kind: 'sent', bytes: 1000 }]],
  },
  {
    name: 'a file of whole blocks ends with an empty block',
    params: { size: 1024 },
    script: [['start', ['DATA 1:512']], ['ack 1', ['DATA 2:512']], ['ack 2', ['DATA 3:0']], ['ack 3', [], { kind: 'sent', bytes: 1024 }]],
  },
  {
    name: 'an empty file is one empty block',
    params: { size: 0 },
    script: [['start', ['DATA 1:0']], ['ack 1', [], { kind: 'sent', bytes: 0 }]],
  },
  {
    name: 'OACK, then ACK 0 starts the data',
    params: { size: 700, oack: oack(['tsize', '700'], ['blksize', '512']) },
    script: [['start', ['OACK tsize=700 blksize=512']], ['ack 0', ['DATA 1:512']], ['ack 1', ['DATA 2:188']], ['ack 2', [], { kind: 'sent' }]],
  },
  {
    name: 'OACK retransmitted on timeout',
    params: { size: 10, oack: oack(['tsize', '10']) },
    script: [['start', ['OACK tsize=10']], ['timeout', ['OACK tsize=10']], ['ack 0', ['DATA 1:10']], ['ack 1', [], { kind: 'sent', retransmits: 1 }]],
  },
  {
    name: 'OVMF tsize probe: client ERROR 8 after the OACK ends the transfer at once',
    params: { size: 173792, blksize: 1468, windowsize: 4, oack: oack(['tsize', '173792'], ['blksize', '1468'], ['windowsize', '4']) },
    script: [
      ['start', ['OACK tsize=173792 blksize=1468 windowsize=4']],
      ['error 8', [], { kind: 'aborted', bytes: 0, clientError: { code: 8, message: 'User aborted the transfer' } }],
      ['wait 5000', []], // no retransmission of anything later
    ],
  },
  {
    name: 'nothing is sent after a client ERROR, whatever arrives',
    params: { size: 5000 },
    script: [['start', ['DATA 1:512']], ['error 0', [], { kind: 'aborted', bytes: 0 }], ['ack 1', []], ['wait 5000', []]],
  },
  {
    name: 'windowsize 4 (RFC 7440): one ACK per window',
    params: { size: 4 * 512 + 100, windowsize: 4, oack: oack(['windowsize', '4']) },
    script: [
      ['start', ['OACK windowsize=4']],
      ['ack 0', ['DATA 1:512', 'DATA 2:512', 'DATA 3:512', 'DATA 4:512']],
      ['ack 4', ['DATA 5:100']],
      ['ack 5', [], { kind: 'sent', bytes: 2148 }],
    ],
  },
  {
    name: 'windowsize: an ACK inside the window resends from the block after it',
    params: { size: 10 * 512 + 1, windowsize: 4 },
    script: [
      ['start', ['DATA 1:512', 'DATA 2:512', 'DATA 3:512', 'DATA 4:512']],
      ['ack 4', ['DATA 5:512', 'DATA 6:512', 'DATA 7:512', 'DATA 8:512']],
      ['ack 6', ['DATA 7:512', 'DATA 8:512', 'DATA 9:512', 'DATA 10:512']],
      ['ack 10', ['DATA 11:1']],
      ['ack 11', [], { kind: 'sent' }],
    ],
  },
  {
    name: 'windowsize: a timeout resends the whole outstanding window',
    params: { size: 3 * 512, windowsize: 8 },
    script: [
      ['start', ['DATA 1:512', 'DATA 2:512', 'DATA 3:512', 'DATA 4:0']],
      ['timeout', ['DATA 1:512', 'DATA 2:512', 'DATA 3:512', 'DATA 4:0']],
      ['ack 2', ['DATA 3:512', 'DATA 4:0']],
      ['ack 4', [], { kind: 'sent', retransmits: 1 }],
    ],
  },
  {
    name: 'duplicate ACKs never trigger a retransmission (Sorcerer\'s Apprentice, RFC 1123 §4.2.3.1)',
    params: { size: 3 * 512 + 1 },
    script: [
      ['start', ['DATA 1:512']], ['ack 1', ['DATA 2:512']], ['ack 1', []], ['ack 1', []],
      ['ack 2', ['DATA 3:512']], ['ack 2', []], ['ack 3', ['DATA 4:1']], ['ack 3', []], ['ack 4', [], { kind: 'sent' }],
    ],
  },
  {
    name: 'duplicate ACK with windowsize: still no retransmission until the timeout',
    params: { size: 8 * 512, windowsize: 4 },
    script: [
      ['start', ['DATA 1:512', 'DATA 2:512', 'DATA 3:512', 'DATA 4:512']],
      ['ack 4', ['DATA 5:512', 'DATA 6:512', 'DATA 7:512', 'DATA 8:512']],
      ['ack 4', []],
      ['timeout', ['DATA 5:512', 'DATA 6:512', 'DATA 7:512', 'DATA 8:512']],
    ],
  },
  {
    name: 'ACKs for blocks never sent, or long gone, are ignored',
    params: { size: 5000 },
    script: [['start', ['DATA 1:512']], ['ack 7', []], ['ack 65535', []], ['ack 1', ['DATA 2:512']]],
  },
  {
    name: 'timeout: retransmit, then give up after the retries with ERROR 0',
    params: { size: 5000, retries: 2 },
    script: [
      ['start', ['DATA 1:512']], ['wait 999', []], ['timeout', ['DATA 1:512']], ['timeout', ['DATA 1:512']],
      ['timeout', ['ERROR 0 timed out'], { kind: 'failed', bytes: 0, retransmits: 2, reason: expect.stringContaining('ACK of block 1') }],
    ],
  },
  {
    name: 'progress resets the retry budget',
    params: { size: 5000, retries: 1 },
    script: [
      ['start', ['DATA 1:512']], ['timeout', ['DATA 1:512']], ['ack 1', ['DATA 2:512']], ['timeout', ['DATA 2:512']],
      ['timeout', ['ERROR 0 timed out'], { kind: 'failed', bytes: 512 }],
    ],
  },
  {
    name: 'dally on the last block: its DATA is resent until the final ACK comes',
    params: { size: 600, retries: 3 },
    script: [['start', ['DATA 1:512']], ['ack 1', ['DATA 2:88']], ['timeout', ['DATA 2:88']], ['timeout', ['DATA 2:88']], ['ack 2', [], { kind: 'sent', bytes: 600 }]],
  },
  {
    name: 'final ACK never comes: failed, saying the client may have the file',
    params: { size: 600, retries: 1 },
    script: [
      ['start', ['DATA 1:512']], ['ack 1', ['DATA 2:88']], ['timeout', ['DATA 2:88']],
      ['timeout', ['ERROR 0 timed out'], { kind: 'failed', reason: expect.stringContaining('may have the whole file') }],
    ],
  },
  {
    name: 'a DATA from the client is an illegal operation (ERROR 4)',
    params: { size: 5000 },
    script: [['start', ['DATA 1:512']], ['illegal DATA', ['ERROR 4 illegal TFTP operation'], { kind: 'failed' }], ['ack 1', []]],
  },
  {
    name: 'the server closing aborts with ERROR 0',
    params: { size: 5000 },
    script: [['start', ['DATA 1:512']], ['ack 1', ['DATA 2:512']], ['abort', ['ERROR 0 server shutting down'], { kind: 'failed', bytes: 512 }]],
  },
  {
    name: 'a file that shrank after it was opened fails the transfer',
    params: { size: 5000 },
    fileSize: 4000,
    script: [['start', ['ERROR 0 file changed while being read'], { kind: 'failed', reason: expect.stringContaining('short read') }]],
  },
  {
    name: 'waiting for our own read is not a client timeout',
    params: { size: 1000, retries: 0 },
    manualReads: true,
    script: [['start', []], ['wait 5000', []], ['read', ['DATA 1:512']], ['ack 1', ['DATA 2:488']], ['ack 2', [], { kind: 'sent' }]],
  },
];

describe.each(cases)('$name', (c) => {
  test('sends what the script says, and ends as it says', () => {
    const h = new Harness({ ...base, ...c.params }, file(c.fileSize ?? c.params.size), c.manualReads);
    for (const [event, sent, end] of c.script) {
      expect(h.run(event), `after "${event}"`).toEqual(sent);
      if (end) expect(h.end, `end after "${event}"`).toMatchObject(end);
      if (!end && !h.end) expect(h.session.done, `still running after "${event}"`).toBe(false);
    }
  });
});

describe('block numbers past 65535', () => {
  test('wrap to 0 and the file arrives whole (a 32 MiB file at 512-octet blocks needs this)', () => {
    const blksize = 8;
    const size = 70_000 * blksize + 3; // 70001 blocks: wraps once
    const content = file(size);
    const h = new Harness({ ...base, blksize, size }, content);
    const received: Buffer[] = [];
    const wire: number[] = [];
    let sent = h.run('start');
    while (!h.end) {
      if (sent.length !== 1) throw new Error(`lock-step sends one block per ACK, got ${sent.join(', ')}`);
      const [, block, length] = /^DATA (\d+):(\d+)$/.exec(sent[0]!)!;
      wire.push(Number(block));
      received.push(content.subarray(received.length * blksize, received.length * blksize + Number(length)));
      sent = h.run(`ack ${block}`);
    }
    expect(h.end).toMatchObject({ kind: 'sent', bytes: size });
    expect(wire.slice(65533, 65538)).toEqual([65534, 65535, 0, 1, 2]);
    expect(wire).toHaveLength(70_001);
    expect(Buffer.concat(received).equals(content)).toBe(true); // toEqual walks 560 kB octet by octet
  });

  test('an ACK from before the wrap is not taken for one after it', () => {
    const h = new Harness({ ...base, blksize: 8, size: 8 * 65540 }, file(8 * 65540));
    h.run('start');
    for (let b = 1; b <= 65537; b++) h.run(`ack ${b & 0xffff}`); // acked through wire block 1 (absolute 65537)
    expect(h.run('ack 65535')).toEqual([]); // stale, 2 blocks before: ignored, not a jump forward
    expect(h.run('ack 2')).toEqual(['DATA 3:8']);
  });
});

describe('reads', () => {
  test('whole blocks, at least a window and 64 KiB at a time, kept ahead of the client', () => {
    const size = 1000 * 1468;
    const h = new Harness({ ...base, blksize: 1468, windowsize: 16, size }, file(size));
    h.run('start'); // 16 blocks out; reads of 45 blocks (66060 octets) twice, to stay ahead
    expect(h.reads).toEqual([{ position: 0, length: 45 * 1468 }, { position: 45 * 1468, length: 45 * 1468 }]);
    h.run('ack 16');
    expect(h.reads).toHaveLength(2); // 90 blocks queued: enough for 16 acked + a window + a read
    h.run('ack 32');
    expect(h.reads).toHaveLength(3); // 90 < 32 + 16 + 45
    expect(h.reads[2]).toEqual({ position: 90 * 1468, length: 45 * 1468 });
  });

  test('the last read stops at the end of the file', () => {
    const h = new Harness({ ...base, size: 1000, readSize: 512 }, file(1000));
    h.run('start');
    h.run('ack 1');
    expect(h.reads).toEqual([{ position: 0, length: 512 }, { position: 512, length: 488 }]);
  });
});
