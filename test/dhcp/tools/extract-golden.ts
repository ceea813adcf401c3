// Saves BOOTP payloads from a capture as golden packets:
//   npx vite-node test/dhcp/tools/extract-golden.ts CAPTURE.pcap INDEX=NAME [INDEX=NAME ...]
// INDEX counts UDP datagrams from 0 (see `list` below); NAME becomes testdata/dhcp/NAME.bin.
// Afterwards `UPDATE_GOLDEN=1 npx vitest run test/dhcp/golden.test.ts` writes the NAME.txt renderings.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeDhcp, messageTypeName } from '../../../src/dhcp/codec/index.js';
import { udpDatagrams } from '../support/pcap.js';

const [capturePath, ...picks] = process.argv.slice(2);
if (!capturePath) throw new Error('usage: extract-golden.ts CAPTURE.pcap [INDEX=NAME ...]');
const datagrams = udpDatagrams(readFileSync(capturePath));
for (const d of datagrams) {
  let summary: string;
  try {
    const type = decodeDhcp(d.payload).options.messageType;
    summary = type === undefined ? 'BOOTP' : messageTypeName(type);
  } catch (err) {
    summary = `undecodable: ${(err as Error).message}`;
  }
  console.log(`${d.index}\t${d.source}:${d.sourcePort} -> ${d.destination}:${d.destinationPort}\t${d.payload.length}\t${summary}`);
}
for (const pick of picks) {
  const [index, name] = pick.split('=');
  const datagram = datagrams.find((d) => d.index === Number(index));
  if (!datagram || !name) throw new Error(`no datagram ${pick}`);
  const target = join('testdata', 'dhcp', `${name}.bin`);
  writeFileSync(target, datagram.payload);
  console.log(`wrote ${target} (${datagram.payload.length} octets)`);
}
