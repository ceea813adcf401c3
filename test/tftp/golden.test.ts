// Golden packets captured from real firmware and from our own server talking to it
// (testdata/tftp/capture/capture.sh; STYLE.md §10). Each NAME.bin is a UDP payload; NAME.txt is its
// renderPacket text. `UPDATE_GOLDEN=1 npx vitest run test/tftp/golden.test.ts` rewrites the .txt.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeTftp, encodeTftp, Opcode, renderPacket, type RequestPacket } from '../../src/tftp/codec/index.js';
import { checkRequest, defaultLimits, negotiate } from '../../src/tftp/negotiate.js';

const goldenDir = join(import.meta.dirname, '../../testdata/tftp');
const names = readdirSync(goldenDir).filter((f) => f.endsWith('.bin')).map((f) => f.slice(0, -4)).sort();
const update = process.env.UPDATE_GOLDEN === '1';
const read = (name: string) => readFileSync(join(goldenDir, `${name}.bin`));

/** Size of Debian's snponly.efi (ipxe 1.0.0+git-20190125.36a4c85-5.1), the file served in the capture. */
const capturedFileSize = 173_792;

test('there are golden packets from OVMF and iPXE', () => {
  expect(names).toEqual(expect.arrayContaining(['ovmf-rrq-tsize-probe', 'ovmf-error-abort-probe', 'ipxe-efi-rrq']));
});

describe.each(names)('%s', (name) => {
  const bytes = read(name);
  const packet = decodeTftp(bytes);
  const textPath = join(goldenDir, `${name}.txt`);

  test('renders as the committed text', () => {
    const rendered = renderPacket(packet);
    if (update) writeFileSync(textPath, rendered);
    expect(existsSync(textPath), `${name}.txt is missing: run with UPDATE_GOLDEN=1`).toBe(true);
    expect(rendered).toBe(readFileSync(textPath, 'utf8'));
  });

  // TFTP has one spelling for each packet (no option order freedom inside a packet), so every
  // captured packet, the firmware's too, re-encodes to the same octets.
  test('re-encodes to the same octets', () => {
    expect(encodeTftp(packet)).toEqual(bytes);
  });
});

// The policy still answers each captured request with the captured reply, octet for octet.
describe.each([
  { request: 'ovmf-rrq-tsize-probe', reply: 'netboot-oack-tsize-probe' },
  { request: 'ovmf-rrq', reply: 'netboot-oack-ovmf' },
  { request: 'ipxe-efi-rrq', reply: 'netboot-oack-ipxe-efi' },
])('$request is answered with $reply', ({ request, reply }) => {
  test('same OACK', () => {
    const rrq = decodeTftp(read(request)) as RequestPacket;
    expect(rrq.opcode).toBe(Opcode.rrq);
    expect(checkRequest(rrq)).toEqual({ kind: 'accept' });
    const { oack } = negotiate(rrq.options, capturedFileSize, defaultLimits);
    expect(oack).not.toBeNull();
    expect(encodeTftp({ opcode: Opcode.oack, options: oack! })).toEqual(read(reply));
  });
});
