import { Buffer } from 'node:buffer';
import { describe, expect, test } from 'vitest';
import {
  BootOp, decodeDhcp, DecodeError, encodeDhcp, EncodeError, Layout, MAGIC_COOKIE, MessageType,
  type DhcpOptions, type DhcpPacket,
} from '../../src/dhcp/codec/index.js';
import { clientPacket } from './fakes.js';

const mac = '52:54:00:12:34:56';

/** A message with header + cookie and these raw option bytes (no end option added). */
function rawMessage(options: number[], patch: (bytes: Buffer) => void = () => {}): Buffer {
  const bytes = Buffer.alloc(Layout.options + options.length);
  bytes[Layout.op] = 1;
  bytes[Layout.htype] = 1;
  bytes[Layout.hlen] = 6;
  bytes.writeUInt32BE(MAGIC_COOKIE, Layout.magicCookie);
  Buffer.from(options).copy(bytes, Layout.options);
  patch(bytes);
  return bytes;
}

/** Decoding keeps option 82's received octets (`raw`) for the echo; the round trips compare the rest. */
function withoutRelayRaw(packet: DhcpPacket): DhcpPacket {
  const agent = packet.options.relayAgentInformation;
  if (!agent) return packet;
  const { raw: _raw, ...rest } = agent;
  return { ...packet, options: { ...packet.options, relayAgentInformation: rest } };
}

test('option 82 is re-encoded exactly as received, sub-option order included (RFC 3046 §2.2)', () => {
  // remote id (2) before circuit id (1): a re-encoding from the parsed fields would swap them.
  const option82 = Buffer.from([82, 9, 2, 3, 0xaa, 0xbb, 0xcc, 1, 2, 0x47, 0x31]);
  const bytes = Buffer.from(encodeDhcp(clientPacket('52:54:00:12:34:56', { messageType: MessageType.discover })));
  const end = bytes.indexOf(255, 240);
  const withAgent = Buffer.concat([bytes.subarray(0, end), option82, bytes.subarray(end)]);
  const decoded = decodeDhcp(withAgent);
  expect(decoded.options.relayAgentInformation?.circuitId).toEqual(Buffer.from('G1'));
  const echoed = encodeDhcp({ ...decoded, options: { messageType: MessageType.offer, relayAgentInformation: decoded.options.relayAgentInformation! } });
  expect(Buffer.from(echoed).includes(option82)).toBe(true);
});

describe('round trips', () => {
  const everyKind: DhcpOptions = {
    messageType: MessageType.ack,
    subnetMask: '255.255.255.0',
    routers: ['10.0.0.1', '10.0.0.2'],
    dnsServers: ['10.0.0.53'],
    hostName: 'node-1',
    interfaceMtu: 1500,
    leaseTime: 3600,
    serverId: '10.0.0.1',
    parameterRequestList: [1, 3, 6, 15, 67],
    vendorClassId: 'PXEClient:Arch:00000:UNDI:002001',
    clientId: { type: 1, id: Buffer.from('525400123456', 'hex') },
    bootFileName: 'http://10.0.0.1/boot/52:54:00:12:34:56.ipxe',
    userClass: { format: 'rfc3004', classes: ['alpha', 'beta'] },
    relayAgentInformation: {
      circuitId: Buffer.from('eth0'), remoteId: Buffer.from([1, 2, 3]), other: new Map([[9, Buffer.from([7])]]),
    },
    clientArchitectures: [7, 9],
    clientNetworkInterface: Buffer.from([1, 3, 16]),
    clientMachineId: { type: 0, guid: Buffer.alloc(16, 0xab) },
    vendorSpecific: new Map([[6, Buffer.from([8])]]),
    ipxeEncapsulated: new Map([[176, Buffer.from([1])], [177, Buffer.from([1, 0x80, 0x86, 0x10, 0x0e])]]),
    unknown: new Map([[224, Buffer.from('private')]]),
  };

  const cases: { name: string; packet: DhcpPacket }[] = [
    { name: 'minimal discover', packet: clientPacket(mac, { messageType: MessageType.discover }) },
    { name: 'every option kind', packet: clientPacket(mac, everyKind, { op: BootOp.reply, flags: 0x8000 }) },
    {
      name: 'header fields',
      packet: clientPacket(mac, { messageType: MessageType.request }, {
        hops: 3, xid: 0xffffffff, secs: 65535, ciaddr: '10.1.2.3', yiaddr: '10.1.2.4',
        siaddr: '10.1.2.5', giaddr: '10.1.2.6', sname: 'boot-server', file: 'undionly.kpxe',
      }),
    },
    { name: 'raw iPXE user class', packet: clientPacket(mac, { userClass: { format: 'raw', data: 'iPXE' } }) },
    { name: 'opaque vendor data', packet: clientPacket(mac, { vendorSpecific: Buffer.from([1, 9]) }) },
    { name: 'no hardware address', packet: clientPacket(mac, {}, { htype: 32, chaddr: Buffer.alloc(0) }) },
  ];

  test.each(cases)('$name', ({ packet }) => {
    expect(withoutRelayRaw(decodeDhcp(encodeDhcp(packet)))).toEqual(packet);
  });
});

describe('encoding', () => {
  test('pads to the 300-octet BOOTP minimum (RFC 1542 §2.1) after option 255', () => {
    const bytes = encodeDhcp(clientPacket(mac, { messageType: MessageType.discover }));
    expect(bytes.length).toBe(300);
    expect([...bytes.subarray(Layout.options, Layout.options + 4)]).toEqual([53, 1, 1, 255]);
    expect(bytes.subarray(Layout.options + 4).every((octet) => octet === 0)).toBe(true);
  });

  test('puts option 53 first and option 82 last', () => {
    const bytes = encodeDhcp(clientPacket(mac, {
      relayAgentInformation: { circuitId: Buffer.from([1]) }, subnetMask: '255.0.0.0', messageType: MessageType.offer,
    }));
    const codes: number[] = [];
    for (let at = Layout.options; bytes[at] !== 255; at += 2 + bytes[at + 1]!) codes.push(bytes[at]!);
    expect(codes).toEqual([53, 1, 82]);
  });

  test('splits an option longer than 255 octets into consecutive instances (RFC 3396 §6)', () => {
    const url = `http://10.0.0.1/${'a'.repeat(300)}`;
    const bytes = encodeDhcp(clientPacket(mac, { bootFileName: url }));
    expect(bytes[Layout.options]).toBe(67);
    expect(bytes[Layout.options + 1]).toBe(255);
    expect(bytes[Layout.options + 2 + 255]).toBe(67);
    expect(bytes[Layout.options + 2 + 255 + 1]).toBe(url.length - 255);
    expect(decodeDhcp(bytes).options.bootFileName).toBe(url);
  });

  test('the file field holds 127 characters and a NUL', () => {
    const name = 'f'.repeat(127);
    expect(decodeDhcp(encodeDhcp(clientPacket(mac, {}, { file: name }))).file).toBe(name);
    expect(() => encodeDhcp(clientPacket(mac, {}, { file: `${name}x` }))).toThrow(EncodeError);
  });

  const invalid: { name: string; packet: DhcpPacket; field: string }[] = [
    { name: 'bad address', packet: clientPacket(mac, {}, { ciaddr: '10.0.0.256' }), field: 'ciaddr' },
    { name: 'xid too big', packet: clientPacket(mac, {}, { xid: 2 ** 32 }), field: 'xid' },
    { name: 'chaddr too long', packet: clientPacket(mac, {}, { chaddr: Buffer.alloc(17) }), field: 'chaddr' },
    { name: 'u8 out of range', packet: clientPacket(mac, { messageType: 256 }), field: 'option 53' },
    { name: 'non-latin1 string', packet: clientPacket(mac, { hostName: 'π-node' }), field: 'option 12' },
    { name: 'empty address list', packet: clientPacket(mac, { routers: [] }), field: 'option 3' },
    {
      name: 'table option as unknown',
      packet: clientPacket(mac, { unknown: new Map([[53, Buffer.from([1])]]) }),
      field: 'option 53',
    },
  ];
  test.each(invalid)('refuses $name with EncodeError($field)', ({ packet, field }) => {
    expect(() => encodeDhcp(packet)).toThrow(expect.objectContaining({ name: 'EncodeError', field }));
  });
});

describe('decoding', () => {
  test('concatenates repeated options (RFC 3396 §7)', () => {
    const bytes = rawMessage([12, 3, ...Buffer.from('abc'), 6, 4, 10, 0, 0, 1, 12, 2, ...Buffer.from('de'), 255]);
    expect(decodeDhcp(bytes).options).toEqual({ hostName: 'abcde', dnsServers: ['10.0.0.1'] });
  });

  test('reads options from file and sname under option 52, options field first (RFC 3396 §5)', () => {
    const bytes = rawMessage([52, 1, 3, 12, 2, ...Buffer.from('ab'), 255], (b) => {
      Buffer.from([12, 2, ...Buffer.from('cd'), 67, 3, ...Buffer.from('x.y'), 255]).copy(b, Layout.file);
      Buffer.from([12, 1, ...Buffer.from('e'), 52, 1, 1, 255]).copy(b, Layout.sname);
    });
    const packet = decodeDhcp(bytes);
    expect(packet.options).toEqual({ hostName: 'abcde', bootFileName: 'x.y' });
    expect(packet.file).toBe('');
    expect(packet.sname).toBe('');
  });

  test('keeps file and sname as strings without option 52', () => {
    const bytes = rawMessage([255], (b) => {
      b.write('undionly.kpxe', Layout.file, 'latin1');
      b.write('server', Layout.sname, 'latin1');
    });
    expect(decodeDhcp(bytes)).toMatchObject({ file: 'undionly.kpxe', sname: 'server' });
  });

  test('tolerates a missing end option after whole options, ignores what follows option 255', () => {
    expect(decodeDhcp(rawMessage([53, 1, 1])).options).toEqual({ messageType: 1 });
    expect(decodeDhcp(rawMessage([53, 1, 1, 255, 99, 99])).options).toEqual({ messageType: 1 });
  });

  test('decodes iPXE\'s bare "iPXE" user class as raw, RFC 3004 lists as classes', () => {
    expect(decodeDhcp(rawMessage([77, 4, ...Buffer.from('iPXE')])).options.userClass)
      .toEqual({ format: 'raw', data: 'iPXE' });
    expect(decodeDhcp(rawMessage([77, 5, 4, ...Buffer.from('iPXE')])).options.userClass)
      .toEqual({ format: 'rfc3004', classes: ['iPXE'] });
  });

  const malformed: { name: string; bytes: Buffer; field: string; offset: number }[] = [
    { name: 'too short for BOOTP', bytes: Buffer.alloc(100), field: 'header', offset: 100 },
    { name: 'op 3', bytes: rawMessage([], (b) => { b[0] = 3; }), field: 'op', offset: 0 },
    { name: 'hlen 17', bytes: rawMessage([], (b) => { b[2] = 17; }), field: 'hlen', offset: 2 },
    { name: 'no magic cookie', bytes: rawMessage([]).subarray(0, 238), field: 'magicCookie', offset: 236 },
    { name: 'wrong magic cookie', bytes: rawMessage([], (b) => { b[236] = 0; }), field: 'magicCookie', offset: 236 },
    { name: 'option without length', bytes: rawMessage([53]), field: 'option 53', offset: 240 },
    { name: 'option past the end', bytes: rawMessage([53, 1, 1, 12, 9, 1]), field: 'option 12', offset: 243 },
    { name: 'message type of 2 octets', bytes: rawMessage([53, 2, 1, 1]), field: 'option 53', offset: 240 },
    { name: 'address of 3 octets', bytes: rawMessage([54, 3, 1, 2, 3]), field: 'option 54', offset: 240 },
    { name: 'odd arch list', bytes: rawMessage([93, 3, 0, 0, 7]), field: 'option 93', offset: 240 },
    { name: 'short UUID', bytes: rawMessage([97, 2, 0, 1]), field: 'option 97', offset: 240 },
    { name: 'overload 4', bytes: rawMessage([52, 1, 4]), field: 'option 52', offset: 240 },
    { name: 'malformed relay agent info', bytes: rawMessage([82, 2, 1, 5]), field: 'option 82', offset: 240 },
    {
      name: 'overloaded file with a truncated option',
      bytes: rawMessage([52, 1, 1, 255], (b) => { b[Layout.file + 126] = 12; b[Layout.file + 127] = 5; }),
      field: 'option 12',
      offset: Layout.file + 126,
    },
  ];
  test.each(malformed)('rejects $name with DecodeError($field @ $offset)', ({ bytes, field, offset }) => {
    let caught: unknown;
    try {
      decodeDhcp(bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(DecodeError);
    expect(caught).toMatchObject({ field, offset });
  });
});
