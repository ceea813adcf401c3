// A stable, human-readable text rendering of a packet: one line per field and option, options by
// code. Golden tests compare it with testdata/dhcp/*.txt (STYLE.md §10), so the format only changes
// on purpose. Values are shown as decoded, octets as hex: the rendering never interprets (e.g. it
// does not reorder the UUID octets of option 97; classify.ts does).
import { formatHex, formatHexColons } from './hex.js';
import { optionByName, type DhcpOptions } from './option-table.js';
import type { EncapsulatedOptions, KindValues, OptionKind, RelayAgentInformation } from './option-values.js';
import { BootOp, BROADCAST_FLAG, messageTypeName, type DhcpPacket } from './packet.js';

const MESSAGE_TYPE_CODE = 53;

export function renderPacket(packet: DhcpPacket): string {
  const lines = [
    `op      ${packet.op === BootOp.request ? 'BOOTREQUEST' : 'BOOTREPLY'} (${packet.op})`,
    `htype   ${packet.htype}`,
    `hops    ${packet.hops}`,
    `xid     0x${packet.xid.toString(16).padStart(8, '0')}`,
    `secs    ${packet.secs}`,
    `flags   0x${packet.flags.toString(16).padStart(4, '0')}${packet.flags & BROADCAST_FLAG ? ' broadcast' : ''}`,
    `ciaddr  ${packet.ciaddr}`,
    `yiaddr  ${packet.yiaddr}`,
    `siaddr  ${packet.siaddr}`,
    `giaddr  ${packet.giaddr}`,
    `chaddr  ${formatHexColons(packet.chaddr)}`,
    `sname   ${JSON.stringify(packet.sname)}`,
    `file    ${JSON.stringify(packet.file)}`,
    ...renderOptions(packet.options),
  ];
  return `${lines.join('\n')}\n`;
}

function renderOptions(options: DhcpOptions): string[] {
  const rendered: { code: number; line: string }[] = [];
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (name === 'unknown') {
      for (const [code, data] of value as ReadonlyMap<number, Uint8Array>) {
        rendered.push({ code, line: optionLine(code, '(unknown)', formatHex(data)) });
      }
      continue;
    }
    const entry = optionByName.get(name);
    if (!entry) continue;
    const text = entry.code === MESSAGE_TYPE_CODE
      ? `${messageTypeName(value as number)} (${String(value)})`
      : renderValue(entry.kind, value as KindValues[OptionKind]);
    rendered.push({ code: entry.code, line: optionLine(entry.code, entry.name, text) });
  }
  return rendered.sort((a, b) => a.code - b.code).map((r) => r.line);
}

function optionLine(code: number, name: string, text: string): string {
  return `option ${String(code).padStart(3)} ${name.padEnd(24)} ${text}`;
}

function renderValue(kind: OptionKind, value: KindValues[OptionKind]): string {
  switch (kind) {
    case 'ip':
    case 'u8':
    case 'u16':
    case 'u32':
      return String(value);
    case 'ips':
    case 'u8-list':
    case 'arch-list':
      return (value as readonly (string | number)[]).join(', ');
    case 'string':
      return JSON.stringify(value);
    case 'bytes':
      return formatHex(value as Uint8Array);
    case 'client-id': {
      const { type, id } = value as KindValues['client-id'];
      return `type ${type} id ${formatHexColons(id)}`;
    }
    case 'uuid': {
      const { type, guid } = value as KindValues['uuid'];
      return `type ${type} octets ${formatHex(guid)}`;
    }
    case 'user-class': {
      const userClass = value as KindValues['user-class'];
      return userClass.format === 'raw'
        ? `raw ${JSON.stringify(userClass.data)}`
        : `rfc3004 ${userClass.classes.map((c) => JSON.stringify(c)).join(', ')}`;
    }
    case 'encapsulated':
      return renderEncapsulated(value as EncapsulatedOptions);
    case 'relay-agent':
      return renderRelayAgent(value as RelayAgentInformation);
  }
}

function renderEncapsulated(value: EncapsulatedOptions): string {
  if (value instanceof Uint8Array) return `opaque ${formatHex(value)}`;
  return [...value].sort(([a], [b]) => a - b).map(([code, data]) => `${code}=[${formatHex(data)}]`).join(' ');
}

function renderRelayAgent(value: RelayAgentInformation): string {
  const parts: string[] = [];
  if (value.circuitId) parts.push(`circuit-id=[${formatHex(value.circuitId)}]`);
  if (value.remoteId) parts.push(`remote-id=[${formatHex(value.remoteId)}]`);
  for (const [code, data] of value.other ?? []) parts.push(`${code}=[${formatHex(data)}]`);
  return parts.join(' ');
}
