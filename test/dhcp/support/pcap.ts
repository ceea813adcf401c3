// Just enough of the classic pcap format (LINKTYPE_ETHERNET) to pull UDP payloads out of a capture
// made by testdata/dhcp/capture/capture.sh. Test tooling only.
import { Buffer } from 'node:buffer';

export interface UdpDatagram {
  readonly index: number;
  readonly timeMicros: number;
  readonly source: string;
  readonly sourcePort: number;
  readonly destination: string;
  readonly destinationPort: number;
  readonly payload: Buffer;
}

const PCAP_MAGIC_MICROS = 0xa1b2c3d4;
const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_UDP = 17;

export function udpDatagrams(capture: Buffer): UdpDatagram[] {
  const little = capture.readUInt32LE(0) === PCAP_MAGIC_MICROS;
  if (!little && capture.readUInt32BE(0) !== PCAP_MAGIC_MICROS) throw new Error('not a microsecond pcap file');
  const u32 = (at: number) => (little ? capture.readUInt32LE(at) : capture.readUInt32BE(at));
  if (u32(20) !== LINKTYPE_ETHERNET) throw new Error('pcap link type is not Ethernet');
  const datagrams: UdpDatagram[] = [];
  for (let at = 24, index = 0; at + 16 <= capture.length; index++) {
    const capturedLength = u32(at + 8);
    const frame = capture.subarray(at + 16, at + 16 + capturedLength);
    const timeMicros = u32(at) * 1_000_000 + u32(at + 4);
    at += 16 + capturedLength;
    if (frame.length < 14 || frame.readUInt16BE(12) !== ETHERTYPE_IPV4) continue;
    const ip = frame.subarray(14);
    const headerLength = (ip[0]! & 0x0f) * 4;
    if (ip[9] !== IPPROTO_UDP) continue;
    const udp = ip.subarray(headerLength);
    const udpLength = udp.readUInt16BE(4);
    datagrams.push({
      index,
      timeMicros,
      source: [...ip.subarray(12, 16)].join('.'),
      destination: [...ip.subarray(16, 20)].join('.'),
      sourcePort: udp.readUInt16BE(0),
      destinationPort: udp.readUInt16BE(2),
      payload: Buffer.from(udp.subarray(8, udpLength)),
    });
  }
  return datagrams;
}
