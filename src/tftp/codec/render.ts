// A stable, human-readable text rendering of a packet: one line per field and option, in wire
// order. Golden tests compare it with testdata/tftp/*.txt (STYLE.md §10), so the format only changes
// on purpose. DATA payloads are summarised (length and first octets), not dumped.
import { ErrorCode, Opcode, opcodeName, type TftpPacket } from './packet.js';

const errorNames = new Map<number, string>(Object.entries(ErrorCode).map(([name, code]) => [code, name]));

export function renderPacket(packet: TftpPacket): string {
  const lines = [`opcode   ${opcodeName(packet.opcode)} (${packet.opcode})`];
  switch (packet.opcode) {
    case Opcode.rrq:
    case Opcode.wrq:
      lines.push(`filename ${JSON.stringify(packet.filename)}`, `mode     ${JSON.stringify(packet.mode)}`);
      break;
    case Opcode.data: {
      const head = packet.data.subarray(0, 16).toString('hex').replace(/(..)(?!$)/g, '$1 ');
      lines.push(`block    ${packet.block}`, `data     ${packet.data.length} octets${head ? `: ${head}${packet.data.length > 16 ? ' ...' : ''}` : ''}`);
      break;
    }
    case Opcode.ack:
      lines.push(`block    ${packet.block}`);
      break;
    case Opcode.error:
      lines.push(`code     ${packet.code} (${errorNames.get(packet.code) ?? 'unknown'})`, `message  ${JSON.stringify(packet.message)}`);
      break;
    case Opcode.oack:
      break;
  }
  if (packet.opcode !== Opcode.data && packet.opcode !== Opcode.ack && packet.opcode !== Opcode.error) {
    for (const o of packet.options) lines.push(`option   ${JSON.stringify(o.name)} = ${JSON.stringify(o.value)}`);
  }
  return `${lines.join('\n')}\n`;
}
