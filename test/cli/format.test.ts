import { expect, test } from 'vitest';
import { formatMachine, formatMachineList } from '../../src/cli/format.js';
import type { Machine, MachineEvent } from '../../src/machines/model.js';
import { sampleMachine } from '../support/fixtures.js';
import { expectGolden } from '../support/golden.js';

const machine: Machine = sampleMachine();
const at = (s: number) => Date.UTC(2026, 10, 22, 5, 0, 0) + s * 1000;
const events: MachineEvent[] = [
  ['dhcp-offer', 0, '10.213.0.100'], ['dhcp-ack', 0.4, '10.213.0.100'], ['ipxe-script', 14.2, 'enlist'],
  ['kernel', 14.3, ''], ['initrd', 15.9, ''], ['rootfs', 31.5, ''], ['enlisted', 38.25, 'abc234 2 cpu, 512 MiB, 1 disk(s)'],
].map(([type, s, detail], i) => ({ id: i + 1, at: at(s as number), mac: machine.bootMac!, machineId: machine.id, type: type as MachineEvent['type'], detail: detail as string }));
// The ipxe-script event carries its wait after the DHCP ACK (src/machines/boot-gap.ts).
events[2] = { ...events[2]!, data: { sinceAckMs: 13_800 } };

test('machines list and show render stable text (golden)', () => {
  expectGolden('testdata/cli/machines-list.txt', `${formatMachineList([machine])}\n`);
  expectGolden('testdata/cli/machines-show.txt', `${formatMachine(machine, events)}\n`);
  expect(formatMachineList([])).toMatch(/PXE-boot one/);
});

test('a relayed machine shows where its relay placed it', () => {
  const relays = [{ mac: machine.bootMac!, giaddr: '10.50.0.1', circuitId: 'rack7/port3', zone: 'rack7', seenAt: at(0) }];
  expectGolden('testdata/cli/machines-show-relayed.txt', `${formatMachine(machine, events.slice(0, 2), relays)}\n`);
});
