// Allocation by constraints (src/machines/allocation.ts): which Ready machine, or which constraint
// nothing met. Table-driven over a small rack.
import { describe, expect, test } from 'vitest';
import { chooseMachine, type AllocationConstraints } from '../../src/machines/allocation.js';
import type { Machine } from '../../src/machines/model.js';
import { sampleInventory, sampleMachine } from '../support/fixtures.js';

const gib = 2 ** 30;
const machine = (id: string, cpu: number, memoryGiB: number, diskGiB: number, extra: Partial<Machine> = {}): Machine => sampleMachine({
  id, hostname: `host-${id}`, state: 'Ready', createdAt: id.charCodeAt(0),
  inventory: sampleInventory({
    cpu: { count: cpu, model: 'x' }, memoryBytes: memoryGiB * gib,
    disks: [{ name: 'vda', sizeBytes: diskGiB * gib, model: '', serial: '', rotational: false }],
  }),
  ...extra,
});
const rack = [
  machine('a', 2, 1, 8),
  machine('b', 8, 16, 100, { tags: ['gpu'], zone: 'rack7' }),
  machine('c', 4, 4, 20, { pool: 'ci' }),
  machine('d', 32, 64, 500, { locked: true }),
  machine('e', 16, 32, 200, { state: 'Deployed' }),
];

describe('chooseMachine', () => {
  test.each<{ name: string; c: AllocationConstraints; want: string }>([
    { name: 'nothing asked: the smallest Ready machine', c: {}, want: 'a' },
    { name: 'the smallest that has enough CPUs', c: { cpu: 3 }, want: 'c' },
    { name: 'memory in MiB', c: { memoryMiB: 8 * 1024 }, want: 'b' },
    { name: 'a disk big enough for the image', c: { diskGiB: 50 }, want: 'b' },
    { name: 'a tag', c: { tags: ['gpu'] }, want: 'b' },
    { name: 'zone and pool', c: { pool: 'ci' }, want: 'c' },
    { name: 'every constraint at once', c: { cpu: 2, memoryMiB: 1024, diskGiB: 8, zone: 'rack7', tags: ['gpu'], arch: 'x86_64' }, want: 'b' },
  ])('$name', ({ c, want }) => {
    const choice = chooseMachine(rack, c);
    expect(choice.ok && choice.machine.id).toBe(want);
  });

  test.each<{ name: string; c: AllocationConstraints; reason: string }>([
    { name: 'locked and deployed machines are not available', c: { cpu: 17 }, reason: 'none of the 3 available machines has at least 17 CPUs' },
    { name: 'the first constraint that leaves nothing is named', c: { zone: 'rack7', cpu: 16 }, reason: 'none of the 1 available machines has at least 16 CPUs' },
    { name: 'an unknown tag', c: { tags: ['fpga'] }, reason: 'none of the 3 available machines has tag fpga' },
    { name: 'another arch', c: { arch: 'aarch64' }, reason: 'none of the 3 available machines has arch aarch64' },
  ])('$name', ({ c, reason }) => {
    expect(chooseMachine(rack, c)).toEqual({ ok: false, reason });
  });

  test('nothing Ready, or only locked ones: said so', () => {
    expect(chooseMachine([rack[4]!], {})).toEqual({ ok: false, reason: 'no machine is Ready (commission one first)' });
    expect(chooseMachine([rack[3]!], {})).toEqual({ ok: false, reason: 'all 1 Ready machines are locked' });
  });

  test('a named machine must be Ready, unlocked, and meet the constraints', () => {
    expect(chooseMachine([], { cpu: 4 }, rack[1])).toMatchObject({ ok: true, machine: { id: 'b' } });
    expect(chooseMachine([], { cpu: 64 }, rack[1])).toEqual({ ok: false, reason: 'machine b does not have at least 64 CPUs' });
    expect(chooseMachine([], {}, rack[3])).toEqual({ ok: false, reason: 'machine d is locked' });
    expect(chooseMachine([], {}, rack[4])).toEqual({ ok: false, reason: 'machine e is Deployed, not Ready' });
  });
});
