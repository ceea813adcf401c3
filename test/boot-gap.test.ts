// The helper the QEMU e2e tests use to assert iPXE's DHCP ACK -> script gap (test/qemu/boot-gap.ts):
// checked here on made-up timelines, since the e2e tests run separately.
import { expect, test } from 'vitest';
import type { MachineEvent } from '../src/machines/model.js';
import { ackToScriptMs } from './qemu/boot-gap.js';

const event = (type: string, at: number, id = at): MachineEvent => ({ id, at, mac: '52:54:00:00:00:01', machineId: null, type: type as MachineEvent['type'], detail: '' });

test('from the last dhcp-ack before the first ipxe-script (firmware PXE, then iPXE\'s own DHCP)', () => {
  const events = [
    event('dhcp-ack', 1000), event('tftp-sent', 2000), event('dhcp-ack', 5000),
    event('ipxe-script', 6200), event('dhcp-ack', 9000), event('ipxe-script', 30_000),
  ];
  expect(ackToScriptMs(events)).toBe(1200);
});

test('a timeline without the pair is an error, not a pass', () => {
  expect(() => ackToScriptMs([event('dhcp-ack', 1)])).toThrow(/no ipxe-script/);
  expect(() => ackToScriptMs([event('ipxe-script', 1)])).toThrow(/no dhcp-ack/);
});
