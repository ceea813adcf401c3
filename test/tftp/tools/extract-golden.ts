// Lists the TFTP datagrams of a capture and saves chosen ones as golden packets:
//   npx vite-node test/tftp/tools/extract-golden.ts CAPTURE.pcap [INDEX=NAME ...]
// INDEX counts UDP datagrams from 0 (as listed); NAME becomes testdata/tftp/NAME.bin. Afterwards
// `UPDATE_GOLDEN=1 npx vitest run test/tftp/golden.test.ts` writes the NAME.txt renderings.
// DATA and ACK in the middle of a transfer are summarised as one line per run.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTftp, opcodeName, renderPacket, type TftpPacket } from '../../../src/tftp/codec/index.js';
import { udpDatagrams } from '../../dhcp/support/pcap.js';

const [capturePath, ...picks] = process.argv.slice(2).filter((a) => a !== '--');
if (!capturePath) throw new Error('usage: extract-golden.ts CAPTURE.pcap [INDEX=NAME ...]');
const datagrams = udpDatagrams(readFileSync(capturePath));
let skipped = 0;
for (const d of datagrams) {
  let packet: TftpPacket | null = null;
  let summary: string;
  try {
    packet = decodeTftp(d.payload);
    summary = renderPacket(packet).trim().split('\n').map((l) => l.replace(/\s+/g, ' ')).join(', ');
  } catch (err) {
    summary = `undecodable: ${(err as Error).message}`;
  }
  if (packet && (packet.opcode === 3 || packet.opcode === 4) && packet.block > 2 && (packet.opcode !== 3 || packet.data.length > 0)) {
    const next = datagrams[d.index + 1];
    const last = !next || next.sourcePort !== d.sourcePort && next.destinationPort !== d.sourcePort;
    if (!last) {
      skipped++;
      continue;
    }
  }
  if (skipped > 0) console.log(`\t... ${skipped} DATA/ACK datagrams`);
  skipped = 0;
  console.log(`${d.index}\t${d.source}:${d.sourcePort} -> ${d.destination}:${d.destinationPort}\t${d.payload.length}\t${packet ? opcodeName(packet.opcode) : ''}\t${summary}`);
}
for (const pick of picks) {
  const [index, name] = pick.split('=');
  const datagram = datagrams.find((d) => d.index === Number(index));
  if (!datagram || !name) throw new Error(`no datagram ${pick}`);
  const target = join('testdata', 'tftp', `${name}.bin`);
  writeFileSync(target, datagram.payload);
  console.log(`wrote ${target} (${datagram.payload.length} octets)`);
}
