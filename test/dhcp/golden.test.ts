// Golden packets captured from real firmware and from our own server talking to it
// (testdata/dhcp/capture/capture.sh; STYLE.md §10). Each NAME.bin is a BOOTP payload; NAME.txt is
// its renderPacket text. `UPDATE_GOLDEN=1 npx vitest run test/dhcp/golden.test.ts` rewrites the .txt.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { BootOp, decodeDhcp, encodeDhcp, renderPacket } from '../../src/dhcp/codec/index.js';

const goldenDir = join(import.meta.dirname, '../../testdata/dhcp');
const names = readdirSync(goldenDir).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4)).sort();
const update = process.env.UPDATE_GOLDEN === '1';

test('there are golden packets', () => {
  expect(names).toContain('ipxe-bios-discover');
});

describe.each(names)('%s', (name) => {
  const bytes = readFileSync(join(goldenDir, `${name}.bin`));
  const packet = decodeDhcp(bytes);
  const textPath = join(goldenDir, `${name}.txt`);

  test('renders as the committed text', () => {
    const rendered = renderPacket(packet);
    if (update) writeFileSync(textPath, rendered);
    expect(existsSync(textPath), `${name}.txt is missing: run with UPDATE_GOLDEN=1`).toBe(true);
    expect(rendered).toBe(readFileSync(textPath, 'utf8'));
  });

  test('survives encode and decode', () => {
    expect(decodeDhcp(encodeDhcp(packet))).toEqual(packet);
  });

  // Our encoder wrote the replies, so re-encoding them must give the same octets; client packets
  // order their options differently (iPXE puts 57 before 93 ... and 61 last), so only their values match.
  if (packet.op === BootOp.reply) {
    test('re-encodes to the same octets', () => {
      expect(encodeDhcp(packet)).toEqual(bytes);
    });
  }
});
