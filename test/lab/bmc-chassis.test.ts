// The lab BMC's chassis_control program (src/lab/bmc.ts) on its own, as ipmi_sim calls it, with a
// `sleep` as the machine: power on with the one-shot boot device, off, and a PID recycled after the
// machine went away by itself (a guest power-off), which must read as off and must never be signalled.
// That recycling happened in test/qemu/ipmi-power.test.ts on this 2-core box (pid_max 32768): the
// BMC said "on" at Ready with no QEMU left.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { chassisProgram } from '../../src/lab/bmc.js';
import { tempDir } from '../support/fixtures.js';

let dir: ReturnType<typeof tempDir>;
let vmDir: string;
let program: string;
const started: number[] = [];

beforeEach(() => {
  dir = tempDir('nb-chassis-');
  vmDir = join(dir.path, 'vm');
  mkdirSync(vmDir);
  program = join(dir.path, 'chassis.sh');
  writeFileSync(program, chassisProgram(process.execPath, join(dir.path, 'qmp.js')));
  chmodSync(program, 0o755);
  // The machine: a shell that stays (its command line names the VM folder, as QEMU's does) and ends its sleep on TERM.
  writeFileSync(join(vmDir, 'vm'), '#!/bin/sh\ntrap \'kill $!; exit 0\' TERM\nsleep 60 &\nwait\n');
  chmodSync(join(vmDir, 'vm'), 0o755);
});

afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  dir.cleanup();
});

const chassis = (...args: string[]) => spawnSync(program, [vmDir, ...args], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();
const vmPid = () => Number(readFileSync(join(vmDir, 'vm.pid'), 'utf8').trim());
/** Running, not gone or a zombie (the machine is setsid's orphan: whoever adopts it reaps it later). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

test('on with the one-shot boot device, then off', () => {
  expect(chassis('get', 'power', 'boot')).toBe('power:0\nboot:none');
  chassis('set', 'boot', 'pxe');
  expect(chassis('get', 'boot')).toBe('boot:pxe');
  chassis('set', 'power', '1');
  const pid = vmPid();
  started.push(pid);
  expect(chassis('get', 'power', 'boot')).toBe('power:1\nboot:none'); // used up by this power-on
  expect(readFileSync(join(vmDir, 'chassis.log'), 'utf8')).toMatch(/ start -boot once=n\n/);
  chassis('set', 'power', '1'); // already on: nothing new starts
  expect(vmPid()).toBe(pid);
  chassis('set', 'power', '0');
  expect(alive(pid)).toBe(false);
  expect(chassis('get', 'power')).toBe('power:0');
});

test('the machine went away and its PID now belongs to another process: off, and that process is left alone', async () => {
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  started.push(stranger.pid!);
  writeFileSync(join(vmDir, 'vm.pid'), `${stranger.pid}\n`); // what a recycled PID looks like to the program
  expect(chassis('get', 'power')).toBe('power:0');
  chassis('set', 'power', '0');
  expect(alive(stranger.pid!)).toBe(true);
});
