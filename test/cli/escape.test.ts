// Probe F7: what the CLI prints from the server carries no terminal controls. The probe's strings,
// stored as an older version would have taken them, through every renderer `machines list`, `show`,
// `watch`, `results` and the catalogues use, and through --json.
import { describe, expect, test } from 'vitest';
import { escapeLines, escapeText, safeJson } from '../../src/cli/escape.js';
import { formatEvent, formatMachine, formatMachineList, formatRows, formatRuns } from '../../src/cli/format.js';
import type { MachineEvent } from '../../src/machines/model.js';
import { sampleInventory, sampleMachine } from '../support/fixtures.js';

const probe = {
  arch: 'x86\u0000\u001b[31mRED\u001b[0m',
  kernel: '\u202eevil\r\nINJECT',
  cpuModel: '\u0007bell',
  vendor: '\u001b]0;title\u0007',
};
/** C0 but LF and TAB, DEL, C1, the bidi marks, embeddings, overrides and isolates. */
// eslint-disable-next-line no-control-regex -- written out here, not taken from src, so the test checks the class too
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

const inventory = sampleInventory({
  arch: probe.arch, kernel: probe.kernel, cpu: { count: 2, model: probe.cpuModel },
  dmi: { ...sampleInventory().dmi, vendor: probe.vendor },
  disks: [{ name: 'vda\u009b2J', sizeBytes: 2 ** 30, model: 'm\u2066x', serial: 's\u200fx', rotational: false }],
});
const machine = sampleMachine({
  arch: probe.arch, inventory, hostname: 'nb-\u001b[8m', statusMessage: 'script 30 exited 1: \u001b]52;c;ZXZpbA==\u0007',
  notes: 'line one\nline two\r\u001b[1A', tags: ['t\u202e'],
});
const event: MachineEvent = { id: 1, at: 0, mac: machine.bootMac!, machineId: machine.id, type: 'cloud-init', detail: 'init-local finish FAIL: \u202eevil\r\nINJECT' };

describe('escapes', () => {
  test.each([
    ['x86\u0000\u001b[31mRED', 'x86\\x00\\x1b[31mRED'],
    ['\u202eevil\r\nINJECT', '\\u202eevil\\x0d\\x0aINJECT'],
    ['\u001b]0;title\u0007', '\\x1b]0;title\\x07'],
    ['a\tb\u007f\u0085\u009b\u200e\u2069', 'a\\x09b\\x7f\\x85\\x9b\\u200e\\u2069'],
    ['Intel® Xeon® — 漢字 😀', 'Intel® Xeon® — 漢字 😀'],
  ])('escapeText(%j) = %j', (raw, shown) => {
    expect(escapeText(raw)).toBe(shown);
  });

  test('escapeLines keeps LF and TAB, escapes CR and the rest', () => {
    expect(escapeLines('a\tb\r\nc\u001b[2J\n')).toBe('a\tb\\x0d\nc\\x1b[2J\n');
  });

  test('safeJson is the same JSON value, with no raw control left', () => {
    const value = { ...probe, text: 'a\u0085\u007f\u202e\u2066b', plain: 'ü' };
    const text = safeJson(value);
    expect(text).not.toMatch(CONTROL);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toContain('\\u202e');
  });
});

describe('renderers print no terminal controls', () => {
  test('machines list', () => {
    const text = formatMachineList([machine]);
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain('x86\\x00\\x1b[31mRED\\x1b[0m');
  });

  test('machines show: no line is faked by CR/LF, the notes keep their own lines', () => {
    const text = formatMachine(machine, [event]);
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain('kernel     \\u202eevil\\x0d\\x0aINJECT');
    expect(text).toContain('\\x1b]0;title\\x07');
    expect(text).toContain('\\x1b]52;c;ZXZpbA==\\x07');
    expect(text.split('\n').filter((l) => l.startsWith('INJECT'))).toEqual([]);
    expect(text).toContain('notes      line one\n             line two\\x0d\\x1b[1A');
  });

  test('machines watch: one event, one line', () => {
    const line = formatEvent(event, 0);
    expect(line).not.toMatch(CONTROL);
    expect(line.split('\n')).toHaveLength(1);
  });

  test('machines results: script output keeps its lines, loses its controls', () => {
    const text = formatRuns([{
      id: 1, phase: 'commissioning', status: 'failed', startedAt: 0, scripts: ['30-x'],
      results: [{ name: '30-x', exitCode: 1, timedOut: false, durationMs: 5, stdout: 'ok\n', stderr: 'bad\u001b[31m\r\nnext\tcol\n' }],
    }]);
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain('    bad\\x1b[31m\\x0d\n    next\tcol');
  });

  test('catalogue rows', () => {
    const text = formatRows([{ name: 'a', description: '\u001b]0;x\u0007', tags: ['\u202ey'] }], ['name', 'description', 'tags']);
    expect(text).not.toMatch(CONTROL);
    expect(text).toContain('\\x1b]0;x\\x07');
  });
});
